//! The presence sweep: how a page trashed in Notion reaches its row when Notion will not list
//! trashed pages in a query (it rejects `in_trash` in a query body, or ignores it; see
//! docs/how-the-sync-decides.md, "Pages trashed in Notion").
//!
//! Only while `in_trash` is refused. A sweep has two phases, each resumable across runs:
//! 1. **pages**: every live page with a non-empty `Checksum`, oldest creation first, ids only
//!    (`filter_properties` = the title), into a [`PresenceFilter`];
//! 2. **rows**: the live linked rows' page ids from Supabase (`select=id,notion_page_id`, 1,000 a
//!    request, in `id` order); a page id not in the filter certainly left the live results since
//!    the sweep began: `GET /v1/pages/{id}` says trashed (the row follows by the usual rules,
//!    mass-delete halt included), gone (the row is an orphan), or live (nothing to do).
//!
//! A sweep that ends starts over at the next run (a new seed); the state keeps the filter only
//! while a sweep spans runs, and the size of the last one (to size the next filter).
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PortError;
use crate::model::Page;
use crate::ports::{LinkedPage, NotionPort, Ports, SupabasePort, LINKED_PAGE_IDS_PER_REQUEST, PAGE_SIZE};
use crate::presence::PresenceFilter;
use crate::reader::{ReadResult, Readers};
use crate::state::SyncState;
use crate::time::floor_minute;

/// What the state keeps of presence sweeps.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TrashSweeps {
    /// The sweep in progress, when one spans runs.
    #[serde(default)]
    pub current: Option<TrashSweep>,
    /// The last sweep that ended.
    #[serde(default)]
    pub last: Option<SweepDone>,
}

/// A sweep in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrashSweep {
    pub started_at: DateTime<Utc>,
    pub phase: SweepPhase,
    pub filter: PresenceFilter,
    /// Live pages put in the filter, linked rows checked, pages found gone from the live results.
    pub pages: u32,
    pub rows: u32,
    pub left: u32,
}

/// Where a sweep is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum SweepPhase {
    /// Reading live pages created on or after `from` (Notion's `next_cursor` within that query).
    Pages { from: Option<DateTime<Utc>>, cursor: Option<String> },
    /// Checking the live linked rows after this row id.
    Rows { after: Option<String> },
}

/// A sweep that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepDone {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub pages: u32,
    pub rows: u32,
    /// Linked pages found gone from the live results (trashed, deleted or unshared).
    pub left: u32,
}

impl TrashSweep {
    fn new(now: DateTime<Utc>, capacity: usize) -> Self {
        let seed = u64::try_from(now.timestamp_micros()).unwrap_or_default();
        TrashSweep {
            started_at: now,
            phase: SweepPhase::Pages { from: None, cursor: None },
            filter: PresenceFilter::with_capacity(capacity, seed),
            pages: 0,
            rows: 0,
            left: 0,
        }
    }

    fn done(&self, now: DateTime<Utc>) -> SweepDone {
        SweepDone { started_at: self.started_at, finished_at: now, pages: self.pages, rows: self.rows, left: self.left }
    }
}

/// The sweep state a run leaves. When the mass-delete halt held deletes in this run, the rows
/// phase does not move on from where this run began it (`rows_start`): every run finds and counts
/// the same trashed pages again until they are restored or an allow lets them through (an allow
/// covers only the deletes counted when it is given).
pub fn after_run(read: &ReadResult, deletes_held: bool) -> Option<TrashSweeps> {
    let mut sweeps = read.trash_sweeps.clone()?;
    if let (true, Some(start)) = (deletes_held, &read.trash_sweep_rows_start) {
        sweeps.current = Some(start.clone());
    }
    Some(sweeps)
}

/// Whether this run sweeps: only when Notion refused `in_trash` in a query (now or earlier).
pub fn sweep_due(state: &SyncState, result: &ReadResult) -> bool {
    state.trash_query_refused.is_some() || result.trash_query_refused
}

/// A linked page the sweep did not see live and this run has not read.
fn unseen(filter: &PresenceFilter, linked: &LinkedPage, result: &ReadResult) -> bool {
    !filter.contains(&linked.page_id) && !result.snapshot.pages.contains_key(&linked.page_id)
}

/// The warning of a sweep stepping over a minute in which more pages than Notion's result cap
/// were created.
fn crowded_minute(minute: Option<DateTime<Utc>>) -> String {
    let minute = minute.map_or_else(|| "?".to_string(), |at| at.format("%Y-%m-%d %H:%M").to_string());
    format!(
        "more pages than Notion's query result limit (10,000) were created in the minute {minute} UTC: the presence sweep \
         that finds pages trashed in Notion cannot list them all, so it reads their linked pages by id instead (slower, \
         one request each)"
    )
}

/// Requests kept back from a sweep's `GET /v1/pages/{id}`: the rows of what it found (one
/// request per 100 pages) and the mass-delete halt's count (2).
const KEEP_FOR_FOUND: u32 = 3;

impl<P: Ports> Readers<'_, P> {
    /// Goes on with the sweep (or starts one) within the read share of the budget, and leaves
    /// the new sweep state in `result.trash_sweeps`.
    pub(crate) async fn sweep_for_trash(&self, state: &SyncState, result: &mut ReadResult) {
        if !self.may_read(result) {
            return;
        }
        let mut sweeps = state.trash_sweeps.clone();
        let mut sweep = match sweeps.current.take() {
            Some(sweep) => sweep,
            None => match self.sweep_capacity(&sweeps, result).await {
                Some(capacity) => TrashSweep::new(result.snapshot.now, capacity),
                None => return,
            },
        };
        if matches!(sweep.phase, SweepPhase::Pages { .. }) {
            self.sweep_pages(&mut sweep, result).await;
        }
        let checking = matches!(sweep.phase, SweepPhase::Rows { .. });
        if checking {
            result.trash_sweep_rows_start = Some(sweep.clone());
        }
        let ended = checking && self.sweep_rows(&mut sweep, result).await;
        if ended {
            sweeps.last = Some(sweep.done(result.snapshot.now));
        } else {
            sweeps.current = Some(sweep);
        }
        result.trash_sweeps = Some(sweeps);
    }

    /// The filter's size: the last sweep's page count (a quarter more), or Supabase's count of
    /// linked rows for the first sweep.
    async fn sweep_capacity(&self, sweeps: &TrashSweeps, result: &mut ReadResult) -> Option<usize> {
        if let Some(last) = &sweeps.last {
            let pages = usize::try_from(last.pages.max(last.rows)).unwrap_or(usize::MAX);
            return Some(pages.saturating_add(pages / 4));
        }
        match self.ports.supabase().count_linked().await {
            Ok(counts) => {
                let linked = usize::try_from(counts.live.saturating_add(counts.deleted_unsynced)).unwrap_or(usize::MAX);
                Some(linked.saturating_add(linked / 4))
            }
            // A count PostgREST will not give (e.g. no `Prefer: count=exact`): the smallest set,
            // fuller than it should be (more trashed pages wait for the next sweep, sized by this one).
            Err(PortError::Config { .. } | PortError::Record { .. } | PortError::Transient { .. }) => Some(0),
            Err(error) => {
                result.stopped_by = Some(error);
                None
            }
        }
    }

    /// Phase 1: live pages into the filter, until the query ends or the read share is spent.
    /// Notion's result cap (10,000) restarts the query from the minute of the last page created
    /// (pages of that minute come twice: the filter does not mind); a cursor Notion refuses is
    /// dropped the same way.
    async fn sweep_pages(&self, sweep: &mut TrashSweep, result: &mut ReadResult) {
        while self.may_read(result) {
            let SweepPhase::Pages { from, cursor } = &mut sweep.phase else { return };
            match self.ports.notion().live_page_ids(*from, cursor.as_deref()).await {
                Ok(batch) => {
                    for page in &batch.pages {
                        sweep.filter.insert(&page.id);
                    }
                    sweep.pages = sweep.pages.saturating_add(u32::try_from(batch.pages.len()).unwrap_or(u32::MAX));
                    let last_created = batch.pages.last().map(|page| floor_minute(page.created_time));
                    match (batch.next_cursor, batch.incomplete) {
                        (Some(next), _) => *cursor = Some(next),
                        (None, true) => {
                            // More pages than the cap created in one minute: step over it; their
                            // rows are then checked by `GET` (slower, never wrong).
                            let stuck = last_created.is_none() || last_created == *from;
                            if stuck {
                                result.warnings.push(crowded_minute(*from));
                            }
                            *from = if stuck { from.map(|at| at + Duration::minutes(1)) } else { last_created };
                            *cursor = None;
                            if stuck && from.is_none() {
                                sweep.phase = SweepPhase::Rows { after: None };
                                return;
                            }
                        }
                        (None, false) => {
                            sweep.phase = SweepPhase::Rows { after: None };
                            return;
                        }
                    }
                }
                Err(PortError::Config { .. } | PortError::Record { .. }) if cursor.is_some() => *cursor = None,
                Err(error) => {
                    result.stopped_by = Some(error);
                    return;
                }
            }
        }
    }

    /// Phase 2: the live linked rows against the filter; `GET` for each page not in it. Returns
    /// true when every linked row has been checked.
    async fn sweep_rows(&self, sweep: &mut TrashSweep, result: &mut ReadResult) -> bool {
        let mut found: Vec<String> = Vec::new();
        let mut ended = false;
        while self.may_read(result) {
            let SweepPhase::Rows { after } = &sweep.phase else { break };
            let (batch, more) =
                match self.ports.supabase().linked_page_ids(after.as_deref(), LINKED_PAGE_IDS_PER_REQUEST).await {
                    Ok(batch) => (batch.pages, batch.more),
                    Err(error) => {
                        result.stopped_by = Some(error);
                        break;
                    }
                };
            result.rows_count = result.rows_count.saturating_add(u32::try_from(batch.len()).unwrap_or(u32::MAX));
            let (checked, complete) = self.check_rows(sweep, &batch, &mut found, result).await;
            sweep.rows = sweep.rows.saturating_add(checked);
            if let Some(last) = batch.get(usize::try_from(checked).unwrap_or(usize::MAX).wrapping_sub(1)) {
                sweep.phase = SweepPhase::Rows { after: Some(last.row_id.clone()) };
            }
            if !complete {
                break;
            }
            if !more {
                ended = true;
                break;
            }
        }
        self.read_rows_of_found(&found, result).await;
        ended && result.stopped_by.is_none()
    }

    /// Checks rows in order; returns how many were checked and whether all were (a `GET` the
    /// budget cannot pay for stops the batch there: the next run starts from that row).
    async fn check_rows(
        &self,
        sweep: &mut TrashSweep,
        batch: &[LinkedPage],
        found: &mut Vec<String>,
        result: &mut ReadResult,
    ) -> (u32, bool) {
        let mut checked = 0u32;
        for (at, linked) in batch.iter().enumerate() {
            if unseen(&sweep.filter, linked, result) {
                if !self.may_read(result)
                    || self.budget.remaining() <= self.limits.keep_for_writes.saturating_add(KEEP_FOR_FOUND)
                {
                    // The rest of the batch that left the live results counts for the
                    // mass-delete halt now, though read by later runs.
                    let left: Vec<String> = batch[at..]
                        .iter()
                        .filter(|linked| unseen(&sweep.filter, linked, result))
                        .map(|linked| linked.page_id.clone())
                        .collect();
                    result.snapshot.pages_left_unread.extend(left);
                    return (checked, false);
                }
                match self.ports.notion().get_page(&linked.page_id).await {
                    Ok(page) => self.found(page, &linked.page_id, sweep, found, result),
                    // Not ours to read: the row's own reads report it.
                    Err(PortError::Record { .. }) => {}
                    Err(error) => {
                        result.stopped_by = Some(error);
                        return (checked, false);
                    }
                }
            }
            checked += 1;
        }
        (checked, true)
    }

    fn found(
        &self,
        page: Option<Page>,
        page_id: &str,
        sweep: &mut TrashSweep,
        found: &mut Vec<String>,
        result: &mut ReadResult,
    ) {
        match page {
            Some(page) => {
                result.pages_count += 1;
                sweep.left += u32::from(page.in_trash);
                result.snapshot.add_page(page);
            }
            None => {
                sweep.left += 1;
                result.snapshot.missing_pages.insert(page_id.to_string());
            }
        }
        found.push(page_id.to_string());
    }

    /// The rows linked to the pages a sweep read (for the planner: a trashed page soft-deletes
    /// its row, a gone one makes it an orphan).
    async fn read_rows_of_found(&self, found: &[String], result: &mut ReadResult) {
        for chunk in found.chunks(PAGE_SIZE) {
            if result.stopped_by.is_some() {
                return;
            }
            match self.ports.supabase().rows_by_page_ids(chunk).await {
                Ok(rows) => {
                    result.rows_count = result.rows_count.saturating_add(u32::try_from(rows.len()).unwrap_or(u32::MAX));
                    rows.into_iter().for_each(|row| result.snapshot.add_row(row));
                    result.snapshot.looked_up_pages.extend(chunk.iter().cloned());
                }
                Err(error) => result.stopped_by = Some(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2025-01-01T10:{minute:02}:00Z").parse().unwrap()
    }

    fn rows_at(after: &str) -> TrashSweep {
        let mut sweep = TrashSweep::new(at(1), 100);
        sweep.phase = SweepPhase::Rows { after: Some(after.to_string()) };
        sweep
    }

    #[test]
    fn a_state_saved_before_the_sweep_existed_still_loads() {
        let mut state = serde_json::to_value(SyncState::default()).unwrap();
        state.as_object_mut().unwrap().remove("trash_sweeps");
        let state: SyncState = serde_json::from_value(state).unwrap();
        assert_eq!(state.trash_sweeps, TrashSweeps::default());
    }

    #[test]
    fn held_deletes_keep_the_rows_phase_where_the_run_began_it() {
        let start = rows_at("row-10");
        let moved = TrashSweeps { current: Some(rows_at("row-90")), last: None };
        let read = ReadResult {
            trash_sweeps: Some(moved.clone()),
            trash_sweep_rows_start: Some(start.clone()),
            ..ReadResult::default()
        };
        assert_eq!(after_run(&read, false), Some(moved));
        assert_eq!(after_run(&read, true).and_then(|sweeps| sweeps.current), Some(start));
        // A sweep that ended in a halted run is not ended: its rows are checked again.
        let ended = ReadResult {
            trash_sweeps: Some(TrashSweeps { current: None, last: Some(rows_at("x").done(at(2))) }),
            trash_sweep_rows_start: Some(rows_at("row-10")),
            ..ReadResult::default()
        };
        assert!(after_run(&ended, true).is_some_and(|sweeps| sweeps.current.is_some()));
        assert_eq!(after_run(&ReadResult::default(), true), None, "no sweep this run: the state is left alone");
    }
}
