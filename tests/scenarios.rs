//! Scenario tests of the sync core against the in-memory fakes, case by case.
mod support;

use chrono::Duration;
use decision_sync::core::content::Content;
use decision_sync::core::model::Side;
use decision_sync::core::report::RunOutcome;
use decision_sync::core::schema_check::SchemaCheck;
use decision_sync::health::{self, ConfigStatus};
use support::notion::{PageEdit, TrashReading};
use support::supabase::RowEdit;
use support::world::{Writes, DEFAULT_BUDGET};
use support::{Fault, Service, World};

const DAY: &str = "2025-08-07";

fn content(decision: &str, kind: &str, date: &str) -> Content {
    Content::normalize(decision, kind, date).expect("valid content")
}

fn page_content_of(w: &World, page_id: &str) -> Content {
    support::world::content_of_page(&w.notion.page(page_id).expect("page exists")).expect("page content")
}

fn row_content_of(w: &World, row_id: &str) -> Content {
    support::world::content_of_row(&w.supabase.row(row_id).expect("row exists")).expect("row content")
}

/// Syncs a world where one row and its page agree, then clears the counters' baseline.
fn linked_pair(w: &World, decision: &str, kind: &str) -> (String, String) {
    let row = w.supabase.insert(decision, kind, DAY);
    w.sync();
    let page = w.page_of(&row).expect("page created").id;
    w.assert_converged();
    (row, page)
}

fn writes_of(w: &World, action: impl FnOnce()) -> Writes {
    let before = w.writes();
    action();
    w.writes().since(before)
}

// ---------------------------------------------------------------------------------------------
// First sync

#[test]
fn first_sync_rows_only_creates_one_page_per_row() {
    let w = World::new();
    let a = w.supabase.insert("Use Postgres", "Architecture", "2025-01-02");
    let b = w.supabase.insert("Weekly on-call", "ops", "2025-01-03");
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_created, 2);
    assert_eq!(w.live_counts(), (2, 2));
    assert_eq!(page_content_of(&w, &w.page_of(&a).unwrap().id), content("Use Postgres", "Architecture", "2025-01-02"));
    // The known option is written in its canonical spelling.
    assert_eq!(w.page_of(&b).unwrap().types, vec!["Ops".to_string()]);
    w.assert_converged();
    assert!(w.lock.intents().is_empty(), "intents are cleared once the rows are linked");
}

#[test]
fn first_sync_pages_only_inserts_one_row_per_page() {
    let w = World::new();
    let p = w.notion.create("Adopt Rust", &["Architecture"], Some("2025-02-01"));
    let q = w.notion.create("Blameless postmortems", &["Policy"], Some("2025-02-02T09:30:00.000+09:00"));
    let run = w.sync();
    assert_eq!(run.summary.counts.rows_inserted, 2);
    assert_eq!(w.live_counts(), (2, 2));
    assert_eq!(row_content_of(&w, &w.row_of(&q).unwrap().id).date, "2025-02-02", "date part as written, not UTC");
    assert!(w.row_of(&p).unwrap().notion_synced);
    w.assert_converged();
}

#[test]
fn first_sync_with_equal_content_links_without_duplicating() {
    let w = World::new();
    let row = w.supabase.insert("  Use   Postgres ", "architecture", DAY);
    let page = w.notion.create("Use Postgres", &["Architecture"], Some(DAY));
    let run = w.sync();
    assert_eq!(run.summary.counts.links, 1);
    assert_eq!((run.summary.counts.pages_created, run.summary.counts.rows_inserted), (0, 0));
    assert_eq!(w.supabase.row(&row).unwrap().notion_page_id.as_deref(), Some(page.as_str()));
    assert_eq!(w.live_counts(), (1, 1));
    w.assert_converged();
}

#[test]
fn duplicate_rows_match_the_oldest_and_the_rest_get_pages() {
    let w = World::new();
    let old = w.supabase.insert("Same", "Ops", DAY);
    w.time.advance_secs(5);
    let young = w.supabase.insert("Same", "Ops", DAY);
    let page = w.notion.create("Same", &["Ops"], Some(DAY));
    let run = w.sync();
    assert_eq!((run.summary.counts.links, run.summary.counts.pages_created), (1, 1));
    assert_eq!(w.supabase.row(&old).unwrap().notion_page_id.as_deref(), Some(page.as_str()));
    assert_ne!(w.page_of(&young).unwrap().id, page);
    assert_eq!(w.live_counts(), (2, 2));
    w.assert_converged();
}

#[test]
fn duplicate_pages_match_the_oldest_and_the_rest_get_rows() {
    let w = World::new();
    let old = w.notion.create("Same", &["Ops"], Some(DAY));
    w.time.advance_secs(120);
    let young = w.notion.create("Same", &["Ops"], Some(DAY));
    let row = w.supabase.insert("Same", "Ops", DAY);
    let run = w.sync();
    assert_eq!((run.summary.counts.links, run.summary.counts.rows_inserted), (1, 1));
    assert_eq!(w.supabase.row(&row).unwrap().notion_page_id.as_deref(), Some(old.as_str()));
    assert!(w.row_of(&young).is_some());
    assert_eq!(w.live_counts(), (2, 2));
    w.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// Edits

#[test]
fn row_edit_is_pushed_to_the_page() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Use Postgres", "Architecture");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Use PostgreSQL 16"));
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_updated, 1);
    assert_eq!(page_content_of(&w, &page).decision, "Use PostgreSQL 16");
    w.assert_converged();
}

#[test]
fn page_edit_is_pulled_into_the_row() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Use Postgres", "Architecture");
    w.time.advance_secs(60);
    w.notion.edit(&page, PageEdit { date: Some(Some("2025-09-01".into())), ..PageEdit::types(&["Ops"]) });
    let run = w.sync();
    assert_eq!(run.summary.counts.rows_updated, 1);
    assert_eq!(row_content_of(&w, &row), content("Use Postgres", "Ops", "2025-09-01"));
    w.assert_converged();
}

#[test]
fn case_only_edit_syncs_both_ways() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "use postgres", "Architecture");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Use Postgres"));
    w.sync();
    assert_eq!(page_content_of(&w, &page).decision, "Use Postgres");
    w.time.advance_secs(60);
    w.notion.edit(&page, PageEdit::decision("USE POSTGRES"));
    w.sync();
    assert_eq!(w.supabase.row(&row).unwrap().decision, "USE POSTGRES");
    w.assert_converged();
}

#[test]
fn whitespace_only_edit_is_not_an_edit() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Use Postgres", "Ops");
    let page_before = w.notion.stored(&page).unwrap();
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("  Use \t  Postgres  "));
    let writes = writes_of(&w, || {
        w.sync();
    });
    assert_eq!(writes.notion, 0, "nothing to push: the normal form did not change");
    assert_eq!(w.notion.stored(&page).unwrap(), page_before);
    // The trigger marked the row unsynced; the sync only marks it synced again, text untouched.
    assert_eq!(w.supabase.row(&row).unwrap().decision, "  Use \t  Postgres  ");
    w.assert_converged();
    w.time.advance_secs(60);
    w.notion.edit(&page, PageEdit::decision("Use   Postgres "));
    w.notion.edit(&page, PageEdit::types(&["ops"]));
    let writes = writes_of(&w, || {
        w.sync();
    });
    assert_eq!(writes.to_services(), 0, "a whitespace/case-of-known-type edit in Notion writes nothing");
    w.assert_converged();
}

#[test]
fn a_second_sync_after_convergence_writes_nothing() {
    let w = World::new();
    w.supabase.insert("A", "Ops", DAY);
    w.notion.create("B", &["UX"], Some(DAY));
    let (row, page) = linked_pair(&w, "C", "Policy");
    w.time.advance_secs(30);
    w.supabase.edit(&row, RowEdit::kind("UX"));
    w.notion.create("D", &["Other"], Some(DAY));
    w.sync();
    w.assert_converged();
    // Our own writes come back in the next windows (edited pages, updated rows): recognised.
    let writes = writes_of(&w, || {
        let run = w.sync();
        assert_eq!(run.summary.outcome, RunOutcome::Ok);
        assert!(run.plan.ops.is_empty(), "no ops planned: {:?}", run.plan.ops);
    });
    assert_eq!((writes.supabase, writes.notion), (0, 0));
    assert!(w.notion.page(&page).is_some());
}

// ---------------------------------------------------------------------------------------------
// Conflicts

#[test]
fn conflict_later_notion_edit_wins_and_the_row_version_is_kept() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Original", "Ops");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Row version"));
    w.time.advance_secs(120);
    w.notion.edit(&page, PageEdit::decision("Page version"));
    let run = w.sync();
    assert_eq!(run.summary.counts.conflicts, 1);
    assert_eq!(w.supabase.row(&row).unwrap().decision, "Page version");
    let kept = w.state.kept_conflicts();
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].winner, kept[0].lost.decision.as_str()), (Side::Notion, "Row version"));
    w.assert_converged();
}

#[test]
fn conflict_later_row_edit_wins_and_the_page_version_is_kept() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Original", "Ops");
    w.time.advance_secs(60);
    w.notion.edit(&page, PageEdit::decision("Page version"));
    w.time.advance_secs(120);
    w.supabase.edit(&row, RowEdit::decision("Row version"));
    w.sync();
    assert_eq!(page_content_of(&w, &page).decision, "Row version");
    let kept = w.state.kept_conflicts();
    assert_eq!((kept[0].winner, kept[0].lost.decision.as_str()), (Side::Supabase, "Page version"));
    w.assert_converged();
}

#[test]
fn conflict_in_the_same_minute_goes_to_supabase() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Original", "Ops");
    // Both edits in one minute, the Notion one seconds later: Notion's minute rounding cannot
    // tell them apart, so Supabase wins.
    let start = w.time.now();
    let next_minute = support::world::next_minute(start);
    w.time.advance(next_minute - start + Duration::seconds(1));
    w.supabase.edit(&row, RowEdit::decision("Row version"));
    w.time.advance_secs(30);
    w.notion.edit(&page, PageEdit::decision("Page version"));
    w.sync();
    assert_eq!(page_content_of(&w, &page).decision, "Row version");
    let kept = w.state.kept_conflicts();
    assert_eq!((kept[0].winner, kept[0].lost.decision.as_str()), (Side::Supabase, "Page version"));
    w.assert_converged();
}

#[test]
fn both_sides_edited_to_the_same_content_only_store_the_base() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Original", "Ops");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Same new"));
    w.notion.edit(&page, PageEdit::decision("Same  new"));
    let run = w.sync();
    assert_eq!(run.summary.counts.conflicts, 0);
    assert!(w.state.kept_conflicts().is_empty());
    w.assert_converged();
}

// ---------------------------------------------------------------------------------------------
// Deletes

#[test]
fn trashing_a_page_soft_deletes_its_row_and_restoring_it_restores_the_row() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Temporary", "Other");
    w.time.advance_secs(90);
    w.notion.trash(&page);
    let run = w.sync();
    assert_eq!(run.summary.counts.rows_deleted, 1);
    assert!(w.supabase.row(&row).unwrap().deleted_at.is_some());
    w.assert_converged();
    w.time.advance_secs(90);
    w.notion.restore(&page);
    let run = w.sync();
    assert_eq!(run.summary.counts.rows_restored, 1);
    assert!(w.supabase.row(&row).unwrap().deleted_at.is_none());
    w.assert_converged();
    assert_eq!(w.sync_until_quiet(), 1);
}

#[test]
fn soft_deleting_a_row_trashes_its_page_and_restoring_it_restores_the_page() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Temporary", "Other");
    w.time.advance_secs(90);
    w.supabase.soft_delete(&row);
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_trashed, 1);
    assert!(w.notion.page(&page).unwrap().in_trash);
    w.assert_converged();
    w.time.advance_secs(90);
    w.supabase.restore(&row);
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_restored, 1);
    assert!(!w.notion.page(&page).unwrap().in_trash);
    w.assert_converged();
    assert_eq!(w.sync_until_quiet(), 1);
}

#[test]
fn a_row_edited_while_deleted_syncs_its_content_after_restore() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Temporary", "Other");
    w.time.advance_secs(90);
    w.supabase.soft_delete(&row);
    w.sync();
    w.time.advance_secs(90);
    w.supabase.edit(&row, RowEdit::decision("Edited in the bin"));
    w.supabase.restore(&row);
    w.sync_until_quiet();
    assert_eq!(page_content_of(&w, &page).decision, "Edited in the bin");
    assert!(!w.notion.page(&page).unwrap().in_trash);
    w.assert_converged();
}

#[test]
fn a_hard_deleted_row_named_by_the_supabase_webhook_is_an_orphan_at_the_next_run() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Will vanish", "Ops");
    // An hour later the page is outside every window: only the webhook names it.
    w.time.advance_secs(3600);
    w.sync_until_quiet();
    w.supabase.hard_delete(&row);
    // The DELETE delivery carries old_record.notion_page_id: the run reads that page directly.
    w.marked_pages.borrow_mut().push(page.clone());
    let writes = writes_of(&w, || {
        w.sync_until_quiet();
    });
    assert_eq!(writes.to_services(), 0, "nothing deleted or written on either side");
    let orphans = w.state.state().orphans;
    assert!(orphans.iter().any(|o| o.side == Side::Notion && o.id == page), "orphan reported: {orphans:?}");
    assert_eq!(w.live_counts(), (0, 1), "no row re-imported for the orphan page");
}

#[test]
fn hard_deleted_row_is_reported_as_orphan_and_its_page_is_kept() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Will vanish", "Ops");
    w.supabase.hard_delete(&row);
    w.sync_until_quiet();
    w.wait_a_day();
    let writes = writes_of(&w, || {
        w.sync_until_quiet();
    });
    assert_eq!(writes.to_services(), 0, "nothing deleted or written on either side");
    let page_now = w.notion.page(&page).expect("the page is never deleted");
    assert!(!page_now.in_trash);
    let orphans = w.state.state().orphans;
    assert!(orphans.iter().any(|o| o.side == Side::Notion && o.id == page), "orphan reported: {orphans:?}");
    assert_eq!(w.live_counts(), (0, 1), "no row re-imported for the orphan page");
}

#[test]
fn page_deleted_for_good_is_reported_as_orphan_and_the_row_is_kept() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Will vanish", "Ops");
    w.notion.purge(&page);
    w.time.advance_secs(60);
    // A changed row looks its page up: the orphan is found by an incremental run.
    w.supabase.edit(&row, RowEdit::decision("Edited after"));
    w.sync_until_quiet();
    let orphans = w.state.state().orphans;
    assert!(orphans.iter().any(|o| o.side == Side::Supabase && o.id == row), "orphan reported: {orphans:?}");
    assert!(w.supabase.row(&row).unwrap().deleted_at.is_none(), "the row is never deleted");
    assert_eq!(w.live_counts(), (1, 0), "no page re-created for the orphan row");
}

#[test]
fn a_page_deleted_for_good_that_a_webhook_names_is_an_orphan_at_the_next_run_not_the_next_day() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Will vanish", "Ops");
    w.notion.purge(&page);
    w.time.advance_secs(60);
    // `page.deleted` (or `page.moved` out of the data source) names the page: it is read directly.
    w.marked_pages.borrow_mut().push(page.clone());
    w.sync_until_quiet();
    let orphans = w.state.state().orphans;
    assert!(orphans.iter().any(|o| o.side == Side::Supabase && o.id == row), "orphan reported: {orphans:?}");
    assert!(w.supabase.row(&row).unwrap().deleted_at.is_none(), "the row is never deleted");
}

#[test]
fn a_trashed_page_a_webhook_names_is_synced_when_notion_refuses_trash_queries() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Trashed", "Ops");
    w.notion.set_trash_reading(TrashReading::Rejected);
    w.notion.trash(&page);
    w.time.advance_secs(60);
    w.marked_pages.borrow_mut().push(page.clone());
    w.sync_until_quiet();
    assert!(w.supabase.row(&row).unwrap().deleted_at.is_some(), "the trash reached the row in the next run");
}

#[test]
fn a_webhook_naming_a_page_of_another_database_or_unknown_reads_it_and_writes_nothing() {
    let w = World::new();
    let (_row, _page) = linked_pair(&w, "Untouched", "Ops");
    let before = writes_of(&w, || {
        w.marked_pages.borrow_mut().push("00000000-0000-4000-8000-00000000beef".to_string());
        w.sync_until_quiet();
    });
    assert_eq!((before.supabase, before.notion), (0, 0), "an unknown page changes nothing: {before:?}");
    assert!(w.state.state().orphans.is_empty());
}

#[test]
fn page_deleted_for_good_without_row_change_is_found_by_the_daily_full_pass() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Will vanish", "Ops");
    w.notion.purge(&page);
    w.sync_until_quiet();
    w.wait_a_day();
    w.sync_until_quiet();
    let orphans = w.state.state().orphans;
    assert!(orphans.iter().any(|o| o.side == Side::Supabase && o.id == row), "orphan reported: {orphans:?}");
}

// ---------------------------------------------------------------------------------------------
// Per-record errors

#[test]
fn comma_in_type_is_a_per_record_error_and_other_records_still_sync() {
    let w = World::new();
    let bad = w.supabase.insert("Bad type", "Ops, UX", DAY);
    let good = w.supabase.insert("Good type", "UX", DAY);
    let page = w.notion.create("From Notion", &["Policy"], Some(DAY));
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_created, 1);
    assert!(w.page_of(&good).is_some());
    assert!(w.row_of(&page).is_some());
    assert!(w.page_of(&bad).is_none());
    let errors = w.state.state().errors;
    assert!(
        errors.iter().any(|e| e.id == bad && e.field.as_deref() == Some("type")),
        "per-record error with the row id and the field: {errors:?}"
    );
    w.assert_converged();
    // Fixing the row clears the error and syncs it.
    w.time.advance_secs(60);
    w.supabase.edit(&bad, RowEdit::kind("Ops"));
    w.sync_until_quiet();
    assert!(w.page_of(&bad).is_some());
    assert!(w.state.state().errors.is_empty());
    w.assert_converged();
}

#[test]
fn comma_in_type_of_a_linked_row_is_reported_and_the_page_untouched() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Linked", "Ops");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::kind("Ops,UX"));
    let writes = writes_of(&w, || {
        w.sync();
    });
    assert_eq!(writes.notion, 0);
    assert_eq!(page_content_of(&w, &page).kind, "Ops");
    assert!(w.state.state().errors.iter().any(|e| e.id == row && e.field.as_deref() == Some("type")));
}

// ---------------------------------------------------------------------------------------------
// Malformed links and records Notion rejects

/// The issue's repro: a row whose `notion_page_id` is not a Notion id (inserted by hand).
fn insert_with_bad_link(w: &World, link: &str) -> String {
    let row = w.supabase.insert("x", "Ops", "2025-01-15");
    w.supabase.user_update(&row, |row| row.notion_page_id = Some(link.to_string()));
    row
}

#[test]
fn a_malformed_notion_page_id_is_a_per_record_error_and_the_run_goes_on() {
    let w = World::new();
    let good = w.supabase.insert("Good row", "UX", DAY);
    let bad = insert_with_bad_link(&w, "not-a-page-id");
    let page = w.notion.create("From Notion", &["Policy"], Some(DAY));
    let run = w.sync();
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary);
    assert!(w.page_of(&good).is_some() && w.row_of(&page).is_some(), "the other records sync");
    assert!(w.state.state().last_success.is_some());
    let errors = w.state.state().errors;
    let issue = errors.iter().find(|e| e.id == bad).unwrap_or_else(|| panic!("the row is named: {errors:?}"));
    assert_eq!((issue.side, issue.field.as_deref()), (Side::Supabase, Some("notion_page_id")));
    assert!(issue.reason.contains("not-a-page-id") && issue.reason.contains("null"), "{}", issue.reason);
    assert_eq!(run.summary.errors, errors, "the run report names it too");
    // Not matched by content, not given a second page, never sent to Notion.
    assert_eq!(w.notion.pages().len(), 2);
    assert_eq!(w.supabase.row(&bad).unwrap().notion_page_id.as_deref(), Some("not-a-page-id"));
    // Later runs (incremental and the daily full pass) stay ok and keep reporting it.
    w.time.advance_secs(60);
    assert_eq!(w.sync().summary.outcome, RunOutcome::Ok);
    w.wait_a_day();
    let run = w.sync();
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary);
    assert!(w.state.state().errors.iter().any(|e| e.id == bad));
    // The fix the message gives: null creates a page, and the error clears.
    w.time.advance_secs(60);
    w.supabase.user_update(&bad, |row| row.notion_page_id = None);
    w.sync_until_quiet();
    assert!(w.page_of(&bad).is_some());
    assert!(w.state.state().errors.is_empty(), "{:?}", w.state.state().errors);
    w.assert_converged();
}

#[test]
fn a_row_given_a_malformed_link_after_a_crashed_create_keeps_its_intent_and_gets_no_second_page() {
    let w = World::new();
    let row = w.supabase.insert("Crash me", "Ops", DAY);
    w.faults.inject_on("create_page", 1, Fault::CrashAfterEffect);
    assert!(w.run(DEFAULT_BUDGET, false).is_err(), "the run is aborted");
    w.supabase.user_update(&row, |row| row.notion_page_id = Some("oops".into()));
    assert_eq!(w.sync().summary.outcome, RunOutcome::Ok);
    assert_eq!(w.lock.intents().len(), 1, "the row still exists: its intent is kept");
    w.time.advance_secs(60);
    w.supabase.user_update(&row, |row| row.notion_page_id = None);
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "the page created before the crash is linked, not a second one");
    w.assert_converged();
}

#[test]
fn a_page_notion_refuses_to_read_is_a_per_record_error_for_its_row() {
    let w = World::new();
    let (row, _page) = linked_pair(&w, "Linked", "Ops");
    // Later, when the page is no longer in the Notion window: the run reads it by id.
    w.time.advance_secs(600);
    w.sync();
    w.time.advance_secs(600);
    w.supabase.edit(&row, RowEdit::decision("Edited"));
    let other = w.supabase.insert("Other", "UX", DAY);
    w.faults.inject_on("get_page", 1, Fault::Reject);
    let run = w.sync();
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary);
    assert!(w.page_of(&other).is_some(), "the other records sync");
    let errors = w.state.state().errors;
    assert!(
        errors.iter().any(|e| e.id == row && e.field.as_deref() == Some("notion_page_id")),
        "the row is named: {errors:?}"
    );
    // Its outcome is final (the cursor moves on); the daily full pass reads it again.
    w.wait_a_day();
    w.sync_until_quiet();
    assert_eq!(row_content_of(&w, &row).decision, "Edited");
    assert_eq!(page_content_of(&w, &w.page_of(&row).unwrap().id).decision, "Edited");
    assert!(w.state.state().errors.is_empty(), "{:?}", w.state.state().errors);
}

/// A `type` Notion refuses (option names are limited to 100 characters).
fn too_long_type() -> String {
    "T".repeat(150)
}

/// Notion requests of one run.
fn notion_calls_of(w: &World) -> (u64, u64) {
    let before = w.faults.counts(Service::Notion);
    w.sync();
    let after = w.faults.counts(Service::Notion);
    (after.calls - before.calls, after.write_calls - before.write_calls)
}

#[test]
fn a_record_notion_rejected_costs_no_request_while_unchanged() {
    // The same world without the rejected row: what an idle run costs.
    let idle = World::new();
    idle.supabase.insert("Good", "Ops", DAY);
    idle.sync();
    idle.time.advance_secs(60);
    let idle_calls = notion_calls_of(&idle);

    let w = World::new();
    w.supabase.insert("Good", "Ops", DAY);
    let bad = w.supabase.insert("Rejected", &too_long_type(), DAY);
    let run = w.sync();
    assert_eq!(run.summary.counts.record_errors, 1);
    assert!(w.state.state().errors.iter().any(|e| e.id == bad && e.field.as_deref() == Some("type")));
    assert!(w.lock.intents().is_empty(), "a refused create leaves no intent to search for");
    w.time.advance_secs(60);
    assert_eq!(notion_calls_of(&w), idle_calls, "an unchanged rejected record is not sent again");
    let run = w.sync();
    assert_eq!((run.summary.outcome, run.summary.pending), (RunOutcome::Ok, 0));
    assert!(run.summary.errors.iter().any(|e| e.id == bad), "still reported");
    // After the back-off it is tried once more.
    w.time.advance(Duration::hours(25));
    let before = w.faults.counts(Service::Notion).write_calls;
    w.sync();
    assert_eq!(w.faults.counts(Service::Notion).write_calls - before, 1);
    assert_eq!(notion_calls_of(&w).1, 0);
}

#[test]
fn a_fixed_rejected_record_syncs_next_run_and_its_error_clears() {
    let w = World::new();
    let bad = w.supabase.insert("Rejected", &too_long_type(), DAY);
    w.sync();
    w.sync();
    assert!(w.page_of(&bad).is_none());
    w.time.advance_secs(60);
    w.supabase.edit(&bad, RowEdit::kind("Ops"));
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_created, 1);
    assert!(w.page_of(&bad).is_some());
    let state = w.state.state();
    assert!(state.errors.is_empty() && state.rejections.is_empty(), "{:?} {:?}", state.errors, state.rejections);
    w.assert_converged();
}

#[test]
fn rejected_records_are_not_backlog_and_fixed_ones_drain_at_full_speed() {
    let w = World::new();
    let rows: Vec<String> =
        (0..50).map(|i| w.supabase.insert(&format!("Rejected {i}"), &too_long_type(), DAY)).collect();
    for _ in 0..5 {
        w.sync();
        w.time.advance_secs(60);
    }
    assert_eq!(w.state.state().errors.len(), 50, "every row was tried once");
    let (calls, writes) = notion_calls_of(&w);
    let run = w.state.state().last_run.expect("a run");
    assert_eq!((run.outcome, run.pending, writes), (RunOutcome::Ok, 0, 0), "idle: {calls} Notion calls");
    assert!(calls <= 7, "an idle run costs a few reads, not retries: {calls}");
    // All fixed at once: they drain as fast as the budget allows, and their errors go.
    w.time.advance_secs(60);
    for row in &rows {
        w.supabase.edit(row, RowEdit::kind("Ops"));
    }
    let run = w.sync();
    assert!(run.summary.counts.pages_created >= 25, "created {} in one run", run.summary.counts.pages_created);
    w.sync_until_quiet();
    assert_eq!(w.live_counts(), (50, 50));
    assert!(w.state.state().errors.is_empty());
    w.assert_converged();
}

#[test]
fn five_thousand_char_decision_round_trips() {
    let w = World::new();
    let long: String = "Décision 😀 ".repeat(500); // 6,000 UTF-16 units with surrogate pairs
    let row = w.supabase.insert(&long, "Policy", DAY);
    w.sync();
    let page = w.page_of(&row).unwrap();
    let stored = w.notion.stored(&page.id).unwrap();
    assert!(stored.title.len() >= 3, "written as several rich-text segments");
    assert!(stored.title.iter().all(|s| s.encode_utf16().count() <= 2_000));
    assert_eq!(page.decision, long.trim_end());
    w.assert_converged();
    let five_thousand: String = ('a'..='z').cycle().take(5_000).collect();
    w.time.advance_secs(60);
    w.notion.edit(&page.id, PageEdit::decision(&five_thousand));
    w.sync();
    assert_eq!(w.supabase.row(&row).unwrap().decision, five_thousand);
    assert_eq!(w.sync_until_quiet(), 1);
    w.assert_converged();
}

#[test]
fn a_title_in_several_segments_is_read_as_one_text() {
    let w = World::new();
    let page = w.notion.create("x", &["UX"], Some(DAY));
    w.notion.set_title_segments(&page, vec!["Ask ".into(), "@Alice".into(), " first".into()]);
    w.sync();
    assert_eq!(w.row_of(&page).unwrap().decision, "Ask @Alice first");
    assert_eq!(w.sync_until_quiet(), 1);
}

#[test]
fn a_decision_over_100_segments_is_a_per_record_error() {
    let w = World::new();
    let row = w.supabase.insert(&"x".repeat(200_001), "Ops", DAY);
    let ok = w.supabase.insert("fine", "Ops", DAY);
    w.sync();
    assert!(w.page_of(&row).is_none());
    assert!(w.page_of(&ok).is_some());
    assert!(w.state.state().errors.iter().any(|e| e.id == row && e.field.as_deref() == Some("decision")));
}

#[test]
fn a_page_with_several_types_syncs_the_first_and_warns() {
    let w = World::new();
    let page = w.notion.create("Multi", &["ux", "Ops"], Some(DAY));
    let run = w.sync();
    assert_eq!(w.row_of(&page).unwrap().kind, "UX");
    assert!(run.summary.warnings.iter().any(|warning| warning.contains(&page)), "{:?}", run.summary.warnings);
    assert_eq!(w.sync_until_quiet(), 1);
}

#[test]
fn a_page_without_date_is_a_per_record_error() {
    let w = World::new();
    let page = w.notion.create("No date", &["UX"], None);
    w.notion.create("Dated", &["UX"], Some(DAY));
    w.sync();
    assert!(w.row_of(&page).is_none());
    assert!(w.state.state().errors.iter().any(|e| e.id == page && e.field.as_deref() == Some("date")));
    assert_eq!(w.live_counts(), (1, 2));
}

/// The page's stored Date: (start, end, time zone).
fn stored_date(w: &World, page: &str) -> (Option<String>, Option<String>, Option<String>) {
    let stored = w.notion.stored(page).expect("page exists");
    (stored.date, stored.date_end, stored.date_time_zone)
}

fn date_value(start: &str, end: Option<&str>) -> (Option<String>, Option<String>, Option<String>) {
    (Some(start.to_string()), end.map(str::to_string), None)
}

#[test]
fn a_date_range_keeps_its_end_when_the_row_is_edited() {
    let w = World::new();
    let page = w.notion.create("Freeze deploys", &["Ops"], None);
    w.notion.set_date_value(&page, "2025-03-01", Some("2025-03-05"), None);
    w.sync();
    let row = w.row_of(&page).expect("row imported").id;
    assert_eq!(w.supabase.row(&row).unwrap().date, "2025-03-01", "the row gets the start");

    // Only the decision changes: the page's Date is not rewritten at all.
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Freeze all deploys"));
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_updated, 1);
    assert_eq!(stored_date(&w, &page), date_value("2025-03-01", Some("2025-03-05")));
    assert!(run.summary.warnings.is_empty(), "{:?}", run.summary.warnings);
    w.assert_converged();

    // The date moves within the range: the new start, the end kept.
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::date("2025-03-03"));
    let run = w.sync();
    assert_eq!(stored_date(&w, &page), date_value("2025-03-03", Some("2025-03-05")));
    assert!(run.summary.warnings.is_empty(), "{:?}", run.summary.warnings);
    w.assert_converged();

    // The date moves past the end: the end cannot stay, and the report says so.
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::date("2025-03-09"));
    let run = w.sync();
    assert_eq!(stored_date(&w, &page), date_value("2025-03-09", None));
    assert!(
        run.summary.warnings.iter().any(|warning| warning.contains(&page) && warning.contains("end")),
        "{:?}",
        run.summary.warnings
    );
    w.assert_converged();
    assert_eq!(w.sync_until_quiet(), 1);
}

#[test]
fn a_date_with_a_time_is_kept_until_the_row_date_changes_then_dropped_with_a_warning() {
    let w = World::new();
    let page = w.notion.create("Cut-over", &["Ops"], Some("2025-08-07T23:30:00.000-05:00"));
    w.sync();
    let row = w.row_of(&page).expect("row imported").id;
    assert_eq!(w.supabase.row(&row).unwrap().date, "2025-08-07", "the date part as written");

    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::kind("Architecture"));
    let run = w.sync();
    assert_eq!(run.summary.counts.pages_updated, 1);
    assert_eq!(stored_date(&w, &page), date_value("2025-08-07T23:30:00.000-05:00", None), "the time is kept");
    assert!(run.summary.warnings.is_empty(), "{:?}", run.summary.warnings);

    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::date("2025-08-10"));
    let run = w.sync();
    assert_eq!(stored_date(&w, &page), date_value("2025-08-10", None));
    let warning = run.summary.warnings.iter().find(|warning| warning.contains(&page));
    assert!(warning.is_some_and(|warning| warning.contains("time")), "{:?}", run.summary.warnings);
    w.assert_converged();
    assert_eq!(w.sync_until_quiet(), 1);
}

// ---------------------------------------------------------------------------------------------
// Crashes, failures, budgets

#[test]
fn crash_between_page_created_and_row_linked_creates_no_second_page() {
    let w = World::new();
    let row = w.supabase.insert("Crash me", "Ops", DAY);
    w.faults.inject_on("create_page", 1, Fault::CrashAfterEffect);
    assert!(w.run(DEFAULT_BUDGET, false).is_err(), "the run is aborted");
    assert_eq!(w.notion.pages().len(), 1, "the page was created before the crash");
    assert!(w.supabase.row(&row).unwrap().notion_page_id.is_none());
    assert_eq!(w.state.writes.get(), 0, "an aborted run saves nothing");
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "no second page");
    w.assert_converged();
    assert!(w.lock.intents().is_empty(), "the intent is cleared once the row is linked");
}

#[test]
fn crash_after_page_created_then_row_edited_creates_no_second_page() {
    let w = World::new();
    let row = w.supabase.insert("Crash me", "Ops", DAY);
    w.faults.inject_on("create_page", 1, Fault::CrashAfterEffect);
    assert!(w.run(DEFAULT_BUDGET, false).is_err());
    w.supabase.edit(&row, RowEdit::decision("Crash me, edited"));
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "no second page");
    assert_eq!(page_content_of(&w, &w.page_of(&row).unwrap().id).decision, "Crash me, edited");
    w.assert_converged();
    assert!(w.lock.intents().is_empty(), "the intent is cleared once the row is linked");
}

#[test]
fn crash_when_linking_the_row_creates_no_second_page() {
    let w = World::new();
    let row = w.supabase.insert("Crash me", "Ops", DAY);
    w.faults.inject_on("write_rows", 1, Fault::Crash);
    assert!(w.run(DEFAULT_BUDGET, false).is_err());
    w.supabase.edit(&row, RowEdit::kind("UX"));
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1);
    assert_eq!(page_content_of(&w, &w.page_of(&row).unwrap().id).kind, "UX");
    w.assert_converged();
}

#[test]
fn a_timeout_on_create_then_a_retry_creates_no_second_page() {
    let w = World::new();
    w.supabase.insert("Slow", "Ops", DAY);
    w.faults.inject_on("create_page", 1, Fault::FailAfterEffect);
    w.sync();
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1);
    w.assert_converged();
}

#[test]
fn transient_failures_leave_work_for_the_next_run() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Flaky", "Ops");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Flaky 2"));
    w.faults.inject_on("update_page", 1, Fault::Fail);
    let run = w.sync();
    assert_ne!(run.summary.outcome, RunOutcome::Ok);
    assert_eq!(page_content_of(&w, &page).decision, "Flaky");
    w.sync_until_quiet();
    assert_eq!(page_content_of(&w, &page).decision, "Flaky 2");
    w.assert_converged();
}

#[test]
fn rate_limited_notion_still_converges() {
    let w = World::new();
    w.faults.rate_limit_notion_every(Some(3));
    for i in 0..20 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
        w.notion.create(&format!("page {i}"), &["UX"], Some(DAY));
    }
    w.sync_until_quiet();
    w.assert_converged();
    assert_eq!(w.live_counts(), (40, 40));
}

#[test]
fn backlog_larger_than_the_budget_drains_over_several_runs_without_duplicates() {
    let w = World::new();
    for i in 0..150 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    for i in 0..120 {
        w.notion.create(&format!("page {i}"), &["Policy"], Some(DAY));
    }
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 60, "the backlog does not drain");
        let before = w.writes();
        let run = w.sync();
        assert!(run.summary.subrequests <= DEFAULT_BUDGET, "over budget: {}", run.summary.subrequests);
        // Nothing is ever created twice: every page and every row has at most one partner.
        assert!(w.notion.pages().len() <= 270 && w.supabase.rows().len() <= 270);
        if w.writes().since(before).to_services() == 0 && run.summary.outcome == RunOutcome::Ok {
            break;
        }
        w.time.advance_secs(60);
    }
    assert!(runs > 2, "the backlog needed several runs ({runs})");
    assert_eq!(w.live_counts(), (270, 270));
    assert!(w.notion.created_by_sync().len() == 150 && w.supabase.inserted_by_sync().len() == 120);
    w.assert_converged();
    assert!(w.lock.intents().is_empty(), "no intent left: {}", w.lock.intents().len());
}

#[test]
fn a_backlog_of_edits_drains_and_cursors_only_pass_final_items() {
    let w = World::new();
    let mut pairs = Vec::new();
    for i in 0..120 {
        pairs.push(w.supabase.insert(&format!("row {i}"), "Ops", DAY));
    }
    w.sync_until_quiet_with(DEFAULT_BUDGET, 40);
    w.time.advance_secs(60);
    for (i, row) in pairs.iter().enumerate() {
        w.supabase.edit(row, RowEdit::decision(&format!("row {i} edited")));
    }
    // Small budgets: every run leaves work behind; an item left behind must be seen again.
    let mut runs = 0;
    while w.supabase.rows().iter().any(|row| !row.notion_synced) {
        runs += 1;
        assert!(runs < 80, "the edits do not drain");
        let before = w.state.state().cursors.rows;
        w.sync_with(15);
        let after = w.state.state().cursors.rows;
        assert!(after >= before, "the row cursor never moves back");
        if let Some(cursor) = &after {
            for row in w.supabase.rows() {
                if row.cursor() <= *cursor {
                    assert!(row.notion_synced, "the cursor passed row {} that is not synced yet", row.id);
                }
            }
        }
        w.time.advance_secs(20);
    }
    w.sync_until_quiet();
    w.assert_converged();
    for (i, row) in pairs.iter().enumerate() {
        assert_eq!(w.page_of(row).unwrap().decision, format!("row {i} edited"));
    }
}

#[test]
fn dry_run_writes_nothing_anywhere() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Existing", "Ops");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Edited"));
    w.notion.edit(&page, PageEdit::decision("Edited elsewhere"));
    w.supabase.insert("New row", "UX", DAY);
    w.notion.create("New page", &["UX"], Some(DAY));
    w.time.advance_secs(60);
    let state_before = w.state.state();
    let intents_before = w.lock.intents();
    let writes = writes_of(&w, || {
        let run = w.dry_run();
        assert!(run.summary.dry_run);
        assert!(run.plan.ops.len() >= 3, "the plan is reported: {:?}", run.plan.ops);
    });
    assert_eq!(writes, Writes::default(), "zero writes to Supabase, Notion, state, lock or intents");
    assert_eq!(w.state.state(), state_before);
    assert_eq!(w.lock.intents(), intents_before);
    assert!(w.state.kept_conflicts().is_empty());
}

#[test]
fn dry_run_on_a_fresh_install_writes_nothing() {
    let w = World::new();
    w.supabase.insert("New row", "UX", DAY);
    w.notion.create("New page", &["UX"], Some(DAY));
    let writes = writes_of(&w, || {
        let run = w.dry_run();
        assert_eq!(run.plan.ops.len(), 2);
    });
    assert_eq!(writes, Writes::default());
    assert_eq!(w.notion.pages().len(), 1);
}

#[test]
fn a_run_while_another_holds_the_lease_is_skipped() {
    let w = World::new();
    w.supabase.insert("Row", "UX", DAY);
    let now = w.time.now();
    w.lock.hold("other-run", now, now + Duration::minutes(5));
    let run = w.sync();
    assert!(matches!(run.summary.outcome, RunOutcome::Skipped { ref running_run_id } if running_run_id == "other-run"));
    assert_eq!(w.faults.calls(), 0);
    w.time.advance(Duration::minutes(6));
    w.sync();
    assert_eq!(w.live_counts(), (1, 1));
}

/// `/health` as the Worker builds it: the saved state, then what the lock knows (one call).
fn health_of(w: &World) -> decision_sync::health::Health {
    use decision_sync::health::{add_lock_status, build, ConfigStatus, SchemaCheck, SchemaStatus};
    let config = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
    let schema = SchemaStatus { supabase: SchemaCheck::Ok, notion: SchemaCheck::Ok };
    let mut health = build(&w.state.state(), config, schema, w.time.now());
    let status = w.lock.status();
    add_lock_status(&mut health, &status);
    health
}

fn rows(w: &World, prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| w.supabase.insert(&format!("{prefix} {i:03}"), "Ops", DAY)).collect()
}

fn skipped_by(run: &decision_sync::core::engine::RunResult) -> Option<String> {
    match &run.summary.outcome {
        RunOutcome::Skipped { running_run_id } => Some(running_run_id.clone()),
        _ => None,
    }
}

#[test]
fn a_crashed_runs_lease_does_not_block_the_next_run() {
    // Issue 11: a run killed mid-way kept every run out for 15 minutes (the old lease TTL). A
    // lease is live only while its run is alive in the coordinator: a crashed run's is dead at once.
    let w = World::new();
    rows(&w, "Row", 5);
    w.faults.inject_on("create_page", 3, Fault::Crash);
    assert!(w.run(DEFAULT_BUDGET, false).is_err(), "the run is aborted");
    assert!(w.lock.holder().is_some(), "the dead run's lease is still stored");
    assert_eq!(skipped_by(&w.sync()), None, "the next run goes ahead at once");
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 5, "one page per row");
    w.assert_converged();
}

#[test]
fn after_a_crash_health_names_the_interrupted_run_and_the_next_run_links_its_pages() {
    let w = World::new();
    rows(&w, "Row", 15);
    w.faults.inject_on("create_page", 4, Fault::CrashAfterEffect);
    let started = w.time.now();
    assert!(w.run(DEFAULT_BUDGET, false).is_err(), "the run is aborted");
    let dead = w.lock.holder().expect("the dead run's lease is still stored");
    assert_eq!(w.notion.pages().len(), 4, "4 pages were created before the crash, none linked");

    // Before any new run, /health names the interrupted run and what it left.
    let health = health_of(&w);
    assert_eq!(health.status, "interrupted", "{health:#?}");
    let interrupted = health.interrupted_run.clone().expect("the interrupted run");
    assert_eq!((interrupted.run_id.as_str(), interrupted.trigger.as_str()), (dead.as_str(), "test"));
    assert_eq!(interrupted.started_at, started);
    assert_eq!(interrupted.unlinked_creates, 15, "every journaled create is unlinked");
    assert!(
        health.fix.iter().any(|line| line.contains(&dead) && line.contains("15 page creates are not linked yet")),
        "{:?}",
        health.fix
    );
    assert!(health.summary.contains("was interrupted"), "{}", health.summary);
    assert_eq!(health.pending, 15);

    assert_eq!(skipped_by(&w.sync()), None, "the dead run's lease keeps nobody out");
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 15, "the 4 pages were linked, not created again");
    w.assert_converged();
    let health = health_of(&w);
    assert!(health.interrupted_run.is_none(), "{health:#?}");
    assert_eq!(health.status, "ok");
}

#[test]
fn no_page_is_created_before_its_intent_is_journaled() {
    // DESIGN: the create-intent journal is written before a page create and cleared after the link.
    let w = World::new();
    rows(&w, "Row", 3);
    w.lock.fail_journal_writes();
    let run = w.sync();
    assert_eq!(w.notion.pages().len(), 0, "the journal could not be written: no create was sent");
    assert!(w.lock.intents().is_empty());
    assert_ne!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary.outcome);
    w.lock.heal();
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 3, "one page per row");
    assert!(w.lock.intents().is_empty(), "cleared after the links");
    w.assert_converged();
}

#[test]
fn a_live_runs_lease_keeps_others_out_until_the_coordinator_restarts() {
    let w = World::new();
    rows(&w, "Row", 3);
    let now = w.time.now();
    w.lock.hold("other-run", now, now + Duration::minutes(5));
    assert_eq!(skipped_by(&w.sync()), Some("other-run".into()), "409 with the running run's id");
    assert_eq!(health_of(&w).interrupted_run, None, "a running run is not interrupted");
    // A restarted object lost its memory: no run is alive in it, whatever the stored lease says.
    w.lock.restart();
    assert_eq!(skipped_by(&w.sync()), None);
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 3);
}

#[test]
fn a_long_run_renews_its_lease_and_a_run_that_lost_it_stops_before_its_next_write() {
    let mut w = World::new();
    w.config.lease_ttl_seconds = 20;
    rows(&w, "First", 60);
    // A long run (60 creates at 0.15 s) renews its 20 s lease every 5 s and keeps it.
    let run = w.sync_with(500);
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary.outcome);
    assert!(w.lock.renewals.get() >= 2, "renewals: {}", w.lock.renewals.get());
    assert_eq!(w.lock.holder(), None, "released at the end");

    // Another run takes the lease over while a run works (e.g. this one stalled past its TTL).
    let ids = rows(&w, "Second", 60);
    let state_writes = w.state.writes.get();
    w.lock.take_over_at("other-run", w.time.now() + Duration::seconds(3));
    let run = w.sync_with(500);
    let RunOutcome::Failed { message } = &run.summary.outcome else { panic!("{:?}", run.summary.outcome) };
    assert!(message.contains("lost its lease") && message.contains("run other-run holds it now"), "{message}");
    let created = w.notion.pages().len() - 60;
    assert!(created > 0 && created < 60, "it stopped at its first renewal after the takeover ({created} pages)");
    assert_eq!(w.state.writes.get(), state_writes, "the state belongs to the run holding the lease: not saved");
    assert!(
        ids.iter().all(|id| w.supabase.row(id).unwrap().notion_page_id.is_none()),
        "no link written after the loss"
    );
    assert_eq!(w.lock.intents().len(), 60, "the journal is left to the run holding the lease");
    assert_eq!(w.lock.holder().as_deref(), Some("other-run"), "its release did not touch the other run's lease");

    // Once the other run is gone, the next one links the pages the stopped run created.
    w.time.advance(Duration::minutes(6));
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 120, "no second page");
    w.assert_converged();
}

#[test]
fn a_slow_read_phase_renews_the_lease_too() {
    let mut w = World::new();
    w.config.lease_ttl_seconds = 20;
    rows(&w, "Row", 3);
    w.sync();
    let renewals = w.lock.renewals.get();
    // Services answering in 3 s: an idle run only reads (about 6 requests, 18 s).
    w.faults.set_call_cost(Duration::seconds(3));
    let run = w.sync();
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary.outcome);
    assert_eq!(run.summary.counts.pages_created + run.summary.counts.pages_updated, 0, "nothing to write");
    assert!(
        w.lock.renewals.get() - renewals >= 3,
        "renewed every 5 s while reading: {}",
        w.lock.renewals.get() - renewals
    );
}

#[test]
fn near_the_cpu_limit_the_run_stops_and_the_next_one_resumes() {
    let w = World::new();
    for i in 0..10 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    w.clock.cpu_limit.set(true);
    let run = w.sync();
    assert!(matches!(run.summary.outcome, RunOutcome::Partial { .. }), "{:?}", run.summary.outcome);
    assert_eq!(w.notion.pages().len(), 0);
    w.clock.cpu_limit.set(false);
    w.sync_until_quiet();
    w.assert_converged();
    assert_eq!(w.notion.pages().len(), 10);
}

// ---------------------------------------------------------------------------------------------
// Races with the write-back

#[test]
fn a_user_edit_racing_a_pull_is_not_overwritten() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Original", "Ops");
    w.time.advance_secs(60);
    w.notion.edit(&page, PageEdit::decision("From Notion"));
    let row_id = row.clone();
    w.supabase.race_before_next_write(move |db| {
        db.edit(&row_id, RowEdit::decision("Typed meanwhile"));
    });
    let run = w.sync();
    assert_eq!(run.summary.counts.skipped_concurrent_edits, 1);
    assert_eq!(w.supabase.row(&row).unwrap().decision, "Typed meanwhile", "the user's edit is not overwritten");
    w.sync_until_quiet();
    // Next run: both changed → conflict; the row edit is later and wins, Notion's version kept.
    assert_eq!(page_content_of(&w, &page).decision, "Typed meanwhile");
    assert!(w.state.kept_conflicts().iter().any(|c| c.lost.decision == "From Notion"));
    w.assert_converged();
}

#[test]
fn a_user_edit_racing_a_push_is_not_overwritten() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Original", "Ops");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("First edit"));
    let row_id = row.clone();
    w.supabase.race_before_next_write(move |db| {
        db.edit(&row_id, RowEdit::decision("Second edit"));
    });
    w.sync();
    assert_eq!(w.supabase.row(&row).unwrap().decision, "Second edit");
    w.sync_until_quiet();
    assert_eq!(page_content_of(&w, &page).decision, "Second edit");
    w.assert_converged();
}

#[test]
fn a_user_edit_racing_the_link_of_a_created_page_is_not_overwritten() {
    let w = World::new();
    let row = w.supabase.insert("Draft", "Ops", DAY);
    let row_id = row.clone();
    w.supabase.race_before_next_write(move |db| {
        db.edit(&row_id, RowEdit::decision("Draft, retyped"));
    });
    w.sync();
    assert_eq!(w.supabase.row(&row).unwrap().decision, "Draft, retyped");
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "the page created before the race is linked, not created again");
    assert_eq!(page_content_of(&w, &w.page_of(&row).unwrap().id).decision, "Draft, retyped");
    w.assert_converged();
    assert!(w.lock.intents().is_empty(), "the intent is cleared once the row is linked");
}

// ---------------------------------------------------------------------------------------------
// Notion's "Duplicate" copies the Checksum property

#[test]
fn a_page_duplicated_in_notion_is_reported_not_imported() {
    // DESIGN.md is silent on a page that carries a base but was never linked (Notion's Duplicate
    // copies `Checksum`): the core treats it as "synced once, no row" → orphan, never deleted.
    let w = World::new();
    let (_, page) = linked_pair(&w, "Original", "Ops");
    w.time.advance_secs(60);
    let copy = w.notion.duplicate(&page).unwrap();
    w.sync_until_quiet();
    assert!(w.row_of(&copy).is_none());
    assert!(w.state.state().orphans.iter().any(|o| o.id == copy));
    assert_eq!(w.live_counts(), (1, 2));
}

#[test]
fn writes_are_counted_per_service() {
    let w = World::new();
    w.supabase.insert("A", "Ops", DAY);
    w.sync();
    assert_eq!(w.faults.counts(Service::Notion).records_written, 1);
    assert_eq!(w.faults.counts(Service::Supabase).records_written, 1);
}

#[test]
fn row_deleted_after_its_page_was_created_but_not_linked_gets_no_second_page_on_restore() {
    // Regression (model test): the link write lost a race, the row was then soft-deleted.
    let w = World::new();
    let row = w.supabase.insert("Draft", "Ops", DAY);
    let row_id = row.clone();
    w.supabase.race_before_next_write(move |db| {
        db.edit(&row_id, RowEdit::decision("Draft"));
    });
    w.sync();
    assert_eq!(w.notion.pages().len(), 1);
    w.time.advance_secs(30);
    w.supabase.soft_delete(&row);
    w.sync_until_quiet();
    w.time.advance_secs(30);
    w.supabase.restore(&row);
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "no second page for the same row");
    w.assert_converged();
}

#[test]
fn a_run_whose_write_back_failed_is_not_reported_ok() {
    // Regression: the pages were created, linking the rows failed (transient): the run said Ok.
    let w = World::new();
    w.supabase.insert("A", "Ops", DAY);
    w.faults.inject_on("write_rows", 1, Fault::Fail);
    let run = w.sync();
    assert!(matches!(run.summary.outcome, RunOutcome::Failed { .. }), "{:?}", run.summary.outcome);
    assert!(w.state.state().last_success.is_none());
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "the created page is linked next run, not created again");
    w.assert_converged();
}

#[test]
fn runs_record_their_schema_checks_for_health_with_the_time() {
    // Issue 11, item 3: /health shows the schema as the runs checked it (it makes no request).
    let w = World::new();
    w.supabase.insert("A", "Ops", DAY);
    let first_at = w.time.now();
    w.sync();
    let checks = w.state.state().schema;
    let (supabase, notion) = (checks.supabase.expect("checked at the full pass"), checks.notion.expect("checked"));
    assert_eq!((&supabase.check, &notion.check), (&SchemaCheck::Ok, &SchemaCheck::Ok));
    assert!(supabase.checked_at >= first_at && notion.checked_at >= first_at);

    // An incremental run checks Notion again, not Supabase; a failed check is recorded.
    w.time.advance_secs(300);
    w.faults.inject_on("check_schema", 1, Fault::Fail);
    let run = w.sync();
    assert!(matches!(run.summary.outcome, RunOutcome::Failed { .. }), "{:?}", run.summary.outcome);
    let state = w.state.state();
    let notion = state.schema.notion.clone().expect("checked");
    assert!(
        matches!(&notion.check, SchemaCheck::Unreachable { message } if message.starts_with("notion is unavailable")),
        "{notion:?}"
    );
    assert!(notion.checked_at >= first_at + Duration::seconds(300));
    assert_eq!(state.schema.supabase.as_ref().map(|s| s.checked_at), Some(supabase.checked_at));
    let config = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
    let health = health::build(&state, config, health::stored_schema(&state), w.time.now());
    assert_eq!(health.status, "failing");
    assert_eq!(health.schema_checked.notion.age_seconds, Some((w.time.now() - notion.checked_at).num_seconds()));
}

#[test]
fn a_supabase_outage_is_named_even_when_the_budget_also_ran_out() {
    // Regression (issue 11, item 5): pages were created, linking their rows failed (Supabase
    // down) and the budget ran out too: the run said only "partial: budget spent", errors [].
    let w = World::new();
    for i in 0..30 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    w.faults.inject_on("write_rows", 1, Fault::Fail);
    let run = w.sync_with(20);
    assert!(!w.notion.pages().is_empty(), "pages were created before the outage");
    assert!(w.notion.pages().len() < 30, "the budget ran out too");
    let RunOutcome::Failed { message } = &run.summary.outcome else {
        panic!("the outage is not named: {:?}", run.summary.outcome)
    };
    assert!(message.starts_with("supabase is unavailable: "), "{message}");
    assert!(run.summary.warnings.iter().any(|warning| warning.contains("budget")), "{:?}", run.summary.warnings);
    assert!(w.state.state().last_success.is_none(), "a run whose writes failed is no success");
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 30, "each row got one page");
    w.assert_converged();
}

#[test]
fn a_created_page_whose_row_lookup_fails_is_not_created_again() {
    // Regression (model test): the page created for a row was found by its base, but looking up
    // whether a row links to it failed; the row was then planned for a second create.
    let w = World::new();
    let row = w.supabase.insert("A", "Ops", DAY);
    w.faults.inject_on("write_rows", 1, Fault::Fail);
    w.sync();
    w.faults.inject_on("rows_by_page_ids", 1, Fault::Fail);
    w.sync();
    assert_eq!(w.notion.pages().len(), 1);
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1);
    assert!(w.page_of(&row).is_some());
    w.assert_converged();
}

#[test]
fn a_row_reverted_while_its_push_was_written_is_not_left_diverged() {
    // Regression (model test): a push wrote the page (content + base Y); before the row's half
    // (checksum Y) landed, the user set the row back to its old content X (= its base). Both
    // sides then looked clean against their own bases, and stayed different forever.
    let w = World::new();
    let (row, page) = linked_pair(&w, "Ship weekly", "Ops");
    w.time.advance_secs(60);
    w.supabase.edit(&row, RowEdit::decision("Use Postgres"));
    let row_id = row.clone();
    w.supabase.race_before_next_write(move |db| {
        db.edit(&row_id, RowEdit::decision("Ship weekly"));
    });
    w.sync();
    assert_eq!(page_content_of(&w, &page).decision, "Use Postgres", "the push reached the page");
    w.sync_until_quiet();
    assert_eq!(page_content_of(&w, &page).decision, "Ship weekly", "the user's later revert wins");
    assert!(w.state.kept_conflicts().iter().any(|c| c.lost.decision == "Use Postgres"));
    w.assert_converged();
}

/// A run crashes right after Notion created the row's page (nothing linked); a user then trashes
/// that page. Returns the row and the page.
fn crash_after_create_then_trash_the_page(w: &World) -> (String, String) {
    let row = w.supabase.insert("Crash me", "Ops", DAY);
    w.faults.inject_on("create_page", 1, Fault::CrashAfterEffect);
    assert!(w.run(DEFAULT_BUDGET, false).is_err());
    let page = w.notion.pages()[0].id.clone();
    w.notion.trash(&page);
    w.time.advance_secs(300);
    (row, page)
}

#[test]
fn a_created_page_trashed_before_its_row_was_linked_is_found_not_created_again() {
    // Regression (model test): crash after the create; the user trashes the new page; the runs
    // that see the trash have no budget left to look for the page; later runs must still find it.
    let w = World::new();
    let (row, page) = crash_after_create_then_trash_the_page(&w);
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "no second page");
    assert_eq!(w.page_of(&row).map(|p| p.id), Some(page));
    assert!(w.supabase.row(&row).unwrap().deleted_at.is_some(), "the trash reached the row");
    w.assert_converged();
}

#[test]
fn a_created_page_trashed_out_of_the_windows_sight_is_found_by_its_base_in_the_trash() {
    // Notion's query answers live pages only unless asked for `in_trash`: the page created before
    // the crash and trashed since must be searched for in the trash too, even when the trashed
    // window does not show it (here: a state whose trashed cursor is already past it).
    let w = World::new();
    let (row, page) = crash_after_create_then_trash_the_page(&w);
    let mut state = w.state.state();
    state.cursors.trashed_pages = Some(w.time.now());
    (state.full_pass, state.last_full_pass) = (None, Some(w.time.now()));
    w.state.set_state(&state);
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "no second page");
    assert_eq!(w.page_of(&row).map(|p| p.id), Some(page));
    w.assert_converged();
}

#[test]
fn creates_cut_short_by_the_budget_leave_no_intent_behind() {
    // Regression: every planned create was journaled, even those the budget never reached; each
    // left-over intent then cost a query per run, and could adopt an unrelated page.
    let w = World::new();
    for i in 0..60 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    w.sync();
    let created = w.notion.pages().len();
    assert!(created > 0 && created < 60, "the budget cut the run short ({created} pages)");
    assert!(w.lock.intents().is_empty(), "{} intents left", w.lock.intents().len());
}

#[test]
fn run_counts_match_what_was_written_even_when_the_budget_cuts_an_op_in_half() {
    // Regression (bench): rows inserted in bulk were counted only when their page's PATCH (storing
    // the base) happened in the same run; a free-plan first sync of 1,000 pages reported 19.
    let w = World::new();
    for i in 0..150 {
        w.notion.create(&format!("page {i}"), &["Policy"], Some(DAY));
    }
    let (mut reported, mut runs) = (0, 0);
    loop {
        runs += 1;
        assert!(runs < 40, "the backlog does not drain");
        let inserted_before = w.supabase.inserted_by_sync().len();
        let run = w.sync();
        let inserted = w.supabase.inserted_by_sync().len() - inserted_before;
        assert_eq!(run.summary.counts.rows_inserted as usize, inserted, "run {runs}: reported vs inserted");
        reported += inserted;
        if run.summary.outcome == RunOutcome::Ok && inserted == 0 {
            break;
        }
        w.time.advance_secs(60);
    }
    assert_eq!(reported, 150);
    w.sync_until_quiet();
    w.assert_converged();
}

#[test]
fn an_older_orphan_page_with_the_same_base_is_not_taken_for_the_created_page() {
    // Regression (model test): an intent whose create never reached Notion found, by its base,
    // an orphan page (its row deleted for real) and linked the new row to it.
    let w = World::new();
    let (old_row, orphan) = linked_pair(&w, "Same text", "Ops");
    w.supabase.hard_delete(&old_row);
    w.time.advance_secs(600);
    let row = w.supabase.insert("Same text", "Ops", DAY);
    w.faults.inject_on("create_page", 1, Fault::Crash);
    assert!(w.run(DEFAULT_BUDGET, false).is_err());
    assert_eq!(w.lock.intents().len(), 1, "the crash left the intent");
    w.sync_until_quiet();
    let page = w.page_of(&row).expect("the new row has a page");
    assert_ne!(page.id, orphan, "the orphan page is not the one created for the new row");
    assert!(w.row_of(&orphan).is_none());
}

/// More pages edited in one minute than a run reads: `(world, pages, the page listed last)`.
fn bulk_edited_minute(w: &World) -> (Vec<String>, String) {
    let mut pages = Vec::new();
    for i in 0..230 {
        pages.push(w.notion.create(&format!("page {i}"), &["Ops"], Some(DAY)));
    }
    w.sync_until_quiet_with(DEFAULT_BUDGET, 40);
    w.time.advance_secs(300);
    for page in &pages {
        w.notion.touch(page);
    }
    let last = pages.iter().max().unwrap().clone();
    (pages, last)
}

#[test]

fn more_pages_edited_in_one_minute_than_a_run_reads_still_sync() {
    // A bulk edit in Notion (e.g. "select all → set a property") moves last_edited_time of many
    // pages into the same minute. The Notion cursor is a minute: it cannot move inside it.
    let w = World::new();
    let (_, last) = bulk_edited_minute(&w);
    // The real edit is on the page Notion lists last within that minute.
    w.notion.edit(&last, PageEdit::decision("the one real edit"));
    // A budget of 10 reads at most 100 items per source and run.
    for _ in 0..40 {
        w.sync_with(10);
        w.time.advance_secs(60);
    }
    assert_eq!(w.row_of(&last).unwrap().decision, "the one real edit", "the edit never synced");
    w.sync_until_quiet();
    w.assert_converged();
}

#[test]

fn a_full_pass_over_a_bulk_edited_minute_ends_and_row_edits_still_sync() {
    let w = World::new();
    let (pages, _) = bulk_edited_minute(&w);
    w.wait_a_day();
    let row = w.row_of(&pages[0]).unwrap().id;
    w.supabase.edit(&row, RowEdit::decision("edited in Supabase"));
    for _ in 0..40 {
        w.sync_with(10);
        w.time.advance_secs(60);
    }
    assert!(w.state.state().full_pass.is_none(), "the full pass never ended");
    assert_eq!(w.page_of(&row).unwrap().decision, "edited in Supabase", "the row edit never synced");
}

// ---------------------------------------------------------------------------------------------
// Mass-delete safety halt (SYNC_MASS_DELETE_SHARE, default 50 %, at least 10 records)

/// `n` rows and their pages, synced; then time passes beyond the Notion cursor's overlap.
fn linked_rows(w: &World, n: usize) -> Vec<(String, String)> {
    let rows: Vec<String> = (0..n).map(|i| w.supabase.insert(&format!("Decision {i}"), "Ops", DAY)).collect();
    w.sync_until_quiet();
    w.assert_converged();
    // A quiet run later: the Notion cursor is past the pages, so a delete must fetch them.
    w.time.advance_secs(600);
    w.sync();
    rows.into_iter()
        .map(|row| {
            let page = w.page_of(&row).expect("page created").id;
            (row, page)
        })
        .collect()
}

fn trashed_pages(w: &World) -> usize {
    w.notion.pages().iter().filter(|page| page.in_trash).count()
}

fn deleted_rows(w: &World) -> usize {
    w.supabase.rows().iter().filter(|row| row.deleted_at.is_some()).count()
}

#[test]
fn soft_deleting_every_row_halts_and_trashes_no_page_until_allowed_once() {
    let w = World::new();
    let pairs = linked_rows(&w, 20);
    // `update decision_vault set deleted_at = now()`
    for (row, _) in &pairs {
        w.supabase.soft_delete(row);
    }
    let first = w.sync();
    assert_eq!(trashed_pages(&w), 0, "a halted run trashes no page");
    let halt = first.summary.mass_delete_halt.clone().expect("the run reports the halt");
    assert_eq!((halt.deletes, halt.linked, halt.pages_to_trash, halt.rows_to_delete), (20, 20, 20, 0));
    assert_eq!(halt.sample_rows.len(), 5);
    assert!(halt.sample_rows.iter().all(|id| pairs.iter().any(|(row, _)| row == id)), "{halt:?}");
    assert_eq!(first.summary.outcome, RunOutcome::Ok, "everything else synced");
    let state = w.state.state();
    assert_eq!(state.mass_delete.halt.as_ref(), Some(&halt), "kept for /health");
    assert_eq!(state.last_success, Some(first.summary.finished_at));
    // The halt holds: the next runs neither trash nor fetch the pages again (no budget loop).
    let again = w.sync();
    assert_eq!(trashed_pages(&w), 0);
    assert!(again.summary.mass_delete_halt.is_some());
    assert!(
        again.summary.subrequests < first.summary.subrequests && again.summary.subrequests <= 8,
        "a held run costs a few reads: {} (first {})",
        again.summary.subrequests,
        first.summary.subrequests
    );
    // POST /sync-now?allow-mass-delete=1: that run goes through.
    let allowed = w.run_allowing(DEFAULT_BUDGET, false, true).expect("the run completes");
    assert_eq!(allowed.summary.mass_delete_halt, None);
    w.sync_until_quiet();
    assert_eq!(trashed_pages(&w), 20, "every page went to the trash");
    w.assert_converged();
    assert_eq!(w.state.state().mass_delete, Default::default(), "the allow is used up with the episode");
}

#[test]
fn an_allowed_mass_delete_larger_than_one_run_drains_without_a_second_allow() {
    let w = World::new();
    let pairs = linked_rows(&w, 60);
    for (row, _) in &pairs {
        w.supabase.soft_delete(row);
    }
    let halted = w.sync();
    assert_eq!(halted.summary.mass_delete_halt.map(|halt| halt.deletes), Some(60));
    assert_eq!(trashed_pages(&w), 0);
    let allowed = w.run_allowing(DEFAULT_BUDGET, false, true).expect("the run completes");
    let trashed_by_the_allowed_run = trashed_pages(&w);
    assert!(trashed_by_the_allowed_run > 0 && trashed_by_the_allowed_run < 60, "{}", trashed_by_the_allowed_run);
    assert!(matches!(allowed.summary.outcome, RunOutcome::Partial { .. }), "{:?}", allowed.summary.outcome);
    let runs = w.sync_until_quiet();
    assert!(runs >= 2, "the rest took more runs ({runs})");
    assert_eq!(trashed_pages(&w), 60);
    w.assert_converged();
}

#[test]
fn trashing_a_few_pages_does_not_halt() {
    let w = World::new();
    let pairs = linked_rows(&w, 20);
    for (_, page) in pairs.iter().take(3) {
        w.notion.trash(page);
    }
    let run = w.sync();
    assert_eq!(run.summary.mass_delete_halt, None);
    assert_eq!(run.summary.counts.rows_deleted, 3);
    assert_eq!(deleted_rows(&w), 3);
    w.assert_converged();
}

#[test]
fn trashing_every_page_in_notion_halts_and_soft_deletes_no_row_until_restored() {
    let w = World::new();
    let pairs = linked_rows(&w, 20);
    for (_, page) in &pairs {
        w.notion.trash(page);
    }
    let run = w.sync();
    assert_eq!(deleted_rows(&w), 0, "a halted run soft-deletes no row");
    let halt = run.summary.mass_delete_halt.expect("halted");
    assert_eq!((halt.deletes, halt.pages_to_trash, halt.rows_to_delete), (20, 0, 20));
    assert!(halt.sample_pages.iter().all(|id| pairs.iter().any(|(_, page)| page == id)), "{halt:?}");
    assert!(halt.fix().contains("restore them from Notion's trash"), "{}", halt.fix());
    assert!(w.sync().summary.mass_delete_halt.is_some(), "the next run still holds");
    assert_eq!(deleted_rows(&w), 0);
    // The user restores the pages: the halt clears and nothing was ever deleted.
    w.time.advance_secs(90);
    for (_, page) in &pairs {
        w.notion.restore(page);
    }
    let run = w.sync();
    assert_eq!(run.summary.mass_delete_halt, None);
    w.sync_until_quiet();
    assert_eq!(deleted_rows(&w), 0);
    assert_eq!(w.state.state().mass_delete.halt, None);
    w.assert_converged();
}

#[test]
fn deleting_everything_below_ten_records_never_halts() {
    let w = World::new();
    let pairs = linked_rows(&w, 9);
    for (row, _) in &pairs {
        w.supabase.soft_delete(row);
    }
    let run = w.sync();
    assert_eq!(run.summary.mass_delete_halt, None);
    w.sync_until_quiet();
    assert_eq!(trashed_pages(&w), 9);
    w.assert_converged();
}

#[test]
fn restoring_the_rows_clears_the_halt_without_trashing_a_page() {
    let w = World::new();
    let pairs = linked_rows(&w, 20);
    for (row, _) in &pairs {
        w.supabase.soft_delete(row);
    }
    assert!(w.sync().summary.mass_delete_halt.is_some());
    assert!(w.state.state().mass_delete.halt.is_some());
    // `update decision_vault set deleted_at = null where …`
    w.time.advance_secs(60);
    for (row, _) in &pairs {
        w.supabase.restore(row);
    }
    let run = w.sync();
    assert_eq!(run.summary.mass_delete_halt, None);
    assert_eq!(w.state.state().mass_delete.halt, None, "the halt is cleared");
    w.sync_until_quiet();
    assert_eq!(trashed_pages(&w), 0, "no page was trashed at any point");
    assert_eq!(deleted_rows(&w), 0);
    w.assert_converged();
}

#[test]
fn a_halt_holds_only_the_deletes_and_other_records_keep_syncing() {
    let w = World::new();
    let pairs = linked_rows(&w, 20);
    for (row, _) in pairs.iter().take(15) {
        w.supabase.soft_delete(row);
    }
    let (kept_row, kept_page) = &pairs[19];
    w.supabase.edit(kept_row, RowEdit::decision("Edited during the halt"));
    let new_row = w.supabase.insert("Created during the halt", "UX", DAY);
    let run = w.sync();
    assert!(run.summary.mass_delete_halt.is_some(), "15 of 20 is more than half");
    assert_eq!(trashed_pages(&w), 0);
    assert!(w.page_of(&new_row).is_some(), "a new row still gets its page");
    // The halting run spent its reads on the deleted rows' pages; the next one, which does not
    // fetch them again, has the budget for the edit.
    let run = w.sync();
    assert!(run.summary.mass_delete_halt.is_some());
    assert_eq!(page_content_of(&w, kept_page).decision, "Edited during the halt");
    // Later edits still sync while the halt holds.
    w.time.advance_secs(60);
    w.supabase.edit(kept_row, RowEdit::decision("Edited again"));
    let run = w.sync();
    assert!(run.summary.mass_delete_halt.is_some());
    assert_eq!(page_content_of(&w, kept_page).decision, "Edited again");
    assert_eq!(trashed_pages(&w), 0);
}

#[test]
fn dry_run_shows_what_the_halt_would_hold_and_saves_nothing() {
    let w = World::new();
    let pairs = linked_rows(&w, 12);
    for (row, _) in &pairs {
        w.supabase.soft_delete(row);
    }
    let before = w.writes();
    let dry = w.dry_run();
    assert_eq!(dry.plan.held.len(), 12, "{:?}", dry.plan);
    assert_eq!(dry.plan.count(decision_sync::core::plan::OpKind::TrashPage), 0);
    assert_eq!(dry.summary.mass_delete_halt.map(|halt| halt.deletes), Some(12));
    assert_eq!(w.writes().since(before), Writes::default());
    assert_eq!(w.state.state().mass_delete.halt, None, "a dry run saves no state");
    let allowed = w.run_allowing(DEFAULT_BUDGET, true, true).expect("dry run");
    assert_eq!(allowed.plan.count(decision_sync::core::plan::OpKind::TrashPage), 12);
    assert!(allowed.plan.held.is_empty());
    assert_eq!(trashed_pages(&w), 0);
}

#[test]
fn more_row_edits_than_one_run_can_fetch_pages_for_still_drain() {
    // Each edited row needs its page (a GET) before the push: fetching pages must leave budget
    // for the pushes, or every run fetches the same pages and writes nothing.
    let w = World::new();
    let pairs = linked_rows(&w, 60);
    for (row, _) in &pairs {
        w.supabase.edit(row, RowEdit::decision("Edited in bulk"));
    }
    let run = w.sync();
    assert!(run.summary.counts.pages_updated > 0, "the first run pushes some: {:?}", run.summary.counts);
    w.sync_until_quiet();
    assert!(pairs.iter().all(|(_, page)| page_content_of(&w, page).decision == "Edited in bulk"));
    w.assert_converged();
}

#[test]
fn a_retry_after_longer_than_a_run_waits_ends_the_run_as_partial_and_the_next_run_resumes() {
    // Issue 14, item 4: Notion's per-workspace limit can ask for more than a minute; the run ends
    // cleanly (partial, not failed), keeps what it did, and the next run goes on from there.
    let w = World::new();
    for i in 0..5 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    w.faults.inject_on("create_page", 3, Fault::RateLimited { retry_after_secs: 75 });
    let run = w.sync();
    let RunOutcome::Partial { reason } = &run.summary.outcome else {
        panic!("a long Retry-After must end the run as partial, got {:?}", run.summary.outcome)
    };
    assert!(reason.contains("rate limit") && reason.contains("75 s") && reason.contains("next run"), "{reason}");
    assert_eq!(w.notion.pages().len(), 2, "no request after the 429: the run stopped there");
    let linked = w.supabase.rows().iter().filter(|row| row.notion_page_id.is_some()).count();
    assert_eq!(linked, 2, "the pages created before the 429 are linked: the run's work is saved");

    w.time.advance_secs(75);
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 5, "the next runs create the rest, none twice");
    w.assert_converged();
}

#[test]
fn a_long_retry_after_while_reading_ends_the_run_as_partial_not_failed() {
    let w = World::new();
    w.supabase.insert("A", "Ops", DAY);
    w.notion.create("B", &["UX"], Some(DAY));
    w.faults.inject_on("query", 1, Fault::RateLimited { retry_after_secs: 120 });
    let run = w.sync();
    assert!(
        matches!(&run.summary.outcome, RunOutcome::Partial { reason } if reason.contains("rate limit")),
        "{:?}",
        run.summary.outcome
    );
    w.time.advance_secs(120);
    w.sync_until_quiet();
    assert_eq!(w.live_counts(), (2, 2));
    w.assert_converged();
}

#[test]
fn a_long_retry_after_at_the_schema_check_is_partial_and_health_is_not_failing() {
    let w = World::new();
    w.supabase.insert("A", "Ops", DAY);
    w.sync();
    w.time.advance_secs(300);
    w.supabase.insert("B", "Ops", DAY);
    w.faults.inject_on("check_schema", 1, Fault::RateLimited { retry_after_secs: 90 });
    let run = w.sync();
    assert!(
        matches!(&run.summary.outcome, RunOutcome::Partial { reason } if reason.contains("90 s")),
        "{:?}",
        run.summary.outcome
    );
    let state = w.state.state();
    let notion = state.schema.notion.clone().expect("checked by the first run");
    assert_eq!(notion.check, SchemaCheck::Ok, "a rate limit is not recorded as an unreachable Notion");
    let config = ConfigStatus { missing: vec![], invalid: vec![], admin_routes_enabled: true };
    let health = health::build(&state, config, health::stored_schema(&state), w.time.now());
    assert_eq!(health.status, "partial", "{}", health.summary);
    w.time.advance_secs(90);
    w.sync_until_quiet();
    assert_eq!(w.live_counts(), (2, 2));
    w.assert_converged();
}

// Notion's query result cap (10,000 results per query; 30 here so that the tests stay small).

/// `n` linked pairs, synced, with Notion capping queries at `cap` from then on. Each request
/// takes 3 s, so that the sync's own writes stay under the cap per minute, as they do for real
/// (3 requests/s is 180 a minute, far below 10,000).
fn capped_world(n: usize, cap: usize) -> (World, Vec<String>) {
    let w = World::new();
    w.faults.set_call_cost(Duration::seconds(3));
    let rows: Vec<String> = (0..n).map(|i| w.supabase.insert(&format!("row {i}"), "Ops", DAY)).collect();
    w.sync_until_quiet_with(DEFAULT_BUDGET, 60);
    w.notion.set_result_limit(Some(cap));
    w.time.advance_secs(300);
    (w, rows)
}

/// Every live page edited before the Notion cursor's minute has its content in its row: the
/// cursor never moved past a page that was not read.
fn assert_page_cursor_passed_only_synced_pages(w: &World) {
    let Some(cursor) = w.state.state().cursors.pages else { return };
    for page in w.notion.live_pages() {
        if page.last_edited_time < cursor {
            let row = w.row_of(&page.id).unwrap_or_else(|| panic!("page {} has no row", page.id));
            assert_eq!(
                support::world::content_of_page(&page),
                support::world::content_of_row(&row),
                "the cursor {cursor} passed page {} (edited {}) before it was read",
                page.id,
                page.last_edited_time
            );
        }
    }
}

/// Edits every page of `rows` in Notion, `per_minute` pages a minute.
fn edit_pages_in_notion(w: &World, rows: &[String], per_minute: usize) {
    for (i, row) in rows.iter().enumerate() {
        let page = w.page_of(row).unwrap().id;
        assert!(w.notion.edit(&page, PageEdit::decision(&format!("page {i} edited"))));
        w.time.advance_secs(60 / i64::try_from(per_minute).unwrap());
    }
    w.time.advance_secs(60);
}

/// Runs with `budgets` in turn until every row holds its page's edit; checks the cursor each run.
fn drain_notion_edits(w: &World, rows: &[String], budgets: &[u32]) -> usize {
    let mut runs = 0;
    while rows.iter().enumerate().any(|(i, row)| row_content_of(w, row).decision != format!("page {i} edited")) {
        assert!(runs < 80, "the edits do not drain: {}", w.describe());
        let before = w.state.state().cursors.pages;
        w.sync_with(budgets[runs % budgets.len()]);
        runs += 1;
        assert!(w.state.state().cursors.pages >= before, "the page cursor never moves back");
        assert_page_cursor_passed_only_synced_pages(w);
        w.time.advance_secs(20);
    }
    runs
}

#[test]
fn notion_result_cap_a_window_larger_than_the_cap_is_read_in_full_and_synced_once() {
    // Real Notion caps a query at 10,000 results (`has_more` false, `request_status` incomplete).
    let (w, rows) = capped_world(120, 30);
    let pulled_before = w.state.state().totals.rows_updated;
    edit_pages_in_notion(&w, &rows, 20);
    drain_notion_edits(&w, &rows, &[DEFAULT_BUDGET]);
    w.sync_until_quiet();
    w.assert_converged();
    assert_eq!(w.state.state().totals.rows_updated - pulled_before, 120, "each edit is pulled exactly once");
}

#[test]
fn notion_result_cap_small_budgets_resume_a_capped_window_across_runs_without_skipping() {
    let (w, rows) = capped_world(150, 30);
    let pulled_before = w.state.state().totals.rows_updated;
    edit_pages_in_notion(&w, &rows, 12);
    let runs = drain_notion_edits(&w, &rows, &[12, 20, DEFAULT_BUDGET]);
    assert!(runs > 2, "the small budgets needed several runs ({runs})");
    w.sync_until_quiet();
    w.assert_converged();
    assert_eq!(w.state.state().totals.rows_updated - pulled_before, 150, "each edit is pulled exactly once");
}

#[test]
fn notion_result_cap_more_pages_than_the_cap_edited_in_one_minute_are_read_by_created_time() {
    // A bulk change in Notion's UI touches 120 pages in the same `last_edited_time` minute (cap
    // 30 here; real: 10,000). Most are clean (nothing the sync writes back, so they stay in that
    // minute); the edits are on the 20 pages Notion lists last within the minute.
    let (w, rows) = capped_world(120, 30);
    let pulled_before = w.state.state().totals.rows_updated;
    let mut by_page: Vec<(String, String)> = rows.iter().map(|row| (w.page_of(row).unwrap().id, row.clone())).collect();
    by_page.sort();
    for (page, _) in &by_page {
        assert!(w.notion.touch(page));
    }
    let edited: Vec<String> = by_page[100..].iter().map(|(_, row)| row.clone()).collect();
    for (i, row) in edited.iter().enumerate() {
        assert!(w.notion.edit(&w.page_of(row).unwrap().id, PageEdit::decision(&format!("page {i} edited"))));
    }
    w.time.advance_secs(60);
    drain_notion_edits(&w, &edited, &[DEFAULT_BUDGET, 12]);
    w.sync_until_quiet();
    w.assert_converged();
    assert_eq!(w.state.state().totals.rows_updated - pulled_before, 20, "each edit is pulled exactly once");
}

#[test]
fn notion_result_cap_more_pages_than_the_cap_created_and_edited_in_one_minute_warn_and_are_never_passed() {
    // The one case no query can split (real: over 10,000 pages created in one minute, then all
    // edited in one minute). Here 40 pages, cap 30: the run says so, and the cursor waits.
    let w = World::new();
    let pages: Vec<String> = (0..40).map(|i| w.notion.create(&format!("crowd {i}"), &["Ops"], Some(DAY))).collect();
    w.sync_until_quiet();
    w.notion.set_result_limit(Some(30));
    w.time.advance_secs(300);
    let mut sorted = pages.clone();
    sorted.sort();
    for page in &sorted {
        assert!(w.notion.touch(page));
    }
    let hidden = sorted.last().unwrap().clone();
    assert!(w.notion.edit(&hidden, PageEdit::decision("crowd edited")));
    w.time.advance_secs(60);
    let run = w.sync();
    assert!(
        run.summary.warnings.iter().any(|warning| warning.contains("query result limit (10,000)")),
        "{:?}",
        run.summary.warnings
    );
    assert_ne!(w.row_of(&hidden).unwrap().decision, "crowd edited", "Notion never listed it");
    assert_page_cursor_passed_only_synced_pages(&w);
    assert!(
        w.state.state().cursors.pages < Some(w.notion.page(&hidden).unwrap().last_edited_time + Duration::minutes(1))
    );
    // The fix the warning names: editing some of them moves them out of that minute.
    for (i, page) in sorted.iter().take(15).enumerate() {
        assert!(w.notion.edit(page, PageEdit::decision(&format!("crowd {i} moved"))));
    }
    w.time.advance_secs(60);
    w.sync_until_quiet();
    assert_eq!(w.row_of(&hidden).unwrap().decision, "crowd edited");
    w.assert_converged();
}

// What `in_trash: true` in a query body does is disputed: listed trashed pages, ignored, or a 400.

#[test]
fn a_notion_that_rejects_in_trash_in_queries_fails_no_run_and_is_not_asked_again_until_the_full_pass() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Trash me", "Ops");
    w.notion.set_trash_reading(TrashReading::Rejected);
    let run = w.sync();
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary);
    assert!(w.state.state().trash_query_refused.is_some(), "remembered");
    let asked = w.notion.trashed_queries.get();
    assert!(w.notion.trash(&page));
    w.time.advance_secs(60);
    let run = w.sync();
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary);
    assert_eq!(w.notion.trashed_queries.get(), asked, "not sent again");
    // The daily full pass finds the trashed page by `GET /v1/pages/{id}` (and asks Notion once more).
    w.wait_a_day();
    w.sync_until_quiet();
    assert!(w.supabase.row(&row).unwrap().is_deleted(), "{}", w.describe());
    assert!(w.notion.trashed_queries.get() > asked);
    assert!(w.state.state().trash_query_refused.is_some());
    w.assert_converged();
}

#[test]
fn a_notion_that_ignores_in_trash_in_queries_still_gets_trashed_pages_to_supabase_by_the_full_pass() {
    let w = World::new();
    let (row, page) = linked_pair(&w, "Trash me", "Ops");
    let (kept, _) = linked_pair(&w, "Keep me", "Ops");
    w.notion.set_trash_reading(TrashReading::Ignored);
    assert!(w.notion.trash(&page));
    w.time.advance_secs(60);
    assert_eq!(w.sync().summary.outcome, RunOutcome::Ok);
    assert!(w.state.state().trash_query_refused.is_some(), "live pages answering a trashed query were noticed");
    let asked = w.notion.trashed_queries.get();
    assert_eq!(w.sync().summary.outcome, RunOutcome::Ok);
    assert_eq!(w.notion.trashed_queries.get(), asked, "not sent again");
    assert!(!w.supabase.row(&kept).unwrap().is_deleted(), "the live page was not taken for a trashed one");
    w.wait_a_day();
    w.sync_until_quiet();
    assert!(w.supabase.row(&row).unwrap().is_deleted(), "{}", w.describe());
    w.assert_converged();
}

#[test]
fn a_crash_before_the_link_under_a_notion_rejecting_in_trash_creates_no_second_page() {
    let w = World::new();
    w.notion.set_trash_reading(TrashReading::Rejected);
    let row = w.supabase.insert("Crash me", "Ops", DAY);
    w.faults.inject_on("create_page", 1, Fault::CrashAfterEffect);
    assert!(w.run(DEFAULT_BUDGET, false).is_err(), "the run is aborted");
    let run = w.sync();
    assert!(
        !matches!(run.summary.outcome, RunOutcome::NotConfigured { .. } | RunOutcome::Failed { .. }),
        "{:?}",
        run.summary
    );
    w.sync_until_quiet();
    assert_eq!(w.notion.pages().len(), 1, "no second page");
    assert!(w.supabase.row(&row).unwrap().notion_page_id.is_some());
    w.assert_converged();
}

// A full reconciliation at scale: what it reads (the bench's `scale` phase in miniature).

/// `n` linked pairs in crowds of `per_minute` pages one minute apart, Notion capping queries at
/// `cap` (real: 10,000).
fn scale_world(n: usize, per_minute: usize, cap: usize) -> (World, Vec<(String, String)>) {
    let w = World::new();
    let spread = support::scale::Spread { per_step: per_minute, step: Duration::minutes(1) };
    let pairs = support::scale::seed_linked(&w, n, spread);
    w.notion.set_result_limit(Some(cap));
    (w, pairs)
}

/// One row edited directly, one page trashed, one row hard-deleted, among the pairs.
fn plant_drift(w: &World, pairs: &[(String, String)]) -> [(String, String); 3] {
    let n = pairs.len();
    let (edited, trashed, deleted) = (pairs[n / 3].clone(), pairs[n / 2].clone(), pairs[2 * n / 3].clone());
    assert!(w.supabase.edit(&edited.0, RowEdit::decision("edited directly in SQL")));
    assert!(w.notion.trash(&trashed.1));
    assert!(w.supabase.hard_delete(&deleted.0));
    w.time.advance_secs(5);
    [edited, trashed, deleted]
}

fn assert_drift_found(w: &World, [edited, trashed, deleted]: &[(String, String); 3]) {
    assert_eq!(page_content_of(w, &edited.1).decision, "edited directly in SQL", "the row edit reached Notion");
    assert!(w.supabase.row(&trashed.0).unwrap().deleted_at.is_some(), "the trashed page soft-deleted its row");
    let orphans = w.state.state().orphans;
    assert!(orphans.iter().any(|orphan| orphan.id == deleted.1), "the hard delete is reported: {orphans:?}");
    w.assert_converged();
}

#[test]
fn a_full_pass_over_many_runs_reads_each_page_once_plus_the_minutes_a_capped_query_restarts_from() {
    // 5,000 pairs, 100 a minute; Notion's cap at 1,000. Budget 100: ten runs' worth of reads
    // at the old per-source limit (1,000). Each page is read once, plus, after each capped query
    // (no cursor past Notion's cap), the last minute again: about 100 per 1,000.
    let (w, pairs) = scale_world(5_000, 100, 1_000);
    let drift = plant_drift(&w, &pairs);
    let pass = support::scale::full_pass(&w, 100, 40);
    eprintln!("full pass over 5,000 pairs (100 a minute) at budget 100: {pass:?}");
    assert_drift_found(&w, &drift);
    assert!(pass.pages_read <= 5_000 * 112 / 100, "{} page reads for 5,000 pages: {pass:?}", pass.pages_read);
    // The pages in sync do not count against the per-source limit: the runs use their budget.
    assert!(pass.runs <= 4, "{pass:?}");
    assert!(pass.most_in_a_run >= 60, "{pass:?}");
}

#[test]
fn a_full_pass_over_crowded_minutes_reads_each_crowd_at_most_twice() {
    // The bench's layout scaled down ten times: crowds of 500 pages, Notion's cap at 1,000, so
    // that every capped query ends on a crowd the next query must read again (Notion gives no
    // cursor past its cap): at most 1.5 reads a page, not the overlap again at every run too.
    let (w, pairs) = scale_world(5_000, 500, 1_000);
    let drift = plant_drift(&w, &pairs);
    let pass = support::scale::full_pass(&w, 100, 40);
    eprintln!("full pass over 5,000 pairs (500 a minute) at budget 100: {pass:?}");
    assert_drift_found(&w, &drift);
    assert!(pass.pages_read <= 5_000 * 155 / 100, "{} page reads for 5,000 pages: {pass:?}", pass.pages_read);
}

#[test]
fn a_window_of_more_pages_than_notions_real_cap_is_read_whole_with_no_page_missed() {
    // Notion's real cap (10,000 results per query) and 12,000 pages edited within two minutes:
    // every query of the window ends capped (`request_status` incomplete, no cursor), so the
    // reader narrows it from the last minute it saw, then splits that crowded minute by
    // `created_time`. No page is missed (the planted drift is among the last pages), none is
    // read more than twice, and the cursor never passes a page not read.
    let (w, pairs) = scale_world(12_000, 6_000, 10_000);
    let drift = plant_drift(&w, &pairs);
    let pass = support::scale::full_pass(&w, 1_000, 40);
    eprintln!("full pass over 12,000 pairs (6,000 a minute, cap 10,000) at budget 1,000: {pass:?}");
    assert_drift_found(&w, &drift);
    assert!(pass.pages_read >= 12_000, "every page read: {pass:?}");
    assert!(pass.pages_read <= 2 * 12_000, "{} page reads for 12,000 pages: {pass:?}", pass.pages_read);
}

#[test]
fn a_full_pass_on_the_free_budget_reads_each_page_about_once() {
    let (w, pairs) = scale_world(2_000, 100, 10_000);
    let drift = plant_drift(&w, &pairs);
    let pass = support::scale::full_pass(&w, 45, 40);
    eprintln!("full pass over 2,000 pairs at budget 45: {pass:?}");
    assert_drift_found(&w, &drift);
    assert!(pass.pages_read <= 2_000 * 105 / 100, "{} page reads for 2,000 pages: {pass:?}", pass.pages_read);
    // Before: 11 runs, 159 subrequests, 3,815 page reads (the overlap read again every run).
    assert!(pass.runs <= 5 && pass.subrequests <= 100, "{pass:?}");
}

// ---------------------------------------------------------------------------------------------
// Pool scans that resume across runs: any first sync finishes on the free plan's budget

/// The free plan's subrequest budget (`SYNC_SUBREQUEST_BUDGET`'s default).
const FREE_BUDGET: u32 = 45;

/// What draining a first sync took.
#[derive(Debug)]
struct Drain {
    runs: usize,
    subrequests: u64,
    /// The run after which the first page was imported, and the first page created.
    first_import: Option<usize>,
    first_create: Option<usize>,
}

/// Runs once a minute on `budget` until a run writes nothing and ends `Ok`. Every run stays
/// within the budget and nothing is ever created twice (at most `rows` pages created by the sync,
/// `pages` rows inserted by it).
fn drain_first_sync(w: &World, budget: u32, rows: usize, pages: usize, max_runs: usize) -> Drain {
    let mut drain = Drain { runs: 0, subrequests: 0, first_import: None, first_create: None };
    loop {
        drain.runs += 1;
        assert!(drain.runs <= max_runs, "the first sync does not finish in {max_runs} runs");
        let before = w.writes();
        let run = w.sync_with(budget);
        assert!(run.summary.subrequests <= budget, "over budget: {}", run.summary.subrequests);
        drain.subrequests += u64::from(run.summary.subrequests);
        let (created, inserted) = (w.notion.created_by_sync().len(), w.supabase.inserted_by_sync().len());
        assert!(created <= rows && inserted <= pages, "a duplicate: {created} pages created, {inserted} rows inserted");
        if inserted > 0 && drain.first_import.is_none() {
            drain.first_import = Some(drain.runs);
        }
        if created > 0 && drain.first_create.is_none() {
            drain.first_create = Some(drain.runs);
        }
        if w.writes().since(before).to_services() == 0 && run.summary.outcome == RunOutcome::Ok {
            return drain;
        }
        w.time.advance_secs(60);
    }
}

/// Live rows and live pages holding this decision text.
fn copies_of(w: &World, decision: &str) -> (usize, usize) {
    let rows = w.supabase.live_rows().iter().filter(|row| row.decision == decision).count();
    let pages = w.notion.live_pages().iter().filter(|page| page.decision == decision).count();
    (rows, pages)
}

/// 2,000 rows and 1,000 pages, none matching: the row pool (two requests of 1,000) and the page
/// pool (ten queries) are larger than one run's read share, yet every page is imported (from the
/// digest of the row scan) and every row gets its page (once the page pool has drained).
#[test]
fn pools_a_first_sync_of_2000_rows_and_1000_pages_none_matching_finishes_on_the_free_budget() {
    let w = World::new();
    for i in 0..2000 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    for i in 0..1000 {
        w.notion.create(&format!("page {i}"), &["Policy"], Some(DAY));
    }
    let drain = drain_first_sync(&w, FREE_BUDGET, 2000, 1000, 400);
    println!("2,000 rows + 1,000 pages, none matching, budget {FREE_BUDGET}: {drain:?}");
    assert_eq!(w.live_counts(), (3000, 3000));
    assert_eq!((w.notion.created_by_sync().len(), w.supabase.inserted_by_sync().len()), (2000, 1000));
    w.assert_converged();
    assert!(w.lock.intents().is_empty(), "no intent left: {}", w.lock.intents().len());
    assert!(drain.first_import <= Some(3), "imports start once the row scan is complete: {drain:?}");
}

/// The same with 200 matching pairs among them: each pair is linked (exactly one page and one
/// row per pair), the rest imported and created.
#[test]
fn pools_200_matching_pairs_among_2000_rows_and_1000_pages_get_exactly_one_page_each() {
    let w = World::new();
    for i in 0..2000 {
        let decision = if i % 10 == 3 { format!("pair {}", i / 10) } else { format!("row {i}") };
        w.supabase.insert(&decision, "Ops", DAY);
    }
    for i in 0..1000 {
        if i % 5 == 1 {
            w.notion.create(&format!("pair {}", i / 5), &["Ops"], Some(DAY));
        } else {
            w.notion.create(&format!("page {i}"), &["Policy"], Some(DAY));
        }
    }
    let drain = drain_first_sync(&w, FREE_BUDGET, 1800, 800, 400);
    println!("2,000 rows + 1,000 pages, 200 matching pairs, budget {FREE_BUDGET}: {drain:?}");
    assert_eq!(w.live_counts(), (2800, 2800));
    assert_eq!((w.notion.created_by_sync().len(), w.supabase.inserted_by_sync().len()), (1800, 800));
    for pair in 0..200 {
        assert_eq!(copies_of(&w, &format!("pair {pair}")), (1, 1), "pair {pair}");
    }
    w.assert_converged();
}

/// Duplicate content on one side, in pools larger than one run reads: each page matches at
/// most one row (the oldest first), the other copies are imported or created, never twice.
#[test]
fn pools_duplicate_content_on_one_side_is_matched_once_and_the_copies_synced() {
    let w = World::new();
    for i in 0..1200 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    for i in 0..100 {
        w.supabase.insert(&format!("dup {i}"), "Ops", DAY);
        w.supabase.insert(&format!("dup {i}"), "Ops", DAY);
    }
    for j in 0..50 {
        w.supabase.insert(&format!("twin {j}"), "Ops", DAY);
    }
    for i in 0..600 {
        w.notion.create(&format!("page {i}"), &["Policy"], Some(DAY));
    }
    for i in 0..50 {
        w.notion.create(&format!("dup {i}"), &["Ops"], Some(DAY));
    }
    for j in 0..50 {
        w.notion.create(&format!("twin {j}"), &["Ops"], Some(DAY));
        w.notion.create(&format!("twin {j}"), &["Ops"], Some(DAY));
    }
    drain_first_sync(&w, FREE_BUDGET, 1450, 750, 400);
    assert_eq!(w.live_counts(), (2100, 2100));
    assert_eq!((w.notion.created_by_sync().len(), w.supabase.inserted_by_sync().len()), (1350, 650));
    for i in 0..100 {
        assert_eq!(copies_of(&w, &format!("dup {i}")), (2, 2), "dup {i}");
    }
    for j in 0..50 {
        assert_eq!(copies_of(&w, &format!("twin {j}")), (2, 2), "twin {j}");
    }
    w.assert_converged();
}

/// A page created after the row scan passed its row: the scan kept the row's checksum, so the
/// page waits (it is not imported) until the scan, started over, reads its row in the same run;
/// then they are linked.
#[test]
fn pools_a_page_created_after_the_scan_passed_its_row_waits_for_it_and_links() {
    let w = World::new();
    // The oldest row: run 1's scan (rows 1-1,000) and row window read it; run 2 reads neither.
    w.supabase.insert("early", "Ops", DAY);
    for i in 0..1999 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    // More pages than one run reads (500): run 1 reads 500, run 2 the rest, with the new page.
    for i in 0..600 {
        w.notion.create(&format!("page {i}"), &["Policy"], Some(DAY));
    }
    w.sync_with(FREE_BUDGET);
    w.time.advance_secs(60);
    let early = w.notion.create("early", &["Ops"], Some(DAY));
    let run = w.sync_with(FREE_BUDGET);
    assert!(w.state.state().pools.row_digest.is_some(), "the row scan completed in two runs");
    assert!(
        run.plan.deferred.iter().any(|item| item.page_id.as_deref() == Some(early.as_str())),
        "the page was read and waits for its row"
    );
    drain_first_sync(&w, FREE_BUDGET, 2000, 601, 400);
    assert_eq!(copies_of(&w, "early"), (1, 1));
    assert_eq!(w.live_counts(), (2600, 2600));
    w.assert_converged();
}

/// A row inserted after the row scan completed (only the tail read sees it: the scan started
/// over from the oldest rows) whose content equals an unsynced page read in the same run, and a
/// row inserted while a run reads the pool: each is linked to its page, never a second copy. The
/// page pool is small (read whole every run), so each page is decided in the run that reads it.
#[test]
fn pools_rows_inserted_after_or_during_the_scan_are_matched_not_duplicated() {
    let w = World::new();
    for i in 0..2000 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    for i in 0..20 {
        w.notion.create(&format!("page {i}"), &["Policy"], Some(DAY));
    }
    w.sync_with(FREE_BUDGET);
    w.time.advance_secs(60);
    w.sync_with(FREE_BUDGET);
    assert!(w.state.state().pools.row_digest.is_some(), "the row scan completed in two runs");
    w.time.advance_secs(60);
    w.supabase.insert("late", "Ops", DAY);
    w.notion.create("late", &["Ops"], Some(DAY));
    w.notion.create("mid-run", &["Ops"], Some(DAY));
    w.supabase.after_next_pool_read(|supabase| {
        supabase.insert("mid-run", "Ops", DAY);
    });
    drain_first_sync(&w, FREE_BUDGET, 2002, 22, 400);
    for decision in ["late", "mid-run"] {
        assert_eq!(copies_of(&w, decision), (1, 1), "{decision}");
    }
    assert_eq!(w.live_counts(), (2022, 2022));
    w.assert_converged();
}

/// A project whose API "Max rows" is below what the sync asks for (250 < 1,000): a short answer
/// is not the end of the pool; `more` (the exact count) is, so no page is imported while
/// matching rows are still unread.
#[test]
fn pools_a_max_rows_below_the_request_limit_is_not_taken_for_the_end_of_the_pool() {
    let w = World::new();
    w.supabase.set_max_rows(250);
    for i in 0..600 {
        w.supabase.insert(&format!("row {i}"), "Ops", DAY);
    }
    w.supabase.insert("last row", "Ops", DAY);
    w.notion.create("last row", &["Ops"], Some(DAY));
    drain_first_sync(&w, FREE_BUDGET, 601, 1, 100);
    assert_eq!(copies_of(&w, "last row"), (1, 1));
    assert_eq!(w.supabase.inserted_by_sync().len(), 0, "the page matched its row");
    w.assert_converged();
}

/// Pages that wait at the head of the unsynced-page pool (500 pages Notion lists first, none
/// with a date: per-record errors, never imported) do not starve the pages after them: each
/// run goes on where the last one stopped, then starts over.
#[test]
fn pools_pages_held_at_the_head_of_the_pool_do_not_starve_the_rest() {
    let w = World::new();
    for i in 0..500 {
        w.notion.create(&format!("no date {i}"), &["Ops"], None);
    }
    w.time.advance_secs(60);
    for i in 0..30 {
        w.notion.create(&format!("page {i}"), &["Ops"], Some(DAY));
    }
    for _ in 0..6 {
        w.sync_with(FREE_BUDGET);
        w.time.advance_secs(60);
    }
    assert_eq!(w.supabase.inserted_by_sync().len(), 30, "every valid page was imported");
    for i in 0..30 {
        assert_eq!(copies_of(&w, &format!("page {i}")), (1, 1));
    }
}
