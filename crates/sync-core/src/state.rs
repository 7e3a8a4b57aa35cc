//! What the sync remembers between runs (one KV value), and what it keeps of conflicts.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content::Content;
use crate::mass_delete::MassDeleteGuard;
use crate::model::{RowCursor, Side};
use crate::pool_scan::PoolScans;
use crate::rejection::Rejection;
use crate::report::RunSummary;
use crate::schema_check::SchemaChecks;
use crate::seen::SeenPages;
use crate::trash_sweep::TrashSweeps;

/// Incremental positions on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursors {
    /// Supabase keyset position; `None` = from the beginning.
    pub rows: Option<RowCursor>,
    /// Latest Notion `last_edited_time` whose pages are all final; queries start 2 minutes before.
    pub pages: Option<DateTime<Utc>>,
    /// Same, for the trashed-pages query.
    pub trashed_pages: Option<DateTime<Utc>>,
    /// Where the live-pages query stopped when more pages share the cursor's minutes than one
    /// run reads (a bulk edit): the next run resumes there instead of re-reading the same pages.
    #[serde(default)]
    pub pages_resume: Option<QueryResume>,
    #[serde(default)]
    pub trashed_resume: Option<QueryResume>,
}

/// Where a Notion window's read stopped when it could not finish in one run, with the `since` it
/// was issued for (it is used only while the minute cursor stays where it was): Notion's
/// `next_cursor`, and how the query had been narrowed after Notion's result cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResume {
    pub since: Option<DateTime<Utc>>,
    /// Notion's `next_cursor` for the query at this position (`None`: from the query's start).
    #[serde(default)]
    pub start_cursor: Option<String>,
    /// The `on_or_after` the query was narrowed to after Notion's result cap (`None`: `since`).
    #[serde(default)]
    pub from: Option<DateTime<Utc>>,
    /// Set when more pages than the cap share the minute `from`: that minute is read in
    /// `created_time` order, from this `created_time` minute on (`Some(None)`: from its start).
    #[serde(default)]
    pub split: Option<Option<DateTime<Utc>>>,
}

/// A full reconciliation in progress (paged across runs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FullPass {
    pub started_at: DateTime<Utc>,
    /// Every page id seen by this pass (live or trashed): a linked row whose page is not among them
    /// once the Notion side is complete is checked with `GET /v1/pages/{id}`. Kept by fingerprint
    /// ([`SeenPages`]: the state must fit one storage value).
    pub seen_pages: SeenPages,
    pub pages_done: bool,
    pub trashed_done: bool,
}

/// A record that could not be synced, kept until it syncs (ids and reason only, never content).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordIssue {
    pub side: Side,
    pub id: String,
    pub field: Option<String>,
    pub reason: String,
}

/// A record that lost its partner and is never deleted on the other side.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Orphan {
    pub side: Side,
    pub id: String,
    pub reason: String,
}

/// Everything kept between runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncState {
    pub cursors: Cursors,
    pub full_pass: Option<FullPass>,
    /// When the last full reconciliation finished.
    pub last_full_pass: Option<DateTime<Utc>>,
    pub last_run: Option<RunSummary>,
    pub last_success: Option<DateTime<Utc>>,
    pub errors: Vec<RecordIssue>,
    pub orphans: Vec<Orphan>,
    /// Notion data source id found from the database id (saves a request per run).
    pub data_source_id: Option<String>,
    pub totals: Totals,
    /// The last schema check of each side (by a run or the admin check), shown by `/health`.
    #[serde(default)]
    pub schema: SchemaChecks,
    /// What was rejected for the records in `errors` a service refused (not sent again unchanged).
    #[serde(default)]
    pub rejections: Vec<Rejection>,
    /// The mass-delete safety halt: deletes applied in the current episode, an allow, the halt.
    #[serde(default)]
    pub mass_delete: MassDeleteGuard,
    /// When Notion refused `in_trash` in a query body (a 400 on the trashed-pages query): such
    /// queries are not sent again until the next full pass; trashed pages are found by
    /// `GET /v1/pages/{id}` for the linked pages a full pass did not see.
    #[serde(default)]
    pub trash_query_refused: Option<DateTime<Utc>>,
    /// While `in_trash` is refused: the presence sweep that finds linked pages gone from the live
    /// results ([`crate::trash_sweep`]).
    #[serde(default)]
    pub trash_sweeps: TrashSweeps,
    /// The pool scans that resume across runs (unlinked rows, unsynced pages): see
    /// [`crate::pool_scan`].
    #[serde(default)]
    pub pools: PoolScans,
}

/// Counts since the sync was installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Totals {
    pub runs: u64,
    pub pages_created: u64,
    pub rows_inserted: u64,
    pub pages_updated: u64,
    pub rows_updated: u64,
    pub conflicts: u64,
}

/// The losing version of a conflict, kept so nothing is lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictRecord {
    pub row_id: String,
    pub page_id: String,
    pub winner: Side,
    pub kept: Content,
    pub lost: Content,
    pub row_updated_at: DateTime<Utc>,
    pub page_last_edited_time: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
}
