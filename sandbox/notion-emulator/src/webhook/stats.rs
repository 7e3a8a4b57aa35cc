//! Delivery counters (`GET /__admin/webhooks/stats`) and a short log of recent attempts.

use serde_json::{json, Value};
use std::collections::VecDeque;

/// Attempts kept in the log.
const RECENT: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Events produced (after aggregation), dropped ones included.
    pub emitted: u64,
    /// Changes merged into an event that was already waiting (aggregation).
    pub aggregated: u64,
    /// HTTP requests answered with a 2xx (duplicates and the verification request included).
    pub sent: u64,
    /// Events (or the verification request) delivered: at least one 2xx.
    pub delivered: u64,
    /// Attempts that failed (non-2xx, connection error, timeout).
    pub attempts_failed: u64,
    /// Retries scheduled.
    pub retried: u64,
    /// Events given up on after their last attempt.
    pub failed: u64,
    /// Events lost on purpose (`drop_next`).
    pub dropped: u64,
    /// Events lost because the queue was full.
    pub overflowed: u64,
    /// Extra copies sent (`duplicate`).
    pub duplicated: u64,
    /// `pending` / `delivered` / `failed` for the verification request.
    pub verification: &'static str,
    pub recent: VecDeque<Value>,
}

/// One attempt, as the log shows it.
pub struct Attempt<'a> {
    pub event_id: Option<&'a str>,
    pub kind: &'a str,
    pub entity_id: Option<&'a str>,
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<&'a str>,
}

impl Stats {
    pub fn log(&mut self, a: Attempt<'_>) {
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(json!({
            "event_id": a.event_id, "type": a.kind, "entity_id": a.entity_id,
            "attempt_number": a.attempt, "status": a.status, "error": a.error,
        }));
    }

    pub fn to_json(&self, pending: usize) -> Value {
        json!({
            "emitted": self.emitted,
            "aggregated": self.aggregated,
            "sent": self.sent,
            "delivered": self.delivered,
            "attempts_failed": self.attempts_failed,
            "retried": self.retried,
            "failed": self.failed,
            "dropped": self.dropped,
            "overflowed": self.overflowed,
            "duplicated": self.duplicated,
            "pending": pending,
            "verification": if self.verification.is_empty() { "none" } else { self.verification },
            "recent": self.recent,
        })
    }
}
