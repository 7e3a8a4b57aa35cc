//! Token bucket: `per_second` average with a `burst` capacity (real, monotonic time — the
//! admin clock offset does not refill it).

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    pub per_second: f64,
    pub burst: u32,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(per_second: f64, burst: u32) -> TokenBucket {
        let per_second = if per_second.is_finite() && per_second > 0.0 { per_second } else { 0.001 };
        let burst = burst.max(1);
        TokenBucket { per_second, burst, tokens: f64::from(burst), last: Instant::now() }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(f64::from(self.burst));
        self.last = now;
    }

    /// Takes one token, or returns how long until one is available.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            // A tiny configured rate must not overflow Duration: cap the wait at a day.
            let wait = Duration::try_from_secs_f64(missing / self.per_second)
                .unwrap_or(Duration::from_secs(86_400))
                .min(Duration::from_secs(86_400));
            Err(wait)
        }
    }
}

/// `additional_data.rate_limit_reason` of a 429 (developers.notion.com/reference/request-limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitReason {
    /// "This connection is sending requests too fast."
    ConnectionRate,
    /// "The workspace's shared budget is used up."
    WorkspaceRate,
    /// "This connection's API access has been restricted. Retrying won't help."
    RequestBlocked,
}

impl RateLimitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitReason::ConnectionRate => "public_api_request_rate_limit",
            RateLimitReason::WorkspaceRate => "public_api_space_request_rate_limit",
            RateLimitReason::RequestBlocked => "public_api_request_blocked",
        }
    }
}

/// Why a request was refused and how long to wait (`None`: retrying won't help).
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    pub reason: RateLimitReason,
    pub wait: Option<Duration>,
}

/// The emulator's limiter: the simple token bucket (back-compat default) or the documented
/// window model.
#[derive(Debug, Clone)]
pub enum Limiter {
    Bucket(TokenBucket),
    Documented(crate::window_limit::DocumentedLimiter),
}

impl Limiter {
    pub fn try_take(&mut self, now: Instant) -> Result<(), Denial> {
        match self {
            Limiter::Bucket(b) => {
                b.try_take(now).map_err(|wait| Denial { reason: RateLimitReason::ConnectionRate, wait: Some(wait) })
            }
            Limiter::Documented(d) => d.try_take(now),
        }
    }
}

/// `Retry-After` is "an integer number of seconds": round up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let s = wait.as_secs_f64().ceil() as u64;
    s.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_burst_then_average() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 3);
        for _ in 0..3 {
            assert!(b.try_take(t0).is_ok());
        }
        let wait = b.try_take(t0).err();
        assert!(wait.is_some_and(|w| w <= Duration::from_millis(500)));
        assert!(b.try_take(t0 + Duration::from_millis(510)).is_ok());
        assert!(b.try_take(t0 + Duration::from_millis(520)).is_err());
        assert_eq!(retry_after_secs(Duration::from_millis(10)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        let mut tiny = TokenBucket::new(1e-300, 1);
        assert!(tiny.try_take(t0).is_ok());
        assert_eq!(tiny.try_take(t0).err(), Some(Duration::from_secs(86_400)));
    }
}
