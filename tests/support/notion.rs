//! The Notion data source in memory, with Notion's behaviour where the sync depends on it:
//! - `created_time` / `last_edited_time` are reported rounded DOWN to the minute;
//! - queries answer at most 100 pages with a `next_cursor`, sorted by `last_edited_time`
//!   ascending; trashed pages are excluded except from `TrashedSince`;
//! - with a result limit set (Notion's is 10,000 per query), a query stops there: `has_more`
//!   false and `request_status` incomplete (`PageBatch::incomplete`);
//! - `Unsynced` = `Checksum` empty and live; `WithBase(b)` = `Checksum` equals `b` and live,
//!   `TrashedWithBase(b)` the same among trashed pages (as `ports.rs` documents it);
//! - a title segment over 2,000 UTF-16 units or more than 100 segments, a comma in a `Type`
//!   option or one over 100 UTF-16 units, a malformed date, editing a trashed page, or a page
//!   id in a path that is not a uuid → `PortError::Record`;
//! - `live_page_ids` (a presence sweep) = live pages with a non-empty `Checksum` created on or
//!   after `from`, oldest creation first, capped like queries;
//! - `get_page` answers `None` for an unknown (or permanently deleted) id, trashed pages included.
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use decision_sync::core::content::{normalize_date, Content};
use decision_sync::core::error::PortError;
use decision_sync::core::model::Page;
use decision_sync::core::notion_date::{DateWrite, NotionDate};
use decision_sync::core::ports::{IdBatch, NotionPort, PageBatch, PageQuery, PageStub, PageWrite, PAGE_SIZE};
use decision_sync::core::time::floor_minute;

use super::sim::{Faults, Service, SimTime};
use super::supabase::fake_uuid;

/// Longest rich-text segment Notion accepts, in UTF-16 units, and most segments per property.
const MAX_UNITS: usize = 2_000;
const MAX_SEGMENTS: usize = 100;

/// A page as Notion stores it (times with full precision; reported rounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    pub id: String,
    /// The title's rich-text segments.
    pub title: Vec<String>,
    pub types: Vec<String>,
    /// `Date.start` as written (may carry a time and an offset).
    pub date: Option<String>,
    /// `Date.end` as written (`None`: not a range).
    pub date_end: Option<String>,
    /// `Date.time_zone` (`None` unless a time zone was set with the time).
    pub date_time_zone: Option<String>,
    pub checksum: Option<String>,
    pub synced: bool,
    pub in_trash: bool,
    pub created: DateTime<Utc>,
    pub edited: DateTime<Utc>,
    pub created_by_sync: bool,
}

impl StoredPage {
    pub fn view(&self) -> Page {
        Page {
            id: self.id.clone(),
            decision: self.title.concat(),
            types: self.types.clone(),
            // The date part as written; something else is kept for the planner to report.
            date: self
                .date
                .as_deref()
                .filter(|start| !start.trim().is_empty())
                .map(|start| normalize_date(start).unwrap_or_else(|_| start.trim().to_string())),
            date_value: self.date.as_deref().filter(|start| !start.trim().is_empty()).map(|start| NotionDate {
                start: start.trim().to_string(),
                end: self.date_end.clone(),
                time_zone: self.date_time_zone.clone(),
            }),
            base: self.checksum.clone().filter(|base| !base.is_empty()),
            synced: self.synced,
            in_trash: self.in_trash,
            created_time: floor_minute(self.created),
            last_edited_time: floor_minute(self.edited),
        }
    }
}

/// A change a user makes to a page in Notion's UI (fields left `None` are not touched).
#[derive(Debug, Clone, Default)]
pub struct PageEdit {
    pub decision: Option<String>,
    pub types: Option<Vec<String>>,
    pub date: Option<Option<String>>,
}

impl PageEdit {
    pub fn decision(text: &str) -> Self {
        PageEdit { decision: Some(text.to_string()), ..PageEdit::default() }
    }
    pub fn types(types: &[&str]) -> Self {
        PageEdit { types: Some(types.iter().map(|t| t.to_string()).collect()), ..PageEdit::default() }
    }
    pub fn date(date: &str) -> Self {
        PageEdit { date: Some(Some(date.to_string())), ..PageEdit::default() }
    }
}

#[derive(Default)]
struct Db {
    pages: BTreeMap<String, StoredPage>,
    next_id: u64,
    purged: BTreeSet<String>,
}

/// The Notion data source. User-side helpers act as a person in Notion's UI would: they bump
/// `last_edited_time` and never touch `Checksum`.
pub struct FakeNotion {
    db: RefCell<Db>,
    faults: Faults,
    time: SimTime,
    /// Most results one query returns (real Notion: 10,000), `None` = no cap.
    result_limit: Cell<Option<usize>>,
    /// What `in_trash: true` in a query body does (Notion's behaviour is disputed).
    trash_reading: Cell<TrashReading>,
    /// Queries sent with `in_trash: true` so far.
    pub trashed_queries: Cell<u32>,
    /// Presence-sweep queries (`live_page_ids`) and `get_page` calls so far.
    pub id_queries: Cell<u32>,
    pub page_gets: Cell<u32>,
}

/// The readings of `in_trash: true` in a query body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrashReading {
    /// Only trashed pages are listed (the SDK's reference).
    #[default]
    OnlyTrashed,
    /// The parameter is ignored: live pages come back, which the client drops (none is trashed).
    Ignored,
    /// A 400 `validation_error` (`body.in_trash should be not present`), as the client maps it.
    Rejected,
}

/// Splits text into segments of at most 2,000 UTF-16 units (never inside a character).
fn segments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut units = 0;
    for ch in text.chars() {
        if units + ch.len_utf16() > MAX_UNITS {
            out.push(std::mem::take(&mut current));
            units = 0;
        }
        units += ch.len_utf16();
        current.push(ch);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn record(field: &str, message: impl Into<String>) -> PortError {
    PortError::record("notion", Some(field), message)
}

/// What Notion would say about writing this content (the client chunks the title).
fn validate(content: &Content) -> Result<Vec<String>, PortError> {
    if content.kind.contains(',') {
        return Err(record(
            "type",
            format!("Invalid multi_select option name (commas are not allowed): {:?}", content.kind),
        ));
    }
    let units = content.kind.encode_utf16().count();
    if units > 100 {
        return Err(record(
            "type",
            format!("body.properties.Type.multi_select[0].name.length should be ≤ `100`, instead was `{units}`."),
        ));
    }
    chrono::NaiveDate::parse_from_str(&content.date, "%Y-%m-%d")
        .map_err(|_| record("date", format!("{:?} is not a valid ISO 8601 date", content.date)))?;
    let title = segments(&content.decision);
    if title.len() > MAX_SEGMENTS {
        return Err(record(
            "decision",
            format!("body.properties.Decision.title.length should be ≤ 100, instead was {}", title.len()),
        ));
    }
    if let Some(long) = title.iter().find(|segment| segment.encode_utf16().count() > MAX_UNITS) {
        return Err(record(
            "decision",
            format!("text.content.length should be ≤ 2000, instead was {}", long.encode_utf16().count()),
        ));
    }
    Ok(title)
}

/// Notion refuses a page id in a path that is not a uuid (dashes optional) with a 400.
fn check_path_id(id: &str) -> Result<(), PortError> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(());
    }
    Err(PortError::record(
        "notion",
        None,
        format!("path failed validation: path.page_id should be a valid uuid, instead was `{id:?}`."),
    ))
}

/// What Notion would say about a whole Date value: with a time zone, `start` and `end` must carry
/// a time (https://developers.notion.com/changelog/time-zone-support).
fn validate_date(write: &DateWrite) -> Result<(), PortError> {
    let DateWrite::Value(value) = write else { return Ok(()) };
    let date_only = |date: &str| date.trim().len() <= 10;
    if value.time_zone.is_some() && (date_only(&value.start) || value.end.as_deref().is_some_and(date_only)) {
        return Err(record("date", "start and end cannot be dates without time information when time_zone is set"));
    }
    Ok(())
}

fn types_of(kind: &str) -> Vec<String> {
    if kind.trim().is_empty() {
        Vec::new()
    } else {
        vec![kind.trim().to_string()]
    }
}

impl FakeNotion {
    pub fn new(time: SimTime, faults: Faults) -> Self {
        FakeNotion {
            db: RefCell::new(Db::default()),
            faults,
            time,
            result_limit: Cell::new(None),
            trash_reading: Cell::new(TrashReading::default()),
            trashed_queries: Cell::new(0),
            id_queries: Cell::new(0),
            page_gets: Cell::new(0),
        }
    }

    fn new_page(db: &mut Db, now: DateTime<Utc>) -> StoredPage {
        db.next_id += 1;
        StoredPage {
            id: fake_uuid(2, db.next_id),
            title: Vec::new(),
            types: Vec::new(),
            date: None,
            date_end: None,
            date_time_zone: None,
            checksum: None,
            synced: false,
            in_trash: false,
            created: now,
            edited: now,
            created_by_sync: false,
        }
    }

    // ---------------------------------------------------------------------------------------
    // User side

    /// A user creates a page (no `Checksum`).
    pub fn create(&self, decision: &str, types: &[&str], date: Option<&str>) -> String {
        let mut db = self.db.borrow_mut();
        let mut page = Self::new_page(&mut db, self.time.now());
        page.title = if decision.is_empty() { Vec::new() } else { vec![decision.to_string()] };
        page.types = types.iter().map(|t| t.to_string()).collect();
        page.date = date.map(str::to_string);
        let id = page.id.clone();
        db.pages.insert(id.clone(), page);
        id
    }

    /// A user edits a page. Returns false when the page does not exist or is in the trash
    /// (Notion's UI does not edit trashed pages).
    pub fn edit(&self, id: &str, edit: PageEdit) -> bool {
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let Some(page) = db.pages.get_mut(id).filter(|page| !page.in_trash) else { return false };
        if let Some(decision) = edit.decision {
            page.title = if decision.is_empty() { Vec::new() } else { vec![decision] };
        }
        if let Some(types) = edit.types {
            page.types = types;
        }
        if let Some(date) = edit.date {
            page.date = date;
            page.date_end = None;
            page.date_time_zone = None;
        }
        page.edited = now;
        true
    }

    /// A user sets the whole Date: `start` (maybe with a time), an optional `end`, an optional
    /// time zone (Notion's date picker: "End date", "Include time", "Time zone").
    pub fn set_date_value(&self, id: &str, start: &str, end: Option<&str>, time_zone: Option<&str>) -> bool {
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let Some(page) = db.pages.get_mut(id).filter(|page| !page.in_trash) else { return false };
        page.date = Some(start.to_string());
        page.date_end = end.map(str::to_string);
        page.date_time_zone = time_zone.map(str::to_string);
        page.edited = now;
        true
    }

    /// Sets the title as several rich-text segments (mentions, formatting).
    pub fn set_title_segments(&self, id: &str, title: Vec<String>) -> bool {
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let Some(page) = db.pages.get_mut(id) else { return false };
        page.title = title;
        page.edited = now;
        true
    }

    pub fn set_content(&self, id: &str, decision: &str, kind: &str, date: &str) -> bool {
        self.edit(
            id,
            PageEdit {
                decision: Some(decision.to_string()),
                types: Some(types_of(kind)),
                date: Some(Some(date.to_string())),
            },
        )
    }

    /// An edit the sync does not care about (another property, a comment, the page body):
    /// only `last_edited_time` moves.
    pub fn touch(&self, id: &str) -> bool {
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let Some(page) = db.pages.get_mut(id) else { return false };
        page.edited = now;
        true
    }

    pub fn trash(&self, id: &str) -> bool {
        self.set_trash(id, true)
    }

    pub fn restore(&self, id: &str) -> bool {
        self.set_trash(id, false)
    }

    fn set_trash(&self, id: &str, in_trash: bool) -> bool {
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let Some(page) = db.pages.get_mut(id) else { return false };
        if page.in_trash == in_trash {
            return false;
        }
        page.in_trash = in_trash;
        page.edited = now;
        true
    }

    /// Notion's "Duplicate": a new page with every property copied, `Checksum` included.
    pub fn duplicate(&self, id: &str) -> Option<String> {
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let original = db.pages.get(id).filter(|page| !page.in_trash)?.clone();
        let fresh = Self::new_page(&mut db, now);
        let copy = StoredPage { id: fresh.id.clone(), created: now, edited: now, created_by_sync: false, ..original };
        db.pages.insert(copy.id.clone(), copy);
        Some(fresh.id)
    }

    /// Deleted for good (emptied from the trash, or unshared): `get_page` answers `None`.
    pub fn purge(&self, id: &str) -> bool {
        let mut db = self.db.borrow_mut();
        let existed = db.pages.remove(id).is_some();
        if existed {
            db.purged.insert(id.to_string());
        }
        existed
    }

    // ---------------------------------------------------------------------------------------
    // Inspection

    pub fn page(&self, id: &str) -> Option<Page> {
        self.db.borrow().pages.get(id).map(StoredPage::view)
    }

    pub fn stored(&self, id: &str) -> Option<StoredPage> {
        self.db.borrow().pages.get(id).cloned()
    }

    pub fn pages(&self) -> Vec<Page> {
        self.db.borrow().pages.values().map(StoredPage::view).collect()
    }

    pub fn live_pages(&self) -> Vec<Page> {
        self.pages().into_iter().filter(|page| !page.in_trash).collect()
    }

    pub fn created_by_sync(&self) -> BTreeSet<String> {
        self.db.borrow().pages.values().filter(|page| page.created_by_sync).map(|page| page.id.clone()).collect()
    }

    pub fn was_purged(&self, id: &str) -> bool {
        self.db.borrow().purged.contains(id)
    }

    /// Caps every query at `limit` results, as Notion caps them at 10,000: the page that reaches
    /// the cap has `has_more: false` (no `next_cursor`) and `request_status` incomplete.
    pub fn set_result_limit(&self, limit: Option<usize>) {
        self.result_limit.set(limit);
    }

    pub fn set_trash_reading(&self, reading: TrashReading) {
        self.trash_reading.set(reading);
    }

    /// Adds many pages at once (benchmarks, big backlogs) without going through the fault layer.
    pub fn load(&self, pages: Vec<StoredPage>) {
        let mut db = self.db.borrow_mut();
        for page in pages {
            db.pages.insert(page.id.clone(), page);
        }
    }

    fn matching(&self, query: &PageQuery) -> Vec<Page> {
        let db = self.db.borrow();
        let mut pages: Vec<&StoredPage> = db
            .pages
            .values()
            .filter(|page| match query {
                PageQuery::EditedSince(since) => {
                    !page.in_trash && since.is_none_or(|since| floor_minute(page.edited) >= since)
                }
                PageQuery::TrashedSince(since) => {
                    page.in_trash && since.is_none_or(|since| floor_minute(page.edited) >= since)
                }
                PageQuery::EditedInMinute { minute, created_from, trashed } => {
                    page.in_trash == *trashed
                        && floor_minute(page.edited) == *minute
                        && created_from.is_none_or(|from| floor_minute(page.created) >= from)
                }
                PageQuery::Unsynced => !page.in_trash && page.checksum.as_deref().is_none_or(str::is_empty),
                PageQuery::WithBase(base) => !page.in_trash && page.checksum.as_deref() == Some(base.as_str()),
                PageQuery::TrashedWithBase(base) => page.in_trash && page.checksum.as_deref() == Some(base.as_str()),
            })
            .collect();
        // Notion sorts by the reported (minute) value; ties come in no particular order.
        if matches!(query, PageQuery::EditedInMinute { .. }) {
            pages.sort_by(|a, b| (floor_minute(a.created), &a.id).cmp(&(floor_minute(b.created), &b.id)));
        } else {
            pages.sort_by(|a, b| (floor_minute(a.edited), &a.id).cmp(&(floor_minute(b.edited), &b.id)));
        }
        pages.into_iter().map(StoredPage::view).collect()
    }
}

impl NotionPort for FakeNotion {
    async fn check_schema(&self) -> Result<(), PortError> {
        let ticket = self.faults.begin(Service::Notion, "check_schema", false)?;
        self.faults.end(ticket, ())
    }

    async fn query(&self, query: &PageQuery, cursor: Option<&str>) -> Result<PageBatch, PortError> {
        let ticket = self.faults.begin(Service::Notion, "query", false)?;
        let start: usize = match cursor {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix("offset-")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| record("start_cursor", format!("invalid start_cursor {cursor:?}")))?,
        };
        let trashed = matches!(
            query,
            PageQuery::TrashedSince(_)
                | PageQuery::TrashedWithBase(_)
                | PageQuery::EditedInMinute { trashed: true, .. }
        );
        if trashed {
            self.trashed_queries.set(self.trashed_queries.get() + 1);
        }
        let all = match self.trash_reading.get() {
            TrashReading::Rejected if trashed => {
                return Err(PortError::config(
                    "Notion rejected a request on the data source (Notion: 400 validation_error: body failed validation: \
                     body.in_trash should be not present, instead was `true`.)",
                ));
            }
            // The client drops the live pages such an answer lists, and says so.
            TrashReading::Ignored if trashed => {
                let live = !self.live_pages().is_empty();
                return self.faults.end(ticket, PageBatch { in_trash_ignored: live, ..PageBatch::default() });
            }
            _ => self.matching(query),
        };
        let cap = self.result_limit.get().unwrap_or(usize::MAX).min(all.len());
        let end = (start + PAGE_SIZE).min(cap);
        let pages = all.get(start.min(end)..end).unwrap_or_default().to_vec();
        let next_cursor = (end < cap).then(|| format!("offset-{end}"));
        let incomplete = end == cap && cap < all.len();
        self.faults.end(ticket, PageBatch { pages, next_cursor, incomplete, in_trash_ignored: false })
    }

    async fn live_page_ids(&self, from: Option<DateTime<Utc>>, cursor: Option<&str>) -> Result<IdBatch, PortError> {
        let ticket = self.faults.begin(Service::Notion, "live_page_ids", false)?;
        self.id_queries.set(self.id_queries.get() + 1);
        let start: usize = match cursor {
            None => 0,
            Some(cursor) => cursor
                .strip_prefix("offset-")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| record("start_cursor", format!("invalid start_cursor {cursor:?}")))?,
        };
        let mut all: Vec<PageStub> = {
            let db = self.db.borrow();
            let mut pages: Vec<&StoredPage> = db
                .pages
                .values()
                .filter(|page| !page.in_trash && page.checksum.as_deref().is_some_and(|sum| !sum.is_empty()))
                .filter(|page| from.is_none_or(|from| floor_minute(page.created) >= from))
                .collect();
            pages.sort_by(|a, b| (floor_minute(a.created), &a.id).cmp(&(floor_minute(b.created), &b.id)));
            pages
                .into_iter()
                .map(|page| PageStub { id: page.id.clone(), created_time: floor_minute(page.created) })
                .collect()
        };
        let cap = self.result_limit.get().unwrap_or(usize::MAX).min(all.len());
        let end = (start + PAGE_SIZE).min(cap);
        let incomplete = end == cap && cap < all.len();
        all.truncate(end);
        let pages = all.split_off(start.min(end));
        let next_cursor = (end < cap).then(|| format!("offset-{end}"));
        self.faults.end(ticket, IdBatch { pages, next_cursor, incomplete })
    }

    async fn get_page(&self, page_id: &str) -> Result<Option<Page>, PortError> {
        let ticket = self.faults.begin(Service::Notion, "get_page", false)?;
        self.page_gets.set(self.page_gets.get() + 1);
        check_path_id(page_id)?;
        let page = self.page(page_id);
        self.faults.end(ticket, page)
    }

    async fn create_page(&self, content: &Content, base: &str) -> Result<Page, PortError> {
        let ticket = self.faults.begin(Service::Notion, "create_page", true)?;
        let title = validate(content)?;
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let mut page = Self::new_page(&mut db, now);
        page.title = title;
        page.types = types_of(&content.kind);
        page.date = Some(content.date.clone());
        page.checksum = Some(base.to_string());
        page.synced = true;
        page.created_by_sync = true;
        let view = page.view();
        db.pages.insert(page.id.clone(), page);
        drop(db);
        self.faults.wrote(Service::Notion, 1);
        self.faults.end(ticket, view)
    }

    async fn update_page(&self, page_id: &str, write: &PageWrite) -> Result<Page, PortError> {
        let ticket = self.faults.begin(Service::Notion, "update_page", true)?;
        check_path_id(page_id)?;
        let title = match &write.content {
            Some(content) => Some(validate(content)?),
            None => None,
        };
        validate_date(&write.date)?;
        let now = self.time.now();
        let mut db = self.db.borrow_mut();
        let Some(page) = db.pages.get_mut(page_id) else {
            return Err(PortError::record("notion", None, format!("Could not find page with ID: {page_id}")));
        };
        let edits_properties = write.content.is_some() || write.base.is_some();
        let stays_trashed = write.in_trash.unwrap_or(page.in_trash);
        if edits_properties && stays_trashed {
            return Err(PortError::record(
                "notion",
                None,
                "Can't edit block that is archived. You must unarchive the block before editing.",
            ));
        }
        if let (Some(content), Some(title)) = (&write.content, title) {
            page.title = title;
            page.types = types_of(&content.kind);
            // Notion replaces the whole Date value with the one sent (`{start}` clears `end`);
            // a Date left out of the request is left as it is.
            match &write.date {
                DateWrite::Keep => {}
                DateWrite::Start => {
                    page.date = Some(content.date.clone());
                    page.date_end = None;
                    page.date_time_zone = None;
                }
                DateWrite::Value(value) => {
                    page.date = Some(value.start.clone());
                    page.date_end = value.end.clone();
                    page.date_time_zone = value.time_zone.clone();
                }
            }
        }
        if let Some(base) = &write.base {
            page.checksum = Some(base.clone());
        }
        if edits_properties {
            page.synced = true;
        }
        if let Some(in_trash) = write.in_trash {
            page.in_trash = in_trash;
        }
        page.edited = now;
        let view = page.view();
        drop(db);
        self.faults.wrote(Service::Notion, 1);
        self.faults.end(ticket, view)
    }
}
