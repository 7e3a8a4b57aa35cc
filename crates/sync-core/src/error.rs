//! Errors raised by the ports (the outside world) and understood by the engine.
use serde::{Deserialize, Serialize};

/// What went wrong talking to Supabase, Notion, the state store or the lock.
///
/// The engine reacts by kind: `Config` stops the run with one message naming what to fix,
/// `Record` is a per-record error (reported, never retried), `Transient` leaves the item for the
/// next run, `BudgetExhausted` ends the run cleanly, and `Crash` models the process dying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PortError {
    /// Misconfiguration the user must fix (missing secret, wrong property type, table missing…).
    #[error("{message}")]
    Config { message: String },
    /// The service refused this one record (e.g. Notion `validation_error`); other records go on.
    #[error("{service} rejected the record: {message}")]
    Record { service: String, field: Option<String>, message: String },
    /// A failure that may pass (5xx, network, timeout, rate limit after retries).
    #[error("{service} is unavailable: {message}")]
    Transient { service: String, message: String },
    /// This invocation's budget of external subrequests (or CPU) is spent; resume next run.
    #[error("the run's budget of {limit} external subrequests is spent; the next run resumes")]
    BudgetExhausted { limit: u32 },
    /// The service's rate limit asked for a wait (`Retry-After`) longer than one run waits: the
    /// run ends cleanly (outcome partial, state saved) and the next run resumes.
    #[error("{message}")]
    RateLimited { service: String, retry_after_ms: u64, message: String },
    /// The process died mid-run (used by fault injection in tests).
    #[error("the run was aborted: {message}")]
    Crash { message: String },
    /// Another run holds this run's lease now (or it could not be renewed): stop before writing.
    #[error("{message}")]
    LeaseLost { message: String },
}

impl PortError {
    pub fn config(message: impl Into<String>) -> Self {
        PortError::Config { message: message.into() }
    }
    pub fn transient(service: &str, message: impl Into<String>) -> Self {
        PortError::Transient { service: service.to_string(), message: message.into() }
    }
    pub fn record(service: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        PortError::Record { service: service.to_string(), field: field.map(str::to_string), message: message.into() }
    }
    /// True when the run must stop now (no further calls make sense).
    pub fn ends_run(&self) -> bool {
        matches!(
            self,
            PortError::Config { .. }
                | PortError::BudgetExhausted { .. }
                | PortError::RateLimited { .. }
                | PortError::Crash { .. }
                | PortError::LeaseLost { .. }
        )
    }
}
