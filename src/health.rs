//! `/health`: what the sync is doing and, when something is wrong, exactly what to fix.
//! Built from the saved state and live checks; ids, names and counts only (no secrets, no content).
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::core::report::{RunOutcome, RunSummary};
use crate::core::state::{Orphan, RecordIssue, SyncState, Totals};

/// A run older than this without success makes the sync `stale` (cron runs every 15 minutes).
pub fn stale_after() -> Duration {
    Duration::minutes(65)
}

/// Result of a live schema check of one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SchemaCheck {
    Ok,
    Problem { message: String },
    NotChecked { reason: String },
}

/// The `/health` document.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `never_run`, `ok`, `attention` (record errors or orphans), `partial` (backlog draining),
    /// `stale`, `failing`, or `not_configured`.
    pub status: String,
    /// One line for a person.
    pub summary: String,
    /// What to do, most important first; empty when nothing needs doing.
    pub fix: Vec<String>,
    pub last_run: Option<RunSummary>,
    pub last_success: Option<DateTime<Utc>>,
    pub totals: Totals,
    pub errors: Vec<RecordIssue>,
    pub orphans: Vec<Orphan>,
    /// Items the last run saw but left for the next one (a lower bound of the backlog).
    pub pending: u32,
    pub full_pass_in_progress: bool,
    pub last_full_pass: Option<DateTime<Utc>>,
    pub schema: SchemaStatus,
    pub config: ConfigStatus,
    pub checked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchemaStatus {
    pub supabase: SchemaCheck,
    pub notion: SchemaCheck,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigStatus {
    /// Names of required settings that are not set.
    pub missing: Vec<String>,
    /// Problems with settings that are set (names only).
    pub invalid: Vec<String>,
    pub admin_routes_enabled: bool,
}

/// Builds the report from the state and the checks.
pub fn build(state: &SyncState, config: ConfigStatus, schema: SchemaStatus, now: DateTime<Utc>) -> Health {
    let mut fix: Vec<String> = Vec::new();
    fix.extend(config.missing.iter().map(|name| format!("set {name}: `wrangler secret put {name}` (or in .dev.vars)")));
    fix.extend(config.invalid.iter().cloned());
    for check in [&schema.supabase, &schema.notion] {
        if let SchemaCheck::Problem { message } = check {
            fix.push(message.clone());
        }
    }
    if let Some(RunSummary { outcome: RunOutcome::NotConfigured { message } | RunOutcome::Failed { message }, .. }) = &state.last_run {
        if !fix.contains(message) {
            fix.push(message.clone());
        }
    }
    fix.extend(state.errors.iter().take(20).map(|issue| format!("{} record {}: {}", issue.side, issue.id, issue.reason)));
    fix.extend(state.orphans.iter().take(20).map(|orphan| format!("{} orphan {}: {}", orphan.side, orphan.id, orphan.reason)));
    let (status, summary) = status(state, &config, &schema, now);
    Health {
        status: status.to_string(),
        summary,
        fix,
        last_run: state.last_run.clone(),
        last_success: state.last_success,
        totals: state.totals,
        errors: state.errors.clone(),
        orphans: state.orphans.clone(),
        pending: state.last_run.as_ref().map(|run| run.pending).unwrap_or(0),
        full_pass_in_progress: state.full_pass.is_some(),
        last_full_pass: state.last_full_pass,
        schema,
        config,
        checked_at: now,
    }
}

fn status(state: &SyncState, config: &ConfigStatus, schema: &SchemaStatus, now: DateTime<Utc>) -> (&'static str, String) {
    if !config.missing.is_empty() || !config.invalid.is_empty() {
        return ("not_configured", "the sync cannot run until the settings listed under `fix` are set".into());
    }
    let schema_problem = [&schema.supabase, &schema.notion].iter().any(|check| matches!(check, SchemaCheck::Problem { .. }));
    if schema_problem {
        return ("not_configured", "the table or the Notion database is not set up as the sync needs: see `fix`".into());
    }
    let Some(last_run) = &state.last_run else {
        return ("never_run", "no sync has run yet; the cron runs every 15 minutes, or POST /sync-now".into());
    };
    match &last_run.outcome {
        RunOutcome::NotConfigured { .. } => return ("not_configured", "the last run stopped on a configuration problem: see `fix`".into()),
        RunOutcome::Failed { message } => return ("failing", format!("the last run failed: {message}")),
        _ => {}
    }
    let stale = state.last_success.is_none_or(|at| now - at > stale_after());
    if stale {
        return ("stale", "no successful run in the last hour: is the cron trigger deployed?".into());
    }
    if !state.errors.is_empty() || !state.orphans.is_empty() {
        return ("attention", format!("{} record errors and {} orphans need a look: see `fix`", state.errors.len(), state.orphans.len()));
    }
    if matches!(last_run.outcome, RunOutcome::Partial { .. }) {
        return ("partial", "a backlog is draining: each run continues where the last one stopped".into());
    }
    ("ok", "both sides agree as of the last run".into())
}
