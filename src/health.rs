//! `/health`: what the sync is doing and, when something is wrong, exactly what to fix.
//! Built from the saved state only (the schema as the runs last checked it); ids, names and
//! counts only (no secrets, no content).
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::core::lease::LockStatus;
use crate::core::mass_delete::MassDeleteHalt;
use crate::core::report::{RunOutcome, RunSummary};
use crate::core::schema_check::CheckedSchema;
use crate::core::state::{Orphan, RecordIssue, SyncState, Totals};

/// A run older than this without success makes the sync `stale` (cron runs every 15 minutes).
pub fn stale_after() -> Duration {
    Duration::minutes(65)
}

pub use crate::core::schema_check::SchemaCheck;

/// The `/health` document.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `never_run`, `ok`, `attention` (record errors or orphans), `partial` (backlog draining),
    /// `halted` (the mass-delete safety halt holds deletes), `stale`, `interrupted` (see
    /// [`add_lock_status`]), `failing`, or `not_configured`.
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
    /// When each side's schema was last checked (`schema` is that check's result).
    pub schema_checked: SchemaAges,
    pub config: ConfigStatus,
    pub checked_at: DateTime<Utc>,
    /// The mass-delete safety halt, while it holds deletes: counts and a sample of ids.
    pub mass_delete_halt: Option<MassDeleteHalt>,
    /// The last run started, when it was interrupted (neither finished nor holding its lease).
    pub interrupted_run: Option<InterruptedRun>,
    /// When the next run happens, a backlog draining, the webhooks (see [`crate::coordinator_status`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<crate::coordinator_status::CoordinatorStatus>,
}

/// When each side's schema was checked, by a run or by the admin check.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaAges {
    pub supabase: SchemaAge,
    pub notion: SchemaAge,
}

/// One side's check time and its age in seconds (`None`: never checked).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SchemaAge {
    pub at: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
}

fn age_of(checked: &Option<CheckedSchema>, now: DateTime<Utc>) -> SchemaAge {
    let at = checked.as_ref().map(|checked| checked.checked_at);
    SchemaAge { at, age_seconds: at.map(|at| (now - at).num_seconds().max(0)) }
}

/// The schema as the runs last checked it, from the saved state only (no request is made). A
/// check that could not reach a side no longer counts once a run has succeeded since.
pub fn stored_schema(state: &SyncState) -> SchemaStatus {
    let side = |checked: &Option<CheckedSchema>| match checked {
        Some(CheckedSchema { check: SchemaCheck::Unreachable { .. }, checked_at })
            if state.last_success.is_some_and(|success| success > *checked_at) =>
        {
            SchemaCheck::NotChecked { reason: "the last check could not reach it; a run has reached it since".into() }
        }
        Some(checked) => checked.check.clone(),
        None => SchemaCheck::NotChecked { reason: "no run has checked it yet".into() },
    };
    SchemaStatus { supabase: side(&state.schema.supabase), notion: side(&state.schema.notion) }
}

/// A run the lock saw start, that did not finish and no longer holds the lease (the Worker was
/// stopped, crashed or hit its CPU limit mid-run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterruptedRun {
    pub run_id: String,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
    /// Page creates in the intent journal: pages that may exist and are not linked yet.
    pub unlinked_creates: usize,
}

/// The interrupted run as a line of `fix` (and the summary).
pub fn interrupted_line(run: &InterruptedRun) -> String {
    let backlog = match run.unlinked_creates {
        0 => "the next run continues where the last saved run stopped".to_string(),
        n => format!(
            "{} not linked yet: the next run links the pages that were created instead of creating them again",
            count_of(n, "page create is", "page creates are")
        ),
    };
    format!(
        "run {} ({}) started at {} was interrupted before it finished; {backlog}. Nothing to do; if it happens again, look for the error in `wrangler tail`",
        run.run_id,
        run.trigger,
        run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
    )
}

/// Adds what the lock knows (one call to it, made by the caller): an interrupted run goes into
/// `interrupted_run`, `fix` and the backlog, and is the status when nothing worse is.
pub fn add_lock_status(health: &mut Health, status: &LockStatus) {
    let Some(start) = status.interrupted() else { return };
    // A run whose report was saved did finish (only giving the lease back failed).
    if health.last_run.as_ref().is_some_and(|run| run.run_id == start.run_id) {
        return;
    }
    let run = InterruptedRun {
        run_id: start.run_id.clone(),
        trigger: start.trigger.clone(),
        started_at: start.started_at,
        unlinked_creates: status.pending_intents,
    };
    let line = interrupted_line(&run);
    if matches!(health.status.as_str(), "never_run" | "ok" | "partial") {
        health.status = "interrupted".to_string();
        health.summary = line.clone();
    }
    health.fix.push(line);
    health.pending = health.pending.max(u32::try_from(run.unlinked_creates).unwrap_or(u32::MAX));
    health.interrupted_run = Some(run);
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

/// At most this many record errors, and as many orphans, are repeated in `fix`.
pub const FIX_ITEMS_PER_KIND: usize = 20;

/// A record error as a line of `fix`.
pub fn issue_line(issue: &RecordIssue) -> String {
    format!("{} record {}: {}", issue.side, issue.id, issue.reason)
}

/// An orphan as a line of `fix`.
pub fn orphan_line(orphan: &Orphan) -> String {
    format!("{} orphan {}: {}", orphan.side, orphan.id, orphan.reason)
}

/// `1 record error`, `2 record errors`.
pub fn count_of(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// Builds the report from the state and the checks.
pub fn build(state: &SyncState, config: ConfigStatus, schema: SchemaStatus, now: DateTime<Utc>) -> Health {
    let mut fix: Vec<String> = Vec::new();
    fix.extend(config.missing.iter().map(|name| format!("set {name}: `wrangler secret put {name}` (or in .dev.vars)")));
    fix.extend(config.invalid.iter().cloned());
    for check in [&schema.supabase, &schema.notion] {
        // One problem that stops both checks (e.g. a bad key) is listed once.
        if let SchemaCheck::Problem { message }
        | SchemaCheck::Warning { message }
        | SchemaCheck::Unreachable { message } = check
        {
            if !fix.contains(message) {
                fix.push(message.clone());
            }
        }
    }
    if let Some(RunSummary {
        outcome: RunOutcome::NotConfigured { message } | RunOutcome::Failed { message }, ..
    }) = &state.last_run
    {
        // "missing required settings: …" repeats the `set NAME` items above.
        let repeats_missing = !config.missing.is_empty() && message.starts_with("missing required settings:");
        if !fix.contains(message) && !repeats_missing {
            fix.push(message.clone());
        }
    }
    fix.extend(state.mass_delete.halt.iter().map(MassDeleteHalt::fix));
    fix.extend(state.errors.iter().take(FIX_ITEMS_PER_KIND).map(issue_line));
    fix.extend(state.orphans.iter().take(FIX_ITEMS_PER_KIND).map(orphan_line));
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
        schema_checked: SchemaAges {
            supabase: age_of(&state.schema.supabase, now),
            notion: age_of(&state.schema.notion, now),
        },
        config,
        checked_at: now,
        mass_delete_halt: state.mass_delete.halt.clone(),
        interrupted_run: None,
        coordinator: None,
    }
}

fn status(
    state: &SyncState,
    config: &ConfigStatus,
    schema: &SchemaStatus,
    now: DateTime<Utc>,
) -> (&'static str, String) {
    // A missing admin token only closes the admin routes; the cron still syncs.
    let blocking = config.missing.iter().any(|name| name != crate::settings::ADMIN_TOKEN);
    if blocking || !config.invalid.is_empty() {
        return ("not_configured", "the sync cannot run until the settings listed under `fix` are set".into());
    }
    let schema_problem =
        [&schema.supabase, &schema.notion].iter().any(|check| matches!(check, SchemaCheck::Problem { .. }));
    if schema_problem {
        return (
            "not_configured",
            "the table or the Notion database is not set up as the sync needs: see `fix`".into(),
        );
    }
    if let Some(SchemaCheck::Unreachable { message }) =
        [&schema.supabase, &schema.notion].into_iter().find(|check| matches!(check, SchemaCheck::Unreachable { .. }))
    {
        return ("failing", format!("a service cannot be reached: {message}"));
    }
    let Some(last_run) = &state.last_run else {
        return ("never_run", "no sync has run yet; the cron runs every 15 minutes, or POST /sync-now".into());
    };
    match &last_run.outcome {
        RunOutcome::NotConfigured { .. } => {
            return ("not_configured", "the last run stopped on a configuration problem: see `fix`".into())
        }
        RunOutcome::Failed { message } => return ("failing", format!("the last run failed: {message}")),
        _ => {}
    }
    let stale = state.last_success.is_none_or(|at| now - at > stale_after());
    if stale {
        return ("stale", "no successful run in the last hour: is the cron trigger deployed?".into());
    }
    if let Some(halt) = &state.mass_delete.halt {
        return ("halted", format!("{}: see `fix`", halt.summary()));
    }
    if !state.errors.is_empty() || !state.orphans.is_empty() {
        let what = match (state.errors.len(), state.orphans.len()) {
            (errors, 0) => count_of(errors, "record error needs", "record errors need"),
            (0, orphans) => count_of(orphans, "orphan needs", "orphans need"),
            (errors, orphans) => format!(
                "{} and {} need",
                count_of(errors, "record error", "record errors"),
                count_of(orphans, "orphan", "orphans")
            ),
        };
        return ("attention", format!("{what} a look: see `fix`"));
    }
    if matches!(last_run.outcome, RunOutcome::Partial { .. }) {
        return ("partial", "a backlog is draining: each run continues where the last one stopped".into());
    }
    ("ok", "both sides agree as of the last run".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured() -> ConfigStatus {
        ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true }
    }

    #[test]
    fn an_unreachable_check_stops_counting_once_a_run_succeeded_since() {
        let now = Utc::now();
        let mut state = SyncState::default();
        let down = SchemaCheck::Unreachable { message: "supabase is unavailable: 503".into() };
        state.schema.record_supabase(down.clone(), now - Duration::minutes(10));
        state.schema.record_notion(SchemaCheck::Ok, now - Duration::minutes(1));
        assert_eq!(stored_schema(&state).supabase, down);
        state.last_success = Some(now - Duration::minutes(1));
        assert!(matches!(stored_schema(&state).supabase, SchemaCheck::NotChecked { .. }));
        assert_eq!(stored_schema(&state).notion, SchemaCheck::Ok);
    }

    #[test]
    fn a_problem_that_stops_both_checks_is_listed_once() {
        let problem = SchemaCheck::Problem { message: "SUPABASE_SERVICE_ROLE_KEY holds a publishable key".into() };
        let schema = SchemaStatus { supabase: problem.clone(), notion: problem };
        let health = build(&SyncState::default(), configured(), schema, Utc::now());
        assert_eq!(health.fix, vec!["SUPABASE_SERVICE_ROLE_KEY holds a publishable key".to_string()]);
        assert_eq!(health.status, "not_configured");
    }

    #[test]
    fn summary_counts_in_words() {
        let mut state = SyncState::default();
        let now = Utc::now();
        state.last_success = Some(now);
        state.last_run = Some(RunSummary::started("r", "cron", false, now).finished(RunOutcome::Ok, now));
        state.errors.push(RecordIssue {
            side: crate::core::model::Side::Supabase,
            id: "a".into(),
            field: None,
            reason: "x".into(),
        });
        let ok = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let health = build(&state, configured(), ok.clone(), now);
        assert_eq!(
            (health.status.as_str(), health.summary.as_str()),
            ("attention", "1 record error needs a look: see `fix`")
        );
        state.orphans.push(Orphan { side: crate::core::model::Side::Notion, id: "p".into(), reason: "y".into() });
        state.orphans.push(Orphan { side: crate::core::model::Side::Notion, id: "q".into(), reason: "y".into() });
        let health = build(&state, configured(), ok, now);
        assert_eq!(health.summary, "1 record error and 2 orphans need a look: see `fix`");
    }

    #[test]
    fn missing_settings_are_not_repeated_by_the_last_runs_message() {
        let mut state = SyncState::default();
        let message = "missing required settings: NOTION_API_KEY; set each with `wrangler secret put NAME`".to_string();
        state.last_run = Some(RunSummary::not_configured("r", "cron", false, Utc::now(), message));
        let config =
            ConfigStatus { missing: vec!["NOTION_API_KEY".into()], invalid: vec![], admin_routes_enabled: true };
        let skipped = SchemaCheck::NotChecked { reason: "settings are missing".into() };
        let health = build(&state, config, SchemaStatus { supabase: skipped.clone(), notion: skipped }, Utc::now());
        assert_eq!(
            health.fix,
            vec!["set NOTION_API_KEY: `wrangler secret put NOTION_API_KEY` (or in .dev.vars)".to_string()]
        );
    }

    #[test]
    fn a_missing_admin_token_is_named_but_does_not_stop_the_sync() {
        let config =
            ConfigStatus { missing: vec!["SYNC_ADMIN_TOKEN".into()], invalid: vec![], admin_routes_enabled: false };
        let ok = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let health = build(&SyncState::default(), config, ok, Utc::now());
        assert_eq!(health.status, "never_run");
        assert!(health.fix.iter().any(|line| line.contains("wrangler secret put SYNC_ADMIN_TOKEN")));
    }

    #[test]
    fn a_mass_delete_halt_is_its_own_status_with_the_fix() {
        let mut state = SyncState::default();
        let now = Utc::now();
        state.last_success = Some(now);
        state.last_run = Some(RunSummary::started("r", "cron", false, now).finished(RunOutcome::Ok, now));
        state.mass_delete.halt = Some(MassDeleteHalt {
            since: now,
            deletes: 12,
            linked: 12,
            share_percent: 50,
            pages_to_trash: 12,
            rows_to_delete: 0,
            sample_rows: vec!["row-1".into()],
            sample_pages: vec![],
        });
        let ok = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let health = build(&state, configured(), ok, now);
        assert_eq!(health.status, "halted");
        assert!(health.summary.starts_with("safety halt: 12 of 12 linked records"), "{}", health.summary);
        assert_eq!(health.fix.len(), 1, "{:?}", health.fix);
        assert!(
            health.fix[0].contains("row-1") && health.fix[0].contains("POST /sync-now?allow-mass-delete=1"),
            "{}",
            health.fix[0]
        );
        assert_eq!(health.mass_delete_halt.map(|halt| halt.deletes), Some(12));
    }

    #[test]
    fn an_interrupted_run_is_the_status_with_its_unlinked_creates_unless_its_report_was_saved() {
        use crate::core::lease::RunStart;
        let ok = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
        let started_at = "2026-11-23T11:37:17Z".parse().unwrap();
        let start = RunStart { run_id: "r1".into(), trigger: "sync-now".into(), started_at };
        let lock = LockStatus { last_started: Some(start), pending_intents: 15, ..LockStatus::default() };
        let mut health = build(&SyncState::default(), configured(), ok.clone(), Utc::now());
        add_lock_status(&mut health, &lock);
        assert_eq!(health.status, "interrupted");
        let line = "run r1 (sync-now) started at 2026-11-23 11:37:17 UTC was interrupted before it finished; 15 page creates are not linked yet: the next run links the pages that were created instead of creating them again. Nothing to do; if it happens again, look for the error in `wrangler tail`";
        assert_eq!((health.summary.as_str(), health.fix.clone()), (line, vec![line.to_string()]));
        assert_eq!(health.pending, 15);
        assert_eq!(health.interrupted_run.as_ref().map(|run| run.unlinked_creates), Some(15));
        // The same run with its report saved finished: nothing to add.
        let last_run = Some(RunSummary::not_configured("r1", "sync-now", false, Utc::now(), String::new()));
        let state = SyncState { last_run, ..SyncState::default() };
        let mut health = build(&state, configured(), ok, Utc::now());
        let before = health.fix.clone();
        add_lock_status(&mut health, &lock);
        assert!(health.interrupted_run.is_none());
        assert_eq!(health.fix, before);
    }

    #[test]
    fn an_unreachable_service_is_failing_and_a_warning_only_adds_a_fix() {
        let down = SchemaCheck::Unreachable { message: "supabase is unavailable: connection refused".into() };
        let warning = SchemaCheck::Warning { message: "write-back function missing".into() };
        let health = build(
            &SyncState::default(),
            configured(),
            SchemaStatus { supabase: down, notion: SchemaCheck::Ok },
            Utc::now(),
        );
        assert_eq!(health.status, "failing");
        assert!(health.summary.contains("connection refused"));
        let health = build(
            &SyncState::default(),
            configured(),
            SchemaStatus { supabase: warning, notion: SchemaCheck::Ok },
            Utc::now(),
        );
        assert_eq!(health.status, "never_run");
        assert_eq!(health.fix, vec!["write-back function missing".to_string()]);
    }
}
