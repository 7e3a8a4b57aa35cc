//! Three-way decision for one linked row/page pair; the stored checksum is the base.
use crate::content::{Content, ContentError};
use crate::model::{Page, Row, Side};
use crate::notion_date::date_for_push;
use crate::plan::{NotionWrite, Op, OpKind, Order, SupabaseWrite};
use crate::ports::{PageWrite, RowWrite};
use crate::state::{ConflictRecord, RecordIssue};
use crate::time::floor_minute;
use chrono::{DateTime, Utc};

/// What to do with one pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairDecision {
    Nothing,
    Apply(Box<Op>),
    Issue(RecordIssue),
}

/// The content of a row in normal form.
pub fn row_content(row: &Row) -> Result<Content, ContentError> {
    Content::normalize(&row.decision, &row.kind, &row.date)
}

/// The content of a page in normal form (first `Type` value; several is a warning elsewhere).
pub fn page_content(page: &Page) -> Result<Content, ContentError> {
    let kind = page.types.first().map(String::as_str).unwrap_or("");
    Content::normalize(&page.decision, kind, page.date.as_deref().unwrap_or(""))
}

/// Later side wins; the same minute (Notion rounds down) → Supabase.
pub fn later_side(row_updated_at: DateTime<Utc>, page_last_edited: DateTime<Utc>) -> Side {
    if floor_minute(row_updated_at) >= floor_minute(page_last_edited) {
        Side::Supabase
    } else {
        Side::Notion
    }
}

pub fn issue(side: Side, id: &str, error: &ContentError) -> RecordIssue {
    RecordIssue { side, id: id.to_string(), field: Some(error.field().to_string()), reason: error.to_string() }
}

/// Decides one linked pair. `page_recent` says whether the page changed since the Notion cursor.
pub fn decide(row: &Row, page: &Page, page_recent: bool, now: DateTime<Utc>) -> PairDecision {
    if row.is_deleted() != page.in_trash {
        return decide_deletion(row, page, page_recent);
    }
    if row.is_deleted() {
        return mark_synced(row, page);
    }
    let row_content = match row_content(row) {
        Ok(content) => content,
        Err(error) => return PairDecision::Issue(issue(Side::Supabase, &row.id, &error)),
    };
    let page_content = match page_content(page) {
        Ok(content) => content,
        Err(error) => return PairDecision::Issue(issue(Side::Notion, &page.id, &error)),
    };
    decide_content(row, page, row_content, page_content, now)
}

fn decide_content(row: &Row, page: &Page, rc: Content, pc: Content, now: DateTime<Utc>) -> PairDecision {
    let row_sum = rc.checksum();
    let page_sum = pc.checksum();
    if row_sum == page_sum {
        return store_base(row, page, &row_sum);
    }
    let row_dirty = row.checksum.as_deref() != Some(row_sum.as_str());
    let page_dirty = page.base.as_deref() != Some(page_sum.as_str());
    match (row_dirty, page_dirty) {
        (true, false) => push(row, page, rc, None),
        (false, true) => pull(row, page, pc, None),
        // Both changed; or neither changed against its own base but the bases differ (a write
        // applied on one side only, then the other side reverted to its base by a user): there
        // is no common base, so this is a conflict too, and the later edit wins.
        (true, true) | (false, false) => {
            let winner = later_side(row.updated_at, page.last_edited_time);
            let (kept, lost) = match winner {
                Side::Supabase => (rc.clone(), pc.clone()),
                Side::Notion => (pc.clone(), rc.clone()),
            };
            let record = ConflictRecord {
                row_id: row.id.clone(),
                page_id: page.id.clone(),
                winner,
                kept,
                lost,
                row_updated_at: row.updated_at,
                page_last_edited_time: page.last_edited_time,
                detected_at: now,
            };
            match winner {
                Side::Supabase => push(row, page, rc, Some(record)),
                Side::Notion => pull(row, page, pc, Some(record)),
            }
        }
    }
}

fn row_write(row: &Row) -> RowWrite {
    RowWrite { id: row.id.clone(), expected_updated_at: Some(row.updated_at), ..RowWrite::default() }
}

fn op(kind: OpKind, row: &Row, page: &Page, order: Order) -> Op {
    Op {
        kind,
        row_id: Some(row.id.clone()),
        page_id: Some(page.id.clone()),
        order,
        notion: None,
        supabase: None,
        conflict: None,
    }
}

fn push(row: &Row, page: &Page, content: Content, conflict: Option<ConflictRecord>) -> PairDecision {
    if let Err(error) = content.validate_for_notion() {
        return PairDecision::Issue(issue(Side::Supabase, &row.id, &error));
    }
    let base = content.checksum();
    // The row holds a date only: keep what it cannot hold of the page's Date (end, time).
    let date = date_for_push(page.date_value.as_ref(), &content.date);
    let mut push = op(OpKind::Push, row, page, Order::NotionFirst);
    push.notion = Some(NotionWrite::Update {
        page_id: page.id.clone(),
        write: PageWrite { content: Some(content), base: Some(base.clone()), in_trash: None, date },
    });
    push.supabase =
        Some(SupabaseWrite::Update(RowWrite { checksum: Some(base), notion_synced: Some(true), ..row_write(row) }));
    push.conflict = conflict;
    PairDecision::Apply(Box::new(push))
}

fn pull(row: &Row, page: &Page, content: Content, conflict: Option<ConflictRecord>) -> PairDecision {
    let base = content.checksum();
    let mut pull = op(OpKind::Pull, row, page, Order::SupabaseFirst);
    pull.supabase = Some(SupabaseWrite::Update(RowWrite {
        content: Some(content),
        checksum: Some(base.clone()),
        notion_synced: Some(true),
        ..row_write(row)
    }));
    pull.notion = Some(NotionWrite::Update {
        page_id: page.id.clone(),
        write: PageWrite { content: None, base: Some(base), in_trash: None, ..PageWrite::default() },
    });
    pull.conflict = conflict;
    PairDecision::Apply(Box::new(pull))
}

/// Both sides hold the same content: store the base where it is stale (zero writes when none is).
fn store_base(row: &Row, page: &Page, sum: &str) -> PairDecision {
    let row_stale = row.checksum.as_deref() != Some(sum) || !row.notion_synced;
    let page_stale = page.base.as_deref() != Some(sum);
    if !row_stale && !page_stale {
        return PairDecision::Nothing;
    }
    let mut store = op(OpKind::StoreBase, row, page, Order::SupabaseFirst);
    if row_stale {
        store.supabase = Some(SupabaseWrite::Update(RowWrite {
            checksum: Some(sum.to_string()),
            notion_synced: Some(true),
            ..row_write(row)
        }));
    }
    if page_stale {
        store.notion = Some(NotionWrite::Update {
            page_id: page.id.clone(),
            write: PageWrite { content: None, base: Some(sum.to_string()), in_trash: None, ..PageWrite::default() },
        });
    }
    PairDecision::Apply(Box::new(store))
}

/// Nothing to sync, but a row the trigger marked unsynced is marked synced again.
fn mark_synced(row: &Row, page: &Page) -> PairDecision {
    if row.notion_synced {
        return PairDecision::Nothing;
    }
    let mut mark = op(OpKind::StoreBase, row, page, Order::SupabaseFirst);
    mark.supabase = Some(SupabaseWrite::Update(RowWrite { notion_synced: Some(true), ..row_write(row) }));
    PairDecision::Apply(Box::new(mark))
}

/// One side is deleted and the other is not: who changed last?
/// A row the trigger marked unsynced changed on the Supabase side; a page edited since the
/// cursor changed on the Notion side; when both (or neither) did, the later edit wins and the
/// same minute goes to Supabase.
fn decide_deletion(row: &Row, page: &Page, page_recent: bool) -> PairDecision {
    let row_changed = !row.notion_synced;
    let winner = match (row_changed, page_recent) {
        (true, false) => Side::Supabase,
        (false, true) => Side::Notion,
        _ => later_side(row.updated_at, page.last_edited_time),
    };
    match winner {
        Side::Supabase => {
            let kind = if row.is_deleted() { OpKind::TrashPage } else { OpKind::RestorePage };
            let mut change = op(kind, row, page, Order::NotionFirst);
            change.notion = Some(NotionWrite::Update {
                page_id: page.id.clone(),
                write: PageWrite {
                    content: None,
                    base: None,
                    in_trash: Some(row.is_deleted()),
                    ..PageWrite::default()
                },
            });
            if !row.notion_synced {
                change.supabase = Some(SupabaseWrite::Update(RowWrite { notion_synced: Some(true), ..row_write(row) }));
            }
            PairDecision::Apply(Box::new(change))
        }
        Side::Notion => {
            let kind = if page.in_trash { OpKind::DeleteRow } else { OpKind::RestoreRow };
            let mut change = op(kind, row, page, Order::SupabaseFirst);
            let deleted_at = if page.in_trash { Some(page.last_edited_time) } else { None };
            change.supabase = Some(SupabaseWrite::Update(RowWrite {
                deleted_at: Some(deleted_at),
                notion_synced: Some(true),
                ..row_write(row)
            }));
            PairDecision::Apply(Box::new(change))
        }
    }
}
