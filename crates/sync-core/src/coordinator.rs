//! When the next run happens: the coordinator's decisions, as pure rules over a [`Schedule`]
//! (kept in the coordinator Durable Object's storage, `src/edge/coordinator.rs`).
//!
//! Everything that wants a run only *kicks* the coordinator: the cron (the safety net), `POST
//! /sync-now`, and the webhooks of both sides. The coordinator answers with the time of its next
//! alarm, and each alarm is one run, a fresh invocation with its own subrequest budget (Durable
//! Objects are Workers: the Workers limits apply per invocation; developers.cloudflare.com →
//! Durable Objects → Platform → Limits, which also documents 30 s of CPU per request).
//!
//! - **Idle is silent.** With nothing wanted and no backlog, no alarm is set: zero requests.
//! - **Webhooks are debounced.** A webhook kick asks for a run [`CoordinatorConfig::debounce_ms`]
//!   later; the kicks that arrive meanwhile join it (a storm of hundreds of events for the same
//!   pages costs one run).
//! - **Backlogs drain at the configured rate.** A run that left work (its budget ran out) is
//!   followed by the next as soon as pacing allows: a run that spent `n` subrequests is followed
//!   no sooner than `n / rate` seconds after it started, so the sustained rate stays at or under
//!   `NOTION_RATE` (3 requests/s by default, Notion's documented average).
//! - **Failures back off.** A failed run (a service down) is retried after 30 s, doubling up to
//!   15 minutes; a rate limit's `Retry-After` is honoured. A configuration problem waits for the
//!   next kick (the operator fixes it, then the cron or `/sync-now` runs).
//! - **A crash mid-drain** leaves the schedule in storage and, before each run, a watchdog alarm
//!   ([`watchdog_at`]): if the run dies with its invocation, that alarm runs again and the drain
//!   goes on.
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The coordinator's tunables.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoordinatorConfig {
    /// Sustained subrequests per second a drain may spend (`NOTION_RATE`).
    pub rate_per_second: f64,
    /// How long a webhook kick waits for more events before the run.
    pub debounce_ms: u64,
    /// First retry after a failed run; doubled per failure up to [`Self::max_backoff_ms`].
    pub first_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// The watchdog alarm: how long a run may take before the coordinator assumes it died.
    pub watchdog_ms: u64,
    /// `SYNC_DRAIN`: follow a run that left work (or failed) with the next; off: the cron does.
    pub drain: bool,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            rate_per_second: 3.0,
            debounce_ms: 2_000,
            first_backoff_ms: 30_000,
            max_backoff_ms: 15 * 60 * 1000,
            watchdog_ms: 60_000,
            drain: true,
        }
    }
}

/// Who kicked the coordinator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KickSource {
    Cron,
    SyncNow,
    NotionWebhook,
    SupabaseWebhook,
}

impl KickSource {
    pub fn name(self) -> &'static str {
        match self {
            KickSource::Cron => "cron",
            KickSource::SyncNow => "sync-now",
            KickSource::NotionWebhook => "notion webhook",
            KickSource::SupabaseWebhook => "supabase webhook",
        }
    }

    fn is_webhook(self) -> bool {
        matches!(self, KickSource::NotionWebhook | KickSource::SupabaseWebhook)
    }
}

/// A run asked for and not started yet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Wanted {
    /// When the first kick of this batch arrived.
    pub since_ms: u64,
    /// Who asked (each source once).
    pub sources: BTreeSet<KickSource>,
    /// Webhook deliveries folded into this run.
    pub webhook_events: u32,
    /// Pages the webhooks named, read directly by the run (bounded; the window queries find the rest).
    pub pages: BTreeSet<String>,
    /// A webhook said our data source's schema changed.
    pub schema_changed: bool,
}

impl Wanted {
    /// Nobody asked for anything.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty() && self.pages.is_empty() && !self.schema_changed && self.webhook_events == 0
    }
}

/// A backlog being drained: runs back to back since `started_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Drain {
    pub started_ms: u64,
    pub runs: u32,
    pub subrequests: u64,
    /// Items the first run of the drain reported pending, and the last run (lower bounds: a run
    /// that stopped at its budget does not know how much it did not read).
    pub pending_first: u32,
    pub pending_last: u32,
    /// Live rows without a page, counted after the drain's first run and after the last one
    /// (exact: one counted request), with when they were first counted.
    #[serde(default)]
    pub unlinked_first: Option<(u64, u32)>,
    #[serde(default)]
    pub unlinked_last: Option<u32>,
}

/// What the coordinator remembers between invocations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Schedule {
    pub wanted: Option<Wanted>,
    pub drain: Option<Drain>,
    /// No run starts before this (pacing, back-off, `Retry-After`).
    pub not_before_ms: u64,
    /// Consecutive failed runs.
    pub failures: u32,
    /// Webhook deliveries accepted since the coordinator was created (for `/health`).
    #[serde(default)]
    pub webhook_events_total: u64,
    /// The last webhook accepted, per side.
    #[serde(default)]
    pub last_notion_webhook_ms: Option<u64>,
    #[serde(default)]
    pub last_supabase_webhook_ms: Option<u64>,
    /// When the next run is due (the object's alarm fires then, or earlier for a KV copy).
    #[serde(default)]
    pub next_run_ms: Option<u64>,
    /// What the run in progress was given: still here when an alarm finds no run alive, the run
    /// died with its invocation, and its work is given back.
    #[serde(default)]
    pub in_flight: Option<Wanted>,
}

/// A kick: who, and what a webhook named.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Kick {
    pub source: Option<KickSource>,
    #[serde(default)]
    pub events: u32,
    #[serde(default)]
    pub pages: Vec<String>,
    #[serde(default)]
    pub schema_changed: bool,
}

/// Most pages a schedule remembers from webhooks (the window queries find any beyond).
pub const MAX_MARKED_PAGES: usize = 200;

/// How a run ended, as far as scheduling is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Everything read was processed.
    Done,
    /// Work is left (budget ran out, backlog): `pending` items known.
    MoreWork { pending: u32 },
    /// A rate limit asked to wait `retry_after_ms`.
    RateLimited { retry_after_ms: u64 },
    /// A service failed; retry with back-off.
    Failed,
    /// Settings are wrong: wait for the next kick.
    NotConfigured,
    /// Another run held the lease.
    Busy,
}

/// One finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunDone {
    pub started_ms: u64,
    pub finished_ms: u64,
    pub subrequests: u32,
    pub end: RunEnd,
}

/// Pacing: a run that started at `started_ms` and spent `subrequests` lets the next start at this time.
pub fn paced_after(started_ms: u64, subrequests: u32, config: &CoordinatorConfig) -> u64 {
    if config.rate_per_second <= 0.0 {
        return started_ms;
    }
    let spacing_ms = (f64::from(subrequests) * 1000.0 / config.rate_per_second).ceil();
    started_ms.saturating_add(spacing_ms as u64)
}

fn backoff_ms(failures: u32, config: &CoordinatorConfig) -> u64 {
    let doublings = failures.saturating_sub(1).min(20);
    config.first_backoff_ms.saturating_mul(1u64 << doublings).min(config.max_backoff_ms)
}

impl Schedule {
    /// Records a kick; returns when the alarm should fire for it (the caller keeps an earlier one).
    pub fn kick(&mut self, kick: &Kick, now_ms: u64, config: &CoordinatorConfig) -> u64 {
        let source = kick.source.unwrap_or(KickSource::Cron);
        let wanted = self.wanted.get_or_insert_with(|| Wanted { since_ms: now_ms, ..Wanted::default() });
        wanted.sources.insert(source);
        wanted.webhook_events = wanted.webhook_events.saturating_add(kick.events);
        wanted.schema_changed |= kick.schema_changed;
        for page in &kick.pages {
            if wanted.pages.len() >= MAX_MARKED_PAGES {
                break;
            }
            wanted.pages.insert(page.clone());
        }
        let since = wanted.since_ms;
        match source {
            KickSource::NotionWebhook => self.last_notion_webhook_ms = Some(now_ms),
            KickSource::SupabaseWebhook => self.last_supabase_webhook_ms = Some(now_ms),
            KickSource::Cron | KickSource::SyncNow => {}
        }
        self.webhook_events_total = self.webhook_events_total.saturating_add(u64::from(kick.events));
        if source.is_webhook() {
            // The batch runs `debounce` after its first kick: later kicks join it, never delay it.
            since.saturating_add(config.debounce_ms).max(self.not_before_ms).max(now_ms)
        } else {
            // The cron is the safety net: it runs now, back-off or not (but never faster than pacing).
            self.not_before_ms.min(now_ms.saturating_add(config.first_backoff_ms)).max(now_ms)
        }
    }

    /// Takes what a run starting now should do (the kicks that led to it).
    pub fn start_run(&mut self) -> Wanted {
        let wanted = self.wanted.take().unwrap_or_default();
        self.next_run_ms = None;
        self.in_flight = Some(wanted.clone());
        wanted
    }

    /// When no run is alive but one was in flight, it died: its work is wanted again, now.
    pub fn recover_dead_run(&mut self, now_ms: u64) -> bool {
        let Some(lost) = self.in_flight.take() else { return false };
        self.give_back(lost);
        self.next_run_ms = Some(self.next_run_ms.map_or(now_ms, |at| at.min(now_ms)));
        true
    }

    /// Whether the run due at `next_run_ms` is due at `now_ms`.
    pub fn run_due(&self, now_ms: u64) -> bool {
        self.next_run_ms.is_some_and(|at| at <= now_ms)
    }

    /// Puts back what a run was given and did not finish (its pages are read again next run).
    /// A run given nothing (the cron, `/sync-now`) gives nothing back: no run is wanted for it.
    pub fn give_back(&mut self, unfinished: Wanted) {
        if unfinished.is_empty() {
            return;
        }
        match self.wanted.as_mut() {
            None => self.wanted = Some(unfinished),
            Some(wanted) => {
                wanted.since_ms = wanted.since_ms.min(unfinished.since_ms);
                wanted.sources.extend(unfinished.sources);
                wanted.schema_changed |= unfinished.schema_changed;
                for page in unfinished.pages {
                    if wanted.pages.len() < MAX_MARKED_PAGES {
                        wanted.pages.insert(page);
                    }
                }
            }
        }
    }

    /// Records a finished run; returns when the next alarm should fire (`None`: idle).
    pub fn finish_run(&mut self, run: &RunDone, config: &CoordinatorConfig) -> Option<u64> {
        self.in_flight = None;
        let next = self.next_after(run, config);
        self.next_run_ms = next;
        next
    }

    fn next_after(&mut self, run: &RunDone, config: &CoordinatorConfig) -> Option<u64> {
        if !config.drain {
            let wanted = self.wanted.clone();
            let paced = paced_after(run.started_ms, run.subrequests, config);
            self.not_before_ms = paced;
            self.drain = None;
            return wanted.map(|wanted| self.when_wanted(&wanted, run.finished_ms, config));
        }
        let paced = paced_after(run.started_ms, run.subrequests, config);
        self.not_before_ms = paced;
        let now = run.finished_ms;
        match run.end {
            RunEnd::Failed => {
                self.failures = self.failures.saturating_add(1);
                self.not_before_ms = paced.max(now.saturating_add(backoff_ms(self.failures, config)));
                Some(self.not_before_ms)
            }
            RunEnd::RateLimited { retry_after_ms } => {
                self.failures = 0;
                self.note_drain(run, None);
                self.not_before_ms = paced.max(now.saturating_add(retry_after_ms));
                Some(self.not_before_ms)
            }
            RunEnd::NotConfigured => {
                self.failures = 0;
                self.drain = None;
                // Kicks that came during the run still run (the settings may be fixed meanwhile).
                self.wanted.as_ref().map(|wanted| self.when_wanted(wanted, now, config))
            }
            RunEnd::Busy => Some(now.saturating_add(config.debounce_ms.max(5_000))),
            RunEnd::MoreWork { pending } => {
                self.failures = 0;
                self.note_drain(run, Some(pending));
                Some(paced.max(now))
            }
            RunEnd::Done => {
                self.failures = 0;
                self.drain = None;
                self.wanted.as_ref().map(|wanted| self.when_wanted(wanted, now, config))
            }
        }
    }

    fn when_wanted(&self, wanted: &Wanted, now_ms: u64, config: &CoordinatorConfig) -> u64 {
        let webhook_only = wanted.sources.iter().all(|source| source.is_webhook());
        let due = if webhook_only { wanted.since_ms.saturating_add(config.debounce_ms) } else { now_ms };
        due.max(self.not_before_ms).max(now_ms)
    }

    fn note_drain(&mut self, run: &RunDone, pending: Option<u32>) {
        let drain = self.drain.get_or_insert_with(|| Drain {
            started_ms: run.started_ms,
            pending_first: pending.unwrap_or(0),
            ..Drain::default()
        });
        drain.runs = drain.runs.saturating_add(1);
        drain.subrequests = drain.subrequests.saturating_add(u64::from(run.subrequests));
        if let Some(pending) = pending {
            drain.pending_last = pending;
        }
    }

    /// Records the exact count of live rows without a page after a drain's run.
    pub fn note_unlinked(&mut self, unlinked: u32, now_ms: u64) {
        if let Some(drain) = self.drain.as_mut() {
            drain.unlinked_first.get_or_insert((now_ms, unlinked));
            drain.unlinked_last = Some(unlinked);
        }
    }

    /// Where a drain stands, for `/health`: sustained rate and, when the backlog is counted and
    /// going down, the expected finish.
    pub fn drain_progress(&self, now_ms: u64, config: &CoordinatorConfig) -> Option<DrainProgress> {
        let drain = self.drain.as_ref()?;
        let elapsed_s = now_ms.saturating_sub(drain.started_ms) as f64 / 1000.0;
        let rate = if elapsed_s > 0.0 { drain.subrequests as f64 / elapsed_s } else { 0.0 };
        let items_left = drain.pending_last.max(drain.unlinked_last.unwrap_or(0));
        Some(DrainProgress {
            started_ms: drain.started_ms,
            runs: drain.runs,
            items_left,
            items_left_counted: drain.unlinked_last.is_some_and(|unlinked| unlinked >= drain.pending_last),
            requests_per_second: (rate * 100.0).round() / 100.0,
            rate_limit_per_second: config.rate_per_second,
            expected_finish_ms: expected_finish(drain, now_ms),
        })
    }
}

/// When the counted backlog reaches zero at the pace it has gone down since it was first counted.
fn expected_finish(drain: &Drain, now_ms: u64) -> Option<u64> {
    let (first_ms, first) = drain.unlinked_first?;
    let left = drain.unlinked_last?;
    let done = first.checked_sub(left).filter(|done| *done > 0)?;
    let per_item_ms = now_ms.saturating_sub(first_ms) as f64 / f64::from(done);
    Some(now_ms.saturating_add((per_item_ms * f64::from(left)).ceil() as u64))
}

/// The alarm set before a run starts: if the run dies with its invocation, this alarm resumes.
pub fn watchdog_at(now_ms: u64, config: &CoordinatorConfig) -> u64 {
    now_ms.saturating_add(config.watchdog_ms)
}

/// A drain, as `/health` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainProgress {
    pub started_ms: u64,
    pub runs: u32,
    /// The backlog: the last run's pending items, or the counted rows without a page if more.
    pub items_left: u32,
    /// True when `items_left` is the exact count of rows without a page (else a lower bound).
    pub items_left_counted: bool,
    /// Subrequests per second since the drain started.
    pub requests_per_second: f64,
    pub rate_limit_per_second: f64,
    /// When the drain should finish at its pace so far (unknown until items go down).
    pub expected_finish_ms: Option<u64>,
}

/// Which alarm to keep: the earlier of the one set and the one wanted.
pub fn earlier_alarm(current: Option<u64>, wanted: u64) -> u64 {
    current.map_or(wanted, |current| current.min(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CoordinatorConfig {
        CoordinatorConfig::default()
    }

    fn webhook(pages: &[&str]) -> Kick {
        Kick {
            source: Some(KickSource::NotionWebhook),
            events: 1,
            pages: pages.iter().map(|p| p.to_string()).collect(),
            schema_changed: false,
        }
    }

    fn done(started_ms: u64, finished_ms: u64, subrequests: u32, end: RunEnd) -> RunDone {
        RunDone { started_ms, finished_ms, subrequests, end }
    }

    #[test]
    fn an_idle_coordinator_sets_no_alarm_after_a_run_that_finished() {
        let mut schedule = Schedule::default();
        schedule.kick(&Kick { source: Some(KickSource::Cron), ..Kick::default() }, 0, &config());
        schedule.start_run();
        assert_eq!(schedule.finish_run(&done(0, 1_000, 4, RunEnd::Done), &config()), None);
        assert_eq!(schedule.drain, None);
    }

    #[test]
    fn a_webhook_storm_folds_into_one_run_at_the_first_kick_plus_the_debounce() {
        let mut schedule = Schedule::default();
        let mut alarms = BTreeSet::new();
        for i in 0..300u64 {
            alarms.insert(schedule.kick(&webhook(&["p1", "p2"]), 10_000 + i * 5, &config()));
        }
        assert_eq!(alarms.into_iter().collect::<Vec<_>>(), vec![12_000]);
        let wanted = schedule.start_run();
        assert_eq!(wanted.webhook_events, 300);
        assert_eq!(wanted.pages.len(), 2);
        assert_eq!(schedule.webhook_events_total, 300);
    }

    #[test]
    fn the_cron_and_sync_now_run_at_once() {
        let mut schedule = Schedule::default();
        assert_eq!(
            schedule.kick(&Kick { source: Some(KickSource::SyncNow), ..Kick::default() }, 5_000, &config()),
            5_000
        );
    }

    #[test]
    fn a_backlog_drains_back_to_back_paced_at_the_configured_rate() {
        let mut schedule = Schedule::default();
        // 45 subrequests at 3/s: the next run starts 15 s after this one started.
        let next = schedule.finish_run(&done(0, 9_000, 45, RunEnd::MoreWork { pending: 900 }), &config());
        assert_eq!(next, Some(15_000));
        let next = schedule.finish_run(&done(15_000, 31_000, 45, RunEnd::MoreWork { pending: 855 }), &config());
        assert_eq!(next, Some(31_000), "a run longer than its pacing is followed at once");
        let drain = schedule.drain.clone().expect("draining");
        assert_eq!((drain.runs, drain.subrequests, drain.pending_first, drain.pending_last), (2, 90, 900, 855));
        let progress = schedule.drain_progress(31_000, &config()).expect("progress");
        assert_eq!(progress.items_left, 855);
        assert!((progress.requests_per_second - 2.9).abs() < 0.01, "{progress:?}");
        assert_eq!(progress.expected_finish_ms, None, "no forecast from lower bounds");
        assert_eq!(schedule.finish_run(&done(31_000, 40_000, 30, RunEnd::Done), &config()), None);
        assert_eq!(schedule.drain, None, "a finished drain is forgotten");
    }

    #[test]
    fn a_counted_backlog_gives_items_left_and_an_expected_finish_at_its_pace() {
        let mut schedule = Schedule::default();
        schedule.finish_run(&done(0, 9_000, 45, RunEnd::MoreWork { pending: 60 }), &config());
        schedule.note_unlinked(1_000, 9_000);
        schedule.finish_run(&done(15_000, 24_000, 45, RunEnd::MoreWork { pending: 60 }), &config());
        schedule.note_unlinked(970, 24_000);
        let progress = schedule.drain_progress(24_000, &config()).expect("progress");
        assert_eq!((progress.items_left, progress.items_left_counted), (970, true));
        // 30 rows in 15 s: 970 more take 485 s.
        assert_eq!(progress.expected_finish_ms, Some(24_000 + 485_000));
    }

    #[test]
    fn the_sustained_rate_of_a_long_drain_stays_at_or_under_the_configured_rate() {
        let mut schedule = Schedule::default();
        let mut start = 0;
        let mut spent = 0u64;
        for _ in 0..100 {
            let next =
                schedule.finish_run(&done(start, start + 4_000, 45, RunEnd::MoreWork { pending: 10 }), &config());
            spent += 45;
            start = next.expect("more work re-arms");
        }
        let rate = spent as f64 / (start as f64 / 1000.0);
        assert!(rate <= 3.0 + 1e-9 && rate > 2.9, "{rate}");
    }

    #[test]
    fn kicks_during_a_run_are_run_after_it_even_when_it_finished_its_work() {
        let mut schedule = Schedule::default();
        schedule.kick(&webhook(&["p1"]), 0, &config());
        let given = schedule.start_run();
        assert!(given.pages.contains("p1"));
        schedule.kick(&webhook(&["p2"]), 1_000, &config());
        let next = schedule.finish_run(&done(2_000, 2_500, 6, RunEnd::Done), &config());
        assert_eq!(next, Some(4_000), "paced: 6 requests at 3/s = 2 s after the run started");
    }

    #[test]
    fn failures_back_off_doubling_up_to_fifteen_minutes_and_reset_on_success() {
        let mut schedule = Schedule::default();
        let waits: Vec<u64> =
            (0..8).map(|_| schedule.finish_run(&done(0, 0, 1, RunEnd::Failed), &config()).expect("retried")).collect();
        assert_eq!(waits, vec![30_000, 60_000, 120_000, 240_000, 480_000, 900_000, 900_000, 900_000]);
        schedule.finish_run(&done(0, 0, 1, RunEnd::Done), &config());
        assert_eq!(schedule.failures, 0);
    }

    #[test]
    fn the_cron_is_not_held_back_by_a_long_back_off() {
        let mut schedule = Schedule { not_before_ms: 900_000, ..Schedule::default() };
        let at = schedule.kick(&Kick { source: Some(KickSource::Cron), ..Kick::default() }, 100_000, &config());
        assert_eq!(at, 130_000, "at most the first back-off");
    }

    #[test]
    fn a_rate_limit_waits_its_retry_after() {
        let mut schedule = Schedule::default();
        let next = schedule.finish_run(&done(0, 1_000, 3, RunEnd::RateLimited { retry_after_ms: 40_000 }), &config());
        assert_eq!(next, Some(41_000));
    }

    #[test]
    fn a_configuration_problem_waits_for_the_next_kick() {
        let mut schedule = Schedule::default();
        assert_eq!(schedule.finish_run(&done(0, 1, 0, RunEnd::NotConfigured), &config()), None);
    }

    #[test]
    fn an_unfinished_runs_pages_are_given_back_for_the_next_run() {
        let mut schedule = Schedule::default();
        schedule.kick(&webhook(&["p1"]), 0, &config());
        let given = schedule.start_run();
        schedule.kick(&webhook(&["p2"]), 10, &config());
        schedule.give_back(given);
        let wanted = schedule.wanted.clone().expect("wanted");
        assert_eq!(wanted.pages.iter().map(String::as_str).collect::<Vec<_>>(), vec!["p1", "p2"]);
        assert_eq!(wanted.since_ms, 0);
    }

    #[test]
    fn a_failed_sync_now_with_the_drain_off_wants_no_run_after_it() {
        // /sync-now was given nothing; giving that back must not ask for another run.
        let config = CoordinatorConfig { drain: false, ..config() };
        let mut schedule = Schedule::default();
        let given = schedule.start_run();
        schedule.give_back(given);
        assert_eq!(schedule.wanted, None);
        assert_eq!(schedule.finish_run(&done(0, 2_000, 4, RunEnd::Failed), &config), None);
    }

    #[test]
    fn marked_pages_are_bounded() {
        let mut schedule = Schedule::default();
        let pages: Vec<String> = (0..500).map(|i| format!("p{i}")).collect();
        let kick = Kick { source: Some(KickSource::NotionWebhook), events: 500, pages, schema_changed: false };
        schedule.kick(&kick, 0, &config());
        assert_eq!(schedule.wanted.as_ref().map(|w| w.pages.len()), Some(MAX_MARKED_PAGES));
    }

    #[test]
    fn a_run_that_died_mid_drain_is_given_back_and_run_again_by_the_watchdog() {
        let mut schedule = Schedule::default();
        schedule.kick(&webhook(&["p1"]), 0, &config());
        schedule.start_run();
        assert_eq!(schedule.wanted, None);
        // The invocation died: no finish_run. The watchdog alarm finds no live run.
        assert!(schedule.recover_dead_run(61_000));
        assert!(schedule.run_due(61_000));
        assert!(schedule.wanted.as_ref().is_some_and(|wanted| wanted.pages.contains("p1")));
        assert!(!schedule.recover_dead_run(61_000), "recovered once");
    }

    #[test]
    fn with_drain_off_only_webhook_kicks_set_alarms() {
        let config = CoordinatorConfig { drain: false, ..config() };
        let mut schedule = Schedule::default();
        assert_eq!(schedule.finish_run(&done(0, 9_000, 45, RunEnd::MoreWork { pending: 900 }), &config), None);
        assert_eq!(schedule.finish_run(&done(0, 9_000, 45, RunEnd::Failed), &config), None);
        schedule.kick(&webhook(&["p1"]), 10_000, &config);
        assert_eq!(schedule.finish_run(&done(10_500, 11_000, 3, RunEnd::Done), &config), Some(12_000));
    }

    #[test]
    fn a_crashed_run_is_resumed_by_its_watchdog_alarm() {
        // Before a run the coordinator sets the watchdog; a run that dies never replaces it.
        assert_eq!(watchdog_at(1_000, &config()), 61_000);
        assert_eq!(earlier_alarm(Some(5_000), 61_000), 5_000);
        assert_eq!(earlier_alarm(None, 61_000), 61_000);
    }
}
