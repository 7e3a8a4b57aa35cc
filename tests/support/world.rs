//! Both sides, the sync's storage and the clock, wired to the engine; runs and checks.
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use chrono::Duration;
use decision_sync::core::budget::Budget;
use decision_sync::core::content::Content;
use decision_sync::core::engine::{Engine, EngineConfig, RunRequest, RunResult};
use decision_sync::core::error::PortError;
use decision_sync::core::model::{Page, Row};
use decision_sync::core::pair::{page_content, row_content};
use decision_sync::core::ports::Wired;
use decision_sync::core::report::RunOutcome;

use super::block_on;
use super::notion::FakeNotion;
use super::sim::{FakeClock, Faults, Service, SimTime};
use super::store::{FakeLock, FakeState};
use super::supabase::FakeSupabase;

/// The default budget of a run (fits the free plan's 50 subrequests).
pub const DEFAULT_BUDGET: u32 = 50;

/// Write requests so far, per destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Writes {
    pub supabase: u64,
    pub notion: u64,
    pub state: u64,
    pub lock: u64,
}

impl Writes {
    pub fn since(self, before: Writes) -> Writes {
        Writes {
            supabase: self.supabase - before.supabase,
            notion: self.notion - before.notion,
            state: self.state - before.state,
            lock: self.lock - before.lock,
        }
    }
    /// Writes to either service (the sync's own storage not counted).
    pub fn to_services(self) -> u64 {
        self.supabase + self.notion
    }
}

pub struct World {
    pub time: SimTime,
    pub faults: Faults,
    pub supabase: FakeSupabase,
    pub notion: FakeNotion,
    pub state: FakeState,
    pub lock: FakeLock,
    pub clock: FakeClock,
    pub config: EngineConfig,
    runs: Cell<u64>,
    /// Pages the next run is told about (as a webhook would).
    pub marked_pages: RefCell<Vec<String>>,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> Self {
        let time = SimTime::starting_2025();
        let faults = Faults::new(time.clone());
        World {
            supabase: FakeSupabase::new(time.clone(), faults.clone()),
            notion: FakeNotion::new(time.clone(), faults.clone()),
            state: FakeState::default(),
            lock: FakeLock::new(),
            clock: FakeClock::new(time.clone()),
            config: EngineConfig::default(),
            faults,
            time,
            runs: Cell::new(0),
            marked_pages: RefCell::new(Vec::new()),
        }
    }

    /// One run with this budget; `Err` only for an aborted (crashed) run.
    pub fn run(&self, budget: u32, dry_run: bool) -> Result<RunResult, PortError> {
        self.run_allowing(budget, dry_run, false)
    }

    /// [`World::run`], with an authenticated `allow-mass-delete=1` when `allow_mass_delete`.
    pub fn run_allowing(&self, budget: u32, dry_run: bool, allow_mass_delete: bool) -> Result<RunResult, PortError> {
        let number = self.runs.get() + 1;
        self.runs.set(number);
        let budget = Budget::new(budget);
        self.faults.set_budget(Some(budget.clone()));
        // One lock per run attempt, dropped when the run ends (as the coordinator's is).
        let lock = self.lock.attempt();
        let engine = Engine {
            ports: Wired {
                supabase: &self.supabase,
                notion: &self.notion,
                store: &self.state,
                lock: &lock,
                clock: &self.clock,
            },
            config: self.config.clone(),
        };
        let request = RunRequest {
            run_id: format!("run-{number}"),
            trigger: "test".into(),
            dry_run,
            budget,
            allow_mass_delete,
            marked_pages: self.marked_pages.borrow_mut().drain(..).collect(),
        };
        let result = block_on(engine.run(&request));
        self.faults.set_budget(None);
        self.time.advance_secs(2);
        result
    }

    /// A run with the default budget that must not crash.
    pub fn sync(&self) -> RunResult {
        self.sync_with(DEFAULT_BUDGET)
    }

    pub fn sync_with(&self, budget: u32) -> RunResult {
        self.run(budget, false).unwrap_or_else(|error| panic!("the run was aborted: {error}"))
    }

    pub fn dry_run(&self) -> RunResult {
        self.run(DEFAULT_BUDGET, true).unwrap_or_else(|error| panic!("the dry run was aborted: {error}"))
    }

    /// Makes the next run start a full reconciliation (the last one is over a day old).
    pub fn wait_a_day(&self) {
        self.time.advance(Duration::hours(25));
    }

    pub fn writes(&self) -> Writes {
        Writes {
            supabase: self.faults.counts(Service::Supabase).write_calls,
            notion: self.faults.counts(Service::Notion).write_calls,
            state: self.state.writes.get(),
            lock: self.lock.writes(),
        }
    }

    /// Runs with `budget` until a run writes nothing to either service and ends `Ok`.
    /// Returns the number of runs; panics after `max_runs`.
    pub fn sync_until_quiet_with(&self, budget: u32, max_runs: usize) -> usize {
        for runs in 1..=max_runs {
            let before = self.writes();
            let result = self.sync_with(budget);
            if self.writes().since(before).to_services() == 0 && result.summary.outcome == RunOutcome::Ok {
                return runs;
            }
        }
        panic!("still writing after {max_runs} runs; last state: {:#?}", self.state.state().last_run);
    }

    pub fn sync_until_quiet(&self) -> usize {
        self.sync_until_quiet_with(DEFAULT_BUDGET, 30)
    }

    /// Ids named by a per-record error or an orphan in the saved state.
    pub fn reported_ids(&self) -> BTreeSet<String> {
        let state = self.state.state();
        state
            .errors
            .iter()
            .map(|issue| issue.id.clone())
            .chain(state.orphans.iter().map(|orphan| orphan.id.clone()))
            .collect()
    }

    /// Everything that is not converged, excluding reported records (per-record errors and
    /// orphans, and their partners). Empty when both sides agree.
    pub fn divergences(&self) -> Vec<String> {
        let reported = self.reported_ids();
        let rows = self.supabase.rows();
        let pages = self.notion.pages();
        let mut problems = Vec::new();
        let excused = |row: Option<&Row>, page: Option<&Page>| {
            row.is_some_and(|row| reported.contains(&row.id)) || page.is_some_and(|page| reported.contains(&page.id))
        };
        for row in &rows {
            let page = row.notion_page_id.as_deref().and_then(|id| pages.iter().find(|page| page.id == id));
            if excused(Some(row), page) {
                continue;
            }
            match (row.deleted_at.is_some(), page) {
                (false, None) => problems.push(format!("live row {} has no page ({:?})", row.id, row.notion_page_id)),
                (false, Some(page)) if page.in_trash => {
                    problems.push(format!("live row {} is linked to trashed page {}", row.id, page.id))
                }
                (false, Some(page)) => {
                    if let Some(problem) = pair_problem(row, page) {
                        problems.push(problem);
                    }
                }
                (true, Some(page)) if !page.in_trash => {
                    problems.push(format!("deleted row {} is linked to live page {}", row.id, page.id))
                }
                (true, _) => {}
            }
        }
        for page in &pages {
            let row = rows.iter().find(|row| row.notion_page_id.as_deref() == Some(page.id.as_str()));
            if page.in_trash || excused(row, Some(page)) {
                continue;
            }
            if row.is_none() {
                problems.push(format!("live page {} has no row (base {:?})", page.id, page.base));
            }
        }
        problems
    }

    pub fn assert_converged(&self) {
        let problems = self.divergences();
        assert!(problems.is_empty(), "not converged:\n{}\nstate: {:#?}", problems.join("\n"), self.state.state());
    }

    /// Both sides, the intents and the last run, for debugging a failing case.
    pub fn describe(&self) -> String {
        let short = |id: &str| id.chars().rev().take(4).collect::<String>().chars().rev().collect::<String>();
        let mut out = String::new();
        for row in self.supabase.rows() {
            out += &format!(
                "  row {} {:?}|{:?}|{} page={:?} synced={} base={:?} deleted={} updated={}\n",
                short(&row.id),
                row.decision,
                row.kind,
                row.date,
                row.notion_page_id.as_deref().map(short),
                row.notion_synced,
                row.checksum.as_deref().map(|b| &b[..6]),
                row.deleted_at.is_some(),
                row.updated_at.format("%H:%M:%S%.6f"),
            );
        }
        for page in self.notion.pages() {
            out += &format!(
                "  page {} {:?}|{:?}|{:?} base={:?} trash={} edited={} by_sync={}\n",
                short(&page.id),
                page.decision,
                page.types,
                page.date,
                page.base.as_deref().map(|b| &b[..6]),
                page.in_trash,
                page.last_edited_time.format("%H:%M"),
                self.notion.stored(&page.id).is_some_and(|p| p.created_by_sync),
            );
        }
        for intent in self.lock.intents() {
            out += &format!("  intent row {} base {}\n", short(&intent.row_id), &intent.base[..6]);
        }
        let state = self.state.state();
        if let Some(run) = &state.last_run {
            out += &format!("  last run {} {:?} {:?}\n", run.run_id, run.outcome, run.counts);
        }
        out += &format!("  errors {:?}\n  orphans {:?}\n  cursors {:?}\n", state.errors, state.orphans, state.cursors);
        out
    }

    /// Live rows and live pages (for quick counts in scenarios).
    pub fn live_counts(&self) -> (usize, usize) {
        (self.supabase.live_rows().len(), self.notion.live_pages().len())
    }

    /// The page linked to a row, if any.
    pub fn page_of(&self, row_id: &str) -> Option<Page> {
        self.supabase.row(row_id)?.notion_page_id.and_then(|id| self.notion.page(&id))
    }

    /// The row linked to a page, if any.
    pub fn row_of(&self, page_id: &str) -> Option<Row> {
        self.supabase.row_by_page(page_id)
    }
}

/// Why a live linked pair does not agree, if it does not.
pub fn pair_problem(row: &Row, page: &Page) -> Option<String> {
    let (rc, pc) = match (row_content(row), page_content(page)) {
        (Ok(rc), Ok(pc)) => (rc, pc),
        (rc, pc) => {
            return Some(format!("row {} / page {}: content does not normalise: {rc:?} / {pc:?}", row.id, page.id))
        }
    };
    if rc != pc {
        return Some(format!("row {} and page {} differ: {rc:?} vs {pc:?}", row.id, page.id));
    }
    let sum = rc.checksum();
    if row.checksum.as_deref() != Some(sum.as_str()) || page.base.as_deref() != Some(sum.as_str()) {
        return Some(format!(
            "row {} / page {}: bases not stored ({:?} / {:?})",
            row.id, page.id, row.checksum, page.base
        ));
    }
    if !row.notion_synced {
        return Some(format!("row {} agrees with page {} but notion_synced is false", row.id, page.id));
    }
    None
}

/// Normal-form content of a row, when it has one.
pub fn content_of_row(row: &Row) -> Option<Content> {
    row_content(row).ok()
}

pub fn content_of_page(page: &Page) -> Option<Content> {
    page_content(page).ok()
}

/// The start of the minute after `at`.
pub fn next_minute(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    decision_sync::core::time::floor_minute(at) + Duration::minutes(1)
}
