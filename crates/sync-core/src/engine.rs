//! One sync run: lease, read, plan, execute, move the cursors, save state. The only place where
//! the pieces of the core meet; everything it touches is behind the ports. What the run leaves
//! for the next one (cursors, full pass, backlog, record errors) is computed by
//! [`crate::progress`].
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::budget::Budget;
use crate::error::PortError;
use crate::executor::{execute, OpOutcome, Writers};
use crate::heartbeat::{LeaseKeeper, Renewing};
use crate::mass_delete::{self, Candidates, MassDeleteGuard, Verdict};
use crate::plan::{OpKind, Plan};
use crate::planner::plan;
use crate::ports::{Clock, Lease, NotionPort, Ports, RunLock, StateStore, SupabasePort, Wired};
use crate::progress::{backlog, next_state, pending_ids, start_full_pass_if_due, work_left};
use crate::reader::{ReadLimits, ReadResult, Readers};
use crate::rejection::hold_rejected;
use crate::report::{RunCounts, RunOutcome, RunSummary};
use crate::schema_check::{SchemaCheck, SchemaChecks};
use crate::state::SyncState;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub batch_size: usize,
    /// A full reconciliation starts when the last one is older than this.
    pub full_pass_every: Duration,
    pub lease_ttl_seconds: i64,
    /// `SYNC_MASS_DELETE_SHARE`: deletes above this share of the linked records halt (percent).
    pub mass_delete_share: u8,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            batch_size: 100,
            full_pass_every: Duration::hours(24),
            lease_ttl_seconds: 60,
            mass_delete_share: mass_delete::DEFAULT_SHARE_PERCENT,
        }
    }
}

/// One request to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub run_id: String,
    pub trigger: String,
    pub dry_run: bool,
    pub budget: Budget,
    /// An authenticated `allow-mass-delete=1`: this run's deletes pass the safety halt.
    pub allow_mass_delete: bool,
    /// Pages a webhook named: read with `GET /v1/pages/{id}` when the windows did not (a page
    /// trashed, restored or moved out of the data source is not in the live window).
    pub marked_pages: Vec<String>,
}

/// What a run returns: the summary (also saved as `last_run`) and the plan it applied.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub summary: RunSummary,
    pub plan: Plan,
}

/// One run's ports (one bundle, e.g. [`Wired`]) and its tunables.
pub struct Engine<P> {
    pub ports: P,
    pub config: EngineConfig,
}

impl<P: Ports> Engine<P> {
    /// Runs once. `Err` only when the run was aborted (`PortError::Crash`, i.e. the process died);
    /// every other failure is recorded in the summary and in the saved state.
    pub async fn run(&self, request: &RunRequest) -> Result<RunResult, PortError> {
        let started_at = self.ports.clock().now();
        if !request.dry_run {
            match self
                .ports
                .lock()
                .acquire(&request.run_id, &request.trigger, started_at, self.config.lease_ttl_seconds)
                .await
            {
                Ok(Lease::Acquired) => {}
                Ok(Lease::Busy { run_id, .. }) => {
                    let outcome = RunOutcome::Skipped { running_run_id: run_id };
                    return Ok(self.bare_result(request, started_at, outcome));
                }
                Err(error) => return self.failed_before_reading(request, started_at, error),
            }
        }
        let keeper = if request.dry_run {
            LeaseKeeper::without_lease(&request.run_id, started_at)
        } else {
            LeaseKeeper::new(&request.run_id, self.config.lease_ttl_seconds, started_at)
        };
        let result = self.run_locked(request, started_at, &keeper).await;
        if !request.dry_run && !matches!(result, Err(PortError::Crash { .. })) {
            // A lease that cannot be released expires on its own.
            let _ = self.ports.lock().release(&request.run_id).await;
        }
        result
    }

    fn bare_result(&self, request: &RunRequest, started_at: DateTime<Utc>, outcome: RunOutcome) -> RunResult {
        RunResult {
            summary: summary(request, started_at, self.ports.clock().now(), outcome, false),
            plan: Plan::default(),
        }
    }

    fn failed_before_reading(
        &self,
        request: &RunRequest,
        started_at: DateTime<Utc>,
        error: PortError,
    ) -> Result<RunResult, PortError> {
        if let PortError::Crash { .. } = error {
            return Err(error);
        }
        Ok(self.bare_result(request, started_at, outcome_of(Some(&error), false)))
    }

    async fn run_locked(
        &self,
        request: &RunRequest,
        started_at: DateTime<Utc>,
        keeper: &LeaseKeeper,
    ) -> Result<RunResult, PortError> {
        let mut state = match self.ports.store().load().await {
            Ok(state) => state,
            Err(error) => return self.failed_before_reading(request, started_at, error),
        };
        let starts_full_pass = start_full_pass_if_due(&mut state, started_at, self.config.full_pass_every);
        if let Err(error) = self.check_schemas(starts_full_pass, &mut state.schema).await {
            return self.finish_without_plan(request, started_at, state, error).await;
        }
        let (lock, clock) = (self.ports.lock(), self.ports.clock());
        let supabase = Renewing { inner: self.ports.supabase(), keeper, lock, clock };
        let notion = Renewing { inner: self.ports.notion(), keeper, lock, clock };
        // Reads renew the lease when due (see `heartbeat::Renewing`).
        let renewing = Wired { supabase: &supabase, notion: &notion, store: self.ports.store(), lock, clock };
        let readers = Readers {
            ports: &renewing,
            budget: &request.budget,
            limits: ReadLimits::for_budget(&request.budget, self.config.batch_size),
            // While a halt holds the deletes, their pages are not fetched again every run.
            hold_deletes: state.mass_delete.halt.is_some() && !request.allow_mass_delete,
            marked_pages: &request.marked_pages,
        };
        let mut read = readers.read(&state, started_at).await;
        if let Some(PortError::Crash { message }) = &read.stopped_by {
            return Err(PortError::Crash { message: message.clone() });
        }
        let read_whole_table =
            state.cursors.rows.is_none() && read.rows_read && read.rows_complete && read.stopped_by.is_none();
        let stale_intents = stale_intents(&read, read_whole_table);
        // A stale intent no longer shields the page it names from being reported as an orphan.
        read.snapshot.intents.retain(|intent| !stale_intents.contains(&intent.row_id));
        let mut planned = plan(&read.snapshot);
        // Records rejected earlier and unchanged since are not sent again (no request, no backlog).
        hold_rejected(&mut planned, &state.errors, &state.rejections, started_at);
        let candidates = Candidates::of(&planned, &read.snapshot);
        let mut guard = state.mass_delete.clone();
        self.guard_deletes(&mut guard, &candidates, &mut planned, &read, request).await?;
        if request.dry_run {
            let outcome = outcome_of(read.stopped_by.as_ref(), !planned.deferred.is_empty());
            let mut summary =
                summary(request, started_at, self.ports.clock().now(), outcome, state.full_pass.is_some());
            summary.counts = planned_counts(&planned, &read);
            summary.subrequests = request.budget.used();
            summary.warnings = planned.warnings.clone();
            summary.errors = planned.issues.clone();
            summary.pending = u32::try_from(planned.ops.len() + planned.deferred.len()).unwrap_or(u32::MAX);
            summary.mass_delete_halt = guard.halt;
            return Ok(RunResult { summary, plan: planned });
        }
        if let Err(error) = keeper.keep(self.ports.lock(), self.ports.clock()).await {
            // Reading took so long that another run took over: it owns the writes and the state now.
            return self.failed_before_reading(request, started_at, error);
        }
        let writers = Writers { ports: &self.ports, budget: &request.budget, run_id: &request.run_id, lease: keeper };
        let execution = execute(&planned, &writers).await;
        if let Some(PortError::Crash { message }) = &execution.stopped_by {
            return Err(PortError::Crash { message: message.clone() });
        }
        if !stale_intents.is_empty() && keeper.lost().is_none() {
            // Left in place on failure: the next run tries again.
            let _ = self.ports.lock().clear_intents(&stale_intents).await;
        }
        let stopped_by = read.stopped_by.clone().or_else(|| execution.stopped_by.clone());
        let pending = pending_ids(&planned, &execution, &read);
        let mut next = next_state(state, &read, &planned, &execution, &pending);
        let mut outcome = outcome_of(stopped_by.as_ref(), work_left(&planned, &read, &pending));
        let mut stopped_early = None;
        if let RunOutcome::Ok | RunOutcome::Partial { .. } = &outcome {
            // A write that failed (and is retried next run) is not a success, whatever the cursors
            // say; it is named even when the budget ran out too ("supabase is unavailable: …").
            if let Some(message) = execution.outcomes.iter().find_map(|outcome| match outcome {
                OpOutcome::Failed(message) => Some(message.clone()),
                _ => None,
            }) {
                if let RunOutcome::Partial { reason } = &outcome {
                    stopped_early = Some(format!("the run also stopped early: {reason}"));
                }
                outcome = RunOutcome::Failed { message };
            }
        }
        let mut summary = summary(
            request,
            started_at,
            self.ports.clock().now(),
            outcome,
            next.full_pass.is_some() || starts_full_pass,
        );
        summary.counts = execution.counts;
        summary.retry_after_ms = retry_after_ms(stopped_by.as_ref());
        // Records refused while planning (bad content) count as record errors too.
        summary.counts.record_errors += u32::try_from(planned.issues.len()).unwrap_or(u32::MAX);
        summary.counts.rows_read = read.rows_count;
        summary.counts.pages_read = read.pages_count;
        summary.subrequests = request.budget.used();
        summary.warnings = planned.warnings.clone();
        summary.warnings.extend(read.warnings.iter().cloned());
        summary.warnings.extend(stopped_early);
        summary.errors = next.errors.clone();
        summary.pending = backlog(&planned, &execution);
        let applied = execution.counts.pages_trashed.saturating_add(execution.counts.rows_deleted);
        mass_delete::after_run(&mut guard, applied, summary.outcome == RunOutcome::Ok && candidates.is_empty());
        summary.mass_delete_halt = guard.halt.clone();
        next.mass_delete = guard;
        let held = match keeper.lost() {
            Some(error) => Err(error),
            None => keeper.keep(self.ports.lock(), self.ports.clock()).await,
        };
        if let Err(error) = held {
            if let PortError::Crash { .. } = error {
                return Err(error);
            }
            // The run that holds the lease now owns the state: saving ours could move its cursors back.
            summary.outcome = RunOutcome::Failed { message: error.to_string() };
            return Ok(RunResult { summary, plan: planned });
        }
        self.save(next, &summary).await?;
        Ok(RunResult { summary, plan: planned })
    }

    /// The mass-delete safety halt: counts the linked records when this run has deletes (or a
    /// halt is active, to see it cleared by a restore) and holds the deletes of a mass delete.
    /// A count that fails holds the deletes for this run only. `Err` only for a crash.
    async fn guard_deletes(
        &self,
        guard: &mut MassDeleteGuard,
        candidates: &Candidates,
        planned: &mut Plan,
        read: &ReadResult,
        request: &RunRequest,
    ) -> Result<(), PortError> {
        if candidates.is_empty() && guard.halt.is_none() {
            return Ok(());
        }
        let counts = match self.ports.supabase().count_linked().await {
            Ok(counts) => counts,
            Err(PortError::Crash { message }) => return Err(PortError::Crash { message }),
            Err(error) => {
                if !candidates.is_empty() {
                    mass_delete::hold_deletes(planned, &read.snapshot);
                    planned.warnings.push(format!(
                        "{} deletes wait for the next run: counting the linked records for the mass-delete safety halt failed: {error}",
                        candidates.trash_rows.len() + candidates.delete_pages.len()
                    ));
                }
                return Ok(());
            }
        };
        let now = self.ports.clock().now();
        let share = self.config.mass_delete_share;
        if let Verdict::Halt(_) = mass_delete::judge(guard, candidates, counts, share, request.allow_mass_delete, now) {
            mass_delete::hold_deletes(planned, &read.snapshot);
        }
        Ok(())
    }

    /// Notion's schema every run (one request; it also confirms the cached data source id and
    /// whether `Synced` exists); Supabase's at the start of a full pass (its reads name a missing
    /// table or column anyway).
    /// Each result is recorded (with its time) for `/health`.
    async fn check_schemas(&self, full_pass: bool, checks: &mut SchemaChecks) -> Result<(), PortError> {
        if full_pass {
            let result = self.ports.supabase().check_schema().await;
            let check = match &result {
                Ok(()) => Some(
                    self.ports
                        .supabase()
                        .schema_warning()
                        .map_or(SchemaCheck::Ok, |message| SchemaCheck::Warning { message }),
                ),
                Err(error) => SchemaCheck::from_error(error),
            };
            if let Some(check) = check {
                checks.record_supabase(check, self.ports.clock().now());
            }
            result?;
        }
        let result = self.ports.notion().check_schema().await;
        let check = match &result {
            Ok(()) => Some(SchemaCheck::Ok),
            Err(error) => SchemaCheck::from_error(error),
        };
        if let Some(check) = check {
            checks.record_notion(check, self.ports.clock().now());
        }
        result
    }

    async fn finish_without_plan(
        &self,
        request: &RunRequest,
        started_at: DateTime<Utc>,
        mut state: SyncState,
        error: PortError,
    ) -> Result<RunResult, PortError> {
        if let PortError::Crash { .. } = error {
            return Err(error);
        }
        let mut summary = summary(request, started_at, self.ports.clock().now(), outcome_of(Some(&error), false), true);
        summary.subrequests = request.budget.used();
        state.full_pass = None;
        self.save(state, &summary).await?;
        Ok(RunResult { summary, plan: Plan::default() })
    }

    async fn save(&self, mut state: SyncState, summary: &RunSummary) -> Result<(), PortError> {
        state.totals.runs += 1;
        if matches!(summary.outcome, RunOutcome::Ok | RunOutcome::Partial { .. }) {
            state.last_success = Some(summary.finished_at);
        }
        if let Some(id) = self.ports.notion().data_source_id() {
            state.data_source_id = Some(id);
        }
        state.last_run = Some(summary.clone());
        match self.ports.store().save(&state).await {
            Err(PortError::Crash { message }) => Err(PortError::Crash { message }),
            // The run's writes are done; an unsaved state only means the next run re-reads.
            _ => Ok(()),
        }
    }
}

/// Intents whose row is now linked, or gone (deleted for real: absent from a read of the whole
/// table), have done their job; the page of a gone row is then reported as an orphan. A row that
/// is merely soft-deleted keeps its intent: restored, it must find the page created for it, not
/// get a second one.
fn stale_intents(read: &ReadResult, read_whole_table: bool) -> Vec<String> {
    let snapshot = &read.snapshot;
    let stale = |row_id: &String| match snapshot.rows.get(row_id) {
        Some(row) => row.notion_page_id.is_some(),
        // A row kept out for a malformed link still exists: once corrected, it adopts its page.
        None => read_whole_table && !snapshot.record_issues.contains_key(row_id),
    };
    snapshot.intents.iter().filter(|intent| stale(&intent.row_id)).map(|intent| intent.row_id.clone()).collect()
}

fn summary(
    request: &RunRequest,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    outcome: RunOutcome,
    full_pass: bool,
) -> RunSummary {
    let mut summary = RunSummary::started(&request.run_id, &request.trigger, request.dry_run, started_at)
        .finished(outcome, finished_at);
    summary.full_pass = full_pass;
    summary.subrequests = request.budget.used();
    summary
}

/// The wait a rate limit asked for, when one ended the run.
fn retry_after_ms(stopped_by: Option<&PortError>) -> Option<u64> {
    match stopped_by {
        Some(PortError::RateLimited { retry_after_ms, .. }) => Some(*retry_after_ms),
        _ => None,
    }
}

fn outcome_of(stopped_by: Option<&PortError>, work_left: bool) -> RunOutcome {
    match stopped_by {
        Some(PortError::Config { message }) => RunOutcome::NotConfigured { message: message.clone() },
        Some(error @ (PortError::BudgetExhausted { .. } | PortError::RateLimited { .. })) => {
            RunOutcome::Partial { reason: error.to_string() }
        }
        Some(error) => RunOutcome::Failed { message: error.to_string() },
        None if work_left => {
            RunOutcome::Partial { reason: "more work than one run's budget; the next run continues".into() }
        }
        None => RunOutcome::Ok,
    }
}

/// Counts a dry run would produce, from the plan.
fn planned_counts(planned: &Plan, read: &ReadResult) -> RunCounts {
    RunCounts {
        rows_read: read.rows_count,
        pages_read: read.pages_count,
        pages_created: count(planned, OpKind::CreatePage),
        pages_updated: count(planned, OpKind::Push),
        pages_trashed: count(planned, OpKind::TrashPage),
        pages_restored: count(planned, OpKind::RestorePage),
        rows_inserted: count(planned, OpKind::ImportPage),
        rows_updated: count(planned, OpKind::Pull),
        rows_deleted: count(planned, OpKind::DeleteRow),
        rows_restored: count(planned, OpKind::RestoreRow),
        links: count(planned, OpKind::Link),
        conflicts: u32::try_from(planned.conflicts().len()).unwrap_or(u32::MAX),
        record_errors: u32::try_from(planned.issues.len()).unwrap_or(u32::MAX),
        skipped_concurrent_edits: 0,
    }
}

fn count(planned: &Plan, kind: OpKind) -> u32 {
    u32::try_from(planned.count(kind)).unwrap_or(u32::MAX)
}
