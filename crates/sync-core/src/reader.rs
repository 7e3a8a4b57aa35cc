//! Reads one run's [`Snapshot`] from both sides, within the budget.
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use crate::budget::Budget;
use crate::error::PortError;
use crate::link::LINK_COLUMN;
use crate::model::{Page, Row, RowCursor, Side};
use crate::pair::{self, page_content};
use crate::planner::row_needs_its_page;
use crate::pool_scan::{PoolScans, RowDigest};
use crate::ports::{NotionPort, PageQuery, Ports, RunLock, SupabasePort, PAGE_SIZE, POOL_PAGE_SIZE};
use crate::snapshot::Snapshot;
use crate::state::{QueryResume, RecordIssue, SyncState};
use crate::time::{floor_minute, notion_overlap};
use crate::trash_sweep::{sweep_due, TrashSweep, TrashSweeps};

/// How much one run reads per source.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Most items read from one source in one run (at least one page of 100). In a full pass,
    /// only the items that need a write count (see [`ReadLimits::pass_room`]).
    pub items_per_source: usize,
    /// Most items a full pass reads from one source in one run, those in sync included: bounds
    /// the run's memory and CPU (see docs/performance.md for the CPU measured).
    pub max_items_per_source: usize,
    /// Reading stops when fewer subrequests than this are left (the rest is for writes).
    pub keep_for_writes: u32,
}

/// Most items a full pass reads from one source in one run, whatever the budget. A run of 39,700
/// page reads and 23,500 rows looked up used at most 5.2 s of workerd CPU in the 100,000-record
/// bench (docs/performance.md); a request to the coordinator Durable Object may use 30 s.
pub const MAX_ITEMS_PER_SOURCE: usize = 50_000;

impl ReadLimits {
    /// Reads at most ~40% of the budget (more for small budgets, so every source is read), so
    /// that writes get the larger share.
    pub fn for_budget(budget: &Budget, batch_size: usize) -> Self {
        let limit = budget.limit();
        let per_source = usize::try_from(limit).unwrap_or(usize::MAX).saturating_mul(PAGE_SIZE) / 10;
        let items_per_source = per_source.max(batch_size.max(1));
        ReadLimits {
            items_per_source,
            max_items_per_source: MAX_ITEMS_PER_SOURCE.max(items_per_source),
            // Small budgets still read every source once (schema, 2 pools, 2 windows, rows, lookups).
            keep_for_writes: (limit.saturating_mul(6) / 10).min(limit.saturating_sub(8)),
        }
    }

    /// How many more items a full pass may read now from a source that holds `read` items,
    /// `changed` of them needing a write, with `owed` subrequests already spoken for (the row
    /// lookups of the pages read). Items in sync cost no write: past `items_per_source` the
    /// source goes on while each further 100 items have `per_100` subrequests (the query, and
    /// for pages their row lookup), beyond one write per changed item and a tenth of the budget
    /// for the rest of the run (the other sources, the mass-delete count). At most as many as
    /// may still be changed (all of them might be): the caller asks again after reading them.
    pub fn pass_room(&self, budget: &Budget, read: usize, changed: usize, owed: u32, per_100: u32) -> usize {
        let plain = self.items_per_source.saturating_sub(read);
        let margin = (budget.limit() / 10).max(8);
        let keep = u32::try_from(changed).unwrap_or(u32::MAX).saturating_add(owed).saturating_add(margin);
        let spare = usize::try_from(budget.remaining().saturating_sub(keep) / per_100.max(1)).unwrap_or(0);
        let extended = self
            .items_per_source
            .saturating_sub(changed)
            .min(self.max_items_per_source.saturating_sub(read))
            .min(spare.saturating_mul(PAGE_SIZE));
        plain.max(extended)
    }
}

/// Whether a page read needs a write to Supabase (or the planner's attention): not synced yet,
/// edited in Notion since its base, or in the trash.
fn page_changed(page: &Page) -> bool {
    page.in_trash || page.base.is_none() || page_content(page).map(|content| content.checksum()).ok() != page.base
}

/// What the reader saw, beyond the snapshot: window order and completeness, for the cursors.
#[derive(Debug, Default)]
pub struct ReadResult {
    pub snapshot: Snapshot,
    /// Live pages edited since the cursor, in `last_edited_time` order, and whether all were read.
    pub live_window: Vec<(String, DateTime<Utc>)>,
    pub live_complete: bool,
    pub trashed_window: Vec<(String, DateTime<Utc>)>,
    pub trashed_complete: bool,
    /// Where each window's read stopped, when it did not reach the end.
    pub live_next: Option<QueryResume>,
    pub trashed_next: Option<QueryResume>,
    /// Whether each window went on from Notion's cursor saved by an earlier run.
    pub live_resumed: bool,
    pub trashed_resumed: bool,
    /// Rows changed since the cursor, in keyset order, and whether all were read.
    pub row_window: Vec<RowCursor>,
    pub rows_complete: bool,
    /// Whether the row window was read at all (a full pass reads it after the Notion side).
    pub rows_read: bool,
    /// The first error that stopped reading (budget, configuration, service down).
    pub stopped_by: Option<PortError>,
    pub rows_count: u32,
    pub pages_count: u32,
    /// What the run report should say about the read (a window Notion's cap keeps from finishing).
    pub warnings: Vec<String>,
    /// Notion refused `in_trash` in a query body this run (remembered in state).
    pub trash_query_refused: bool,
    /// The presence sweep's new state, when this run swept ([`crate::trash_sweep`]).
    pub trash_sweeps: Option<TrashSweeps>,
    /// The sweep as it was when this run began its rows phase.
    pub trash_sweep_rows_start: Option<TrashSweep>,
    /// The pool scans as this read leaves them (saved with the state).
    pub pools: PoolScans,
    /// The row digest covers every unlinked row this run (the scan ended, or its tail was read).
    pub row_digest_current: bool,
}

/// Pages read from one query, whether the query ended, and Notion's cursor where it stopped.
#[derive(Debug, Default)]
struct PagesRead {
    pages: Vec<Page>,
    complete: bool,
    next: Option<String>,
    /// Notion stopped at its result cap: more pages match, with no cursor to them.
    capped: bool,
}

/// A resumed query that Notion answered with a validation error before any page: the saved
/// cursor is no longer accepted (cursors are opaque and may expire), so the query starts over.
fn cursor_refused(resumed: bool, read: &PagesRead, result: &ReadResult) -> bool {
    resumed
        && read.pages.is_empty()
        && !read.complete
        && matches!(result.stopped_by, Some(PortError::Config { .. } | PortError::Record { .. }))
}

/// A time window read: its pages (each once, oldest edit first), whether it reached its end, and
/// where to resume it.
#[derive(Debug, Default)]
struct WindowRead {
    pages: Vec<Page>,
    complete: bool,
    next: Option<QueryResume>,
    /// It went on from Notion's cursor saved by an earlier run.
    resumed: bool,
}

pub struct Readers<'a, P> {
    /// Supabase, Notion and the lock (the store and the clock are not read here).
    pub ports: &'a P,
    pub budget: &'a Budget,
    pub limits: ReadLimits,
    /// A mass-delete halt holds the deletes: the pages of soft-deleted rows are not fetched.
    pub hold_deletes: bool,
    /// Pages a webhook named (read when the windows did not).
    pub marked_pages: &'a [String],
}

impl<'a, P: Ports> Readers<'a, P> {
    pub(crate) fn may_read(&self, result: &ReadResult) -> bool {
        result.stopped_by.is_none() && self.budget.remaining() > self.limits.keep_for_writes
    }

    /// Reads a query from `start` (Notion's cursor, or the beginning) up to the per-source limit.
    async fn read_pages(&self, query: &PageQuery, start: Option<String>, result: &mut ReadResult) -> PagesRead {
        self.read_pages_up_to(query, start, self.limits.items_per_source, result).await
    }

    /// Reads a query until `limit` pages, its end, Notion's result cap, or the budget.
    async fn read_pages_up_to(
        &self,
        query: &PageQuery,
        start: Option<String>,
        limit: usize,
        result: &mut ReadResult,
    ) -> PagesRead {
        let mut read = PagesRead::default();
        let mut cursor = start;
        loop {
            if !self.may_read(result) || read.pages.len() >= limit {
                read.next = cursor;
                return read;
            }
            match self.ports.notion().query(query, cursor.as_deref()).await {
                Ok(batch) if batch.in_trash_ignored => {
                    // Notion ignored `in_trash: true`: this query lists live pages, not trashed ones.
                    result.trash_query_refused = true;
                    return read;
                }
                Ok(batch) => {
                    result.pages_count += u32::try_from(batch.pages.len()).unwrap_or(u32::MAX);
                    read.pages.extend(batch.pages);
                    match batch.next_cursor {
                        Some(next) => cursor = Some(next),
                        // Capped by Notion (at most 10,000 results): more pages match.
                        None if batch.incomplete => {
                            read.capped = true;
                            return read;
                        }
                        None => {
                            read.complete = true;
                            return read;
                        }
                    }
                }
                Err(error) => {
                    result.stopped_by = Some(error);
                    return read;
                }
            }
        }
    }

    /// Reads a time window of live (or trashed) pages, resuming where a previous run stopped when
    /// it was issued for the same `since`; a saved cursor Notion no longer accepts is dropped and
    /// the window read from its start. A query Notion capped (10,000 results) is restarted from
    /// the minute of the last page it returned (pages of that minute come again: deduplicated);
    /// when more pages than the cap share that minute, the minute is read in `created_time`
    /// windows. The window goes on in `last_edited_time` order and is never taken as complete early.
    async fn read_window(
        &self,
        trashed: bool,
        since: Option<DateTime<Utc>>,
        resume: Option<&QueryResume>,
        full_pass: bool,
        result: &mut ReadResult,
    ) -> WindowRead {
        let fresh = QueryResume { since, start_cursor: None, from: None, split: None };
        let mut at = resume.filter(|resume| resume.since == since).cloned().unwrap_or_else(|| fresh.clone());
        let mut window = WindowRead { resumed: at.start_cursor.is_some(), ..WindowRead::default() };
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut changed = 0;
        loop {
            let limit = self.window_room(&window, changed, full_pass, result);
            if limit == 0 || !self.may_read(result) {
                window.next = Some(at).filter(|at| *at != fresh);
                return window;
            }
            let from = at.from.or(since);
            let query = window_query(trashed, from, at.split);
            let resumed = at.start_cursor.is_some();
            let mut read = self.read_pages_up_to(&query, at.start_cursor.clone(), limit, result).await;
            if cursor_refused(resumed, &read, result) {
                result.stopped_by = None;
                at = fresh.clone();
                window.resumed = false;
                continue;
            }
            let last_edited = read.pages.last().map(|page| floor_minute(page.last_edited_time));
            let last_created = read.pages.last().map(|page| floor_minute(page.created_time));
            let new_pages = read.pages.drain(..).filter(|page| seen.insert(page.id.clone()));
            let before = window.pages.len();
            window.pages.extend(new_pages);
            changed += window.pages[before..].iter().filter(|page| page_changed(page)).count();
            at.start_cursor = None;
            match (read.complete, read.capped, at.split, from) {
                (true, _, None, _) => {
                    window.complete = true;
                    return window;
                }
                // The crowded minute is read: the window goes on after it.
                (true, _, Some(_), Some(minute)) => {
                    at.from = Some(minute + Duration::minutes(1));
                    at.split = None;
                }
                (false, true, None, _) if last_edited > from => at.from = last_edited,
                (false, true, None, Some(_)) => at.split = Some(None),
                (false, true, Some(created_from), _) if last_created > created_from => at.split = Some(last_created),
                // More pages than the cap created and edited in one same minute: see docs/limits.md.
                (false, true, _, _) => {
                    result.warnings.push(crowded_minute(from, last_created));
                    return window;
                }
                // Stopped by the per-source limit: a full pass goes on past pages in sync.
                (false, false, _, _)
                    if read.next.is_some() && self.window_room(&window, changed, full_pass, result) > 0 =>
                {
                    at.start_cursor = read.next;
                }
                _ => {
                    window.next = Some(QueryResume { start_cursor: read.next, ..at }).filter(|at| *at != fresh);
                    return window;
                }
            }
        }
    }

    /// How many more pages a window may read: up to the per-source limit, and in a full pass
    /// on past the pages in sync while the budget has room for them and their row lookups.
    fn window_room(&self, window: &WindowRead, changed: usize, full_pass: bool, result: &ReadResult) -> usize {
        let plain = self.limits.items_per_source.saturating_sub(window.pages.len());
        if !full_pass {
            return plain;
        }
        let pages = result.snapshot.pages.len() + window.pages.len();
        let owed = u32::try_from(pages.div_ceil(PAGE_SIZE)).unwrap_or(u32::MAX);
        self.limits.pass_room(self.budget, window.pages.len(), changed, owed, 2)
    }

    /// Reads rows page by page with a keyset; `fetch` is one request.
    async fn read_rows<F, Fut>(
        &self,
        start: Option<RowCursor>,
        key: fn(&Row) -> RowCursor,
        cap: usize,
        result: &mut ReadResult,
        fetch: F,
    ) -> (Vec<Row>, bool)
    where
        F: Fn(Option<RowCursor>) -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Row>, PortError>>,
    {
        let mut rows: Vec<Row> = Vec::new();
        let mut after = start;
        loop {
            if !self.may_read(result) || rows.len() >= cap {
                return (rows, false);
            }
            match fetch(after.clone()).await {
                Ok(batch) => {
                    result.rows_count += u32::try_from(batch.len()).unwrap_or(u32::MAX);
                    let full = batch.len() >= PAGE_SIZE;
                    after = batch.last().map(key).or(after);
                    rows.extend(batch);
                    if !full {
                        return (rows, true);
                    }
                }
                Err(error) => {
                    result.stopped_by = Some(error);
                    return (rows, false);
                }
            }
        }
    }

    /// Reads everything one run needs: pools, windows, then the counterparts of what changed.
    pub async fn read(&self, state: &SyncState, now: DateTime<Utc>) -> ReadResult {
        let mut result = ReadResult::default();
        result.snapshot.now = now;
        result.snapshot.page_cursor = state.cursors.pages;
        match self.ports.lock().pending_intents().await {
            Ok(intents) => result.snapshot.intents = intents,
            Err(error) => result.stopped_by = Some(error),
        }
        self.read_pools(state, &mut result).await;
        self.read_page_windows(state, &mut result).await;
        if notion_side_done(state, &result) {
            self.read_row_window(state, &mut result).await;
        }
        let trash_refused = state.trash_query_refused.is_some() || result.trash_query_refused;
        self.read_intent_pages(&mut result, trash_refused).await;
        self.read_marked_pages(&mut result).await;
        self.look_up_rows_of_pages(&mut result).await;
        self.get_pages_of_changed_rows(state, &mut result).await;
        self.note_unlinked_rows(&mut result);
        if sweep_due(state, &result) {
            self.sweep_for_trash(state, &mut result).await;
        }
        result
    }

    /// The two pools: never-synced pages (resuming where the last run stopped) and the scan of
    /// unlinked rows (see [`crate::pool_scan`]).
    async fn read_pools(&self, state: &SyncState, result: &mut ReadResult) {
        result.pools = state.pools.clone();
        self.read_page_pool(state.pools.pages_resume.clone(), result).await;
        self.read_row_pool(result).await;
    }

    /// Unsynced pages, from where the last run's read stopped (or the start). Only a read from
    /// the start to the end is complete (rows are created only then); a cursor Notion no longer
    /// accepts is dropped and the pool read from its start.
    async fn read_page_pool(&self, resume: Option<String>, result: &mut ReadResult) {
        let mut resumed = resume.is_some();
        let mut read = self.read_pages(&PageQuery::Unsynced, resume, result).await;
        if cursor_refused(resumed, &read, result) {
            result.stopped_by = None;
            resumed = false;
            read = self.read_pages(&PageQuery::Unsynced, None, result).await;
        }
        result.pools.pages_resume = if read.complete { None } else { read.next.clone() };
        result.snapshot.page_pool = read.pages.iter().map(|page| page.id.clone()).collect();
        result.snapshot.page_pool_complete = read.complete && !resumed;
        read.pages.into_iter().for_each(|page| result.snapshot.add_page(page));
    }

    /// The next part of the unlinked-row scan, in pages of [`POOL_PAGE_SIZE`]. At its end the scan
    /// becomes the digest and starts over; otherwise the rows created since the digest (its tail)
    /// are read too, so that the digest covers every unlinked row.
    async fn read_row_pool(&self, result: &mut ReadResult) {
        let from = result.pools.rows.after.clone();
        let cap = self.limits.items_per_source.max(POOL_PAGE_SIZE);
        let (rows, end) = self.read_unlinked(from.clone(), cap, result).await;
        let last = rows.last().map(created_key).or(from.clone());
        // Their checksums join the scan (and the digest) with every other unlinked row read, at
        // the end of the read (`note_unlinked_rows`).
        self.add_pool_rows(rows, result);
        if end {
            let scan = std::mem::take(&mut result.pools.rows);
            result.pools.row_digest = Some(RowDigest { sums: scan.sums, end: last });
            result.snapshot.row_pool_complete = from.is_none();
            result.row_digest_current = true;
            return;
        }
        result.pools.rows.after = last;
        result.row_digest_current = self.read_row_tail(result).await;
    }

    /// Rows created after the digest's last key; true when read to the end.
    async fn read_row_tail(&self, result: &mut ReadResult) -> bool {
        let Some(after) = result.pools.row_digest.as_ref().map(|digest| digest.end.clone()) else { return false };
        let (rows, end) = self.read_unlinked(after.clone(), POOL_PAGE_SIZE, result).await;
        if let Some(digest) = result.pools.row_digest.as_mut() {
            digest.end = rows.last().map(created_key).or(after);
        }
        self.add_pool_rows(rows, result);
        end
    }

    /// Adds rows to the pool (the tail may repeat rows the scan read this run: each once).
    fn add_pool_rows(&self, rows: Vec<Row>, result: &mut ReadResult) {
        let known: BTreeSet<String> = result.snapshot.row_pool.iter().cloned().collect();
        for row in rows {
            if !known.contains(&row.id) {
                result.snapshot.row_pool.push(row.id.clone());
            }
            result.snapshot.add_row(row);
        }
    }

    /// Unlinked rows after `after`, up to `cap` (whole pages), and whether their end was reached.
    async fn read_unlinked(&self, after: Option<RowCursor>, cap: usize, result: &mut ReadResult) -> (Vec<Row>, bool) {
        let mut rows: Vec<Row> = Vec::new();
        let mut after = after;
        loop {
            if !self.may_read(result) || rows.len() >= cap {
                return (rows, false);
            }
            match self.ports.supabase().unlinked_rows(after.as_ref(), POOL_PAGE_SIZE).await {
                Ok(batch) => {
                    result.rows_count += u32::try_from(batch.rows.len()).unwrap_or(u32::MAX);
                    after = batch.rows.last().map(created_key).or(after);
                    let more = batch.more && !batch.rows.is_empty();
                    rows.extend(batch.rows);
                    if !more {
                        return (rows, true);
                    }
                }
                Err(error) => {
                    result.stopped_by = Some(error);
                    return (rows, false);
                }
            }
        }
    }

    /// Every unlinked live row read this run (by any reader) joins the pool scans; the planner
    /// gets the digest when it is current (see [`Snapshot::unlinked_row_sums`]).
    fn note_unlinked_rows(&self, result: &mut ReadResult) {
        let unlinked = result.snapshot.rows.values().filter(|row| row.notion_page_id.is_none() && !row.is_deleted());
        let sums = row_sums(unlinked);
        result.pools.saw_unlinked(sums.iter().map(String::as_str));
        result.snapshot.unlinked_row_sums = result.row_digest_current.then(|| result.pools.known_sums());
    }

    async fn read_page_windows(&self, state: &SyncState, result: &mut ReadResult) {
        let cursors = &state.cursors;
        let since = cursors.pages.map(|cursor| cursor - notion_overlap());
        let full_pass = state.full_pass.is_some();
        let read = self.read_window(false, since, cursors.pages_resume.as_ref(), full_pass, result).await;
        result.live_window = read.pages.iter().map(|page| (page.id.clone(), page.last_edited_time)).collect();
        result.live_complete = read.complete;
        result.live_next = read.next;
        result.live_resumed = read.resumed;
        read.pages.into_iter().for_each(|page| result.snapshot.add_page(page));
        let since = cursors.trashed_pages.map(|cursor| cursor - notion_overlap());
        if state.trash_query_refused.is_some() {
            result.trashed_complete = true;
            result.snapshot.page_window = result.live_window.iter().map(|(id, _)| id.clone()).collect();
            return;
        }
        let live_read = result.stopped_by.is_none();
        let read = self.read_window(true, since, cursors.trashed_resume.as_ref(), full_pass, result).await;
        if live_read && read.pages.is_empty() && trash_query_refused(result) {
            // The live query of this same data source worked: the 400 is about `in_trash`.
            result.stopped_by = None;
            result.trash_query_refused = true;
        }
        if result.trash_query_refused {
            result.trashed_complete = true;
            result.snapshot.page_window = result.live_window.iter().map(|(id, _)| id.clone()).collect();
            return;
        }
        result.trashed_window = read.pages.iter().map(|page| (page.id.clone(), page.last_edited_time)).collect();
        result.trashed_complete = read.complete;
        result.trashed_next = read.next;
        result.trashed_resumed = read.resumed;
        read.pages.into_iter().for_each(|page| result.snapshot.add_page(page));
        let window: Vec<String> =
            result.live_window.iter().chain(&result.trashed_window).map(|(id, _)| id.clone()).collect();
        result.snapshot.page_window = window;
    }

    /// Rows changed since the cursor, up to the per-source limit; a full pass goes on past rows
    /// in sync while the budget has room for them.
    async fn read_row_window(&self, state: &SyncState, result: &mut ReadResult) {
        let supabase = self.ports.supabase();
        let seen = state.full_pass.as_ref().map(|pass| &pass.seen_pages);
        let changed = |row: &Row| {
            row_needs_its_page(row)
                || row.notion_page_id.as_ref().is_some_and(|id| seen.is_some_and(|s| !s.contains(id)))
        };
        let (mut rows, mut complete, mut changed_count) = (Vec::new(), false, 0);
        loop {
            let room = match seen {
                Some(_) => self.limits.pass_room(self.budget, rows.len(), changed_count, 0, 1),
                None => self.limits.items_per_source.saturating_sub(rows.len()),
            };
            if room == 0 {
                break;
            }
            let start = rows.last().map(Row::cursor).or_else(|| state.cursors.rows.clone());
            let (batch, done) = self
                .read_rows(start, Row::cursor, room, result, |after| async move {
                    supabase.rows_changed_after(after.as_ref(), PAGE_SIZE).await
                })
                .await;
            changed_count += batch.iter().filter(|row| changed(row)).count();
            let stalled = batch.is_empty();
            rows.extend(batch);
            complete = done;
            if complete || stalled || seen.is_none() {
                break;
            }
        }
        result.rows_read = true;
        result.row_window = rows.iter().map(Row::cursor).collect();
        result.rows_complete = complete;
        result.snapshot.row_window = rows.iter().map(|row| row.id.clone()).collect();
        rows.into_iter().for_each(|row| result.snapshot.add_row(row));
    }

    /// For each intent whose row is still unlinked (live in the pool, or soft-deleted and read in
    /// the row window), the pages carrying the intent's base.
    /// Where Notion refuses `in_trash` in queries (`trash_refused`), only live pages are searched.
    async fn read_intent_pages(&self, result: &mut ReadResult, trash_refused: bool) {
        let unlinked_rows = result.snapshot.rows.values().filter(|row| row.notion_page_id.is_none()).map(|row| &row.id);
        let pool: BTreeSet<&String> = result.snapshot.row_pool.iter().chain(unlinked_rows).collect();
        let bases: BTreeSet<String> = result
            .snapshot
            .intents
            .iter()
            .filter(|intent| pool.contains(&intent.row_id))
            .map(|intent| intent.base.clone())
            .collect();
        for base in bases {
            if result.stopped_by.is_some() {
                return;
            }
            // Notion answers live and trashed pages in separate queries; a user may have trashed
            // the page since it was created.
            let mut searched = true;
            let trash = (!trash_refused).then(|| PageQuery::TrashedWithBase(base.clone()));
            for query in std::iter::once(PageQuery::WithBase(base.clone())).chain(trash) {
                let PagesRead { pages, complete, .. } = self.read_pages(&query, None, result).await;
                if matches!(query, PageQuery::TrashedWithBase(_)) && trash_query_refused(result) {
                    result.stopped_by = None;
                    result.trash_query_refused = true;
                }
                pages.into_iter().for_each(|page| result.snapshot.add_page(page));
                searched &= complete;
            }
            if searched {
                result.snapshot.intent_bases_searched.insert(base);
            }
        }
    }

    /// `GET /v1/pages/{id}` for each page a webhook named that no window read: a page trashed,
    /// restored or moved out of the data source is not in the live window. Half of what is left
    /// stays for writes; the pages not read are the next run's (the coordinator keeps them).
    async fn read_marked_pages(&self, result: &mut ReadResult) {
        let keep = (self.budget.remaining() / 2).max(1);
        let mut gone = Vec::new();
        for page_id in self.marked_pages {
            if result.stopped_by.is_some() || self.budget.remaining() <= keep {
                break;
            }
            if result.snapshot.pages.contains_key(page_id) {
                continue;
            }
            match self.ports.notion().get_page(page_id).await {
                Ok(Some(page)) => {
                    result.pages_count += 1;
                    result.snapshot.add_page(page);
                }
                Ok(None) => gone.push(page_id.clone()),
                // Not ours to read (never shared, or not a page): nothing to sync.
                Err(PortError::Record { .. }) => {}
                Err(error) => result.stopped_by = Some(error),
            }
        }
        if gone.is_empty() || result.stopped_by.is_some() {
            return;
        }
        // A page that is gone matters only when a row links to it: that row is then an orphan.
        match self.ports.supabase().rows_by_page_ids(&gone).await {
            Ok(rows) => {
                result.rows_count += u32::try_from(rows.len()).unwrap_or(u32::MAX);
                for row in rows {
                    if let Some(page_id) = row.notion_page_id.clone() {
                        result.snapshot.missing_pages.insert(page_id);
                    }
                    result.snapshot.add_row(row);
                }
            }
            Err(error) => result.stopped_by = Some(error),
        }
    }

    /// Looks up the rows linked to every page read whose row is not known yet.
    async fn look_up_rows_of_pages(&self, result: &mut ReadResult) {
        let links = result.snapshot.links();
        let known: Vec<String> = result.snapshot.pages.keys().filter(|id| links.contains_key(*id)).cloned().collect();
        result.snapshot.looked_up_pages.extend(known);
        let unknown: Vec<String> =
            result.snapshot.pages.keys().filter(|id| !links.contains_key(*id)).cloned().collect();
        for chunk in unknown.chunks(PAGE_SIZE) {
            if result.stopped_by.is_some() || self.budget.remaining() == 0 {
                return;
            }
            match self.ports.supabase().rows_by_page_ids(chunk).await {
                Ok(rows) => {
                    result.rows_count += u32::try_from(rows.len()).unwrap_or(u32::MAX);
                    rows.into_iter().for_each(|row| result.snapshot.add_row(row));
                    result.snapshot.looked_up_pages.extend(chunk.iter().cloned());
                }
                Err(error) => result.stopped_by = Some(error),
            }
        }
    }

    /// `GET /v1/pages/{id}` for changed rows whose page was not read, and, once a full pass has
    /// seen every page, for linked rows whose page it never saw (to find orphans).
    async fn get_pages_of_changed_rows(&self, state: &SyncState, result: &mut ReadResult) {
        let seen = state.full_pass.as_ref().map(|pass| &pass.seen_pages);
        let check_unseen = notion_side_done(state, result) && state.full_pass.is_some();
        let wanted: Vec<(String, String)> = result
            .snapshot
            .row_window
            .iter()
            .filter_map(|id| result.snapshot.rows.get(id))
            .filter_map(|row| {
                let page_id = row.notion_page_id.as_ref()?;
                if result.snapshot.pages.contains_key(page_id) {
                    return None;
                }
                if self.hold_deletes && row.is_deleted() {
                    return None;
                }
                let unseen = check_unseen && !seen.is_some_and(|seen| seen.contains(page_id));
                (row_needs_its_page(row) || unseen).then(|| (row.id.clone(), page_id.clone()))
            })
            .collect();
        // Each page fetched here is for a write: half of what is left stays for those writes
        // (or a backlog larger than one run would fetch the same pages every run and never
        // write), plus the mass-delete halt's count (2 requests) when rows were deleted.
        let deletes = result.snapshot.rows.values().any(|row| row.is_deleted() && !row.notion_synced);
        let keep = (self.budget.remaining() / 2).max(1) + if deletes { 2 } else { 0 };
        for (row_id, page_id) in wanted {
            if result.stopped_by.is_some() || self.budget.remaining() <= keep {
                return;
            }
            match self.ports.notion().get_page(&page_id).await {
                Ok(Some(page)) => {
                    result.pages_count += 1;
                    result.snapshot.looked_up_pages.insert(page.id.clone());
                    result.snapshot.add_page(page);
                }
                Ok(None) => {
                    result.snapshot.missing_pages.insert(page_id);
                }
                // Notion refused to read this one page: a per-record error for the row linking
                // to it, not the end of the run.
                Err(error @ PortError::Record { .. }) => result.snapshot.refuse(unreadable_page(&row_id, &error)),
                Err(error) => result.stopped_by = Some(error),
            }
        }
    }
}

/// The per-record error of a row whose linked page Notion refused to read.
fn unreadable_page(row_id: &str, error: &PortError) -> RecordIssue {
    RecordIssue {
        side: Side::Supabase,
        id: row_id.to_string(),
        field: Some(LINK_COLUMN.to_string()),
        reason: format!(
            "{error}; check that `{LINK_COLUMN}` is the id of the row's Notion page, or set it to null to create a new page"
        ),
    }
}

/// A configuration error on the trashed-pages query: Notion refusing `in_trash` in a query body
/// (`validation_error`, as some API versions do).
fn trash_query_refused(result: &ReadResult) -> bool {
    matches!(&result.stopped_by, Some(PortError::Config { message }) if message.contains("in_trash"))
}

/// The warning of a window stuck on Notion's result cap: more pages than the cap were created in
/// one minute and last edited in one minute, which no query can split.
fn crowded_minute(edited: Option<DateTime<Utc>>, created: Option<DateTime<Utc>>) -> String {
    let minute =
        |at: Option<DateTime<Utc>>| at.map_or_else(|| "?".to_string(), |at| at.format("%Y-%m-%d %H:%M").to_string());
    format!(
        "more pages than Notion's query result limit (10,000) were created in the minute {} UTC and last edited in the minute {} UTC: \
         Notion lists only the first of them, so the others and later Notion edits wait; edit some of those pages in Notion \
         (any property) to move them out of that minute",
        minute(created),
        minute(edited)
    )
}

/// The query for one position of a time window: live (or trashed) pages edited on or after `from`,
/// or, in a split minute, those edited within the minute `from` and created from `created_from` on.
fn window_query(trashed: bool, from: Option<DateTime<Utc>>, split: Option<Option<DateTime<Utc>>>) -> PageQuery {
    match (split, from) {
        (Some(created_from), Some(minute)) => PageQuery::EditedInMinute { minute, created_from, trashed },
        _ if trashed => PageQuery::TrashedSince(from),
        _ => PageQuery::EditedSince(from),
    }
}

/// The checksums of rows whose content is valid (a row whose content is not cannot match a page).
fn row_sums<'r>(rows: impl Iterator<Item = &'r Row>) -> Vec<String> {
    rows.filter_map(|row| pair::row_content(row).ok()).map(|content| content.checksum()).collect()
}

fn created_key(row: &Row) -> RowCursor {
    RowCursor { updated_at: row.created_at, id: row.id.clone() }
}

/// In a full pass the row window waits until both Notion windows have been read to the end, so
/// that a linked row whose page was never seen can be told apart from one not read yet.
fn notion_side_done(state: &SyncState, result: &ReadResult) -> bool {
    match &state.full_pass {
        None => true,
        Some(pass) => (pass.pages_done || result.live_complete) && (pass.trashed_done || result.trashed_complete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent(limit: u32, used: u32) -> Budget {
        let budget = Budget::new(limit);
        (0..used).for_each(|_| budget.take().unwrap());
        budget
    }

    /// A full pass reads on past pages in sync while each further 100 have their query and row
    /// lookup, beyond one write per changed page and a tenth of the budget; never past the
    /// per-source limit in changed pages, nor past the most a run holds.
    #[test]
    fn a_full_pass_reads_on_past_items_in_sync_within_the_budget() {
        let budget = spent(1000, 100);
        let limits = ReadLimits::for_budget(&budget, 100);
        assert_eq!(limits.items_per_source, 10_000);
        // 10,000 in sync read: another 10,000 (they might all be changed; asked again after).
        assert_eq!(limits.pass_room(&budget, 10_000, 0, 100, 2), 10_000);
        // 40,000 in sync read, 400 lookups owed: (900 - 400 - 100) / 2 = 200 more queries.
        assert_eq!(limits.pass_room(&budget, 40_000, 0, 400, 2), 10_000);
        assert_eq!(limits.pass_room(&spent(1000, 500), 40_000, 0, 400, 2), 0);
        assert_eq!(limits.pass_room(&spent(1000, 300), 40_000, 100, 400, 2), 5_000);
        // Changed pages count against the per-source limit.
        assert_eq!(limits.pass_room(&budget, 10_000, 10_000, 100, 2), 0);
        assert_eq!(limits.pass_room(&budget, 12_000, 9_000, 120, 2), 0); // their writes first
        assert_eq!(limits.pass_room(&budget, 12_000, 500, 120, 2), 9_000);
        // Never past the most one run holds.
        assert_eq!(limits.pass_room(&spent(100_000, 0), 49_900, 0, 0, 1), 100);
        // Below the per-source limit, the plain rule holds whatever the budget says.
        assert_eq!(limits.pass_room(&spent(1000, 1000), 4_000, 0, 0, 2), 6_000);
    }

    #[test]
    fn the_free_budget_keeps_its_limits() {
        let limits = ReadLimits::for_budget(&Budget::new(45), 100);
        assert_eq!((limits.items_per_source, limits.keep_for_writes), (450, 27));
        // 45 - 10 used - 5 owed - 8 margin = 22 left: 11 more queries of 100, 450 at a time.
        assert_eq!(limits.pass_room(&spent(45, 10), 450, 0, 5, 2), 450);
        assert_eq!(limits.pass_room(&spent(45, 30), 900, 0, 9, 2), 0);
        assert_eq!(limits.pass_room(&spent(45, 24), 900, 0, 9, 2), 200);
    }
}
