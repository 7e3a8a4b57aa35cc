//! What one run did, for `/health`, `/sync-now` and the logs (ids and counts, never content).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::mass_delete::MassDeleteHalt;
use crate::state::RecordIssue;

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

/// A run that has started: who asked and when. Its summary comes from [`RunStart::finished`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart {
    pub run_id: String,
    pub trigger: String,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
}

impl RunStart {
    /// The summary of this run, ended at `at` with `outcome`; counts, warnings and the rest empty
    /// until the run fills them in.
    pub fn finished(self, outcome: RunOutcome, at: DateTime<Utc>) -> RunSummary {
        let RunStart { run_id, trigger, dry_run, started_at } = self;
        RunSummary {
            run_id,
            trigger,
            started_at,
            finished_at: at,
            outcome,
            full_pass: false,
            dry_run,
            counts: RunCounts::default(),
            subrequests: 0,
            warnings: Vec::new(),
            errors: Vec::new(),
            pending: 0,
            mass_delete_halt: None,
            retry_after_ms: None,
        }
    }
}

impl RunSummary {
    /// A run started at `at` (see [`RunStart::finished`]).
    pub fn started(run_id: &str, trigger: &str, dry_run: bool, at: DateTime<Utc>) -> RunStart {
        RunStart { run_id: run_id.to_string(), trigger: trigger.to_string(), dry_run, started_at: at }
    }

    /// A run stopped by its configuration before it began: `message` names what to fix.
    pub fn not_configured(run_id: &str, trigger: &str, dry_run: bool, at: DateTime<Utc>, message: String) -> Self {
        Self::started(run_id, trigger, dry_run, at).finished(RunOutcome::NotConfigured { message }, at)
    }

    /// A run that failed before it began (a service or the store it needed failed).
    pub fn failed(run_id: &str, trigger: &str, dry_run: bool, at: DateTime<Utc>, message: String) -> Self {
        Self::started(run_id, trigger, dry_run, at).finished(RunOutcome::Failed { message }, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: u32) -> DateTime<Utc> {
        format!("2025-01-01T10:00:{second:02}Z").parse().unwrap()
    }

    /// `/health`, `/sync-now` and the e2e tests read this shape: field names and values stay.
    #[test]
    fn a_summary_keeps_its_json_shape() {
        let summary = RunSummary::started("r1", "cron", false, at(0)).finished(RunOutcome::Ok, at(5));
        let json = serde_json::to_value(&summary).unwrap();
        let want = serde_json::json!({
            "run_id": "r1",
            "trigger": "cron",
            "started_at": "2025-01-01T10:00:00Z",
            "finished_at": "2025-01-01T10:00:05Z",
            "outcome": { "status": "ok" },
            "full_pass": false,
            "dry_run": false,
            "counts": {
                "rows_read": 0, "pages_read": 0, "pages_created": 0, "pages_updated": 0, "pages_trashed": 0,
                "pages_restored": 0, "rows_inserted": 0, "rows_updated": 0, "rows_deleted": 0,
                "rows_restored": 0, "links": 0, "conflicts": 0, "record_errors": 0, "skipped_concurrent_edits": 0
            },
            "subrequests": 0,
            "warnings": [],
            "errors": [],
            "pending": 0,
            "mass_delete_halt": null
        });
        assert_eq!(json, want);
    }

    #[test]
    fn runs_that_never_began_start_and_finish_at_once() {
        let unconfigured = RunSummary::not_configured("r1", "sync-now", true, at(3), "set NOTION_TOKEN".into());
        assert_eq!((unconfigured.started_at, unconfigured.finished_at, unconfigured.dry_run), (at(3), at(3), true));
        assert_eq!(unconfigured.outcome, RunOutcome::NotConfigured { message: "set NOTION_TOKEN".into() });
        assert_eq!(
            serde_json::to_value(&unconfigured.outcome).unwrap(),
            serde_json::json!({ "status": "not_configured", "message": "set NOTION_TOKEN" })
        );
        let failed = RunSummary::failed("r2", "cron", false, at(4), "supabase is unavailable".into());
        assert_eq!((failed.run_id.as_str(), failed.trigger.as_str()), ("r2", "cron"));
        assert_eq!(failed.outcome, RunOutcome::Failed { message: "supabase is unavailable".into() });
        assert_eq!((failed.started_at, failed.finished_at), (at(4), at(4)));
    }
}
