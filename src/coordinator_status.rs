//! What `/health` and the dashboard show of the coordinator: when the next run happens, a backlog
//! draining (items left, rate, expected finish), the webhooks of both sides, and how far Workers
//! KV is behind the working state. Built from the coordinator's stored [`Schedule`] only.
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::core::coordinator::{CoordinatorConfig, KickSource, Schedule};
use crate::health::Health;

/// The coordinator, as `/health` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CoordinatorStatus {
    /// A run is in progress now (in the coordinator).
    pub running: bool,
    /// When the next run is due (`None`: idle, or a run is in progress; the cron runs every 15 minutes).
    pub next_run_at: Option<DateTime<Utc>>,
    /// Kicks waiting for that run: who asked and how many webhook deliveries it folds together.
    pub waiting: Option<Waiting>,
    pub drain: Option<Draining>,
    pub consecutive_failures: u32,
    pub webhooks: Webhooks,
    /// When the state was last copied to Workers KV, and whether a newer one waits (copied at most
    /// every 5 minutes; `/health` reads the newer one from the coordinator).
    pub kv_copied_at: Option<DateTime<Utc>>,
    pub kv_copy_pending: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Waiting {
    pub since: DateTime<Utc>,
    pub sources: Vec<&'static str>,
    pub webhook_events: u32,
    pub pages: usize,
}

/// A backlog being drained by runs back to back.
#[derive(Debug, Clone, Serialize)]
pub struct Draining {
    pub started_at: DateTime<Utc>,
    pub runs: u32,
    /// The backlog: exact when `items_left_counted` (rows without a page), else a lower bound.
    pub items_left: u32,
    pub items_left_counted: bool,
    pub requests_per_second: f64,
    pub rate_limit_per_second: f64,
    pub expected_finish: Option<DateTime<Utc>>,
}

/// Each side's webhook: configured, and the last delivery accepted.
#[derive(Debug, Clone, Serialize)]
pub struct Webhooks {
    pub notion: WebhookSide,
    pub supabase: WebhookSide,
    /// Deliveries accepted since the coordinator was created.
    pub events_total: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookSide {
    /// Deliveries can be verified (a secret is set, or Notion's verification token was received).
    pub ready: bool,
    pub last_delivery_at: Option<DateTime<Utc>>,
    /// What to do when it is not ready (names settings and routes, never values).
    pub note: Option<String>,
}

fn at(ms: u64) -> DateTime<Utc> {
    i64::try_from(ms).ok().and_then(DateTime::<Utc>::from_timestamp_millis).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// What the coordinator knows besides its schedule.
#[derive(Debug, Clone, Copy, Default)]
pub struct Readiness {
    pub notion_secret_set: bool,
    pub notion_token_received: bool,
    pub supabase_secret_set: bool,
    pub kv_copied_ms: Option<u64>,
    pub kv_copy_pending: bool,
    pub running: bool,
}

/// The status of `schedule` at `now_ms`.
pub fn status(schedule: &Schedule, now_ms: u64, config: &CoordinatorConfig, ready: Readiness) -> CoordinatorStatus {
    let waiting = schedule.wanted.as_ref().map(|wanted| Waiting {
        since: at(wanted.since_ms),
        sources: wanted.sources.iter().map(|source| KickSource::name(*source)).collect(),
        webhook_events: wanted.webhook_events,
        pages: wanted.pages.len(),
    });
    let drain = schedule.drain_progress(now_ms, config).map(|progress| Draining {
        started_at: at(progress.started_ms),
        runs: progress.runs,
        items_left: progress.items_left,
        items_left_counted: progress.items_left_counted,
        requests_per_second: progress.requests_per_second,
        rate_limit_per_second: progress.rate_limit_per_second,
        expected_finish: progress.expected_finish_ms.map(at),
    });
    let notion_ready = ready.notion_secret_set || ready.notion_token_received;
    CoordinatorStatus {
        running: ready.running,
        next_run_at: schedule.next_run_ms.map(at),
        waiting,
        drain,
        consecutive_failures: schedule.failures,
        webhooks: Webhooks {
            notion: WebhookSide {
                ready: notion_ready,
                last_delivery_at: schedule.last_notion_webhook_ms.map(at),
                note: (!notion_ready).then(|| {
                    "not set up: create a webhook subscription in Notion pointing at <worker>/webhooks/notion; the \
                     verification token it sends is kept (read it with GET /webhooks/notion/token and the admin token)"
                        .to_string()
                }),
            },
            supabase: WebhookSide {
                ready: ready.supabase_secret_set,
                last_delivery_at: schedule.last_supabase_webhook_ms.map(at),
                note: (!ready.supabase_secret_set).then(|| {
                    "not set up: set SUPABASE_WEBHOOK_SECRET and run decision_vault_enable_webhook \
                     (docs/setting-up-webhooks.md)"
                        .to_string()
                }),
            },
            events_total: schedule.webhook_events_total,
        },
        kv_copied_at: ready.kv_copied_ms.map(at),
        kv_copy_pending: ready.kv_copy_pending,
    }
}

/// Adds the coordinator's status to `health`; a draining backlog is named in the summary.
pub fn add_to_health(health: &mut Health, status: CoordinatorStatus) {
    if let Some(drain) = &status.drain {
        if health.status == "partial" {
            let finish = drain.expected_finish.map(|at| format!(", expected to finish at {at}")).unwrap_or_default();
            health.summary = format!(
                "draining a backlog: {} items left after {} runs, {:.2} requests/s (limit {}){finish}",
                drain.items_left, drain.runs, drain.requests_per_second, drain.rate_limit_per_second
            );
        }
    }
    health.coordinator = Some(status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::coordinator::{Kick, RunDone, RunEnd};

    #[test]
    fn a_drain_shows_items_left_rate_and_expected_finish() {
        let config = CoordinatorConfig::default();
        let mut schedule = Schedule::default();
        let done = |started_ms, pending| RunDone {
            started_ms,
            finished_ms: started_ms + 5_000,
            subrequests: 45,
            end: RunEnd::MoreWork { pending },
        };
        schedule.finish_run(&done(0, 1_000), &config);
        schedule.finish_run(&done(15_000, 960), &config);
        let status = status(&schedule, 30_000, &config, Readiness::default());
        let drain = status.drain.expect("draining");
        assert_eq!((drain.runs, drain.items_left), (2, 960));
        assert!(!drain.items_left_counted && drain.expected_finish.is_none(), "lower bounds give no forecast");
        assert_eq!(status.next_run_at, Some(at(30_000)));
        assert!(!status.webhooks.notion.ready && status.webhooks.notion.note.is_some());
    }

    #[test]
    fn waiting_kicks_and_webhook_deliveries_are_shown() {
        let config = CoordinatorConfig::default();
        let mut schedule = Schedule::default();
        let kick = Kick {
            source: Some(KickSource::SupabaseWebhook),
            events: 3,
            pages: vec!["p1".into()],
            schema_changed: false,
        };
        schedule.kick(&kick, 1_000, &config);
        let ready = Readiness { supabase_secret_set: true, ..Readiness::default() };
        let status = status(&schedule, 1_500, &config, ready);
        let waiting = status.waiting.expect("waiting");
        assert_eq!((waiting.sources, waiting.webhook_events, waiting.pages), (vec!["supabase webhook"], 3, 1));
        assert_eq!(status.webhooks.supabase.last_delivery_at, Some(at(1_000)));
        assert!(status.webhooks.supabase.ready && status.webhooks.supabase.note.is_none());
        assert_eq!(status.webhooks.events_total, 3);
    }
}
