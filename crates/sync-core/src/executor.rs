//! Applies a [`Plan`] within the run's budget. Every op ends in an [`OpOutcome`]; only final
//! outcomes let the cursors move past the items they touch.
use std::collections::{BTreeMap, BTreeSet};

use crate::budget::Budget;
use crate::error::PortError;
use crate::heartbeat::LeaseKeeper;
use crate::plan::{NotionWrite, Op, OpKind, Order, Plan, SupabaseWrite};
use crate::ports::{
    Clock, CreateIntent, NewRow, NotionPort, Ports, RowWrite, RunLock, StateStore, SupabasePort, PAGE_SIZE,
};
use crate::rejection::op_record;
use crate::report::RunCounts;
use crate::state::RecordIssue;

/// What became of one op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    /// Both halves written.
    Done,
    /// The row changed since it was read: nothing (more) written; the next run picks it up.
    ConcurrentEdit,
    /// A service refused the record: reported, never retried.
    Rejected(RecordIssue),
    /// Not attempted (budget or CPU ran out, or an earlier failure stopped the run).
    NotRun,
    /// A service failed (after retries); the next run tries again.
    Failed(String),
}

impl OpOutcome {
    /// Final outcomes let the cursor pass the op's items.
    pub fn is_final(&self) -> bool {
        matches!(self, OpOutcome::Done | OpOutcome::ConcurrentEdit | OpOutcome::Rejected(_))
    }
}

/// The result of applying a plan.
#[derive(Debug, Default)]
pub struct Execution {
    pub outcomes: Vec<OpOutcome>,
    pub counts: RunCounts,
    /// The error that stopped the run early (budget, configuration, crash), if any.
    pub stopped_by: Option<PortError>,
}

/// The ports an executor writes through.
pub struct Writers<'a, P> {
    pub ports: &'a P,
    pub budget: &'a Budget,
    pub run_id: &'a str,
    /// Renews the run's lease before writes; a lost lease stops the run before its next write.
    pub lease: &'a LeaseKeeper,
}

/// Tracks the ops of one execution.
struct Run<'p> {
    ops: &'p [Op],
    outcomes: Vec<Option<OpOutcome>>,
    /// Supabase halves waiting to be flushed after their Notion half (op index, write).
    queued: Vec<(usize, RowWrite)>,
    created: BTreeMap<usize, String>,
    /// Creates sent to Notion (whatever came back: a page may exist even after an error).
    attempted_creates: BTreeSet<usize>,
    /// Ops whose first half (the one a user sees: the page write of a Notion-first op, the row
    /// write of a Supabase-first op) was written, whatever became of the second half.
    first_half_written: BTreeSet<usize>,
    stopped_by: Option<PortError>,
}

impl<'p> Run<'p> {
    fn settle(&mut self, index: usize, outcome: OpOutcome) {
        if self.outcomes[index].is_none() {
            self.outcomes[index] = Some(outcome);
        }
    }
    fn settled(&self, index: usize) -> bool {
        self.outcomes[index].is_some()
    }
    /// Stops on errors that end the run; returns true when the run must stop.
    fn note_stop(&mut self, error: &PortError) -> bool {
        if error.ends_run() {
            if self.stopped_by.is_none() {
                self.stopped_by = Some(error.clone());
            }
            return true;
        }
        false
    }
}

fn record_issue(op: &Op, error: &PortError) -> RecordIssue {
    let (side, id) = op_record(op);
    let field = match error {
        PortError::Record { field, .. } => field.clone(),
        _ => None,
    };
    RecordIssue { side, id, field, reason: error.to_string() }
}

fn failure(error: &PortError) -> OpOutcome {
    OpOutcome::Failed(error.to_string())
}

/// Applies `plan`: conflicts kept first, then Supabase-first halves in bulk, then Notion writes one
/// by one (keeping enough budget to flush), then the queued Supabase halves in bulk.
pub async fn execute<P: Ports>(plan: &Plan, w: &Writers<'_, P>) -> Execution {
    let mut run = Run {
        ops: &plan.ops,
        outcomes: vec![None; plan.ops.len()],
        queued: Vec::new(),
        created: BTreeMap::new(),
        attempted_creates: BTreeSet::new(),
        first_half_written: BTreeSet::new(),
        stopped_by: None,
    };
    keep_conflicts(plan, w, &mut run).await;
    supabase_first_halves(w, &mut run).await;
    if run.stopped_by.is_none() {
        journal_creates(w, &mut run).await;
    }
    if run.stopped_by.is_none() {
        notion_halves(w, &mut run).await;
    }
    flush_queued(w, &mut run).await;
    clear_finished_intents(w, &run).await;
    finish(run)
}

/// Conflict losers are stored before either version is overwritten; if that fails, the
/// conflicting ops wait for the next run.
async fn keep_conflicts<P: Ports>(plan: &Plan, w: &Writers<'_, P>, run: &mut Run<'_>) {
    let conflicts = plan.conflicts();
    if conflicts.is_empty() {
        return;
    }
    if let Err(error) = w.ports.store().save_conflicts(w.run_id, &conflicts).await {
        let stop = run.note_stop(&error);
        for (index, op) in plan.ops.iter().enumerate() {
            if op.conflict.is_some() || stop {
                run.settle(index, OpOutcome::Failed(format!("could not keep the conflict's losing version: {error}")));
            }
        }
    }
}

/// Renews the lease when due; false, with the run stopped, once another run holds it.
async fn lease_held<P: Ports>(w: &Writers<'_, P>, run: &mut Run<'_>) -> bool {
    match w.lease.keep(w.ports.lock(), w.ports.clock()).await {
        Ok(()) => true,
        Err(error) => {
            run.stopped_by = Some(error);
            false
        }
    }
}

/// Inserts and conditional updates that must happen before the Notion half.
async fn supabase_first_halves<P: Ports>(w: &Writers<'_, P>, run: &mut Run<'_>) {
    let mut inserts: Vec<(usize, NewRow)> = Vec::new();
    let mut updates: Vec<(usize, RowWrite)> = Vec::new();
    for (index, op) in run.ops.iter().enumerate() {
        if op.order != Order::SupabaseFirst || run.settled(index) {
            continue;
        }
        match &op.supabase {
            Some(SupabaseWrite::Insert(row)) => inserts.push((index, row.clone())),
            Some(SupabaseWrite::Update(write)) => updates.push((index, write.clone())),
            None => {}
        }
    }
    for chunk in inserts.chunks(PAGE_SIZE) {
        if run.stopped_by.is_some() || !lease_held(w, run).await {
            break;
        }
        insert_chunk(w, run, chunk).await;
    }
    for chunk in updates.chunks(PAGE_SIZE) {
        if run.stopped_by.is_some() || !lease_held(w, run).await {
            break;
        }
        update_chunk(w, run, chunk, true).await;
    }
}

async fn insert_chunk<P: Ports>(w: &Writers<'_, P>, run: &mut Run<'_>, chunk: &[(usize, NewRow)]) {
    let rows: Vec<NewRow> = chunk.iter().map(|(_, row)| row.clone()).collect();
    match w.ports.supabase().insert_rows(&rows).await {
        Ok(inserted) => {
            let linked: BTreeSet<&str> = inserted.iter().filter_map(|row| row.notion_page_id.as_deref()).collect();
            for (index, row) in chunk {
                if linked.contains(row.notion_page_id.as_str()) {
                    run.first_half_written.insert(*index);
                } else {
                    run.settle(*index, OpOutcome::Failed("the inserted row was not returned".into()));
                }
            }
        }
        Err(error) if matches!(error, PortError::Record { .. }) && chunk.len() > 1 => {
            for single in chunk {
                Box::pin(insert_chunk(w, run, std::slice::from_ref(single))).await;
            }
        }
        Err(error) => settle_failed_chunk(run, chunk.iter().map(|(index, _)| *index), &error),
    }
}

/// Settles every op of a failed bulk request: rejected (one record refused), not run (the run
/// stops), or failed (the next run retries).
fn settle_failed_chunk(run: &mut Run<'_>, indexes: impl Iterator<Item = usize>, error: &PortError) {
    let stop = run.note_stop(error);
    for index in indexes {
        let outcome = match (error, stop) {
            (PortError::Record { .. }, _) => OpOutcome::Rejected(record_issue(&run.ops[index], error)),
            (_, true) => OpOutcome::NotRun,
            _ => failure(error),
        };
        run.settle(index, outcome);
    }
}

/// Sends conditional updates; `supabase_first` says whether a not-applied update settles the op
/// (Supabase-first: yes, the Notion half must not follow).
async fn update_chunk<P: Ports>(
    w: &Writers<'_, P>,
    run: &mut Run<'_>,
    chunk: &[(usize, RowWrite)],
    supabase_first: bool,
) {
    let writes: Vec<RowWrite> = chunk.iter().map(|(_, write)| write.clone()).collect();
    match w.ports.supabase().write_rows(&writes).await {
        Ok(results) => {
            let applied: BTreeSet<&str> =
                results.iter().filter(|result| result.applied).map(|result| result.id.as_str()).collect();
            for (index, write) in chunk {
                if !applied.contains(write.id.as_str()) {
                    run.settle(*index, OpOutcome::ConcurrentEdit);
                } else if supabase_first {
                    run.first_half_written.insert(*index);
                } else {
                    run.settle(*index, OpOutcome::Done);
                }
            }
        }
        Err(error) if matches!(error, PortError::Record { .. }) && chunk.len() > 1 => {
            for single in chunk {
                Box::pin(update_chunk(w, run, std::slice::from_ref(single), supabase_first)).await;
            }
        }
        Err(error) => settle_failed_chunk(run, chunk.iter().map(|(index, _)| *index), &error),
    }
}

/// Journals every page create before the first one, so a crash cannot lead to a second page.
async fn journal_creates<P: Ports>(w: &Writers<'_, P>, run: &mut Run<'_>) {
    let now = w.ports.clock().now();
    let intents: Vec<CreateIntent> = run
        .ops
        .iter()
        .enumerate()
        .filter(|(index, op)| op.kind == OpKind::CreatePage && !run.settled(*index))
        .filter_map(|(_, op)| match (&op.row_id, &op.notion) {
            (Some(row_id), Some(NotionWrite::Create { base, .. })) => {
                Some(CreateIntent { row_id: row_id.clone(), base: base.clone(), at: now })
            }
            _ => None,
        })
        .collect();
    if intents.is_empty() || !lease_held(w, run).await {
        return;
    }
    if let Err(error) = w.ports.lock().record_intents(&intents).await {
        run.note_stop(&error);
        for index in 0..run.ops.len() {
            if run.ops[index].kind == OpKind::CreatePage {
                run.settle(index, OpOutcome::Failed(format!("could not journal the page create: {error}")));
            }
        }
    }
}

/// Subrequests to keep for flushing the queued Supabase halves (one per 100, plus the next one).
fn flush_reserve(queued: usize) -> u32 {
    u32::try_from(queued / PAGE_SIZE + 1).unwrap_or(u32::MAX)
}

/// Notion writes, one by one, in plan order.
async fn notion_halves<P: Ports>(w: &Writers<'_, P>, run: &mut Run<'_>) {
    let mut consecutive_failures = 0;
    for index in 0..run.ops.len() {
        if run.settled(index) {
            continue;
        }
        let op = &run.ops[index];
        let Some(notion) = op.notion.clone() else {
            queue_or_finish(run, index);
            continue;
        };
        let reserve = if op.order == Order::NotionFirst { flush_reserve(run.queued.len() + 1) } else { 0 };
        if w.budget.remaining() < reserve + 1 || w.ports.clock().near_cpu_limit() {
            run.stopped_by = Some(PortError::BudgetExhausted { limit: w.budget.limit() });
            break;
        }
        if !lease_held(w, run).await {
            break;
        }
        if matches!(notion, NotionWrite::Create { .. }) {
            run.attempted_creates.insert(index);
        }
        let result = match &notion {
            NotionWrite::Create { content, base } => w.ports.notion().create_page(content, base).await.map(Some),
            NotionWrite::Update { page_id, write } => w.ports.notion().update_page(page_id, write).await.map(|_| None),
        };
        match result {
            Ok(created) => {
                consecutive_failures = 0;
                if let Some(page) = created {
                    run.created.insert(index, page.id);
                }
                if op.order == Order::NotionFirst {
                    run.first_half_written.insert(index);
                }
                queue_or_finish(run, index);
            }
            Err(error) => {
                if run.note_stop(&error) {
                    break;
                }
                let outcome = match &error {
                    PortError::Record { .. } => OpOutcome::Rejected(record_issue(op, &error)),
                    _ => {
                        consecutive_failures += 1;
                        failure(&error)
                    }
                };
                run.settle(index, outcome);
                if consecutive_failures >= 3 {
                    run.stopped_by = Some(error);
                    break;
                }
            }
        }
    }
}

/// After the Notion half: Notion-first ops queue their Supabase half; Supabase-first ops are done.
fn queue_or_finish(run: &mut Run<'_>, index: usize) {
    let op = &run.ops[index];
    match (op.order, &op.supabase) {
        (Order::NotionFirst, Some(SupabaseWrite::Update(write))) => {
            let mut write = write.clone();
            if let Some(page_id) = run.created.get(&index) {
                write.notion_page_id = Some(page_id.clone());
            }
            run.queued.push((index, write));
        }
        _ => run.settle(index, OpOutcome::Done),
    }
}

async fn flush_queued<P: Ports>(w: &Writers<'_, P>, run: &mut Run<'_>) {
    if w.lease.lost().is_some() {
        // The run holding the lease now links these pages (their intents are in the journal).
        return;
    }
    let queued = std::mem::take(&mut run.queued);
    let stopped = run.stopped_by.take();
    for chunk in queued.chunks(PAGE_SIZE) {
        if !lease_held(w, run).await {
            return;
        }
        update_chunk(w, run, chunk, false).await;
        if matches!(run.stopped_by, Some(PortError::Crash { .. })) {
            break;
        }
    }
    if let Some(error) = stopped {
        if !matches!(run.stopped_by, Some(PortError::Crash { .. })) {
            run.stopped_by = Some(error);
        }
    }
}

/// Clears the intents of creates whose row is now linked.
async fn clear_finished_intents<P: Ports>(w: &Writers<'_, P>, run: &Run<'_>) {
    // After a lost lease the journal belongs to the run holding it (it may have re-journaled the
    // same rows): clearing "never sent" intents here would drop its entries.
    if matches!(run.stopped_by, Some(PortError::Crash { .. })) || w.lease.lost().is_some() {
        return;
    }
    // Done: the row is linked. Never sent, or refused by Notion (a validation error: nothing was
    // created): no page can exist, and a journaled intent left behind would make later runs search
    // for it (two queries each) or adopt an unrelated page.
    let linked: Vec<String> = run
        .ops
        .iter()
        .enumerate()
        .filter(|(index, op)| {
            let refused =
                matches!(run.outcomes[*index], Some(OpOutcome::Rejected(_))) && !run.created.contains_key(index);
            op.kind == OpKind::CreatePage
                && (run.outcomes[*index] == Some(OpOutcome::Done) || !run.attempted_creates.contains(index) || refused)
        })
        .filter_map(|(_, op)| op.row_id.clone())
        .collect();
    if !linked.is_empty() {
        // A failure here only leaves intents whose rows are linked: the next run drops them.
        let _ = w.ports.lock().clear_intents(&linked).await;
    }
}

fn finish(run: Run<'_>) -> Execution {
    let mut counts = RunCounts::default();
    let outcomes: Vec<OpOutcome> =
        run.outcomes.into_iter().map(|outcome| outcome.unwrap_or(OpOutcome::NotRun)).collect();
    for (index, (op, outcome)) in run.ops.iter().zip(&outcomes).enumerate() {
        count(&mut counts, op, outcome, run.first_half_written.contains(&index));
    }
    Execution { outcomes, counts, stopped_by: run.stopped_by }
}

/// Counts what an op changed: an op whose second half did not follow (budget, failure, a
/// concurrent edit) still counts for the half that was written; the next run finishes it.
fn count(counts: &mut RunCounts, op: &Op, outcome: &OpOutcome, first_half_written: bool) {
    match outcome {
        OpOutcome::ConcurrentEdit => counts.skipped_concurrent_edits += 1,
        OpOutcome::Rejected(_) => counts.record_errors += 1,
        OpOutcome::Done | OpOutcome::NotRun | OpOutcome::Failed(_) => {}
    }
    if *outcome != OpOutcome::Done && !first_half_written {
        return;
    }
    if op.conflict.is_some() {
        counts.conflicts += 1;
    }
    match op.kind {
        OpKind::CreatePage => counts.pages_created += 1,
        OpKind::ImportPage => counts.rows_inserted += 1,
        OpKind::Link => counts.links += 1,
        OpKind::Push => counts.pages_updated += 1,
        OpKind::Pull => counts.rows_updated += 1,
        OpKind::StoreBase => {}
        OpKind::TrashPage => counts.pages_trashed += 1,
        OpKind::RestorePage => counts.pages_restored += 1,
        OpKind::DeleteRow => counts.rows_deleted += 1,
        OpKind::RestoreRow => counts.rows_restored += 1,
    }
}
