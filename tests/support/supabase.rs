//! `decision_vault` in memory, with the migration's semantics:
//! - `updated_at` is set on every update (and insert) from a strictly increasing clock with
//!   microsecond precision (PostgreSQL's `timestamptz`);
//! - a USER update that changes `decision`/`type`/`date`/`deleted_at` sets `notion_synced = false`;
//!   the sync's writes (`write_rows`, i.e. the write-back function) do not;
//! - `write_rows` applies each update only when `updated_at` still equals `expected_updated_at`;
//! - `notion_page_id` is unique: `insert_rows` ignores a duplicate, an update that would break it
//!   fails the whole request (the function's transaction rolls back);
//! - keyset reads exactly as `ports.rs` documents; a read returns at most the server's max-rows
//!   (Supabase's default: 1,000) whatever `limit` asks, and the pool read says whether more
//!   rows follow, as `Prefer: count=exact` does.
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use decision_sync::core::error::PortError;
use decision_sync::core::mass_delete::LinkedCounts;
use decision_sync::core::model::{Row, RowCursor};
use decision_sync::core::ports::{
    LinkedBatch, LinkedPage, NewRow, RowBatch, RowWrite, SupabasePort, WriteResult, PAGE_SIZE,
};

use super::sim::{Faults, Service, SimTime};

/// A change a user makes to a row (fields left `None` are not touched).
#[derive(Debug, Clone, Default)]
pub struct RowEdit {
    pub decision: Option<String>,
    pub kind: Option<String>,
    pub date: Option<String>,
}

impl RowEdit {
    pub fn decision(text: &str) -> Self {
        RowEdit { decision: Some(text.to_string()), ..RowEdit::default() }
    }
    pub fn kind(kind: &str) -> Self {
        RowEdit { kind: Some(kind.to_string()), ..RowEdit::default() }
    }
    pub fn date(date: &str) -> Self {
        RowEdit { date: Some(date.to_string()), ..RowEdit::default() }
    }
}

type Race = Box<dyn FnOnce(&FakeSupabase)>;

#[derive(Default)]
struct Table {
    rows: BTreeMap<String, Row>,
    last_stamp: Option<DateTime<Utc>>,
    next_id: u64,
    /// Rows inserted by the sync (`insert_rows`), by id.
    inserted_by_sync: BTreeSet<String>,
    hard_deleted: BTreeSet<String>,
}

/// The Supabase table. User-side helpers (`insert`, `edit`, …) act as a person with the SQL
/// editor would: through the trigger, without the sync's writer flag.
pub struct FakeSupabase {
    table: RefCell<Table>,
    faults: Faults,
    time: SimTime,
    /// A user action run right before the next `write_rows` request (a race with the write-back).
    race: RefCell<Option<Race>>,
    /// The API's "Max rows": no read returns more rows than this.
    max_rows: std::cell::Cell<usize>,
    /// A user action run right after the next `unlinked_rows` read (a change in mid-scan).
    after_pool_read: RefCell<Option<Race>>,
}

/// Supabase's default API "Max rows".
pub const DEFAULT_MAX_ROWS: usize = 1000;

/// A random-looking but deterministic uuid (so that id order is not creation order).
pub fn fake_uuid(prefix: u64, n: u64) -> String {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ prefix.wrapping_mul(0xD1B5_4A32_D192_ED03);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (x >> 32) as u32,
        (x >> 16) as u16,
        (x & 0xfff) as u16,
        (n & 0xfff) as u16,
        n
    )
}

fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

impl FakeSupabase {
    pub fn new(time: SimTime, faults: Faults) -> Self {
        FakeSupabase {
            table: RefCell::new(Table::default()),
            faults,
            time,
            race: RefCell::new(None),
            max_rows: std::cell::Cell::new(DEFAULT_MAX_ROWS),
            after_pool_read: RefCell::new(None),
        }
    }

    /// Sets the API's "Max rows" (a project may lower it below what the sync asks for).
    pub fn set_max_rows(&self, max_rows: usize) {
        self.max_rows.set(max_rows.max(1));
    }

    /// Runs `action` right after the next read of unlinked rows (as a user between two requests).
    pub fn after_next_pool_read(&self, action: impl FnOnce(&FakeSupabase) + 'static) {
        *self.after_pool_read.borrow_mut() = Some(Box::new(action));
    }

    fn stamp(table: &mut Table, now: DateTime<Utc>) -> DateTime<Utc> {
        let now = micros(now);
        let at = match table.last_stamp {
            Some(last) if now <= last => last + Duration::microseconds(1),
            _ => now,
        };
        table.last_stamp = Some(at);
        at
    }

    fn new_id(table: &mut Table) -> String {
        table.next_id += 1;
        fake_uuid(1, table.next_id)
    }

    // ---------------------------------------------------------------------------------------
    // User side

    /// A user inserts a row (`notion_synced` defaults to false, no page, no base).
    pub fn insert(&self, decision: &str, kind: &str, date: &str) -> String {
        let mut table = self.table.borrow_mut();
        let id = Self::new_id(&mut table);
        let at = Self::stamp(&mut table, self.time.now());
        table.rows.insert(
            id.clone(),
            Row {
                id: id.clone(),
                decision: decision.to_string(),
                kind: kind.to_string(),
                date: date.to_string(),
                created_at: at,
                updated_at: at,
                notion_page_id: None,
                notion_synced: false,
                checksum: None,
                deleted_at: None,
            },
        );
        id
    }

    /// A user update through the trigger: `updated_at` always, `notion_synced = false` when the
    /// content or the deletion state changes. Returns false when the row does not exist.
    pub fn user_update(&self, id: &str, change: impl FnOnce(&mut Row)) -> bool {
        let mut table = self.table.borrow_mut();
        let now = self.time.now();
        let at = Self::stamp(&mut table, now);
        let Some(row) = table.rows.get_mut(id) else { return false };
        let old = row.clone();
        change(row);
        row.updated_at = at;
        if row.decision != old.decision
            || row.kind != old.kind
            || row.date != old.date
            || row.deleted_at != old.deleted_at
        {
            row.notion_synced = false;
        }
        true
    }

    pub fn edit(&self, id: &str, edit: RowEdit) -> bool {
        self.user_update(id, |row| {
            if let Some(decision) = edit.decision {
                row.decision = decision;
            }
            if let Some(kind) = edit.kind {
                row.kind = kind;
            }
            if let Some(date) = edit.date {
                row.date = date;
            }
        })
    }

    pub fn set_content(&self, id: &str, decision: &str, kind: &str, date: &str) -> bool {
        self.edit(id, RowEdit { decision: Some(decision.into()), kind: Some(kind.into()), date: Some(date.into()) })
    }

    pub fn soft_delete(&self, id: &str) -> bool {
        let now = micros(self.time.now());
        self.user_update(id, |row| row.deleted_at = Some(now))
    }

    pub fn restore(&self, id: &str) -> bool {
        self.user_update(id, |row| row.deleted_at = None)
    }

    /// `delete from decision_vault where id = …`.
    pub fn hard_delete(&self, id: &str) -> bool {
        let mut table = self.table.borrow_mut();
        let existed = table.rows.remove(id).is_some();
        if existed {
            table.hard_deleted.insert(id.to_string());
        }
        existed
    }

    /// Runs `action` right before the next `write_rows` request reaches the table.
    pub fn race_before_next_write(&self, action: impl FnOnce(&FakeSupabase) + 'static) {
        *self.race.borrow_mut() = Some(Box::new(action));
    }

    /// Drops a race that did not happen (no write-back in the run).
    pub fn clear_race(&self) -> bool {
        self.race.borrow_mut().take().is_some()
    }

    // ---------------------------------------------------------------------------------------
    // Inspection

    pub fn row(&self, id: &str) -> Option<Row> {
        self.table.borrow().rows.get(id).cloned()
    }

    pub fn rows(&self) -> Vec<Row> {
        self.table.borrow().rows.values().cloned().collect()
    }

    pub fn row_by_page(&self, page_id: &str) -> Option<Row> {
        self.table.borrow().rows.values().find(|row| row.notion_page_id.as_deref() == Some(page_id)).cloned()
    }

    pub fn live_rows(&self) -> Vec<Row> {
        self.table.borrow().rows.values().filter(|row| row.deleted_at.is_none()).cloned().collect()
    }

    pub fn inserted_by_sync(&self) -> BTreeSet<String> {
        self.table.borrow().inserted_by_sync.clone()
    }

    pub fn was_hard_deleted(&self, id: &str) -> bool {
        self.table.borrow().hard_deleted.contains(id)
    }

    /// Adds many rows at once (benchmarks, big backlogs) without going through the fault layer.
    pub fn load(&self, rows: Vec<Row>) {
        let mut table = self.table.borrow_mut();
        for row in rows {
            table.last_stamp = table.last_stamp.max(Some(row.updated_at));
            table.rows.insert(row.id.clone(), row);
        }
    }

    fn apply(row: &mut Row, write: &RowWrite) {
        if let Some(content) = &write.content {
            row.decision = content.decision.clone();
            row.kind = content.kind.clone();
            row.date = content.date.clone();
        }
        if let Some(page_id) = &write.notion_page_id {
            row.notion_page_id = Some(page_id.clone());
        }
        if let Some(checksum) = &write.checksum {
            row.checksum = Some(checksum.clone());
        }
        if let Some(synced) = write.notion_synced {
            row.notion_synced = synced;
        }
        if let Some(deleted_at) = write.deleted_at {
            row.deleted_at = deleted_at;
        }
    }
}

fn check_date(date: &str) -> Result<(), PortError> {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").map(|_| ()).map_err(|_| {
        PortError::record("supabase", Some("date"), format!("invalid input syntax for type date: {date:?}"))
    })
}

impl SupabasePort for FakeSupabase {
    async fn check_schema(&self) -> Result<(), PortError> {
        let ticket = self.faults.begin(Service::Supabase, "check_schema", false)?;
        self.faults.end(ticket, ())
    }

    async fn rows_changed_after(&self, after: Option<&RowCursor>, limit: usize) -> Result<Vec<Row>, PortError> {
        let ticket = self.faults.begin(Service::Supabase, "rows_changed_after", false)?;
        let table = self.table.borrow();
        let mut rows: Vec<Row> = table
            .rows
            .values()
            .filter(|row| after.is_none_or(|after| (row.updated_at, &row.id) > (after.updated_at, &after.id)))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        rows.truncate(limit.min(self.max_rows.get()));
        drop(table);
        self.faults.end(ticket, rows)
    }

    async fn unlinked_rows(&self, after: Option<&RowCursor>, limit: usize) -> Result<RowBatch, PortError> {
        let ticket = self.faults.begin(Service::Supabase, "unlinked_rows", false)?;
        let table = self.table.borrow();
        let mut rows: Vec<Row> = table
            .rows
            .values()
            .filter(|row| row.notion_page_id.is_none() && row.deleted_at.is_none())
            .filter(|row| after.is_none_or(|after| (row.created_at, &row.id) > (after.updated_at, &after.id)))
            .cloned()
            .collect();
        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let matching = rows.len();
        rows.truncate(limit.min(self.max_rows.get()));
        drop(table);
        if let Some(action) = self.after_pool_read.borrow_mut().take() {
            action(self);
        }
        let more = matching > rows.len();
        self.faults.end(ticket, RowBatch { rows, more })
    }

    async fn linked_page_ids(&self, after: Option<&str>, limit: usize) -> Result<LinkedBatch, PortError> {
        let ticket = self.faults.begin(Service::Supabase, "linked_page_ids", false)?;
        let table = self.table.borrow();
        let mut rows: Vec<LinkedPage> = table
            .rows
            .values()
            .filter(|row| row.deleted_at.is_none() && after.is_none_or(|after| row.id.as_str() > after))
            .filter_map(|row| {
                let page_id = row.notion_page_id.clone()?;
                Some(LinkedPage { row_id: row.id.clone(), page_id })
            })
            .collect();
        rows.sort_by(|a, b| a.row_id.cmp(&b.row_id));
        let more = rows.len() > limit;
        rows.truncate(limit);
        drop(table);
        self.faults.end(ticket, LinkedBatch { pages: rows, more })
    }

    async fn rows_by_page_ids(&self, page_ids: &[String]) -> Result<Vec<Row>, PortError> {
        assert!(
            page_ids.len() <= PAGE_SIZE,
            "rows_by_page_ids called with {} ids (at most {PAGE_SIZE})",
            page_ids.len()
        );
        let ticket = self.faults.begin(Service::Supabase, "rows_by_page_ids", false)?;
        let wanted: BTreeSet<&str> = page_ids.iter().map(String::as_str).collect();
        let rows: Vec<Row> = self
            .table
            .borrow()
            .rows
            .values()
            .filter(|row| row.notion_page_id.as_deref().is_some_and(|id| wanted.contains(id)))
            .cloned()
            .collect();
        self.faults.end(ticket, rows)
    }

    async fn insert_rows(&self, rows: &[NewRow]) -> Result<Vec<Row>, PortError> {
        let ticket = self.faults.begin(Service::Supabase, "insert_rows", true)?;
        for row in rows {
            check_date(&row.content.date)?;
        }
        let mut table = self.table.borrow_mut();
        let mut inserted = 0;
        for new in rows {
            if table.rows.values().any(|row| row.notion_page_id.as_deref() == Some(new.notion_page_id.as_str())) {
                continue; // on_conflict=notion_page_id, resolution=ignore-duplicates
            }
            let id = Self::new_id(&mut table);
            let at = Self::stamp(&mut table, self.time.now());
            table.rows.insert(
                id.clone(),
                Row {
                    id: id.clone(),
                    decision: new.content.decision.clone(),
                    kind: new.content.kind.clone(),
                    date: new.content.date.clone(),
                    created_at: at,
                    updated_at: at,
                    notion_page_id: Some(new.notion_page_id.clone()),
                    // The sync inserts a row that already agrees with its page.
                    notion_synced: true,
                    checksum: Some(new.checksum.clone()),
                    deleted_at: None,
                },
            );
            table.inserted_by_sync.insert(id);
            inserted += 1;
        }
        let wanted: BTreeSet<&str> = rows.iter().map(|row| row.notion_page_id.as_str()).collect();
        let linked: Vec<Row> = table
            .rows
            .values()
            .filter(|row| row.notion_page_id.as_deref().is_some_and(|id| wanted.contains(id)))
            .cloned()
            .collect();
        drop(table);
        self.faults.wrote(Service::Supabase, inserted);
        self.faults.end(ticket, linked)
    }

    /// One request, as PostgREST's `Prefer: count=exact` read.
    async fn count_unlinked(&self) -> Result<u32, PortError> {
        let ticket = self.faults.begin(Service::Supabase, "count_unlinked", false)?;
        let n = self
            .table
            .borrow()
            .rows
            .values()
            .filter(|row| row.notion_page_id.is_none() && row.deleted_at.is_none())
            .count();
        self.faults.end(ticket, u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Two requests, as PostgREST's two `Prefer: count=exact` reads.
    async fn count_linked(&self) -> Result<LinkedCounts, PortError> {
        let count = |deleted: bool| -> Result<u32, PortError> {
            let ticket = self.faults.begin(Service::Supabase, "count_linked", false)?;
            let n =
                self.table
                    .borrow()
                    .rows
                    .values()
                    .filter(|row| row.notion_page_id.is_some())
                    .filter(|row| {
                        if deleted {
                            row.deleted_at.is_some() && !row.notion_synced
                        } else {
                            row.deleted_at.is_none()
                        }
                    })
                    .count();
            self.faults.end(ticket, u32::try_from(n).unwrap_or(u32::MAX))
        };
        let live = count(false)?;
        let deleted_unsynced = count(true)?;
        Ok(LinkedCounts { live, deleted_unsynced })
    }

    async fn write_rows(&self, writes: &[RowWrite]) -> Result<Vec<WriteResult>, PortError> {
        let race = self.race.borrow_mut().take();
        if let Some(race) = race {
            race(self);
        }
        let ticket = self.faults.begin(Service::Supabase, "write_rows", true)?;
        for write in writes {
            if let Some(content) = &write.content {
                check_date(&content.date)?;
            }
        }
        let mut table = self.table.borrow_mut();
        // One transaction: a broken unique constraint rolls every update back.
        let mut next = table.rows.clone();
        let mut results = Vec::new();
        let mut written = 0;
        for write in writes {
            let at = Self::stamp(&mut table, self.time.now());
            let applied = match next.get_mut(&write.id) {
                Some(row) if write.expected_updated_at.is_none_or(|expected| expected == row.updated_at) => {
                    Self::apply(row, write);
                    row.updated_at = at;
                    true
                }
                _ => false,
            };
            written += u64::from(applied);
            results.push(WriteResult { id: write.id.clone(), applied });
        }
        let mut seen = BTreeSet::new();
        for row in next.values() {
            if let Some(page_id) = &row.notion_page_id {
                if !seen.insert(page_id.clone()) {
                    return Err(PortError::record(
                        "supabase",
                        Some("notion_page_id"),
                        format!("duplicate key value violates unique constraint (notion_page_id)=({page_id})"),
                    ));
                }
            }
        }
        table.rows = next;
        drop(table);
        self.faults.wrote(Service::Supabase, written);
        self.faults.end(ticket, results)
    }
}
