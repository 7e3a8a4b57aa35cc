//! What a run leaves for the next one: the cursors moved past the items whose outcome is final,
//! where a stopped Notion query resumes, the full pass's progress, the backlog, and the record
//! errors, rejections and orphans kept in the state. Pure: the engine calls it after executing.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use crate::cursor::{advance_pages, advance_rows, all_final};
use crate::executor::{Execution, OpOutcome};
use crate::plan::{OpKind, Plan};
use crate::reader::ReadResult;
use crate::rejection::update_rejections;
use crate::report::RunCounts;
use crate::state::{FullPass, Orphan, QueryResume, RecordIssue, SyncState};
use crate::time::{floor_minute, notion_overlap};
use crate::trash_sweep;

/// Record errors and orphans kept in the state (the oldest by sort order go first).
const KEPT_ISSUES: usize = 200;

/// A full reconciliation starts when no pass has finished yet or the last one is older than
/// `every`: the cursors start over. Returns whether one started.
pub fn start_full_pass_if_due(state: &mut SyncState, now: DateTime<Utc>, every: Duration) -> bool {
    if state.full_pass.is_some() {
        return false;
    }
    let due = match state.last_full_pass {
        None => true,
        Some(last) => now - last >= every,
    };
    if due {
        state.full_pass = Some(FullPass { started_at: now, ..FullPass::default() });
        state.cursors = Default::default();
        // Notion may accept `in_trash` in queries again (another API version): ask once a day.
        state.trash_query_refused = None;
    }
    due
}

/// Ids (rows and pages) whose outcome is not final: the cursors must not pass them.
pub fn pending_ids(planned: &Plan, execution: &Execution, read: &ReadResult) -> BTreeSet<String> {
    let mut pending: BTreeSet<String> = held_ids(planned).into_iter().map(str::to_string).collect();
    for (op, outcome) in planned.ops.iter().zip(&execution.outcomes) {
        if !outcome.is_final() && holds_cursor(op.kind) {
            pending.extend(op.row_id.iter().cloned());
            pending.extend(op.page_id.iter().cloned());
        }
    }
    let snapshot = &read.snapshot;
    for deferred in &planned.deferred {
        let linked_row = deferred
            .row_id
            .as_ref()
            .and_then(|id| snapshot.rows.get(id))
            .is_some_and(|row| row.notion_page_id.is_some());
        let synced_page =
            deferred.page_id.as_ref().and_then(|id| snapshot.pages.get(id)).is_some_and(|page| page.base.is_some());
        if linked_row || synced_page {
            pending.extend(deferred.row_id.iter().cloned());
            pending.extend(deferred.page_id.iter().cloned());
        }
    }
    pending
}

/// Whether the next run has work this one left: a pending item the mass-delete halt does not
/// hold (held items wait for an allow, not for a run), or a source not read to its end.
pub fn work_left(planned: &Plan, read: &ReadResult, pending: &BTreeSet<String>) -> bool {
    let held = held_ids(planned);
    pending.iter().any(|id| !held.contains(id.as_str())) || !read_is_complete(read)
}

/// Ops this run planned but did not finish, plus items it left for later: a lower bound of the
/// backlog (records not read yet are not counted).
pub fn backlog(planned: &Plan, execution: &Execution) -> u32 {
    let unfinished = execution.outcomes.iter().filter(|outcome| !outcome.is_final()).count();
    u32::try_from(unfinished + planned.deferred.len()).unwrap_or(u32::MAX)
}

/// The state after a run that executed its plan: cursors, resume points, full pass, record
/// errors, rejections, orphans and totals (the caller adds the mass-delete guard and `last_run`).
pub fn next_state(
    mut state: SyncState,
    read: &ReadResult,
    planned: &Plan,
    execution: &Execution,
    pending: &BTreeSet<String>,
) -> SyncState {
    let (pages_before, trashed_before) = (state.cursors.pages, state.cursors.trashed_pages);
    state.cursors.pages = advance_pages(state.cursors.pages, &read.live_window, pending);
    state.cursors.trashed_pages = advance_pages(state.cursors.trashed_pages, &read.trashed_window, pending);
    let read_minute = floor_minute(read.snapshot.now);
    let live = Moved { before: pages_before, after: state.cursors.pages, read_minute };
    state.cursors.pages_resume = resume_point(live, &read.live_window, &read.live_next, pending);
    let trashed = Moved { before: trashed_before, after: state.cursors.trashed_pages, read_minute };
    state.cursors.trashed_resume = resume_point(trashed, &read.trashed_window, &read.trashed_next, pending);
    // A window read to its end with every item final has seen every edit before the read
    // began: the cursor moves to that minute, so an idle database is not re-read from the start.
    // Not when the read began in an earlier run (it continued Notion's cursor): the cursor stays
    // on the last page read, and the next run reads the edits made since from there.
    if read.live_complete
        && !read.live_resumed
        && all_final(read.live_window.iter().map(|(id, _)| id.as_str()), pending)
    {
        state.cursors.pages = state.cursors.pages.max(Some(read_minute));
    }
    let trashed_final = all_final(read.trashed_window.iter().map(|(id, _)| id.as_str()), pending);
    if read.trashed_complete && !read.trashed_resumed && trashed_final {
        state.cursors.trashed_pages = state.cursors.trashed_pages.max(Some(read_minute));
    }
    if read.rows_read {
        state.cursors.rows = advance_rows(state.cursors.rows.clone(), &read.row_window, pending);
    }
    update_full_pass(&mut state, read, pending);
    state.pools = read.pools.clone();
    if read.trash_query_refused {
        state.trash_query_refused = Some(read.snapshot.now);
    }
    if let Some(sweeps) = trash_sweep::after_run(read, !planned.held.is_empty()) {
        state.trash_sweeps = sweeps;
    }
    let settled = settled_ids(planned, execution, read, pending);
    update_issues(&mut state.errors, planned, execution, &settled);
    update_rejections(&mut state.rejections, planned, &execution.outcomes, &state.errors, read.snapshot.now);
    update_orphans(&mut state.orphans, &planned.orphans, &settled);
    add_totals(&mut state, &execution.counts);
    state
}

/// Every source read to its end (both windows, the rows, both pools).
fn read_is_complete(read: &ReadResult) -> bool {
    read.live_complete
        && read.trashed_complete
        && read.rows_read
        && read.rows_complete
        && read.snapshot.row_pool_complete
        && read.snapshot.page_pool_complete
}

/// Ops that pair a linked row and page (pool ops are found again by the pool queries, whatever
/// the cursors say, so they never hold a cursor back).
fn holds_cursor(kind: OpKind) -> bool {
    !matches!(kind, OpKind::CreatePage | OpKind::ImportPage | OpKind::Link)
}

/// Ids of the items the mass-delete halt holds.
fn held_ids(planned: &Plan) -> BTreeSet<&str> {
    planned.held.iter().flat_map(|held| held.row_id.iter().chain(held.page_id.iter())).map(String::as_str).collect()
}

/// Ids whose state is now settled without a new error: their old errors and orphan entries go.
fn settled_ids(
    planned: &Plan,
    execution: &Execution,
    read: &ReadResult,
    pending: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut settled = BTreeSet::new();
    for (op, outcome) in planned.ops.iter().zip(&execution.outcomes) {
        if *outcome == OpOutcome::Done {
            settled.extend(op.row_id.iter().cloned());
            settled.extend(op.page_id.iter().cloned());
        }
    }
    let snapshot = &read.snapshot;
    let links = snapshot.links();
    for (page_id, row_id) in links {
        if snapshot.pages.contains_key(&page_id) && !pending.contains(&row_id) {
            settled.insert(row_id);
            settled.insert(page_id);
        }
    }
    for issue in &planned.issues {
        settled.remove(&issue.id);
    }
    settled
}

fn update_issues(errors: &mut Vec<RecordIssue>, planned: &Plan, execution: &Execution, settled: &BTreeSet<String>) {
    errors.retain(|issue| !settled.contains(&issue.id));
    let rejected = execution.outcomes.iter().filter_map(|outcome| match outcome {
        OpOutcome::Rejected(issue) => Some(issue.clone()),
        _ => None,
    });
    for issue in planned.issues.iter().cloned().chain(rejected) {
        errors.retain(|old| !(old.side == issue.side && old.id == issue.id));
        errors.push(issue);
    }
    errors.sort();
    errors.truncate(KEPT_ISSUES);
}

fn update_orphans(orphans: &mut Vec<Orphan>, found: &[Orphan], settled: &BTreeSet<String>) {
    orphans.retain(|orphan| !settled.contains(&orphan.id));
    for orphan in found {
        orphans.retain(|old| !(old.side == orphan.side && old.id == orphan.id));
        orphans.push(orphan.clone());
    }
    orphans.sort();
    orphans.truncate(KEPT_ISSUES);
}

/// A Notion cursor before and after this run, and the minute the run's read began.
#[derive(Debug, Clone, Copy)]
struct Moved {
    before: Option<DateTime<Utc>>,
    after: Option<DateTime<Utc>>,
    read_minute: DateTime<Utc>,
}

/// Where the next run resumes a window that stopped early with every page it read final:
/// - the cursor could not move (all those pages share the cursor's minutes): Notion's cursor, as is;
/// - the cursor moved, and stays more than the overlap behind the read (a backlog, a full pass):
///   the same position, for the query the next run issues (`since` = new cursor − overlap), so
///   that it neither reads the overlap again nor the pages it already read. The overlap is for
///   edits made just before a read that Notion may list late; none of those is older than the
///   read minute minus the overlap.
/// - the cursor moved close to the read minute: none (the next query starts at the cursor minus
///   the overlap).
fn resume_point(
    cursor: Moved,
    window: &[(String, DateTime<Utc>)],
    next: &Option<QueryResume>,
    pending: &BTreeSet<String>,
) -> Option<QueryResume> {
    let next = next.as_ref().filter(|_| all_final(window.iter().map(|(id, _)| id.as_str()), pending))?;
    if cursor.before == cursor.after {
        return Some(next.clone());
    }
    let after = cursor.after.filter(|after| *after + notion_overlap() < cursor.read_minute)?;
    let since = Some(after - notion_overlap());
    Some(match next.from.or(next.since) {
        // Notion's cursor belongs to the query from this minute: it is valid whatever `since` is.
        Some(from) => QueryResume { since, from: Some(from), ..next.clone() },
        // The query had no lower bound (a full pass's first read): from the last page's minute.
        None => QueryResume { since, start_cursor: None, from: Some(after), split: None },
    })
}

/// A full pass records the pages it saw; it is done once both Notion windows were read to their
/// end (in this run or earlier ones) and the rows to theirs, every item final.
fn update_full_pass(state: &mut SyncState, read: &ReadResult, pending: &BTreeSet<String>) {
    let Some(pass) = state.full_pass.as_mut() else { return };
    pass.seen_pages.extend(read.live_window.iter().chain(&read.trashed_window).map(|(id, _)| id.clone()));
    let live_final = all_final(read.live_window.iter().map(|(id, _)| id.as_str()), pending);
    let trashed_final = all_final(read.trashed_window.iter().map(|(id, _)| id.as_str()), pending);
    pass.pages_done |= read.live_complete && live_final;
    pass.trashed_done |= read.trashed_complete && trashed_final;
    let rows_final = all_final(read.row_window.iter().map(|key| key.id.as_str()), pending);
    if pass.pages_done && pass.trashed_done && read.rows_read && read.rows_complete && rows_final {
        state.last_full_pass = Some(pass.started_at);
        state.full_pass = None;
    }
}

fn add_totals(state: &mut SyncState, counts: &RunCounts) {
    let totals = &mut state.totals;
    totals.pages_created += u64::from(counts.pages_created);
    totals.rows_inserted += u64::from(counts.rows_inserted);
    totals.pages_updated += u64::from(counts.pages_updated + counts.pages_trashed + counts.pages_restored);
    totals.rows_updated += u64::from(counts.rows_updated + counts.rows_deleted + counts.rows_restored);
    totals.conflicts += u64::from(counts.conflicts);
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::model::{Page, Row, RowCursor, Side};
    use crate::plan::{Deferred, Op, Order};
    use crate::snapshot::Snapshot;

    /// 10:mm on the test day.
    fn at(minute: u32) -> DateTime<Utc> {
        format!("2025-01-01T10:{minute:02}:00Z").parse().unwrap()
    }

    /// When the test runs read: 10:30:25, so the read minute is 10:30.
    fn read_now() -> DateTime<Utc> {
        "2025-01-01T10:30:25Z".parse().unwrap()
    }

    fn ids(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    fn window(items: &[(&str, u32)]) -> Vec<(String, DateTime<Utc>)> {
        items.iter().map(|(id, minute)| (id.to_string(), at(*minute))).collect()
    }

    fn resume() -> QueryResume {
        QueryResume { since: Some(at(0)), start_cursor: Some("notion-next".into()), from: None, split: None }
    }

    /// A read of nothing, every source to its end.
    fn complete_read() -> ReadResult {
        let snapshot =
            Snapshot { now: read_now(), row_pool_complete: true, page_pool_complete: true, ..Snapshot::default() };
        ReadResult {
            snapshot,
            live_complete: true,
            trashed_complete: true,
            rows_read: true,
            rows_complete: true,
            ..ReadResult::default()
        }
    }

    fn op(kind: OpKind, row: &str, page: &str) -> Op {
        Op {
            kind,
            row_id: Some(row.into()),
            page_id: Some(page.into()),
            order: Order::NotionFirst,
            notion: None,
            supabase: None,
            conflict: None,
        }
    }

    fn deferred(row: Option<&str>, page: Option<&str>) -> Deferred {
        Deferred { row_id: row.map(Into::into), page_id: page.map(Into::into), reason: "budget".into() }
    }

    fn row(id: &str, page: Option<&str>) -> Row {
        Row {
            id: id.into(),
            decision: "Ship it".into(),
            kind: "Ops".into(),
            date: "2025-01-01".into(),
            created_at: at(0),
            updated_at: at(1),
            notion_page_id: page.map(Into::into),
            notion_synced: true,
            checksum: None,
            deleted_at: None,
        }
    }

    /// Adds a row as read (the test ids are not Notion ids, so `Snapshot::add_row` would refuse them).
    fn add_row(read: &mut ReadResult, row: Row) {
        read.snapshot.rows.insert(row.id.clone(), row);
    }

    fn page(id: &str, base: Option<&str>) -> Page {
        Page {
            id: id.into(),
            decision: "Ship it".into(),
            types: vec!["Ops".into()],
            date: Some("2025-01-01".into()),
            date_value: None,
            base: base.map(Into::into),
            synced: true,
            in_trash: false,
            created_time: at(0),
            last_edited_time: at(1),
        }
    }

    fn issue(side: Side, id: &str, reason: &str) -> RecordIssue {
        RecordIssue { side, id: id.into(), field: None, reason: reason.into() }
    }

    fn orphan(side: Side, id: &str) -> Orphan {
        Orphan { side, id: id.into(), reason: "partner gone".into() }
    }

    /// Which Notion window a case reads: both follow the same rules.
    #[derive(Debug, Clone, Copy)]
    enum Window {
        Live,
        Trashed,
    }

    /// The Notion cursors: a window read to its end with every page final moves to the read
    /// minute; otherwise the cursor moves past the final prefix only, never backwards, and a
    /// window that stopped inside the cursor's minutes keeps Notion's cursor to resume from.
    #[rustfmt::skip] // the tables are aligned by hand, one rule per line
    #[rstest]
    //     cursor before  window read             read to end  resume given  pending  → (cursor, resume kept)
    #[case(None,          &[("a", 1), ("b", 2)],  true,        false,        &[],     (Some(30), false))] // complete, all final: the read minute
    #[case(Some(0),       &[],                    true,        false,        &[],     (Some(30), false))] // idle database: not re-read from the start
    #[case(Some(25),      &[("a", 27), ("b", 28)], false,      true,         &[],     (Some(28), false))] // incomplete near the read minute: the last final minute, no resume
    #[case(Some(2),       &[("a", 2), ("b", 2)],  false,       true,         &[],     (Some(2), true))]   // stuck in the cursor's minute: resume kept
    #[case(Some(0),       &[("a", 1), ("b", 2)],  true,        false,        &["b"],  (Some(1), false))]  // complete with a pending page: stops before it
    #[case(Some(0),       &[("a", 1), ("b", 2)],  false,       true,         &["a"],  (Some(0), false))]  // first page pending: stays, no resume
    #[case(Some(0),       &[],                    false,       false,        &[],     (Some(0), false))]  // capped (no cursor to resume): never complete
    #[case(Some(5),       &[("a", 3)],            false,       true,         &[],     (Some(5), true))]   // never backwards
    #[case(None,          &[],                    false,       false,        &[],     (None, false))]     // nothing read, nothing known
    fn notion_window_cursor(
        #[values(Window::Live, Window::Trashed)] which: Window,
        #[case] before: Option<u32>,
        #[case] items: &[(&str, u32)],
        #[case] complete: bool,
        #[case] next: bool,
        #[case] pending: &[&str],
        #[case] (want_cursor, want_resume): (Option<u32>, bool),
    ) {
        let mut state = SyncState::default();
        let mut read = complete_read();
        let next = next.then(resume);
        match which {
            Window::Live => {
                state.cursors.pages = before.map(at);
                (read.live_window, read.live_complete, read.live_next) = (window(items), complete, next);
            }
            Window::Trashed => {
                state.cursors.trashed_pages = before.map(at);
                (read.trashed_window, read.trashed_complete, read.trashed_next) = (window(items), complete, next);
            }
        }
        let next = next_state(state, &read, &Plan::default(), &Execution::default(), &ids(pending));
        let (cursor, resumed) = match which {
            Window::Live => (next.cursors.pages, next.cursors.pages_resume),
            Window::Trashed => (next.cursors.trashed_pages, next.cursors.trashed_resume),
        };
        assert_eq!(cursor, want_cursor.map(at), "{which:?} cursor");
        assert_eq!(resumed, want_resume.then(resume), "{which:?} resume");
    }

    /// A window that stopped far behind the read minute (a backlog, a full pass), every page it
    /// read final, resumes where it stopped, for the query of the moved cursor: no page read
    /// again, no overlap read again. Near the read minute, the overlap is read again instead.
    #[rustfmt::skip] // the tables are aligned by hand, one rule per line
    #[rstest]
    //     stopped at: since  from      Notion cursor  window read    → resume (since, from, Notion cursor kept)
    #[case(Some(0),           None,     true,          &[("a", 5)],   Some((3, 0, true)))]   // the query from `since` goes on
    #[case(Some(0),           Some(4),  true,          &[("a", 5)],   Some((3, 4, true)))]   // narrowed after Notion's cap: goes on too
    #[case(Some(0),           Some(5),  false,         &[("a", 5)],   Some((3, 5, false)))]  // restarted at a capped minute: from there
    #[case(None,              None,     true,          &[("a", 5)],   Some((3, 5, false)))]  // no lower bound: from the last page's minute
    #[case(Some(0),           None,     true,          &[("a", 28)],  None)]                 // near the read minute: the overlap again
    fn a_window_far_behind_resumes_where_it_stopped(
        #[case] since: Option<u32>,
        #[case] from: Option<u32>,
        #[case] notion_cursor: bool,
        #[case] items: &[(&str, u32)],
        #[case] want: Option<(u32, u32, bool)>,
    ) {
        let mut state = SyncState::default();
        state.cursors.pages = since.map(|minute| at(minute + 2));
        let mut read = complete_read();
        read.live_complete = false;
        read.live_window = window(items);
        let start_cursor = notion_cursor.then(|| "notion-next".to_string());
        read.live_next = Some(QueryResume { since: since.map(at), start_cursor, from: from.map(at), split: None });
        let next = next_state(state, &read, &Plan::default(), &Execution::default(), &BTreeSet::new());
        let want = want.map(|(since, from, kept)| QueryResume {
            since: Some(at(since)),
            start_cursor: kept.then(|| "notion-next".to_string()),
            from: Some(at(from)),
            split: None,
        });
        assert_eq!(next.cursors.pages_resume, want);
        assert_eq!(next.cursors.pages, items.last().map(|(_, minute)| at(*minute)));
    }

    /// A window that ends by going on from an earlier run's Notion cursor does not move its
    /// cursor to the read minute: an edit made between the runs may sit before Notion's cursor.
    #[test]
    fn a_window_completed_from_an_earlier_runs_notion_cursor_keeps_its_cursor_on_the_last_page() {
        let mut state = SyncState::default();
        state.cursors.pages = Some(at(2));
        let mut read = complete_read();
        read.live_window = window(&[("a", 4)]);
        read.live_resumed = true;
        let next = next_state(state, &read, &Plan::default(), &Execution::default(), &BTreeSet::new());
        assert_eq!(next.cursors.pages, Some(at(4)));
        read.live_resumed = false;
        let mut state = SyncState::default();
        state.cursors.pages = Some(at(2));
        let next = next_state(state, &read, &Plan::default(), &Execution::default(), &BTreeSet::new());
        assert_eq!(next.cursors.pages, Some(at(30)));
    }

    /// The other window's cursor is its own: a live window does not move the trashed cursor.
    #[test]
    fn each_notion_window_moves_its_own_cursor() {
        let mut state = SyncState::default();
        state.cursors.trashed_pages = Some(at(0));
        let mut read = complete_read();
        read.live_window = window(&[("a", 1)]);
        read.trashed_complete = false;
        let next = next_state(state, &read, &Plan::default(), &Execution::default(), &BTreeSet::new());
        assert_eq!(next.cursors.pages, Some(at(30)));
        assert_eq!(next.cursors.trashed_pages, Some(at(0)));
    }

    /// The Supabase keyset cursor moves past the final prefix of the rows read, and only when
    /// the rows were read at all.
    #[rustfmt::skip] // the tables are aligned by hand, one rule per line
    #[rstest]
    //     rows read  pending    → cursor at row
    #[case(true,      &[],         Some("r2"))] // all final: the last key
    #[case(true,      &["r2"],     Some("r1"))] // stops before the first pending row
    #[case(true,      &["r1"],     Some("r0"))] // first row pending: stays
    #[case(false,     &[],         Some("r0"))] // not read (a full pass reads Notion first): stays
    fn supabase_keyset_cursor(#[case] rows_read: bool, #[case] pending: &[&str], #[case] want: Option<&str>) {
        let key = |id: &str| RowCursor { updated_at: at(1), id: id.into() };
        let mut state = SyncState::default();
        state.cursors.rows = Some(key("r0"));
        let mut read = complete_read();
        read.rows_read = rows_read;
        read.row_window = if rows_read { vec![key("r1"), key("r2")] } else { Vec::new() };
        let next = next_state(state, &read, &Plan::default(), &Execution::default(), &ids(pending));
        assert_eq!(next.cursors.rows, want.map(key));
    }

    /// A full pass is done once both Notion windows were read to their end (now or in earlier
    /// runs) and the rows to theirs, every item final; then `last_full_pass` is its start.
    #[rustfmt::skip] // the tables are aligned by hand, one rule per line
    #[rstest]
    //     done before (live, trashed)  read to end (live, trashed)  rows (read, to end)  pending   → done (live, trashed)  pass over
    #[case((false, false),              (true, true),                (true, true),        &[],      (true, true),           true)]  // everything read to its end
    #[case((false, false),              (true, false),               (false, false),      &[],      (true, false),          false)] // trashed window left for the next run
    #[case((false, true),               (true, false),               (true, true),        &[],      (true, true),           true)]  // trashed side done by an earlier run
    #[case((true, true),                (false, false),              (true, true),        &[],      (true, true),           true)]  // Notion done earlier, the rows finish now
    #[case((false, false),              (true, true),                (false, false),      &[],      (true, true),           false)] // rows not read yet
    #[case((false, false),              (true, true),                (true, false),       &[],      (true, true),           false)] // rows not read to their end
    #[case((false, false),              (true, true),                (true, true),        &["p1"],  (false, true),          false)] // a live page pending
    #[case((false, false),              (true, true),                (true, true),        &["p2"],  (true, false),          false)] // a trashed page pending
    #[case((false, false),              (true, true),                (true, true),        &["r1"],  (true, true),           false)] // a row pending
    fn full_pass_progress(
        #[case] done_before: (bool, bool),
        #[case] (live_complete, trashed_complete): (bool, bool),
        #[case] (rows_read, rows_complete): (bool, bool),
        #[case] pending: &[&str],
        #[case] want_done: (bool, bool),
        #[case] want_over: bool,
    ) {
        let started_at = at(0);
        let pass = FullPass { started_at, pages_done: done_before.0, trashed_done: done_before.1, ..FullPass::default() };
        let state = SyncState { full_pass: Some(pass), ..SyncState::default() };
        let mut read = complete_read();
        (read.live_window, read.live_complete) = (window(&[("p1", 1)]), live_complete);
        (read.trashed_window, read.trashed_complete) = (window(&[("p2", 2)]), trashed_complete);
        (read.rows_read, read.rows_complete) = (rows_read, rows_complete);
        read.row_window = vec![RowCursor { updated_at: at(3), id: "r1".into() }];
        let next = next_state(state, &read, &Plan::default(), &Execution::default(), &ids(pending));
        if want_over {
            assert_eq!(next.full_pass, None);
            assert_eq!(next.last_full_pass, Some(started_at));
        } else {
            let pass = next.full_pass.expect("the pass goes on");
            assert_eq!((pass.pages_done, pass.trashed_done), want_done);
            assert_eq!(pass.seen_pages, ["p1", "p2"].into_iter().collect());
            assert_eq!(next.last_full_pass, None);
        }
    }

    /// No full pass in progress: nothing to record.
    #[test]
    fn without_a_full_pass_none_is_recorded() {
        let next =
            next_state(SyncState::default(), &complete_read(), &Plan::default(), &Execution::default(), &ids(&[]));
        assert_eq!((next.full_pass, next.last_full_pass), (None, None));
    }

    /// A full pass starts when none has finished yet or the last is older than `every`; it resets
    /// the cursors and asks Notion about `in_trash` again. One in progress goes on.
    #[rustfmt::skip] // the tables are aligned by hand, one rule per line
    #[rstest]
    //     last pass (minutes before now)  in progress  → starts
    #[case(None,                           false,       true)]  // never ran: first run
    #[case(Some(60),                       false,       true)]  // older than `every` (an hour here)
    #[case(Some(61),                       false,       true)]
    #[case(Some(59),                       false,       false)] // recent enough
    #[case(None,                           true,        false)] // one in progress goes on
    fn full_pass_start(#[case] last_ago: Option<i64>, #[case] in_progress: bool, #[case] want: bool) {
        let now = at(59) + Duration::minutes(1);
        let before = SyncState {
            last_full_pass: last_ago.map(|minutes| now - Duration::minutes(minutes)),
            full_pass: in_progress.then(|| FullPass { started_at: at(0), ..FullPass::default() }),
            trash_query_refused: Some(at(0)),
            cursors: crate::state::Cursors { pages: Some(at(10)), ..Default::default() },
            ..SyncState::default()
        };
        let mut state = before.clone();
        assert_eq!(start_full_pass_if_due(&mut state, now, Duration::hours(1)), want);
        if want {
            assert_eq!(state.full_pass, Some(FullPass { started_at: now, ..FullPass::default() }));
            assert_eq!(state.cursors, Default::default());
            assert_eq!(state.trash_query_refused, None);
        } else {
            assert_eq!(state, before);
        }
    }

    /// Which op outcomes hold their items back: unfinished ops on a linked pair do; pool ops
    /// (create, import, link) never do, the pool queries find them again.
    #[rustfmt::skip] // the tables are aligned by hand, one rule per line
    #[rstest]
    //     op                   outcome                                                  → pending
    #[case(OpKind::Push,        OpOutcome::NotRun,                                         true)]
    #[case(OpKind::Pull,        OpOutcome::Failed("supabase is unavailable".into()),       true)]
    #[case(OpKind::TrashPage,   OpOutcome::NotRun,                                         true)]
    #[case(OpKind::Push,        OpOutcome::Done,                                           false)]
    #[case(OpKind::Push,        OpOutcome::ConcurrentEdit,                                 false)]
    #[case(OpKind::Push,        OpOutcome::Rejected(issue(Side::Notion, "p1", "refused")), false)]
    #[case(OpKind::CreatePage,  OpOutcome::NotRun,                                         false)]
    #[case(OpKind::ImportPage,  OpOutcome::Failed("notion is unavailable".into()),         false)]
    #[case(OpKind::Link,        OpOutcome::NotRun,                                         false)]
    fn pending_ops(#[case] kind: OpKind, #[case] outcome: OpOutcome, #[case] want: bool) {
        let planned = Plan { ops: vec![op(kind, "r1", "p1")], ..Plan::default() };
        let execution = Execution { outcomes: vec![outcome], ..Execution::default() };
        let want = if want { ids(&["r1", "p1"]) } else { ids(&[]) };
        assert_eq!(pending_ids(&planned, &execution, &complete_read()), want);
    }

    /// Held deletes are pending; deferred items are when they belong to a linked pair (a linked
    /// row, a page with a base), not when they are new.
    #[test]
    fn held_and_deferred_linked_items_are_pending() {
        let mut read = complete_read();
        add_row(&mut read, row("r3", Some("p3")));
        add_row(&mut read, row("r4", None));
        read.snapshot.add_page(page("p5", Some("base")));
        read.snapshot.add_page(page("p6", None));
        let planned = Plan {
            held: vec![deferred(Some("r2"), Some("p2"))],
            deferred: vec![
                deferred(Some("r3"), None),
                deferred(Some("r4"), None),
                deferred(None, Some("p5")),
                deferred(None, Some("p6")),
            ],
            ..Plan::default()
        };
        assert_eq!(pending_ids(&planned, &Execution::default(), &read), ids(&["r2", "p2", "r3", "p5"]));
    }

    /// Work is left when an item is pending that the halt does not hold, or a source was not read
    /// to its end.
    #[rustfmt::skip] // the tables are aligned by hand, one rule per line
    #[rstest]
    //     pending        held     read                                                        → work left
    #[case(&[],           &[],     |_: &mut ReadResult| {},                                    false)]
    #[case(&["r1"],       &["r1"], |_: &mut ReadResult| {},                                    false)] // held deletes wait for an allow
    #[case(&["r1"],       &[],     |_: &mut ReadResult| {},                                    true)]
    #[case(&["r1", "r2"], &["r1"], |_: &mut ReadResult| {},                                    true)]  // one held, one not
    #[case(&[],           &[],     |r: &mut ReadResult| r.live_complete = false,               true)]
    #[case(&[],           &[],     |r: &mut ReadResult| r.trashed_complete = false,            true)]
    #[case(&[],           &[],     |r: &mut ReadResult| r.rows_read = false,                   true)]
    #[case(&[],           &[],     |r: &mut ReadResult| r.rows_complete = false,               true)]
    #[case(&[],           &[],     |r: &mut ReadResult| r.snapshot.row_pool_complete = false,  true)]
    #[case(&[],           &[],     |r: &mut ReadResult| r.snapshot.page_pool_complete = false, true)]
    fn work_is_left(
        #[case] pending: &[&str],
        #[case] held: &[&str],
        #[case] read: fn(&mut ReadResult),
        #[case] want: bool,
    ) {
        let planned =
            Plan { held: held.iter().map(|id| deferred(Some(id), None)).collect(), ..Plan::default() };
        let mut result = complete_read();
        read(&mut result);
        assert_eq!(work_left(&planned, &result, &ids(pending)), want);
    }

    /// The backlog: ops not finished (not run or failed) plus deferred items.
    #[test]
    fn backlog_counts_unfinished_ops_and_deferred_items() {
        let planned =
            Plan { deferred: vec![deferred(Some("r8"), None), deferred(None, Some("p9"))], ..Plan::default() };
        let outcomes = vec![
            OpOutcome::Done,
            OpOutcome::NotRun,
            OpOutcome::Failed("down".into()),
            OpOutcome::Rejected(issue(Side::Notion, "p1", "refused")),
            OpOutcome::ConcurrentEdit,
        ];
        assert_eq!(backlog(&planned, &Execution { outcomes, ..Execution::default() }), 4);
    }

    /// Record errors: a settled record's error goes, a new one replaces the old of the same
    /// record, a rejection is added; an error planned again for a linked record stays.
    #[test]
    fn record_errors_are_replaced_cleared_and_added() {
        let state = SyncState {
            errors: vec![
                issue(Side::Supabase, "r1", "old"),
                issue(Side::Supabase, "r2", "old"),
                issue(Side::Supabase, "r7", "old"),
            ],
            ..SyncState::default()
        };
        let mut read = complete_read();
        // r7 is linked to a page read this run and not pending: settled, unless planned again.
        add_row(&mut read, row("r7", Some("p7")));
        read.snapshot.add_page(page("p7", Some("base")));
        let planned = Plan {
            ops: vec![op(OpKind::Push, "r1", "p1"), op(OpKind::Push, "r3", "p3")],
            issues: vec![issue(Side::Supabase, "r2", "new"), issue(Side::Supabase, "r7", "again")],
            ..Plan::default()
        };
        let execution = Execution {
            outcomes: vec![OpOutcome::Done, OpOutcome::Rejected(issue(Side::Notion, "p3", "refused"))],
            ..Execution::default()
        };
        let next = next_state(state, &read, &planned, &execution, &BTreeSet::new());
        assert_eq!(
            next.errors,
            vec![
                issue(Side::Supabase, "r2", "new"),
                issue(Side::Supabase, "r7", "again"),
                issue(Side::Notion, "p3", "refused"),
            ]
        );
        assert_eq!(next.rejections.len(), 1, "the rejection is remembered with its error");
    }

    /// Orphans: one whose record settled goes, one found again replaces the old entry.
    #[test]
    fn orphans_are_cleared_when_settled_and_replaced_when_found() {
        let state = SyncState {
            orphans: vec![orphan(Side::Notion, "p9"), orphan(Side::Supabase, "r8")],
            ..SyncState::default()
        };
        let mut read = complete_read();
        add_row(&mut read, row("r9", Some("p9")));
        read.snapshot.add_page(page("p9", Some("base")));
        let found = Orphan { reason: "still alone".into(), ..orphan(Side::Supabase, "r8") };
        let planned = Plan { orphans: vec![found.clone()], ..Plan::default() };
        let next = next_state(state, &read, &planned, &Execution::default(), &BTreeSet::new());
        assert_eq!(next.orphans, vec![found]);
    }

    /// Totals add the run's counts; a refused trash query is remembered with the read's time.
    #[test]
    fn totals_and_the_refused_trash_query_are_recorded() {
        let mut read = complete_read();
        read.trash_query_refused = true;
        let counts = RunCounts {
            pages_created: 1,
            rows_inserted: 2,
            pages_updated: 3,
            pages_trashed: 1,
            pages_restored: 1,
            rows_updated: 4,
            rows_deleted: 1,
            rows_restored: 1,
            conflicts: 2,
            ..RunCounts::default()
        };
        let execution = Execution { counts, ..Execution::default() };
        let next = next_state(SyncState::default(), &read, &Plan::default(), &execution, &BTreeSet::new());
        let totals = next.totals;
        assert_eq!(
            (totals.pages_created, totals.rows_inserted, totals.pages_updated, totals.rows_updated, totals.conflicts),
            (1, 2, 5, 6, 2)
        );
        assert_eq!(totals.runs, 0, "runs are counted when the state is saved");
        assert_eq!(next.trash_query_refused, Some(read_now()));
    }
}
