//! Everything one run read from both sides: the planner's only input.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::link::malformed_link;
use crate::model::{Page, Row};
use crate::pool_scan::PrefixSet;
use crate::ports::CreateIntent;
use crate::state::RecordIssue;
use crate::time::notion_overlap;

/// What was read, and how complete each source is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub now: DateTime<Utc>,
    /// The Notion cursor this run started from; pages edited after it count as recently changed.
    pub page_cursor: Option<DateTime<Utc>>,
    /// Every row read, by id.
    pub rows: BTreeMap<String, Row>,
    /// Every page read, by id.
    pub pages: BTreeMap<String, Page>,
    /// Page ids that `GET /v1/pages/{id}` says do not exist (or are not shared).
    pub missing_pages: BTreeSet<String>,
    /// Pages whose linked row (if any) was looked up, so "no row" is known, not assumed.
    pub looked_up_pages: BTreeSet<String>,
    /// Rows changed since the Supabase cursor, in cursor order.
    pub row_window: Vec<String>,
    /// Pages (live then trashed) edited since the Notion cursors, in cursor order.
    pub page_window: Vec<String>,
    /// Unlinked live rows, oldest first, and whether all of them were read.
    pub row_pool: Vec<String>,
    pub row_pool_complete: bool,
    /// Live pages with an empty `Checksum`, oldest first, and whether all of them were read.
    pub page_pool: Vec<String>,
    pub page_pool_complete: bool,
    /// When the row pool is too large to read in one run: the checksum prefixes of every
    /// unlinked row (the digest of the last complete scan, kept current), or `None` when this run
    /// cannot vouch for it. A page whose checksum is absent can be imported.
    #[serde(default)]
    pub unlinked_row_sums: Option<PrefixSet>,
    /// Create intents left by earlier runs.
    pub intents: Vec<CreateIntent>,
    /// Bases whose `WithBase` query ran (their pages are in `pages`).
    pub intent_bases_searched: BTreeSet<String>,
    /// Records refused while reading, by record id (a row whose `notion_page_id` is not a Notion
    /// id, a page Notion would not read): per-record errors, final for this run.
    #[serde(default)]
    pub record_issues: BTreeMap<String, RecordIssue>,
    /// Linked pages a presence sweep found gone from Notion's live results and has not read yet
    /// (budget): counted as deletes by the mass-delete halt ([`crate::trash_sweep`]).
    #[serde(default)]
    pub pages_left_unread: BTreeSet<String>,
}

impl Snapshot {
    /// Page id → id of the row linked to it, over every row read.
    pub fn links(&self) -> BTreeMap<String, String> {
        self.rows.values().filter_map(|row| row.notion_page_id.clone().map(|page| (page, row.id.clone()))).collect()
    }

    /// True when the page was edited after this run's Notion cursor (minus the rounding overlap).
    pub fn page_recently_edited(&self, page: &Page) -> bool {
        match self.page_cursor {
            None => true,
            Some(cursor) => page.last_edited_time >= cursor - notion_overlap(),
        }
    }

    /// Adds a row read from Supabase. A row with a malformed link is kept out of `rows` (so its
    /// value never reaches a request) and reported in `record_issues` instead.
    pub fn add_row(&mut self, row: Row) {
        if let Some(issue) = malformed_link(&row) {
            self.rows.remove(&row.id);
            self.record_issues.insert(row.id.clone(), issue);
            return;
        }
        self.rows.insert(row.id.clone(), row);
    }

    /// A record refused while reading: reported, not planned.
    pub fn refuse(&mut self, issue: RecordIssue) {
        self.record_issues.insert(issue.id.clone(), issue);
    }

    pub fn add_page(&mut self, page: Page) {
        self.pages.insert(page.id.clone(), page);
    }
}
