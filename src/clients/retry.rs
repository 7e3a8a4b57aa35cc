//! When to retry an HTTP exchange and how long to wait: a pure policy shared by the Notion and
//! PostgREST clients (the clients own the loop, the budget and the actual sleeping).
//!
//! - Rate limits (429, Notion's 529): wait `Retry-After` seconds (fallback 1 s), then retry.
//! - Server errors, network errors and timeouts: jittered exponential backoff.
//! - Each kind is retried at most `max_retries` times (so at most `1 + max_retries` attempts
//!   for one kind of failure); a `Retry-After` longer than `max_retry_after_ms` is not waited
//!   for (the run ends the item as transient and the next run retries).
//!
//! [`Pacer`] keeps a minimum spacing between request starts (client-side rate limiting).

/// Why an attempt failed in a way that may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 429 / 529: the server said how long to wait (`None` = no usable `Retry-After`).
    RateLimited { retry_after_ms: Option<u64> },
    /// 5xx (or a conflict the service says to retry); `Retry-After` honoured when present.
    Server { retry_after_ms: Option<u64> },
    /// No response: connection failure or timeout.
    Network,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Sleep this long, then send again.
    Retry { after_ms: u64 },
    /// Stop retrying.
    GiveUp(GiveUpReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// `max_retries` retries of this kind were already made.
    RetriesExhausted { attempts: u32 },
    /// The server asked for a wait longer than the policy accepts within one run.
    WaitTooLong { retry_after_ms: u64 },
}

impl std::fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GiveUpReason::RetriesExhausted { attempts } => write!(f, "gave up after {attempts} attempts"),
            GiveUpReason::WaitTooLong { retry_after_ms } => {
                write!(f, "asked to wait {} s, longer than one run waits", retry_after_ms.div_ceil(1000))
            }
        }
    }
}

/// Retries made so far for one logical request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryState {
    pub rate_limited: u32,
    pub failures: u32,
}

impl RetryState {
    /// Attempts made so far (the first one included).
    pub fn attempts(&self) -> u32 {
        1 + self.rate_limited + self.failures
    }
}

/// The backoff policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries per kind of failure (`SYNC_MAX_RETRIES`, default 3).
    pub max_retries: u32,
    /// First backoff delay; doubles with every retry.
    pub base_delay_ms: u64,
    /// Cap of one backoff delay.
    pub max_delay_ms: u64,
    /// Wait after a 429/529 without a usable `Retry-After`.
    pub default_retry_after_ms: u64,
    /// Longest `Retry-After` waited for within a run.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay_ms: 500,
            max_delay_ms: 8_000,
            default_retry_after_ms: 1_000,
            max_retry_after_ms: 60_000,
        }
    }
}

impl RetryPolicy {
    pub fn with_max_retries(max_retries: u32) -> Self {
        RetryPolicy { max_retries, ..RetryPolicy::default() }
    }

    /// Backoff before retry number `retry` (1-based): `base · 2^(retry-1)` capped at
    /// `max_delay_ms`, then jittered into `[delay/2, delay)` with `jitter ∈ [0, 1)`.
    pub fn backoff_ms(&self, retry: u32, jitter: f64) -> u64 {
        let exponent = retry.saturating_sub(1).min(30);
        let delay = self.base_delay_ms.saturating_mul(1u64 << exponent).min(self.max_delay_ms);
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        let half = delay / 2;
        half + ((delay - half) as f64 * jitter) as u64
    }

    /// Decides after a failed attempt, and counts the retry in `state`.
    pub fn next(&self, state: &mut RetryState, failure: Failure, jitter: f64) -> RetryDecision {
        match failure {
            Failure::RateLimited { retry_after_ms } => {
                if state.rate_limited >= self.max_retries {
                    return RetryDecision::GiveUp(GiveUpReason::RetriesExhausted { attempts: state.attempts() });
                }
                let wait = retry_after_ms.unwrap_or(self.default_retry_after_ms);
                if wait > self.max_retry_after_ms {
                    return RetryDecision::GiveUp(GiveUpReason::WaitTooLong { retry_after_ms: wait });
                }
                state.rate_limited += 1;
                RetryDecision::Retry { after_ms: wait }
            }
            Failure::Server { .. } | Failure::Network => {
                if state.failures >= self.max_retries {
                    return RetryDecision::GiveUp(GiveUpReason::RetriesExhausted { attempts: state.attempts() });
                }
                state.failures += 1;
                let backoff = self.backoff_ms(state.failures, jitter);
                let wait = match failure {
                    Failure::Server { retry_after_ms: Some(asked) } => {
                        if asked > self.max_retry_after_ms {
                            return RetryDecision::GiveUp(GiveUpReason::WaitTooLong { retry_after_ms: asked });
                        }
                        asked.max(backoff)
                    }
                    _ => backoff,
                };
                RetryDecision::Retry { after_ms: wait }
            }
        }
    }
}

/// `Retry-After` in milliseconds: a number of seconds (decimals accepted). `None` when absent or
/// unusable (an HTTP date, garbage, a negative number).
pub fn parse_retry_after(header: Option<&str>) -> Option<u64> {
    let seconds: f64 = header?.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    Some((seconds * 1000.0).ceil().min(u64::MAX as f64) as u64)
}

/// Generic classification of a status: 429 and 529 are rate limits, other 5xx (except 501 Not
/// Implemented and 505) are server failures; anything else is not retried. Clients add their
/// own cases (Notion retries 409 `conflict_error`; PostgREST must not).
pub fn classify_status(status: u16, retry_after: Option<&str>) -> Option<Failure> {
    let retry_after_ms = parse_retry_after(retry_after);
    match status {
        429 | 529 => Some(Failure::RateLimited { retry_after_ms }),
        501 | 505 => None,
        500..=599 => Some(Failure::Server { retry_after_ms }),
        _ => None,
    }
}

/// Client-side pacing: a minimum spacing between request starts.
///
/// Without a clock the pacer counts the time the client already slept since the last start
/// (backoffs, `Retry-After`) and sleeps the rest of the interval; the request's own duration is
/// not counted, which only makes the spacing larger. With a clock (milliseconds, e.g.
/// `Date.now()` in a Worker) it sleeps only what remains since the last start.
#[derive(Debug, Clone, PartialEq)]
pub struct Pacer {
    min_interval_ms: u64,
    last_start_ms: Option<f64>,
    started: bool,
    slept_since_start_ms: u64,
}

impl Pacer {
    pub fn new(min_interval_ms: u64) -> Self {
        Pacer { min_interval_ms, last_start_ms: None, started: false, slept_since_start_ms: 0 }
    }

    /// Spacing for at most `requests_per_second` starts per second (rounded up).
    pub fn per_second(requests_per_second: f64) -> Self {
        let interval = if requests_per_second > 0.0 { (1000.0 / requests_per_second).ceil() as u64 } else { 0 };
        Pacer::new(interval)
    }

    pub fn min_interval_ms(&self) -> u64 {
        self.min_interval_ms
    }

    /// How long to sleep before the next request starts (`now_ms` from a clock, if any).
    pub fn wait_ms(&self, now_ms: Option<f64>) -> u64 {
        if !self.started {
            return 0;
        }
        let elapsed = match (now_ms, self.last_start_ms) {
            (Some(now), Some(last)) if now >= last => ((now - last) as u64).max(self.slept_since_start_ms),
            _ => self.slept_since_start_ms,
        };
        self.min_interval_ms.saturating_sub(elapsed)
    }

    /// Records that the client slept (pacing included) since the last start.
    pub fn slept(&mut self, millis: u64) {
        self.slept_since_start_ms = self.slept_since_start_ms.saturating_add(millis);
    }

    /// Records a request start.
    pub fn started(&mut self, now_ms: Option<f64>) {
        self.started = true;
        self.last_start_ms = now_ms;
        self.slept_since_start_ms = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered_into_the_upper_half() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff_ms(1, 0.0), 250);
        assert_eq!(policy.backoff_ms(1, 0.999), 499);
        assert_eq!(policy.backoff_ms(2, 0.0), 500);
        assert_eq!(policy.backoff_ms(3, 0.5), 1_500);
        assert_eq!(policy.backoff_ms(40, 0.0), 4_000, "capped at max_delay_ms");
        assert_eq!(policy.backoff_ms(1, f64::NAN), 250);
        for retry in 1..10 {
            for jitter in [0.0, 0.3, 0.99] {
                assert!(policy.backoff_ms(retry, jitter) <= policy.max_delay_ms);
            }
        }
    }

    #[test]
    fn server_failures_retry_max_retries_times() {
        let policy = RetryPolicy::with_max_retries(3);
        let mut state = RetryState::default();
        let mut waits = Vec::new();
        loop {
            match policy.next(&mut state, Failure::Server { retry_after_ms: None }, 0.0) {
                RetryDecision::Retry { after_ms } => waits.push(after_ms),
                RetryDecision::GiveUp(reason) => {
                    assert_eq!(reason, GiveUpReason::RetriesExhausted { attempts: 4 });
                    break;
                }
            }
        }
        assert_eq!(waits, vec![250, 500, 1_000]);
        let mut none = RetryState::default();
        assert!(matches!(
            RetryPolicy::with_max_retries(0).next(&mut none, Failure::Network, 0.5),
            RetryDecision::GiveUp(_)
        ));
    }

    #[test]
    fn rate_limits_wait_retry_after_or_one_second() {
        let policy = RetryPolicy::default();
        let mut state = RetryState::default();
        assert_eq!(
            policy.next(&mut state, Failure::RateLimited { retry_after_ms: Some(2_000) }, 0.9),
            RetryDecision::Retry { after_ms: 2_000 }
        );
        assert_eq!(
            policy.next(&mut state, Failure::RateLimited { retry_after_ms: None }, 0.9),
            RetryDecision::Retry { after_ms: 1_000 }
        );
        assert_eq!(
            policy.next(&mut state, Failure::RateLimited { retry_after_ms: Some(120_000) }, 0.0),
            RetryDecision::GiveUp(GiveUpReason::WaitTooLong { retry_after_ms: 120_000 })
        );
        // Rate-limit retries do not use up the retries for failures.
        assert_eq!(state, RetryState { rate_limited: 2, failures: 0 });
        assert_eq!(
            policy.next(&mut state, Failure::Server { retry_after_ms: Some(3_000) }, 0.0),
            RetryDecision::Retry { after_ms: 3_000 }
        );
    }

    #[test]
    fn retry_after_parsing_and_status_classes() {
        assert_eq!(parse_retry_after(Some("2")), Some(2_000));
        assert_eq!(parse_retry_after(Some(" 0.5 ")), Some(500));
        assert_eq!(parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(parse_retry_after(Some("-1")), None);
        assert_eq!(parse_retry_after(None), None);
        assert_eq!(classify_status(429, Some("3")), Some(Failure::RateLimited { retry_after_ms: Some(3_000) }));
        assert_eq!(classify_status(529, None), Some(Failure::RateLimited { retry_after_ms: None }));
        assert_eq!(classify_status(503, None), Some(Failure::Server { retry_after_ms: None }));
        assert_eq!(classify_status(501, None), None);
        assert_eq!(classify_status(409, None), None);
        assert_eq!(classify_status(400, None), None);
    }

    #[test]
    fn pacer_spaces_request_starts() {
        let mut pacer = Pacer::per_second(3.0);
        assert_eq!(pacer.min_interval_ms(), 334);
        assert_eq!(pacer.wait_ms(None), 0, "the first request goes at once");
        pacer.started(None);
        assert_eq!(pacer.wait_ms(None), 334);
        pacer.slept(100);
        assert_eq!(pacer.wait_ms(None), 234, "time already slept counts");
        pacer.slept(1_000);
        assert_eq!(pacer.wait_ms(None), 0);
        pacer.started(Some(10_000.0));
        assert_eq!(pacer.wait_ms(Some(10_100.0)), 234, "with a clock only the rest is slept");
        assert_eq!(pacer.wait_ms(Some(11_000.0)), 0);
        assert_eq!(pacer.wait_ms(Some(9_000.0)), 334, "a clock going back is ignored");
    }
}
