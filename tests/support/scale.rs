//! Many linked pairs at once, as a completed sync leaves them (the bench's `scale` phase in
//! miniature), and the counts of one full reconciliation over them.
use chrono::{DateTime, Duration, Utc};
use decision_sync::core::content::Content;
use decision_sync::core::model::Row;
use decision_sync::core::report::RunOutcome;

use super::notion::StoredPage;
use super::sim::Service;
use super::supabase::fake_uuid;
use super::world::World;

/// How the pages' `created_time` / `last_edited_time` are spread: `per_step` pages share one
/// time, the next `per_step` are `step` later (the bench: 5,000 pages every 2 minutes).
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub per_step: usize,
    pub step: Duration,
}

/// `n` linked pairs, two days old, same content and base on both sides. Returns (row, page) ids.
pub fn seed_linked(w: &World, n: usize, spread: Spread) -> Vec<(String, String)> {
    let start = w.time.now() - Duration::days(2);
    let kinds = ["Policy", "Architecture", "Ops", "UX", "Other"];
    let mut rows = Vec::with_capacity(n);
    let mut pages = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let kind = kinds[i % kinds.len()];
        let date = format!("2024-{:02}-{:02}", 1 + i % 12, 1 + i % 28);
        let decision = format!("Scale decision {i}: review the {kind} log every week");
        let base = Content::normalize(&decision, kind, &date).expect("valid content").checksum();
        let (row_id, page_id) = (fake_uuid(8, i as u64 + 1), fake_uuid(7, i as u64 + 1));
        let at: DateTime<Utc> = start + spread.step * i32::try_from(i / spread.per_step.max(1)).expect("small n");
        rows.push(Row {
            id: row_id.clone(),
            decision: decision.clone(),
            kind: kind.to_string(),
            date: date.clone(),
            created_at: start,
            updated_at: start,
            notion_page_id: Some(page_id.clone()),
            notion_synced: true,
            checksum: Some(base.clone()),
            deleted_at: None,
        });
        pages.push(StoredPage {
            id: page_id.clone(),
            title: vec![decision],
            types: vec![kind.to_string()],
            date: Some(date),
            date_end: None,
            date_time_zone: None,
            checksum: Some(base),
            synced: true,
            in_trash: false,
            created: at,
            edited: at,
            created_by_sync: true,
        });
        ids.push((row_id, page_id));
    }
    w.supabase.load(rows);
    w.notion.load(pages);
    ids
}

/// What one full reconciliation cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassCounts {
    pub runs: usize,
    pub subrequests: u64,
    pub pages_read: u64,
    pub rows_read: u64,
    pub notion_queries: u64,
    /// The most subrequests one run used.
    pub most_in_a_run: u32,
}

/// Runs with `budget` until the full pass that the first run starts is done (at most `max_runs`).
pub fn full_pass(w: &World, budget: u32, max_runs: usize) -> PassCounts {
    let calls_before = w.faults.calls();
    let mut counts = PassCounts::default();
    loop {
        assert!(counts.runs < max_runs, "the full pass did not end in {max_runs} runs: {counts:?}");
        let run = w.sync_with(budget);
        counts.runs += 1;
        counts.pages_read += u64::from(run.summary.counts.pages_read);
        counts.rows_read += u64::from(run.summary.counts.rows_read);
        counts.most_in_a_run = counts.most_in_a_run.max(run.summary.subrequests);
        let state = w.state.state();
        let done = state.full_pass.is_none() && state.last_full_pass.is_some();
        if done && run.summary.outcome == RunOutcome::Ok && run.summary.pending == 0 {
            break;
        }
    }
    counts.subrequests = w.faults.calls() - calls_before;
    counts.notion_queries = w.faults.counts(Service::Notion).calls;
    counts
}
