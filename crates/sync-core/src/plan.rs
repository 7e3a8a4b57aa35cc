//! A plan: the operations one run will apply, as plain data (serialised for `/dry-run`).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::content::Content;
use crate::ports::{NewRow, PageWrite, RowWrite};
use crate::state::{ConflictRecord, Orphan, RecordIssue};

/// What an operation does, for reports and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// Row without a page → create the page, then link the row.
    CreatePage,
    /// Page without a row → insert the row (linked), then store the base on the page.
    ImportPage,
    /// Unlinked row and page with the same content (or a page created before a crash) → link.
    Link,
    /// Row edited → page.
    Push,
    /// Page edited → row.
    Pull,
    /// Both sides hold the same content → only the base is stored where it is stale.
    StoreBase,
    /// Row soft-deleted → page to trash.
    TrashPage,
    /// Row restored → page out of trash.
    RestorePage,
    /// Page trashed → `deleted_at` on the row.
    DeleteRow,
    /// Page restored → `deleted_at` cleared.
    RestoreRow,
}

/// The Notion half of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NotionWrite {
    Create { content: Content, base: String },
    Update { page_id: String, write: PageWrite },
}

/// The Supabase half of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SupabaseWrite {
    Insert(NewRow),
    /// For a `CreatePage`, `notion_page_id` is filled in with the created page's id.
    Update(RowWrite),
}

/// Which half goes first. Supabase first when the row changes content (the conditional update
/// decides whether the page may follow); Notion first otherwise (the row write stores the link/base).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    NotionFirst,
    SupabaseFirst,
}

/// One operation on one row/page pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub kind: OpKind,
    pub row_id: Option<String>,
    pub page_id: Option<String>,
    pub order: Order,
    pub notion: Option<NotionWrite>,
    pub supabase: Option<SupabaseWrite>,
    /// Set when this op resolves a conflict: the losing version, kept before anything is written.
    pub conflict: Option<ConflictRecord>,
}

/// An item left for a later run, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deferred {
    pub row_id: Option<String>,
    pub page_id: Option<String>,
    pub reason: String,
}

/// Everything one run intends to do.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub deferred: Vec<Deferred>,
    pub issues: Vec<RecordIssue>,
    pub orphans: Vec<Orphan>,
    pub warnings: Vec<String>,
    pub planned_at: Option<DateTime<Utc>>,
    /// Deletes held by the mass-delete safety halt (see `core::mass_delete`): not applied, and
    /// pending, so the cursors do not pass them.
    #[serde(default)]
    pub held: Vec<Deferred>,
}

impl Plan {
    /// Number of operations of a kind.
    pub fn count(&self, kind: OpKind) -> usize {
        self.ops.iter().filter(|op| op.kind == kind).count()
    }
    pub fn conflicts(&self) -> Vec<ConflictRecord> {
        self.ops.iter().filter_map(|op| op.conflict.clone()).collect()
    }
}
