//! Pages trashed in Notion reach their rows by the next run under every reading of `in_trash`
//! in a query body (issue 14 item 3): the presence sweep (`core::trash_sweep`) where Notion
//! ignores or rejects the parameter, and nothing extra where it lists trashed pages.
mod support;

use chrono::Duration;
use decision_sync::core::content::Content;
use decision_sync::core::model::{Row, Side};
use decision_sync::core::report::RunOutcome;
use support::notion::{StoredPage, TrashReading};
use support::supabase::fake_uuid;
use support::world::DEFAULT_BUDGET;
use support::World;

const REFUSING: [TrashReading; 2] = [TrashReading::Ignored, TrashReading::Rejected];
const FREE_BUDGET: u32 = 45;

/// `n` rows and pages that agree and are linked, loaded directly, then one full pass with a large
/// budget so that the cursors and the full pass are settled.
fn synced_world(n: u64) -> (World, Vec<(String, String)>) {
    let w = World::new();
    let now = w.time.now();
    let mut rows = Vec::new();
    let mut pages = Vec::new();
    let mut pairs = Vec::new();
    for i in 0..n {
        let content = Content::normalize(&format!("Decision {i}"), "Ops", "2025-08-07").expect("valid");
        let (row_id, page_id) = (fake_uuid(7, i), fake_uuid(8, i));
        let at = now - Duration::minutes(i64::try_from(n - i).unwrap_or(0));
        rows.push(Row {
            id: row_id.clone(),
            decision: content.decision.clone(),
            kind: content.kind.clone(),
            date: content.date.clone(),
            created_at: at,
            updated_at: at,
            notion_page_id: Some(page_id.clone()),
            notion_synced: true,
            checksum: Some(content.checksum()),
            deleted_at: None,
        });
        pages.push(StoredPage {
            id: page_id.clone(),
            title: vec![content.decision.clone()],
            types: vec![content.kind.clone()],
            date: Some(content.date.clone()),
            date_end: None,
            date_time_zone: None,
            checksum: Some(content.checksum()),
            synced: true,
            in_trash: false,
            created: at,
            edited: at,
            created_by_sync: true,
        });
        pairs.push((row_id, page_id));
    }
    w.supabase.load(rows);
    w.notion.load(pages);
    w.sync_until_quiet_with(100_000, 10);
    w.assert_converged();
    (w, pairs)
}

/// Makes Notion refuse `in_trash` this way, and lets one run notice it.
fn refusing(w: &World, reading: TrashReading) {
    w.notion.set_trash_reading(reading);
    let run = w.sync_with(FREE_BUDGET);
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary);
    assert!(w.state.state().trash_query_refused.is_some(), "{reading:?} noticed");
}

fn deleted(w: &World, row: &str) -> bool {
    w.supabase.row(row).expect("row exists").is_deleted()
}

#[test]
fn a_trashed_page_reaches_its_row_by_the_next_run_and_a_restore_too_under_each_refusing_reading() {
    for reading in REFUSING {
        let (w, pairs) = synced_world(5);
        refusing(&w, reading);
        let (row, page) = &pairs[2];
        assert!(w.notion.trash(page));
        w.time.advance_secs(60);
        let run = w.sync_with(FREE_BUDGET);
        assert_eq!(run.summary.outcome, RunOutcome::Ok, "{reading:?}: {:?}", run.summary);
        assert!(deleted(&w, row), "{reading:?}: the trash reached the row in the next run: {}", w.describe());
        for (other, _) in pairs.iter().filter(|(other, _)| other != row) {
            assert!(!deleted(&w, other), "{reading:?}: a live page is never taken for a trashed one");
        }
        assert!(w.notion.restore(page));
        w.time.advance_secs(60);
        w.sync_with(FREE_BUDGET);
        assert!(!deleted(&w, row), "{reading:?}: the restore reached the row in the next run");
        w.sync_until_quiet_with(FREE_BUDGET, 5);
        w.assert_converged();
    }
}

#[test]
fn a_page_deleted_for_good_makes_its_row_an_orphan_by_the_next_run_under_each_refusing_reading() {
    for reading in REFUSING {
        let (w, pairs) = synced_world(3);
        refusing(&w, reading);
        let (row, page) = &pairs[0];
        w.notion.purge(page);
        w.sync_with(FREE_BUDGET);
        let orphans = w.state.state().orphans;
        assert!(orphans.iter().any(|o| o.side == Side::Supabase && &o.id == row), "{reading:?}: {orphans:?}");
        assert!(!deleted(&w, row), "an orphan is never deleted");
    }
}

#[test]
fn where_notion_lists_trashed_pages_no_sweep_request_is_sent() {
    let (w, pairs) = synced_world(5);
    let (row, page) = &pairs[1];
    assert!(w.notion.trash(page));
    w.time.advance_secs(60);
    w.sync_with(FREE_BUDGET);
    assert!(deleted(&w, row), "found by the trashed-pages query");
    w.sync_until_quiet_with(FREE_BUDGET, 5);
    assert_eq!(w.notion.id_queries.get(), 0, "no presence-sweep query under the only-trashed reading");
    assert_eq!(w.state.state().trash_sweeps, Default::default(), "no sweep state");
}

#[test]
fn three_thousand_linked_records_on_the_free_budget_find_a_trashed_page_within_a_sweep() {
    for reading in REFUSING {
        let (w, pairs) = synced_world(3_000);
        refusing(&w, reading);
        // Finish the sweep the first run began, then count the runs of a whole one.
        let sweep_ends = |w: &World| {
            let before = w.state.state().trash_sweeps.last.clone();
            let mut runs = 0;
            while w.state.state().trash_sweeps.last == before {
                w.sync_with(FREE_BUDGET);
                runs += 1;
                assert!(runs < 20, "a sweep of 3,000 records ends");
            }
            runs
        };
        sweep_ends(&w);
        let runs_per_sweep = sweep_ends(&w);
        let last = w.state.state().trash_sweeps.last.clone().expect("a sweep ended");
        assert_eq!((last.pages, last.rows, last.left), (3_000, 3_000, 0), "{reading:?}: {last:?}");
        // A sweep takes a few runs; a page trashed at its worst moment (just after the pages
        // phase passed it) waits for the next sweep: at most two sweeps.
        let (row, page) = &pairs[0];
        assert!(w.notion.trash(page));
        let mut runs = 0;
        while !deleted(&w, row) {
            let run = w.sync_with(FREE_BUDGET);
            assert!(run.summary.subrequests <= FREE_BUDGET);
            runs += 1;
            assert!(runs <= 2 * runs_per_sweep, "{reading:?}: found within two sweeps ({runs} runs)");
        }
        assert!(
            runs_per_sweep <= 3,
            "{reading:?}: about 1,100 linked records a run on budget 45: {runs_per_sweep} runs"
        );
        assert!(runs <= runs_per_sweep, "{reading:?}: trashed before a sweep began, found by its end: {runs} runs");
        // Worst case: trashed just after a sweep's pages phase listed it (still live then): the
        // sweep after that one finds it.
        let (late_row, late_page) = &pairs[1];
        w.sync_with(FREE_BUDGET);
        assert!(w.notion.trash(late_page));
        let mut late = 0;
        while !deleted(&w, late_row) {
            w.sync_with(FREE_BUDGET);
            late += 1;
            assert!(late <= 2 * runs_per_sweep + 1, "{reading:?}: found within two sweeps and a run ({late} runs)");
        }
        let state_size = w.state.largest_save.get();
        eprintln!("{reading:?}: 3,000 linked records, budget 45: {runs_per_sweep} runs a sweep, trashed page found after {runs} runs ({late} in the worst case), state {state_size} bytes");
        assert!(state_size < 20_000, "the sweep's state stays compact: {state_size} bytes");
        assert_eq!(pairs.iter().filter(|(row, _)| deleted(&w, row)).count(), 2, "only the trashed pages' rows");
    }
}

#[test]
fn the_mass_delete_halt_holds_the_deletes_a_sweep_finds() {
    for reading in REFUSING {
        let (w, pairs) = synced_world(40);
        refusing(&w, reading);
        for (_, page) in &pairs[..30] {
            assert!(w.notion.trash(page));
        }
        w.time.advance_secs(60);
        for _ in 0..3 {
            w.sync_with(FREE_BUDGET);
        }
        let state = w.state.state();
        let halt = state.mass_delete.halt.as_ref().unwrap_or_else(|| panic!("{reading:?}: halted: {}", w.describe()));
        assert!(halt.rows_to_delete >= 20, "{halt:?}");
        let deleted_rows = pairs.iter().filter(|(row, _)| deleted(&w, row)).count();
        assert_eq!(deleted_rows, 0, "{reading:?}: no delete applied while halted");
        // An allow lets them through; the sweep finds them again.
        w.run_allowing(FREE_BUDGET, false, true).expect("run");
        let mut runs = 1;
        while pairs.iter().filter(|(row, _)| deleted(&w, row)).count() < 30 {
            w.sync_with(FREE_BUDGET);
            runs += 1;
            assert!(runs <= 8, "{reading:?}: the allowed deletes drain: {}", w.describe());
        }
        assert!(pairs[30..].iter().all(|(row, _)| !deleted(&w, row)));
        assert!(w.state.state().mass_delete.halt.is_none());
    }
}

#[test]
fn an_idle_run_under_a_refusing_reading_spends_few_requests_on_a_small_database() {
    let (w, _) = synced_world(5);
    refusing(&w, TrashReading::Rejected);
    let idle = w.sync_with(DEFAULT_BUDGET);
    // The sweep of a small database: one ids query and one linked-rows read.
    let before = w.notion.id_queries.get();
    let again = w.sync_with(DEFAULT_BUDGET);
    assert_eq!(w.notion.id_queries.get(), before + 1, "one sweep query a run");
    assert_eq!(again.summary.subrequests, idle.summary.subrequests, "{:?}", again.summary);
}

#[test]
fn notions_result_cap_splits_the_sweep_by_creation_minute_and_a_crowded_minute_falls_back_to_reads_by_id() {
    // 600 pages created a minute apart, under a cap of 250 results a query.
    let (w, pairs) = synced_world(600);
    w.notion.set_result_limit(Some(250));
    refusing(&w, TrashReading::Rejected);
    let (row, page) = &pairs[420];
    assert!(w.notion.trash(page));
    w.time.advance_secs(60);
    let gets = w.notion.page_gets.get();
    let run = w.sync_with(1_000);
    assert!(deleted(&w, row), "found across the capped queries: {:?}", run.summary);
    assert_eq!(w.notion.page_gets.get() - gets, 1, "every live page was listed: only the trashed one is read by id");
    assert!(run.summary.warnings.is_empty(), "{:?}", run.summary.warnings);
    assert_eq!(pairs.iter().filter(|(row, _)| deleted(&w, row)).count(), 1, "no live page taken for trashed");
    // 300 pages created in one same minute, under a cap of 100: the sweep lists 100 of them and
    // reads the others' pages by id; none is taken for trashed.
    let w = World::new();
    let rows: Vec<String> =
        (0..300).map(|i| w.supabase.insert(&format!("Same minute {i}"), "Ops", "2025-08-07")).collect();
    w.sync_until_quiet_with(100_000, 10);
    w.notion.set_result_limit(Some(100));
    w.notion.set_trash_reading(TrashReading::Ignored);
    let gets = w.notion.page_gets.get();
    let run = w.sync_with(1_000);
    assert!(w.state.state().trash_query_refused.is_some());
    assert!(
        run.summary.warnings.iter().any(|warning| warning.contains("presence sweep")),
        "{:?}",
        run.summary.warnings
    );
    assert!(w.notion.page_gets.get() - gets >= 200, "the pages the capped query could not list are read by id");
    assert!(rows.iter().all(|row| !deleted(&w, row)));
    assert!(w.state.state().trash_sweeps.last.is_some_and(|last| last.left == 0));
}

#[test]
fn a_failing_count_does_not_stop_the_first_sweep() {
    let (w, pairs) = synced_world(5);
    w.notion.set_trash_reading(TrashReading::Rejected);
    w.faults.inject_on("count_linked", 1, support::Fault::Fail);
    let run = w.sync_with(FREE_BUDGET);
    assert_eq!(run.summary.outcome, RunOutcome::Ok, "{:?}", run.summary);
    assert!(w.state.state().trash_sweeps.last.is_some_and(|last| last.rows == 5), "the sweep ran");
    let (row, page) = &pairs[4];
    assert!(w.notion.trash(page));
    w.sync_with(FREE_BUDGET);
    assert!(deleted(&w, row));
}
