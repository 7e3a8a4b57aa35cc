//! The outside world, as small traits. The Worker implements them on workers-rs (fetch, KV,
//! Durable Objects); native tests implement them in memory with fault injection.
//!
//! Every method that reaches Supabase or Notion takes one unit of the run's [`Budget`] per HTTP
//! attempt (retries included); implementations hold a clone of the budget.
//!
//! [`Budget`]: crate::budget::Budget
#![allow(async_fn_in_trait)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content::Content;
use crate::error::PortError;
use crate::lease::{LockStatus, Renewal};
use crate::mass_delete::LinkedCounts;
use crate::model::{Page, Row, RowCursor};
use crate::notion_date::DateWrite;
use crate::state::{ConflictRecord, SyncState};

/// Largest page of results asked for on either side.
pub const PAGE_SIZE: usize = 100;

/// Rows asked for per request when scanning the unlinked-row pool: Supabase answers at most its
/// API's "Max rows" (1,000 by default) per request, so an answer can be shorter than asked
/// without being the end (see [`RowBatch::more`]).
pub const POOL_PAGE_SIZE: usize = 1000;

/// One page of rows, and whether more rows match after it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowBatch {
    pub rows: Vec<Row>,
    /// More rows match (PostgREST's `Content-Range` total with `Prefer: count=exact` is larger
    /// than what was returned). A short page is not the end: the server caps a page at its
    /// max-rows, whatever `limit` asked.
    pub more: bool,
}

/// A new row, inserted from a Notion page (already linked and with its base).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRow {
    pub content: Content,
    pub notion_page_id: String,
    pub checksum: String,
}

/// A conditional update of one row: applied only if the row's `updated_at` still equals
/// `expected_updated_at` (so a user's concurrent edit is never overwritten).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowWrite {
    pub id: String,
    pub expected_updated_at: Option<DateTime<Utc>>,
    pub content: Option<Content>,
    pub notion_page_id: Option<String>,
    pub checksum: Option<String>,
    pub notion_synced: Option<bool>,
    /// `Some(None)` clears `deleted_at`; `Some(Some(t))` sets it.
    pub deleted_at: Option<Option<DateTime<Utc>>>,
}

/// What became of one [`RowWrite`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteResult {
    pub id: String,
    /// False when the row changed since it was read (or no longer exists): picked up next run.
    pub applied: bool,
}

/// One page of results from a Notion query, with Notion's cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PageBatch {
    pub pages: Vec<Page>,
    pub next_cursor: Option<String>,
    /// Notion stopped the query before its end (`request_status.type = "incomplete"`: a query
    /// returns at most 10,000 results): no `next_cursor`, yet more pages match. Never complete.
    #[serde(default)]
    pub incomplete: bool,
    /// A query for trashed pages (`in_trash: true`) answered live pages: Notion ignored the
    /// parameter (they are not in `pages`).
    #[serde(default)]
    pub in_trash_ignored: bool,
}

/// A live page as a presence sweep reads it: its id and `created_time` only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageStub {
    pub id: String,
    pub created_time: DateTime<Utc>,
}

/// One page of a presence sweep's query ([`NotionPort::live_page_ids`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IdBatch {
    pub pages: Vec<PageStub>,
    pub next_cursor: Option<String>,
    /// Notion stopped at its result cap (10,000): more pages match, with no cursor to them.
    pub incomplete: bool,
}

/// A live linked row as a presence sweep reads it ([`SupabasePort::linked_page_ids`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedPage {
    pub row_id: String,
    pub page_id: String,
}

/// One page of a presence sweep's linked rows, and whether more rows follow (PostgREST's exact
/// count: a server whose "Max rows" is below the limit asked for still reads as not finished).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkedBatch {
    pub pages: Vec<LinkedPage>,
    pub more: bool,
}

/// Most rows a presence sweep asks Supabase for at once (Supabase's default `max_rows`).
pub const LINKED_PAGE_IDS_PER_REQUEST: usize = 1000;

/// What to change on a page. `content` and `base` are written together with `Synced = true`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PageWrite {
    pub content: Option<Content>,
    pub base: Option<String>,
    pub in_trash: Option<bool>,
    /// With `content`: what becomes of the page's `Date` (kept, or the row's date as `start` with
    /// what of the page's value can stay).
    #[serde(default)]
    pub date: DateWrite,
}

/// Which pages a query asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageQuery {
    /// Live pages edited on or after `since` (all live pages when `None`), oldest edit first.
    EditedSince(Option<DateTime<Utc>>),
    /// Trashed pages edited on or after `since` (`in_trash: true`), oldest edit first.
    TrashedSince(Option<DateTime<Utc>>),
    /// Pages (trashed ones when `trashed`) last edited within the minute `minute` and created on
    /// or after `created_from`, oldest creation first: how a window goes on when more pages than
    /// Notion's result cap (10,000) share one `last_edited_time` minute.
    EditedInMinute { minute: DateTime<Utc>, created_from: Option<DateTime<Utc>>, trashed: bool },
    /// Live pages whose `Checksum` is empty: never synced, the candidates to match or import.
    Unsynced,
    /// Live pages whose `Checksum` equals this base (finds a page created before a crash).
    WithBase(String),
    /// Trashed pages whose `Checksum` equals this base (`in_trash: true`): a page created before a
    /// crash and trashed by a user since must be found too, or its row would get a second page.
    TrashedWithBase(String),
}

/// The Supabase table, through PostgREST.
pub trait SupabasePort {
    /// Checks the table and columns exist and the key works; `Config` error naming what to fix.
    async fn check_schema(&self) -> Result<(), PortError>;
    /// Rows (deleted ones included) strictly after `after` in `(updated_at, id)` order.
    async fn rows_changed_after(&self, after: Option<&RowCursor>, limit: usize) -> Result<Vec<Row>, PortError>;
    /// Live rows with no `notion_page_id`, oldest first (`(created_at, id)`), strictly after `after`,
    /// at most `limit` (or the server's max-rows), and whether more follow.
    async fn unlinked_rows(&self, after: Option<&RowCursor>, limit: usize) -> Result<RowBatch, PortError>;
    /// Rows linked to any of these page ids (at most [`PAGE_SIZE`] ids per call).
    async fn rows_by_page_ids(&self, page_ids: &[String]) -> Result<Vec<Row>, PortError>;
    /// Inserts rows in one request; a row whose `notion_page_id` already exists is left alone.
    /// Returns the rows now linked to those pages.
    async fn insert_rows(&self, rows: &[NewRow]) -> Result<Vec<Row>, PortError>;
    /// Applies conditional updates in bulk (one request where the write-back function exists).
    async fn write_rows(&self, writes: &[RowWrite]) -> Result<Vec<WriteResult>, PortError>;
    /// After a successful `check_schema`: a way the table works only in a degraded way (e.g. the
    /// write-back function is missing), recorded as a warning of the schema check.
    fn schema_warning(&self) -> Option<String> {
        None
    }
    /// Counts the linked rows, live and soft-deleted-not-synced (for the mass-delete safety halt).
    /// Live rows without a page (one counted request): a drain's exact Supabase-side backlog.
    async fn count_unlinked(&self) -> Result<u32, PortError>;
    /// Live linked rows (`notion_page_id` set, `deleted_at` null), id and page id only, in `id`
    /// order strictly after `after` (a presence sweep's keyset).
    async fn linked_page_ids(&self, after: Option<&str>, limit: usize) -> Result<LinkedBatch, PortError>;
    async fn count_linked(&self) -> Result<LinkedCounts, PortError>;
}

/// The Notion data source.
pub trait NotionPort {
    /// Checks the data source exists and has the properties with the right types.
    async fn check_schema(&self) -> Result<(), PortError>;
    /// One page of a query; `cursor` is Notion's `next_cursor` from the previous page.
    async fn query(&self, query: &PageQuery, cursor: Option<&str>) -> Result<PageBatch, PortError>;
    /// One page of every live page with a non-empty `Checksum` created on or after `from`, oldest
    /// creation first, ids and `created_time` only (a presence sweep: asks for the title only).
    async fn live_page_ids(&self, from: Option<DateTime<Utc>>, cursor: Option<&str>) -> Result<IdBatch, PortError>;
    /// One page by id: `Ok(None)` when it does not exist or is not shared with the integration.
    async fn get_page(&self, page_id: &str) -> Result<Option<Page>, PortError>;
    /// Creates a page with this content and base (`Synced = true`).
    async fn create_page(&self, content: &Content, base: &str) -> Result<Page, PortError>;
    async fn update_page(&self, page_id: &str, write: &PageWrite) -> Result<Page, PortError>;
    /// The data source id in use, once known (the engine keeps it in state to save a request).
    fn data_source_id(&self) -> Option<String> {
        None
    }
}

/// Where the sync keeps its state between runs (Workers KV in production).
pub trait StateStore {
    async fn load(&self) -> Result<SyncState, PortError>;
    async fn save(&self, state: &SyncState) -> Result<(), PortError>;
    /// Keeps losing versions of conflicts (90 days in production).
    async fn save_conflicts(&self, run_id: &str, conflicts: &[ConflictRecord]) -> Result<(), PortError>;
    async fn conflicts(&self) -> Result<Vec<ConflictRecord>, PortError>;
}

/// Outcome of asking for the run lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Lease {
    Acquired,
    Busy { run_id: String, since: DateTime<Utc> },
}

/// A page create about to happen for a row: journaled before the create, cleared after the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateIntent {
    pub row_id: String,
    /// The base written into the page's `Checksum` property by the create.
    pub base: String,
    pub at: DateTime<Utc>,
}

/// One run at a time, and the create-intent journal (a Durable Object in production). The lease
/// rules are [`crate::lease`]'s.
pub trait RunLock {
    /// Takes the lease for a new run (recorded as the last run started, with its trigger).
    async fn acquire(
        &self,
        run_id: &str,
        trigger: &str,
        now: DateTime<Utc>,
        ttl_seconds: i64,
    ) -> Result<Lease, PortError>;
    /// Renews the caller's lease (the heartbeat); `Lost` once another run holds it.
    async fn renew(&self, run_id: &str, now: DateTime<Utc>, ttl_seconds: i64) -> Result<Renewal, PortError>;
    /// Gives the lease back (and records the run as finished).
    async fn release(&self, run_id: &str) -> Result<(), PortError>;
    /// The last run started and finished, the live lease's holder and the journal's size.
    async fn status(&self) -> Result<LockStatus, PortError>;
    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), PortError>;
    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError>;
    async fn clear_intents(&self, row_ids: &[String]) -> Result<(), PortError>;
}

/// Time, and the runtime's CPU signal.
pub trait Clock {
    fn now(&self) -> DateTime<Utc>;
    /// True when the invocation is close to its CPU limit (`worker::signal::is_near_cpu_limit`).
    fn near_cpu_limit(&self) -> bool {
        false
    }
}

/// The five ports of one run, as one bundle: the engine, the readers and the writers are each
/// generic over one `P: Ports` instead of five parameters. [`Wired`] is the bundle of references
/// every caller builds.
pub trait Ports {
    type Supabase: SupabasePort;
    type Notion: NotionPort;
    type Store: StateStore;
    type Lock: RunLock;
    type Clock: Clock;
    fn supabase(&self) -> &Self::Supabase;
    fn notion(&self) -> &Self::Notion;
    fn store(&self) -> &Self::Store;
    fn lock(&self) -> &Self::Lock;
    fn clock(&self) -> &Self::Clock;
}

/// [`Ports`] as references to five implementations.
pub struct Wired<'a, S, N, St, L, C> {
    pub supabase: &'a S,
    pub notion: &'a N,
    pub store: &'a St,
    pub lock: &'a L,
    pub clock: &'a C,
}

impl<S, N, St, L, C> Ports for Wired<'_, S, N, St, L, C>
where
    S: SupabasePort,
    N: NotionPort,
    St: StateStore,
    L: RunLock,
    C: Clock,
{
    type Supabase = S;
    type Notion = N;
    type Store = St;
    type Lock = L;
    type Clock = C;
    fn supabase(&self) -> &S {
        self.supabase
    }
    fn notion(&self) -> &N {
        self.notion
    }
    fn store(&self) -> &St {
        self.store
    }
    fn lock(&self) -> &L {
        self.lock
    }
    fn clock(&self) -> &C {
        self.clock
    }
}
