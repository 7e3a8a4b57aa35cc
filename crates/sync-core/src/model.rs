//! The records of both sides, as the core sees them.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::notion_date::NotionDate;

/// A row of `decision_vault`, as read through PostgREST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub decision: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `YYYY-MM-DD` as PostgreSQL returns a `date`.
    pub date: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub notion_page_id: Option<String>,
    #[serde(default)]
    pub notion_synced: bool,
    /// The base: checksum of the content as of the last successful sync.
    pub checksum: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Row {
    pub fn cursor(&self) -> RowCursor {
        RowCursor { updated_at: self.updated_at, id: self.id.clone() }
    }
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A page of the Notion data source, reduced to what the sync needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub id: String,
    /// Concatenated `plain_text` of the `Decision` title.
    pub decision: String,
    /// Names of the `Type` multi_select options, in Notion's order.
    pub types: Vec<String>,
    /// The date part of `Date.start`, as written (never converted to UTC); `None` when empty.
    pub date: Option<String>,
    /// The whole `Date` as Notion returned it: what the row cannot hold (an `end`, a time, a time
    /// zone), kept so a push does not narrow it.
    #[serde(default)]
    pub date_value: Option<NotionDate>,
    /// The `Checksum` property: the base as of the last successful sync (`None` when empty).
    pub base: Option<String>,
    pub synced: bool,
    pub in_trash: bool,
    pub created_time: DateTime<Utc>,
    /// Rounded down to the minute by Notion.
    pub last_edited_time: DateTime<Utc>,
}

/// Keyset position in the Supabase table: rows strictly after `(updated_at, id)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RowCursor {
    pub updated_at: DateTime<Utc>,
    pub id: String,
}

/// Which side of the sync a record lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Supabase,
    Notion,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Supabase => "supabase",
            Side::Notion => "notion",
        })
    }
}
