//! The sync's decisions as tables (DESIGN.md, "Matching", "Change detection: three-way",
//! "Deletes: soft only"), tested directly on `pair::decide`, `match_by_checksum` and `plan`,
//! without the scenario world. One table row is one rule: a rule change is a one-line diff here.
//!
//! Vocabulary of the tables: `A` is the content as of the last sync (the base); `B` and `C` are
//! edits of it. Times are on 2025-01-15 (UTC); Notion's `last_edited_time` is whole minutes.
use chrono::{DateTime, Utc};
use rstest::rstest;

use decision_sync::core::content::Content;
use decision_sync::core::matching::{match_by_checksum, oldest_pages_first, oldest_rows_first};
use decision_sync::core::model::{Page, Row, Side};
use decision_sync::core::notion_date::DateWrite;
use decision_sync::core::pair::{decide, PairDecision};
use decision_sync::core::plan::{NotionWrite, Op, OpKind, Order, Plan, SupabaseWrite};
use decision_sync::core::planner::plan;
use decision_sync::core::pool_scan::PrefixSet;
use decision_sync::core::ports::{CreateIntent, NewRow, PageWrite, RowWrite};
use decision_sync::core::snapshot::Snapshot;
use decision_sync::core::state::{ConflictRecord, RecordIssue};

// ---------------------------------------------------------------------------------------------
// Builders shared by every table.
// ---------------------------------------------------------------------------------------------

/// Raw field values `(decision, type, date)`, as a user may write them.
type Fields = (&'static str, &'static str, &'static str);

const A: Fields = ("Use Postgres", "Ops", "2025-01-15");
/// `A` as a user may type it: same normal form, so the same content.
const A_MESSY: Fields = ("  Use   Postgres ", "ops", "2025-01-15");
/// `A` with only its case changed: an edit (case is kept).
const A_LOWER: Fields = ("use postgres", "Ops", "2025-01-15");
const B: Fields = ("Use MySQL", "Ops", "2025-01-15");
const C: Fields = ("Use SQLite", "Architecture", "2025-02-01");
const NO_DATE: Fields = ("Use Postgres", "Ops", "");
const BAD_DATE: Fields = ("Use Postgres", "Ops", "15/01/2025");
const COMMA_TYPE: Fields = ("Use Postgres", "Ops, UX", "2025-01-15");

const LIVE: bool = false;
const DELETED: bool = true;
const TRASHED: bool = true;
/// Row: `notion_synced = false` (the trigger marked it changed). Page: edited since the cursor.
const CHANGED: bool = true;
const CLEAN: bool = false;

/// `HH:MM[:SS]` on 2025-01-15, UTC.
fn t(time: &str) -> DateTime<Utc> {
    let time = if time.len() == 5 { format!("{time}:00") } else { time.to_string() };
    format!("2025-01-15T{time}Z").parse().expect("test time")
}

fn norm(fields: Fields) -> Content {
    Content::normalize(fields.0, fields.1, fields.2).expect("valid test content")
}

fn sum(fields: Fields) -> String {
    norm(fields).checksum()
}

/// A Notion page id from a short name: `p7` → `aaaaaaaa-0000-4000-8000-000000000007`.
fn pid(name: &str) -> String {
    let n: u64 = name.trim_start_matches('p').parse().expect("page names are p<number>");
    format!("aaaaaaaa-0000-4000-8000-{n:012}")
}

/// The short name of a page id made by [`pid`] (other ids unchanged).
fn short(id: &str) -> String {
    match id.strip_prefix("aaaaaaaa-0000-4000-8000-") {
        Some(n) => format!("p{}", n.trim_start_matches('0')),
        None => id.to_string(),
    }
}

/// A live row holding `fields`, synced: base = its own content, `notion_synced = true`.
fn row(id: &str, fields: Fields) -> Row {
    Row {
        id: id.to_string(),
        decision: fields.0.to_string(),
        kind: fields.1.to_string(),
        date: fields.2.to_string(),
        created_at: t("08:00"),
        updated_at: t("10:00"),
        notion_page_id: None,
        notion_synced: true,
        checksum: Content::normalize(fields.0, fields.1, fields.2).ok().map(|c| c.checksum()),
        deleted_at: None,
    }
}

/// A live page holding `fields`, synced: base = its own content.
fn page(name: &str, fields: Fields) -> Page {
    Page {
        id: pid(name),
        decision: fields.0.to_string(),
        types: if fields.1.is_empty() { Vec::new() } else { vec![fields.1.to_string()] },
        date: (!fields.2.is_empty()).then(|| fields.2.to_string()),
        date_value: None,
        base: Content::normalize(fields.0, fields.1, fields.2).ok().map(|c| c.checksum()),
        synced: true,
        in_trash: false,
        created_time: t("08:00"),
        last_edited_time: t("10:00"),
    }
}

/// A row linked to page `page` (a short name).
fn linked(id: &str, fields: Fields, page: &str) -> Row {
    Row { notion_page_id: Some(pid(page)), ..row(id, fields) }
}

/// A row with no page yet (never synced: no base).
fn unlinked(id: &str, fields: Fields) -> Row {
    Row { checksum: None, notion_synced: false, ..row(id, fields) }
}

/// A page never synced (empty `Checksum`), as a user creates it in Notion.
fn new_page(name: &str, fields: Fields) -> Page {
    Page { base: None, synced: false, ..page(name, fields) }
}

fn with_base_row(mut row: Row, base: Option<Fields>) -> Row {
    row.checksum = base.map(sum);
    row
}

fn with_base_page(mut page: Page, base: Option<Fields>) -> Page {
    page.base = base.map(sum);
    page
}

fn created(mut row: Row, at: &str) -> Row {
    row.created_at = t(at);
    row
}

fn created_page(mut page: Page, at: &str) -> Page {
    page.created_time = t(at);
    page
}

// ---------------------------------------------------------------------------------------------
// Expected decisions, built field by field from DESIGN.md (not from the code under test).
// ---------------------------------------------------------------------------------------------

/// The decision a table row expects for one linked pair.
#[derive(Debug, Clone, Copy)]
enum Want {
    Nothing,
    /// Row → page; the row stores the new base.
    Push,
    /// Page → row; the page stores the new base.
    Pull,
    /// Same content on both sides: store the base on the side(s) where it is stale.
    StoreBase {
        row: bool,
        page: bool,
    },
    /// Both changed, differently: the side given wins, the other version is kept as a conflict.
    Won(Side),
    /// Nothing to sync; the row the trigger marked unsynced is marked synced.
    MarkSynced,
    /// Row soft-deleted → page to trash (`mark_row`: the row is also marked synced).
    TrashPage {
        mark_row: bool,
    },
    /// Row restored → page out of trash.
    RestorePage {
        mark_row: bool,
    },
    /// Page trashed → `deleted_at` on the row (the page's `last_edited_time`).
    DeleteRow,
    /// Page restored → `deleted_at` cleared.
    RestoreRow,
    /// A per-record error on this side, about this field.
    Issue(Side, &'static str),
}

fn base_op(kind: OpKind, row: &Row, page: &Page, order: Order) -> Op {
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

/// A conditional update of the row: only if it is unchanged since it was read.
fn row_update(row: &Row) -> RowWrite {
    RowWrite { id: row.id.clone(), expected_updated_at: Some(row.updated_at), ..RowWrite::default() }
}

fn page_update(page: &Page, write: PageWrite) -> Option<NotionWrite> {
    Some(NotionWrite::Update { page_id: page.id.clone(), write })
}

fn row_content(row: &Row) -> Content {
    Content::normalize(&row.decision, &row.kind, &row.date).expect("row content")
}

fn page_content(page: &Page) -> Content {
    Content::normalize(&page.decision, &page.types[0], page.date.as_deref().unwrap_or("")).expect("page content")
}

fn push(row: &Row, page: &Page, conflict: Option<ConflictRecord>) -> Op {
    let content = row_content(row);
    let base = content.checksum();
    Op {
        notion: page_update(
            page,
            PageWrite { content: Some(content), base: Some(base.clone()), in_trash: None, date: DateWrite::Start },
        ),
        supabase: Some(SupabaseWrite::Update(RowWrite {
            checksum: Some(base),
            notion_synced: Some(true),
            ..row_update(row)
        })),
        conflict,
        ..base_op(OpKind::Push, row, page, Order::NotionFirst)
    }
}

fn pull(row: &Row, page: &Page, conflict: Option<ConflictRecord>) -> Op {
    let content = page_content(page);
    let base = content.checksum();
    Op {
        supabase: Some(SupabaseWrite::Update(RowWrite {
            content: Some(content),
            checksum: Some(base.clone()),
            notion_synced: Some(true),
            ..row_update(row)
        })),
        notion: page_update(page, PageWrite { base: Some(base), ..PageWrite::default() }),
        conflict,
        ..base_op(OpKind::Pull, row, page, Order::SupabaseFirst)
    }
}

fn conflict(row: &Row, page: &Page, winner: Side, now: DateTime<Utc>) -> ConflictRecord {
    let (kept, lost) = match winner {
        Side::Supabase => (row_content(row), page_content(page)),
        Side::Notion => (page_content(page), row_content(row)),
    };
    ConflictRecord {
        row_id: row.id.clone(),
        page_id: page.id.clone(),
        winner,
        kept,
        lost,
        row_updated_at: row.updated_at,
        page_last_edited_time: page.last_edited_time,
        detected_at: now,
    }
}

fn trash_flag(row: &Row, page: &Page, kind: OpKind, in_trash: bool, mark_row: bool) -> Op {
    Op {
        notion: page_update(page, PageWrite { in_trash: Some(in_trash), ..PageWrite::default() }),
        supabase: mark_row.then(|| SupabaseWrite::Update(RowWrite { notion_synced: Some(true), ..row_update(row) })),
        ..base_op(kind, row, page, Order::NotionFirst)
    }
}

fn deleted_at(row: &Row, page: &Page, kind: OpKind, deleted_at: Option<DateTime<Utc>>) -> Op {
    Op {
        supabase: Some(SupabaseWrite::Update(RowWrite {
            deleted_at: Some(deleted_at),
            notion_synced: Some(true),
            ..row_update(row)
        })),
        ..base_op(kind, row, page, Order::SupabaseFirst)
    }
}

fn expected(want: Want, row: &Row, page: &Page, now: DateTime<Utc>) -> PairDecision {
    let apply = |op: Op| PairDecision::Apply(Box::new(op));
    match want {
        Want::Nothing => PairDecision::Nothing,
        Want::Push => apply(push(row, page, None)),
        Want::Pull => apply(pull(row, page, None)),
        Want::Won(Side::Supabase) => apply(push(row, page, Some(conflict(row, page, Side::Supabase, now)))),
        Want::Won(Side::Notion) => apply(pull(row, page, Some(conflict(row, page, Side::Notion, now)))),
        Want::StoreBase { row: stale_row, page: stale_page } => {
            let base = row_content(row).checksum();
            apply(Op {
                supabase: stale_row.then(|| {
                    SupabaseWrite::Update(RowWrite {
                        checksum: Some(base.clone()),
                        notion_synced: Some(true),
                        ..row_update(row)
                    })
                }),
                notion: stale_page
                    .then(|| page_update(page, PageWrite { base: Some(base.clone()), ..PageWrite::default() }))
                    .flatten(),
                ..base_op(OpKind::StoreBase, row, page, Order::SupabaseFirst)
            })
        }
        Want::MarkSynced => apply(Op {
            supabase: Some(SupabaseWrite::Update(RowWrite { notion_synced: Some(true), ..row_update(row) })),
            ..base_op(OpKind::StoreBase, row, page, Order::SupabaseFirst)
        }),
        Want::TrashPage { mark_row } => apply(trash_flag(row, page, OpKind::TrashPage, true, mark_row)),
        Want::RestorePage { mark_row } => apply(trash_flag(row, page, OpKind::RestorePage, false, mark_row)),
        Want::DeleteRow => apply(deleted_at(row, page, OpKind::DeleteRow, Some(page.last_edited_time))),
        Want::RestoreRow => apply(deleted_at(row, page, OpKind::RestoreRow, None)),
        Want::Issue(side, field) => unreachable!("issues are checked by `assert_issue` ({side}, {field})"),
    }
}

/// Asserts a per-record error: side, record id and field exactly; the reason names the field.
fn assert_issue(decision: &PairDecision, side: Side, id: &str, field: &str) {
    let PairDecision::Issue(RecordIssue { side: got_side, id: got_id, field: got_field, reason }) = decision else {
        panic!("expected a per-record error on {side} {id} ({field}), got {decision:?}");
    };
    assert_eq!((*got_side, got_id.as_str(), got_field.as_deref()), (side, id, Some(field)));
    assert!(reason.contains(&format!("`{field}`")), "the reason names the field: {reason}");
}

fn assert_decision(want: Want, row: &Row, page: &Page, page_recent: bool) {
    let now = t("12:00");
    let decision = decide(row, page, page_recent, now);
    match want {
        Want::Issue(Side::Supabase, field) => assert_issue(&decision, Side::Supabase, &row.id, field),
        Want::Issue(Side::Notion, field) => assert_issue(&decision, Side::Notion, &page.id, field),
        want => assert_eq!(decision, expected(want, row, page, now), "{want:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Change detection: three-way, the stored checksum is the base.
// ---------------------------------------------------------------------------------------------

/// DESIGN.md's table, row by row: R_dirty × P_dirty × same/different content × later side × same
/// minute (Notion rounds `last_edited_time` down to the minute; the same minute goes to Supabase).
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row      page  row base  page base  row updated  page edited  → action
#[case(A,       A,    Some(A),  Some(A),   "10:00:00",  "10:00",     Want::Nothing)]                             // no/no (also our own echo)
#[case(A_MESSY, A,    Some(A),  Some(A),   "10:00:00",  "10:00",     Want::Nothing)]                             // same normal form: no edit
#[case(B,       A,    Some(A),  Some(A),   "10:00:00",  "10:00",     Want::Push)]                                // yes/no
#[case(A_LOWER, A,    Some(A),  Some(A),   "10:00:00",  "10:00",     Want::Push)]                                // a case-only edit is an edit
#[case(A,       B,    Some(A),  Some(A),   "10:00:00",  "10:00",     Want::Pull)]                                // no/yes
#[case(A,       B,    Some(A),  None,      "10:00:00",  "10:00",     Want::Pull)]                                // page's Checksum emptied: page dirty
#[case(B,       B,    Some(A),  Some(A),   "10:00:00",  "10:00",     Want::StoreBase { row: true, page: true })] // yes/yes, same
#[case(B,       C,    Some(A),  Some(A),   "10:05:30",  "10:03",     Want::Won(Side::Supabase))]                 // yes/yes, different: row later
#[case(B,       C,    Some(A),  Some(A),   "10:03:30",  "10:05",     Want::Won(Side::Notion))]                   // page later
#[case(B,       C,    Some(A),  Some(A),   "10:05:59",  "10:05",     Want::Won(Side::Supabase))]                 // same minute → Supabase
#[case(B,       C,    Some(A),  Some(A),   "10:05:00",  "10:05",     Want::Won(Side::Supabase))]                 // same minute, to the second
#[case(B,       C,    Some(A),  Some(A),   "10:04:59",  "10:05",     Want::Won(Side::Notion))]                   // the minute before loses
#[case(A,       C,    Some(A),  Some(C),   "10:05:00",  "10:03",     Want::Won(Side::Supabase))]                 // bases differ, neither dirty: no common base → conflict
#[case(A,       C,    Some(A),  Some(C),   "10:03:00",  "10:05",     Want::Won(Side::Notion))]
fn three_way(
    #[case] row_fields: Fields,
    #[case] page_fields: Fields,
    #[case] row_base: Option<Fields>,
    #[case] page_base: Option<Fields>,
    #[case] row_updated: &str,
    #[case] page_edited: &str,
    #[case] want: Want,
) {
    let row = Row { updated_at: t(row_updated), ..with_base_row(linked("r1", row_fields, "p1"), row_base) };
    let page = Page { last_edited_time: t(page_edited), ..with_base_page(page("p1", page_fields), page_base) };
    assert_decision(want, &row, &page, true);
}

/// Same content on both sides, a base stale somewhere: only the stale base is written (zero
/// writes when none is; a row the trigger marked unsynced counts as stale).
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row base  row synced  page base  → action
#[case(Some(A),  true,       Some(A),   Want::Nothing)]
#[case(Some(A),  true,       None,      Want::StoreBase { row: false, page: true })]
#[case(None,     true,       Some(A),   Want::StoreBase { row: true, page: false })]
#[case(Some(A),  false,      Some(A),   Want::StoreBase { row: true, page: false })]
#[case(Some(B),  true,       Some(C),   Want::StoreBase { row: true, page: true })]
fn same_content_stores_only_stale_bases(
    #[case] row_base: Option<Fields>,
    #[case] row_synced: bool,
    #[case] page_base: Option<Fields>,
    #[case] want: Want,
) {
    let row = Row { notion_synced: row_synced, ..with_base_row(linked("r1", A, "p1"), row_base) };
    let page = with_base_page(page("p1", A), page_base);
    assert_decision(want, &row, &page, true);
}

/// A page with several Types syncs its first (the warning is the planner's).
#[test]
fn several_types_compare_by_the_first() {
    let row = linked("r1", A, "p1");
    let page = Page { types: vec!["Ops".into(), "UX".into()], ..page("p1", A) };
    assert_decision(Want::Nothing, &row, &page, true);
}

/// Content a side cannot sync is a per-record error on that side; deleted pairs are not read for
/// content at all.
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row         page     row base  row deleted  page trashed  → action
#[case(BAD_DATE,   A,       Some(A),  LIVE,        LIVE,         Want::Issue(Side::Supabase, "date"))]
#[case(NO_DATE,    A,       Some(A),  LIVE,        LIVE,         Want::Issue(Side::Supabase, "date"))]
#[case(A,          NO_DATE, Some(A),  LIVE,        LIVE,         Want::Issue(Side::Notion, "date"))]
#[case(COMMA_TYPE, A,       Some(A),  LIVE,        LIVE,         Want::Issue(Side::Supabase, "type"))] // push refused
#[case(BAD_DATE,   A,       Some(A),  DELETED,     TRASHED,      Want::MarkSynced)]
#[case(BAD_DATE,   A,       Some(A),  DELETED,     LIVE,         Want::TrashPage { mark_row: true })]
fn content_errors(
    #[case] row_fields: Fields,
    #[case] page_fields: Fields,
    #[case] row_base: Option<Fields>,
    #[case] row_deleted: bool,
    #[case] page_trashed: bool,
    #[case] want: Want,
) {
    let mut row = with_base_row(linked("r1", row_fields, "p1"), row_base);
    if row_deleted {
        row.deleted_at = Some(t("09:00"));
        row.notion_synced = false;
    }
    let page = Page { in_trash: page_trashed, ..with_base_page(page("p1", page_fields), Some(A)) };
    assert_decision(want, &row, &page, false);
}

#[test]
fn a_decision_notion_cannot_hold_is_not_pushed() {
    let long = "x".repeat(200_001);
    let row = Row { decision: long, ..linked("r1", A, "p1") };
    assert_decision(Want::Issue(Side::Supabase, "decision"), &row, &page("p1", A), true);
}

// ---------------------------------------------------------------------------------------------
// Deletes: soft only. Who changed: a row the trigger marked unsynced changed on Supabase; a page
// edited since the Notion cursor changed on Notion. Both (or neither): the later wins, the same
// minute goes to Supabase.
// ---------------------------------------------------------------------------------------------

#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row      row changed  page     page changed  row updated  page edited  → action
#[case(DELETED, CHANGED,     LIVE,    CLEAN,        "10:00",     "10:00",     Want::TrashPage { mark_row: true })]   // row soft-deleted
#[case(LIVE,    CLEAN,       TRASHED, CHANGED,      "10:00",     "10:02",     Want::DeleteRow)]                      // page trashed
#[case(DELETED, CLEAN,       TRASHED, CLEAN,        "10:00",     "10:00",     Want::Nothing)]                        // both, already in step
#[case(DELETED, CHANGED,     TRASHED, CHANGED,      "10:00",     "10:00",     Want::MarkSynced)]                     // both deleted meanwhile
#[case(LIVE,    CHANGED,     TRASHED, CLEAN,        "10:00",     "10:00",     Want::RestorePage { mark_row: true })] // row restored
#[case(DELETED, CLEAN,       LIVE,    CHANGED,      "10:00",     "10:00",     Want::RestoreRow)]                     // page restored
#[case(DELETED, CHANGED,     LIVE,    CHANGED,      "10:05",     "10:03",     Want::TrashPage { mark_row: true })]   // row deleted while page edited: delete later
#[case(DELETED, CHANGED,     LIVE,    CHANGED,      "10:03",     "10:05",     Want::RestoreRow)]                     // … edit later: the row comes back
#[case(DELETED, CHANGED,     LIVE,    CHANGED,      "10:05:59",  "10:05",     Want::TrashPage { mark_row: true })]   // … same minute → Supabase
#[case(LIVE,    CHANGED,     TRASHED, CHANGED,      "10:05",     "10:03",     Want::RestorePage { mark_row: true })] // page trashed while row edited: edit later
#[case(LIVE,    CHANGED,     TRASHED, CHANGED,      "10:03",     "10:05",     Want::DeleteRow)]                      // … trash later
#[case(LIVE,    CHANGED,     TRASHED, CHANGED,      "10:05:30",  "10:05",     Want::RestorePage { mark_row: true })] // … same minute → Supabase
#[case(DELETED, CLEAN,       LIVE,    CLEAN,        "10:05",     "10:03",     Want::TrashPage { mark_row: false })]  // neither seen changing: later wins
#[case(DELETED, CLEAN,       LIVE,    CLEAN,        "10:03",     "10:05",     Want::RestoreRow)]
fn deletes_and_restores(
    #[case] row_deleted: bool,
    #[case] row_changed: bool,
    #[case] page_trashed: bool,
    #[case] page_changed: bool,
    #[case] row_updated: &str,
    #[case] page_edited: &str,
    #[case] want: Want,
) {
    let row = Row {
        deleted_at: row_deleted.then(|| t("09:30")),
        notion_synced: !row_changed,
        updated_at: t(row_updated),
        ..linked("r1", A, "p1")
    };
    let page = Page { in_trash: page_trashed, last_edited_time: t(page_edited), ..page("p1", A) };
    assert_decision(want, &row, &page, page_changed);
}

// ---------------------------------------------------------------------------------------------
// Matching by checksum: one-to-one, duplicates oldest first (inputs already sorted oldest first).
// ---------------------------------------------------------------------------------------------

/// `rows`/`pages`: `(name, content)` oldest first. Expected: pairs, then rows and pages left over.
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     rows                                pages                    → pairs                        rows left  pages left
#[case(&[("r1", A)],                       &[("p1", A)],            &[("r1", "p1")],               &[],       &[])]
#[case(&[("r1", A)],                       &[("p1", B)],            &[],                           &["r1"],   &["p1"])]
#[case(&[("r1", A_MESSY)],                 &[("p1", A)],            &[("r1", "p1")],               &[],       &[])]     // normal form
#[case(&[("r1", A_LOWER)],                 &[("p1", A)],            &[],                           &["r1"],   &["p1"])] // case kept
#[case(&[("r1", A), ("r2", A)],            &[("p1", A)],            &[("r1", "p1")],               &["r2"],   &[])]     // oldest row wins
#[case(&[("r1", A)],                       &[("p1", A), ("p2", A)], &[("r1", "p1")],               &[],       &["p2"])] // oldest page wins
#[case(&[("r1", A), ("r2", A)],            &[("p1", A), ("p2", A)], &[("r1", "p1"), ("r2", "p2")], &[],       &[])]     // in order, once each
#[case(&[("r1", A), ("r2", B), ("r3", A)], &[("p1", B), ("p2", A)], &[("r1", "p2"), ("r2", "p1")], &["r3"],   &[])]
#[case(&[],                                &[("p1", A)],            &[],                           &[],       &["p1"])]
fn matching_by_checksum(
    #[case] rows: &[(&str, Fields)],
    #[case] pages: &[(&str, Fields)],
    #[case] pairs: &[(&str, &str)],
    #[case] rows_left: &[&str],
    #[case] pages_left: &[&str],
) {
    let rows: Vec<Row> = rows.iter().map(|(id, fields)| unlinked(id, *fields)).collect();
    let pages: Vec<Page> = pages.iter().map(|(name, fields)| new_page(name, *fields)).collect();
    let matches = match_by_checksum(
        rows.iter().map(|row| (row, row_content(row).checksum())).collect(),
        pages.iter().map(|page| (page, page_content(page).checksum())).collect(),
    );
    let got_pairs: Vec<(String, String)> =
        matches.pairs.iter().map(|(row, page, _)| (row.id.clone(), short(&page.id))).collect();
    let want_pairs: Vec<(String, String)> = pairs.iter().map(|(r, p)| (r.to_string(), p.to_string())).collect();
    assert_eq!(got_pairs, want_pairs);
    for (row, page, sum) in &matches.pairs {
        assert_eq!((&row_content(row).checksum(), &page_content(page).checksum()), (sum, sum));
    }
    let got_rows: Vec<&str> = matches.rows.iter().map(|(row, _)| row.id.as_str()).collect();
    assert_eq!(got_rows, rows_left);
    let got_pages: Vec<String> = matches.pages.iter().map(|(page, _)| short(&page.id)).collect();
    assert_eq!(got_pages, pages_left);
}

/// Oldest first: by creation time, then by id (a stable order for equal times).
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     (id, created) as read                                 → oldest first
#[case(&[("r1", "09:00"), ("r2", "08:00")],                  &["r2", "r1"])]
#[case(&[("r2", "08:00"), ("r1", "08:00")],                  &["r1", "r2"])]
#[case(&[("r3", "10:00"), ("r1", "09:00"), ("r2", "09:00")], &["r1", "r2", "r3"])]
fn oldest_first(#[case] read: &[(&str, &str)], #[case] want: &[&str]) {
    let rows: Vec<Row> = read.iter().map(|(id, at)| created(unlinked(id, A), at)).collect();
    let mut rows: Vec<(&Row, String)> = rows.iter().map(|row| (row, sum(A))).collect();
    oldest_rows_first(&mut rows);
    assert_eq!(rows.iter().map(|(row, _)| row.id.as_str()).collect::<Vec<_>>(), want);

    let pages: Vec<Page> = read.iter().map(|(id, at)| created_page(new_page(&id.replace('r', "p"), A), at)).collect();
    let mut pages: Vec<(&Page, String)> = pages.iter().map(|page| (page, sum(A))).collect();
    oldest_pages_first(&mut pages);
    let want_pages: Vec<String> = want.iter().map(|id| id.replace('r', "p")).collect();
    assert_eq!(pages.iter().map(|(page, _)| short(&page.id)).collect::<Vec<_>>(), want_pages);
}

// ---------------------------------------------------------------------------------------------
// The planner: matching rules, orphans and per-record errors over a whole snapshot.
// ---------------------------------------------------------------------------------------------

/// A snapshot as a full pass reads it: every row and page read, every page's row looked up,
/// both pools complete; the Notion cursor at 11:00 (pages built at 10:00 are not recently
/// edited, [`trashed`] ones are). Unlinked live rows and never-synced live pages go to the pools in the
/// order given (the planner sorts them oldest first).
fn snapshot(rows: Vec<Row>, pages: Vec<Page>) -> Snapshot {
    let mut snapshot = Snapshot {
        now: t("12:00"),
        page_cursor: Some(t("11:00")),
        row_pool_complete: true,
        page_pool_complete: true,
        ..Snapshot::default()
    };
    for row in rows {
        if row.notion_page_id.is_none() && !row.is_deleted() {
            snapshot.row_pool.push(row.id.clone());
        }
        snapshot.add_row(row);
    }
    for page in pages {
        if page.base.is_none() && !page.in_trash {
            snapshot.page_pool.push(page.id.clone());
        }
        snapshot.looked_up_pages.insert(page.id.clone());
        snapshot.add_page(page);
    }
    snapshot
}

fn name(id: &Option<String>) -> String {
    id.as_deref().map(short).unwrap_or_else(|| "-".to_string())
}

/// A plan in one line per item, sorted: `<op kind> <row> <page>`, `issue <side> <id> <field>`,
/// `orphan <side> <id>`, `deferred <row> <page>`.
fn outline(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    lines.extend(plan.ops.iter().map(|op| format!("{:?} {} {}", op.kind, name(&op.row_id), name(&op.page_id))));
    lines.extend(
        plan.issues.iter().map(|issue| {
            format!("issue {} {} {}", issue.side, short(&issue.id), issue.field.as_deref().unwrap_or("-"))
        }),
    );
    lines.extend(plan.orphans.iter().map(|orphan| format!("orphan {} {}", orphan.side, short(&orphan.id))));
    lines.extend(plan.deferred.iter().map(|item| format!("deferred {} {}", name(&item.row_id), name(&item.page_id))));
    lines.sort();
    lines
}

/// Trashed in Notion after the cursor (trashing is an edit).
fn trashed(page: Page) -> Page {
    Page { in_trash: true, last_edited_time: t("11:30"), ..page }
}

fn deleted(row: Row) -> Row {
    Row { deleted_at: Some(t("09:00")), ..row }
}

/// DESIGN.md, "Matching" and "Deletes": what the planner makes of rows and pages.
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
// By link: a linked pair is judged three-way, never matched again by content.
#[case::linked_in_step(vec![linked("r1", A, "p1")], vec![page("p1", A)], &[])]
#[case::linked_edited(vec![linked("r1", A, "p1")], vec![with_base_page(page("p1", B), Some(A))], &["Pull r1 p1"])]
#[case::link_before_checksum(
    vec![linked("r1", A, "p2")], vec![new_page("p1", A), page("p2", A)], &["ImportPage - p1"])]
#[case::linked_page_not_matched_again(
    vec![linked("r1", A, "p1"), unlinked("r2", A)], vec![new_page("p1", A)],
    &["CreatePage r2 -", "StoreBase r1 p1"])]
// By checksum, one-to-one, oldest first; the rest are created / imported.
#[case::same_content_links(vec![unlinked("r1", A)], vec![new_page("p1", A)], &["Link r1 p1"])]
#[case::different_content(vec![unlinked("r1", A)], vec![new_page("p1", B)], &["CreatePage r1 -", "ImportPage - p1"])]
#[case::oldest_row_first(
    vec![created(unlinked("r1", A), "09:00"), created(unlinked("r2", A), "08:00")], vec![new_page("p1", A)],
    &["CreatePage r1 -", "Link r2 p1"])]
#[case::oldest_page_first(
    vec![unlinked("r1", A)], vec![created_page(new_page("p1", A), "09:00"), created_page(new_page("p2", A), "08:00")],
    &["ImportPage - p1", "Link r1 p2"])]
// Orphans: reported, never deleted on the other side.
#[case::duplicated_page_is_an_orphan(vec![linked("r1", A, "p1")], vec![page("p1", A), page("p2", A)], &["orphan notion p2"])]
#[case::row_deleted_for_real(vec![], vec![page("p1", A)], &["orphan notion p1"])]
#[case::trashed_page_without_row(vec![], vec![trashed(page("p1", A))], &[])]
#[case::trashed_new_page_not_imported(vec![], vec![trashed(new_page("p1", A))], &[])]
#[case::deleted_row_gets_no_page(vec![deleted(unlinked("r1", A))], vec![], &[])]
// Soft deletes through the planner.
#[case::row_soft_deleted(
    vec![Row { notion_synced: false, ..deleted(linked("r1", A, "p1")) }], vec![page("p1", A)], &["TrashPage r1 p1"])]
#[case::page_trashed(vec![linked("r1", A, "p1")], vec![trashed(page("p1", A))], &["DeleteRow r1 p1"])]
fn planner_outline(#[case] rows: Vec<Row>, #[case] pages: Vec<Page>, #[case] want: &[&str]) {
    assert_eq!(outline(&plan(&snapshot(rows, pages))), want);
}

/// Per-record errors: reported with the record id and field, and never stop the other records
/// (`r9`, a healthy row, is created in every case).
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
#[case::row_without_date(vec![unlinked("r1", NO_DATE)], vec![], &["issue supabase r1 date"])]
#[case::row_bad_date(vec![unlinked("r1", BAD_DATE)], vec![], &["issue supabase r1 date"])]
#[case::row_type_with_comma(vec![unlinked("r1", COMMA_TYPE)], vec![], &["issue supabase r1 type"])]
#[case::page_without_date(vec![], vec![new_page("p1", NO_DATE)], &["issue notion p1 date"])]
#[case::linked_row_bad_date(
    vec![with_base_row(linked("r1", BAD_DATE, "p1"), Some(A))], vec![page("p1", A)], &["issue supabase r1 date"])]
#[case::malformed_link(
    vec![Row { notion_page_id: Some("not-a-page-id".into()), ..row("r1", A) }], vec![],
    &["issue supabase r1 notion_page_id"])]
#[case::malformed_link_uppercase(
    vec![Row { notion_page_id: Some(pid("p1").to_uppercase()), ..row("r1", A) }], vec![page("p1", A)],
    &["issue supabase r1 notion_page_id", "orphan notion p1"])]
fn planner_record_errors(#[case] mut rows: Vec<Row>, #[case] pages: Vec<Page>, #[case] want: &[&str]) {
    rows.push(unlinked("r9", C));
    let mut want: Vec<String> = want.iter().map(|line| line.to_string()).collect();
    want.push("CreatePage r9 -".to_string());
    want.sort();
    assert_eq!(outline(&plan(&snapshot(rows, pages))), want);
}

#[test]
fn a_record_refused_while_reading_is_reported_and_not_planned() {
    let mut snapshot = snapshot(vec![Row { notion_synced: false, ..linked("r1", B, "p1") }], vec![]);
    snapshot.refuse(RecordIssue {
        side: Side::Notion,
        id: "r1".into(),
        field: None,
        reason: "Notion would not read its page".into(),
    });
    assert_eq!(outline(&plan(&snapshot)), ["issue notion r1 -"]);
}

/// Where the run has not read everything it needs, the item waits (never guessed).
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row pool complete  page pool complete  → outline
#[case(true,              true,               &["CreatePage r1 -", "ImportPage - p1"])]
#[case(false,             true,               &["CreatePage r1 -", "deferred - p1"])]
#[case(true,              false,              &["ImportPage - p1", "deferred r1 -"])]
#[case(false,             false,              &["deferred - p1", "deferred r1 -"])]
fn incomplete_pools_defer(#[case] rows_complete: bool, #[case] pages_complete: bool, #[case] want: &[&str]) {
    let mut snapshot = snapshot(vec![unlinked("r1", A)], vec![new_page("p1", B)]);
    snapshot.row_pool_complete = rows_complete;
    snapshot.page_pool_complete = pages_complete;
    assert_eq!(outline(&plan(&snapshot)), want);
}

/// What the digest of the row scan may hold (`Digest::*`): the checksum prefixes of every
/// unlinked row, when the run cannot read the whole row pool.
#[derive(Debug, Clone, Copy)]
enum Digest {
    /// Not current this run (no complete scan yet, or its tail was not read to the end).
    NotCurrent,
    Empty,
    /// Holds the checksum of content `B` (the page's).
    WithB,
    /// Holds a checksum sharing B's first 32 bits only (another content).
    WithBsPrefix,
    /// Holds only `A` (the unlinked row's).
    WithA,
}

fn digest(which: Digest) -> Option<PrefixSet> {
    let mut set = PrefixSet::default();
    match which {
        Digest::NotCurrent => return None,
        Digest::Empty => {}
        Digest::WithB => set.add_sums([sum(B).as_str()]),
        Digest::WithBsPrefix => {
            let twin = format!("{}{}", &sum(B)[..8], "0".repeat(56));
            assert_ne!(twin, sum(B));
            set.add_sums([twin.as_str()]);
        }
        Digest::WithA => set.add_sums([sum(A).as_str()]),
    }
    Some(set)
}

/// A page no row read this run matches is imported when no unlinked row can have its content:
/// the whole row pool was read this run, or the digest of the row scan (current this run) has no
/// checksum with the page's prefix. Otherwise it waits; a match read in the same run links.
/// Rows are created only once the page pool was read whole (the digest is about rows only).
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row pool read whole  digest                  page pool whole  row with B read  → outline
#[case(false,               Digest::NotCurrent,     true,            false,           &["CreatePage r1 -", "deferred - p1"])]
#[case(false,               Digest::Empty,          true,            false,           &["CreatePage r1 -", "ImportPage - p1"])]
#[case(false,               Digest::WithA,          true,            false,           &["CreatePage r1 -", "ImportPage - p1"])]
#[case(false,               Digest::WithB,          true,            false,           &["CreatePage r1 -", "deferred - p1"])]
#[case(false,               Digest::WithBsPrefix,   true,            false,           &["CreatePage r1 -", "deferred - p1"])] // a prefix twin waits, never a duplicate
#[case(false,               Digest::WithB,          true,            true,            &["CreatePage r1 -", "Link r2 p1"])]    // its row read this run: linked
#[case(true,                Digest::WithB,          true,            false,           &["CreatePage r1 -", "ImportPage - p1"])] // a whole read is exact
#[case(false,               Digest::Empty,          false,           false,           &["ImportPage - p1", "deferred r1 -"])]  // no digest of pages: rows wait
fn the_row_digest_decides_imports(
    #[case] rows_whole: bool,
    #[case] which: Digest,
    #[case] pages_whole: bool,
    #[case] row_with_b: bool,
    #[case] want: &[&str],
) {
    let mut rows = vec![unlinked("r1", A)];
    if row_with_b {
        rows.push(unlinked("r2", B));
    }
    let mut snapshot = snapshot(rows, vec![new_page("p1", B)]);
    snapshot.row_pool_complete = rows_whole;
    snapshot.page_pool_complete = pages_whole;
    snapshot.unlinked_row_sums = digest(which);
    assert_eq!(outline(&plan(&snapshot)), want);
}

/// A linked row whose page this run did not read: waits if it changed, else nothing; a page
/// known gone makes the row an orphan (unless the row is deleted too).
#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row                                                    page missing  → outline
#[case(linked("r1", A, "p1"),                                 false,        &[])]
#[case(Row { notion_synced: false, ..linked("r1", A, "p1") }, false,        &["deferred r1 p1"])]
#[case(with_base_row(linked("r1", B, "p1"), Some(A)),         false,        &["deferred r1 p1"])]
#[case(linked("r1", A, "p1"),                                 true,         &["orphan supabase r1"])]
#[case(deleted(linked("r1", A, "p1")),                        true,         &[])]
fn linked_row_without_its_page(#[case] row: Row, #[case] missing: bool, #[case] want: &[&str]) {
    let mut snapshot = snapshot(vec![row], vec![]);
    if missing {
        snapshot.missing_pages.insert(pid("p1"));
    }
    assert_eq!(outline(&plan(&snapshot)), want);
}

/// The writes of link, import and create, exactly (the outline tables name only kind and ids).
#[test]
fn link_import_and_create_write_the_base_on_both_sides() {
    let r1 = unlinked("r1", A);
    let r2 = unlinked("r2", B);
    let p1 = new_page("p1", A_MESSY);
    let p2 = new_page("p2", C);
    let plan = plan(&snapshot(vec![r1.clone(), r2.clone()], vec![p1.clone(), p2.clone()]));
    let base_only =
        |page: &Page, fields: Fields| page_update(page, PageWrite { base: Some(sum(fields)), ..PageWrite::default() });
    let link = Op {
        supabase: Some(SupabaseWrite::Update(RowWrite {
            notion_page_id: Some(p1.id.clone()),
            checksum: Some(sum(A)),
            notion_synced: Some(true),
            ..row_update(&r1)
        })),
        notion: base_only(&p1, A),
        ..base_op(OpKind::Link, &r1, &p1, Order::SupabaseFirst)
    };
    let import = Op {
        kind: OpKind::ImportPage,
        row_id: None,
        page_id: Some(p2.id.clone()),
        order: Order::SupabaseFirst,
        supabase: Some(SupabaseWrite::Insert(NewRow {
            content: norm(C),
            notion_page_id: p2.id.clone(),
            checksum: sum(C),
        })),
        notion: base_only(&p2, C),
        conflict: None,
    };
    let create = Op {
        kind: OpKind::CreatePage,
        row_id: Some(r2.id.clone()),
        page_id: None,
        order: Order::NotionFirst,
        notion: Some(NotionWrite::Create { content: norm(B), base: sum(B) }),
        supabase: Some(SupabaseWrite::Update(RowWrite {
            checksum: Some(sum(B)),
            notion_synced: Some(true),
            ..row_update(&r2)
        })),
        conflict: None,
    };
    assert_eq!(plan.ops, vec![link, import, create]);
}

/// Notion's "Duplicate" copies the `Checksum`: the copy looks synced, so it is reported with the
/// fix, never imported silently.
#[test]
fn a_duplicated_page_is_reported_with_the_fix() {
    let plan = plan(&snapshot(vec![linked("r1", A, "p1")], vec![page("p1", A), page("p2", A)]));
    assert_eq!(plan.ops, []);
    let [orphan] = plan.orphans.as_slice() else { panic!("one orphan: {:?}", plan.orphans) };
    assert_eq!((orphan.side, short(&orphan.id)), (Side::Notion, "p2".to_string()));
    assert!(orphan.reason.contains("empty its Checksum property to import it"), "{}", orphan.reason);
}

// ---------------------------------------------------------------------------------------------
// A create is never repeated: the intent journaled before a create (at 09:00, for base `A`) lets
// the next run find the page and link it instead of creating another.
// ---------------------------------------------------------------------------------------------

/// How the link an intent leads to writes the row: `synced`, `unsynced` (the next run pushes or
/// trashes), `synced, deleted` (the page was trashed before the link); `-` when there is no link.
fn adopted(plan: &Plan) -> &'static str {
    let write = plan.ops.iter().find(|op| op.kind == OpKind::Link).and_then(|op| match &op.supabase {
        Some(SupabaseWrite::Update(write)) => Some(write),
        _ => None,
    });
    match write.map(|write| (write.notion_synced, write.deleted_at.is_some())) {
        None => "-",
        Some((Some(true), false)) => "synced",
        Some((Some(false), false)) => "unsynced",
        Some((Some(true), true)) => "synced, deleted",
        Some(other) => panic!("unexpected link write {other:?}"),
    }
}

#[rustfmt::skip] // the tables are aligned by hand, one rule per line
#[rstest]
//     row                         page found (created at)                              base searched  → outline             row written
#[case(unlinked("r1", A),          Some(created_page(page("p1", A), "09:00")),          true,          &["Link r1 p1"],      "synced")]          // crash before the link
#[case(unlinked("r1", B),          Some(created_page(page("p1", A), "09:00")),          true,          &["Link r1 p1"],      "unsynced")]        // … row edited since
#[case(unlinked("r1", A),          Some(trashed(created_page(page("p1", A), "09:00"))), true,          &["Link r1 p1"],      "synced, deleted")] // … page trashed since
#[case(deleted(unlinked("r1", A)), Some(created_page(page("p1", A), "09:00")),          true,          &["Link r1 p1"],      "unsynced")]        // … row deleted since
#[case(unlinked("r1", A),          Some(created_page(page("p1", A), "09:00")),          false,         &["deferred r1 -"],   "-")]               // not looked for yet
#[case(unlinked("r1", A),          None,                                                true,          &["CreatePage r1 -"], "-")]               // the create never happened
#[case(unlinked("r1", A),          Some(created_page(page("p1", A), "08:00")),          true,          &["CreatePage r1 -"], "-")]               // an older page is not it
fn create_intents(
    #[case] row: Row,
    #[case] page: Option<Page>,
    #[case] searched: bool,
    #[case] want: &[&str],
    #[case] row_written: &str,
) {
    let mut snapshot = snapshot(vec![row], page.into_iter().collect());
    snapshot.intents.push(CreateIntent { row_id: "r1".into(), base: sum(A), at: t("09:00") });
    if searched {
        snapshot.intent_bases_searched.insert(sum(A));
    }
    let plan = plan(&snapshot);
    assert_eq!((outline(&plan), adopted(&plan)), (want.iter().map(|line| line.to_string()).collect(), row_written));
}
