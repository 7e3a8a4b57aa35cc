//! The record of one run, as stored under [`StateKey::LastRun`](super::state::StateKey::LastRun)
//! and shown by `/health`. Ids, names and counts only: never secrets, never record content.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The run did everything it had to do.
    Ok,
    /// Required settings are missing (named in [`RunRecord::missing`]); nothing was synced.
    NotConfigured,
    /// Another run held the lease; this one did nothing.
    Skipped,
    /// Something failed; [`RunRecord::message`] says what.
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotConfigured => "not_configured",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// What started the run, e.g. `cron */15 * * * *`.
    pub trigger: String,
    /// When the runtime scheduled the run (cron only).
    pub scheduled_time: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// Names of the required settings that were missing (empty unless `not_configured`).
    #[serde(default)]
    pub missing: Vec<String>,
    /// One sentence for a person: what happened, or what to fix.
    pub message: String,
}
