//! What one run did, for `/health`, `/sync-now` and the logs (ids and counts, never content).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::mass_delete::MassDeleteHalt;
use crate::core::state::RecordIssue;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    /// Everything read was processed; both sides agree as far as this run could see.
    Ok,
    /// The budget ended first; the next run resumes where this one stopped.
    Partial { reason: String },
    /// A configuration problem stopped the run: `message` names what to fix.
    NotConfigured { message: String },
    /// A service failed; the next run retries.
    Failed { message: String },
    /// Another run held the lease.
    Skipped { running_run_id: String },
}

/// Counts of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunCounts {
    pub rows_read: u32,
    pub pages_read: u32,
    pub pages_created: u32,
    pub pages_updated: u32,
    pub pages_trashed: u32,
    pub pages_restored: u32,
    pub rows_inserted: u32,
    pub rows_updated: u32,
    pub rows_deleted: u32,
    pub rows_restored: u32,
    pub links: u32,
    pub conflicts: u32,
    pub record_errors: u32,
    pub skipped_concurrent_edits: u32,
}

/// Summary of one run, stored as `last_run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run_id: String,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: RunOutcome,
    pub full_pass: bool,
    pub dry_run: bool,
    pub counts: RunCounts,
    pub subrequests: u32,
    pub warnings: Vec<String>,
    pub errors: Vec<RecordIssue>,
    /// Items seen but left for a later run (budget), a lower bound of the backlog.
    pub pending: u32,
    /// Set when the mass-delete safety halt holds this run's deletes (count and a sample of ids).
    #[serde(default)]
    pub mass_delete_halt: Option<MassDeleteHalt>,
    /// How long a rate limit asked to wait when it ended the run (the coordinator waits that long).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}
