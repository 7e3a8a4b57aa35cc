//! The documented rate-limit model (developers.notion.com/reference/request-limits): a fixed
//! request budget per connection per 60-second window, spendable in a burst, whose
//! `Retry-After` is "the time until the window resets"; and a per-workspace limit shared by
//! all connections, whose `Retry-After` "can be longer than a minute". Real, monotonic time.

use crate::config::DocumentedRateLimit;
use crate::ratelimit::{Denial, RateLimitReason};
use std::time::{Duration, Instant};

/// A fixed window: `limit` requests from the first request of the window for `length`.
#[derive(Debug, Clone)]
pub struct Window {
    pub limit: u32,
    pub length: Duration,
    start: Option<Instant>,
    used: u32,
}

impl Window {
    pub fn new(limit: u32, seconds: u64) -> Window {
        Window { limit, length: Duration::from_secs(seconds.clamp(1, 86_400)), start: None, used: 0 }
    }

    fn roll(&mut self, now: Instant) {
        if self.start.is_none_or(|s| now.saturating_duration_since(s) >= self.length) {
            self.start = Some(now);
            self.used = 0;
        }
    }

    /// How long until the window resets, if its budget is spent.
    fn wait(&mut self, now: Instant) -> Option<Duration> {
        self.roll(now);
        if self.used < self.limit {
            return None;
        }
        let start = self.start.unwrap_or(now);
        Some((start + self.length).saturating_duration_since(now))
    }

    fn spend(&mut self, now: Instant) {
        self.roll(now);
        self.used += 1;
    }

    /// Requests left in the current window.
    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

#[derive(Debug, Clone)]
pub struct DocumentedLimiter {
    pub spec: DocumentedRateLimit,
    pub connection: Window,
    pub workspace: Option<Window>,
    /// Other connections used the workspace's budget up until then (admin simulation).
    pub workspace_exhausted_until: Option<Instant>,
    /// The connection's API access is restricted (`public_api_request_blocked`).
    pub blocked: bool,
}

impl DocumentedLimiter {
    pub fn new(spec: DocumentedRateLimit) -> DocumentedLimiter {
        DocumentedLimiter {
            connection: Window::new(spec.requests_per_window.max(1), spec.window_seconds),
            workspace: spec.workspace_requests_per_window.map(|n| Window::new(n.max(1), spec.workspace_window_seconds)),
            spec,
            workspace_exhausted_until: None,
            blocked: false,
        }
    }

    /// Spends one request of each budget, or says which limit was hit and for how long. When
    /// both are spent, the longer wait is reported (the client has to wait that long anyway).
    pub fn try_take(&mut self, now: Instant) -> Result<(), Denial> {
        if self.blocked {
            return Err(Denial { reason: RateLimitReason::RequestBlocked, wait: None });
        }
        let exhausted =
            self.workspace_exhausted_until.map(|until| until.saturating_duration_since(now)).filter(|d| !d.is_zero());
        let workspace = match (exhausted, self.workspace.as_mut().and_then(|w| w.wait(now))) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let connection = self.connection.wait(now);
        let denial = match (connection, workspace) {
            (Some(c), Some(w)) if c > w => Some((RateLimitReason::ConnectionRate, c)),
            (_, Some(w)) => Some((RateLimitReason::WorkspaceRate, w)),
            (Some(c), None) => Some((RateLimitReason::ConnectionRate, c)),
            (None, None) => None,
        };
        if let Some((reason, wait)) = denial {
            return Err(Denial { reason, wait: Some(wait) });
        }
        self.connection.spend(now);
        if let Some(w) = self.workspace.as_mut() {
            w.spend(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: u32, s: u64, ws: Option<(u32, u64)>) -> DocumentedRateLimit {
        DocumentedRateLimit {
            requests_per_window: n,
            window_seconds: s,
            workspace_requests_per_window: ws.map(|w| w.0),
            workspace_window_seconds: ws.map_or(300, |w| w.1),
        }
    }

    #[test]
    fn budget_spent_in_a_burst_then_waits_for_the_window() {
        let t0 = Instant::now();
        let mut l = DocumentedLimiter::new(spec(3, 60, None));
        for _ in 0..3 {
            assert!(l.try_take(t0).is_ok());
        }
        let d = l.try_take(t0 + Duration::from_secs(20)).err();
        assert_eq!(d, Some(Denial { reason: RateLimitReason::ConnectionRate, wait: Some(Duration::from_secs(40)) }));
        assert!(l.try_take(t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn workspace_limit_can_wait_longer_than_a_minute() {
        let t0 = Instant::now();
        let mut l = DocumentedLimiter::new(spec(100, 60, Some((2, 300))));
        assert!(l.try_take(t0).is_ok());
        assert!(l.try_take(t0).is_ok());
        let d = l.try_take(t0 + Duration::from_secs(10)).err();
        assert_eq!(d, Some(Denial { reason: RateLimitReason::WorkspaceRate, wait: Some(Duration::from_secs(290)) }));
        let mut e = DocumentedLimiter::new(spec(1, 60, None));
        e.workspace_exhausted_until = Some(t0 + Duration::from_secs(90));
        assert_eq!(e.try_take(t0).err().map(|d| d.reason), Some(RateLimitReason::WorkspaceRate));
        assert!(e.try_take(t0 + Duration::from_secs(90)).is_ok());
        e.blocked = true;
        assert_eq!(
            e.try_take(t0 + Duration::from_secs(500)).err(),
            Some(Denial { reason: RateLimitReason::RequestBlocked, wait: None })
        );
    }
}
