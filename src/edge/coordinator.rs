//! The coordinator: the one Durable Object (class `SyncLock`, instance `sync`) that decides when a
//! run happens and runs it. The Worker's fetch and cron handlers only forward to it, so they stay
//! far below the free plan's 10 ms of CPU; each run is the object's own invocation (its alarm, or
//! the request that asked for it) with its own subrequest budget (Durable Objects are Workers and
//! Workers limits apply per invocation; their CPU limit is 30 s per request:
//! developers.cloudflare.com → Durable Objects → Platform → Limits).
//!
//! Routes (internal; the object is reachable only through its binding, never from outside):
//! - `POST /run` `{"trigger", "dry_run", "allow_mass_delete"}`: one run now (the cron,
//!   `/sync-now`, `/dry-run`); answers the run report with the status `/sync-now` gives;
//! - `POST /kick` [`Kick`]: a webhook asks for a run (debounced, see [`crate::core::coordinator`]);
//! - `POST /webhooks/notion`: a Notion delivery (raw body, `x-notion-signature` forwarded);
//! - `GET /notion-token`: the verification token Notion sent (for the admin route);
//! - `GET /health`, `GET /dashboard`, `POST /health/check`, `GET /conflicts`: the reports, from the
//!   object's working state.
//!
//! The alarm: runs what is due (a debounced webhook batch, the next batch of a drain, a retry),
//! copies the state to KV when due (see [`super::object_state`]), and sets the next alarm, or
//! none when idle. Before a run it sets a watchdog alarm, so a run that dies with its invocation
//! is followed by another.

use serde::{Deserialize, Serialize};
use worker::{console_error, durable_object, DurableObject, Env, Method, Request, Response, State};

use super::app::App;
use super::json;
use super::object_lock::Alive;
use super::object_state::ObjectState;
use super::sync;
use super::time::{self, now_millis};
use crate::coordinator_status::{self, Readiness};
use crate::core::coordinator::{self, CoordinatorConfig, Kick, KickSource, RunDone, RunEnd, Schedule, Wanted};
use crate::core::engine::RunResult;
use crate::core::ports::{RunLock, StateStore};
use crate::core::report::{RunOutcome, RunSummary};
use crate::health::{self, Health, SchemaCheck, SchemaStatus};
use crate::public;
use crate::service::RunFlags;
use crate::settings::Settings;
use crate::webhooks::notion_event::{self, parse_event};
use crate::webhooks::notion_signature::{self, verification_request};

/// Name of the Durable Object binding in `wrangler.toml`.
pub const COORDINATOR_BINDING: &str = "SYNC_LOCK";
/// The one object all runs share.
pub const COORDINATOR_NAME: &str = "sync";
const SCHEDULE_KEY: &str = "schedule";
const NOTION_TOKEN_KEY: &str = "notion_verification";

/// The verification token Notion sent, kept for the operator (never in KV, logs or `/health`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotionToken {
    pub verification_token: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// What `POST /run` asks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunAsk {
    pub trigger: String,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub allow_mass_delete: bool,
}

/// The coordinator object.
#[durable_object(alarm)]
pub struct SyncLock {
    state: State,
    env: Env,
    /// The run this instance is executing now (the lease's liveness: see `core::lease`).
    running: Alive,
}

/// The coordinator's tunables from the settings (defaults when they are invalid: the run reports that).
fn config_of(settings: Option<&Settings>) -> CoordinatorConfig {
    let mut config = CoordinatorConfig::default();
    if let Some(settings) = settings {
        config.rate_per_second = settings.notion_rate.per_second();
        config.drain = settings.drain;
        config.watchdog_ms = u64::from(settings.lease_ttl_seconds).saturating_mul(1000).max(config.watchdog_ms);
    }
    config
}

/// How a run ended, for the schedule.
fn run_end(summary: &RunSummary) -> RunEnd {
    match &summary.outcome {
        RunOutcome::Ok => RunEnd::Done,
        RunOutcome::Partial { .. } => match summary.retry_after_ms {
            Some(retry_after_ms) => RunEnd::RateLimited { retry_after_ms },
            None => RunEnd::MoreWork { pending: summary.pending },
        },
        RunOutcome::Failed { .. } => RunEnd::Failed,
        RunOutcome::NotConfigured { .. } => RunEnd::NotConfigured,
        RunOutcome::Skipped { .. } => RunEnd::Busy,
    }
}

/// The status `/sync-now` answers a run with.
fn run_status(summary: &RunSummary) -> u16 {
    match &summary.outcome {
        RunOutcome::Ok | RunOutcome::Partial { .. } => 200,
        RunOutcome::Skipped { .. } => 409,
        RunOutcome::NotConfigured { .. } => 503,
        RunOutcome::Failed { .. } => 502,
    }
}

/// The exact Supabase-side backlog of a drain (one counted request within the invocation's
/// spare subrequests); `None` when it cannot be counted (the drain then shows a lower bound).
async fn unlinked_backlog(app: &App) -> Option<u32> {
    app.service()?.unlinked_backlog().await.ok()
}

/// The trigger an alarm's run is recorded with.
fn alarm_trigger(wanted: &Wanted, schedule: &Schedule) -> String {
    let webhooks: Vec<&str> = wanted.sources.iter().map(|source| source.name()).collect();
    if !webhooks.is_empty() {
        return webhooks.join(" + ");
    }
    if schedule.failures > 0 {
        "retry".to_string()
    } else {
        "drain".to_string()
    }
}

impl SyncLock {
    /// The composition root of one request or alarm (settings parsed once).
    fn app(&self) -> App {
        App::build(&self.state, &self.env, &self.running)
    }

    async fn schedule(&self) -> worker::Result<Schedule> {
        let text: Option<String> = self.state.storage().get(SCHEDULE_KEY).await?;
        // An unreadable schedule is started afresh (it holds only timing; the cron still runs).
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default())
    }

    async fn save_schedule(&self, schedule: &Schedule) -> worker::Result<()> {
        self.state.storage().put(SCHEDULE_KEY, serde_json::to_string(schedule)?).await
    }

    fn is_running(&self) -> bool {
        self.running.borrow().is_some()
    }

    /// Sets the alarm to the earliest of the next run and the next KV copy, or deletes it (idle).
    async fn arm(&self, schedule: &Schedule, store: &ObjectState) -> worker::Result<()> {
        let mirror = store.mirror_due_at().await.ok().flatten();
        let next = match (schedule.next_run_ms, mirror) {
            (Some(run), Some(copy)) => Some(run.min(copy)),
            (run, copy) => run.or(copy),
        };
        let storage = self.state.storage();
        match next {
            // A time already past (a KV copy overdue) runs at once; the runtime refuses times <= 0.
            Some(at) => storage.set_alarm(time::from_millis(at.max(now_millis().saturating_add(1)))).await,
            None => storage.delete_alarm().await,
        }
    }

    /// One run now; with `scheduled`, the schedule's waiting work is handed to it and the next
    /// alarm set from its outcome.
    async fn run_now(
        &self,
        app: &App,
        trigger: &str,
        mut flags: RunFlags,
        scheduled: bool,
    ) -> worker::Result<RunResult> {
        let store = match app.store() {
            Ok(store) => store,
            Err(message) => return Err(worker::Error::RustError(message)),
        };
        let config = config_of(app.settings());
        let mut given = Wanted::default();
        let took = scheduled && !flags.dry_run && !self.is_running();
        if took {
            let mut schedule = self.schedule().await?;
            given = schedule.start_run();
            self.save_schedule(&schedule).await?;
            if config.drain {
                // The watchdog: if this run dies with its invocation, the alarm runs again (with
                // the drain off, the next cron does).
                let watchdog = coordinator::watchdog_at(now_millis(), &config);
                self.state.storage().set_alarm(time::from_millis(watchdog)).await?;
            }
            flags.marked_pages = given.pages.iter().cloned().collect();
        }
        let started_ms = now_millis();
        let result = sync::run(app, trigger, flags.clone()).await;
        if !took {
            // A dry run, or one skipped because another run is alive: that run sets the next alarm.
            return Ok(result);
        }
        let end = run_end(&result.summary);
        // Counted before the schedule is read again: nothing may interleave between its read and write.
        let unlinked = match end {
            RunEnd::MoreWork { .. } if config.drain => unlinked_backlog(app).await,
            _ => None,
        };
        let mut schedule = self.schedule().await?;
        if !matches!(end, RunEnd::Done) {
            // Not finished: the pages it was given are read again by the next run.
            schedule.give_back(given);
        }
        let done = RunDone { started_ms, finished_ms: now_millis(), subrequests: result.summary.subrequests, end };
        schedule.finish_run(&done, &config);
        if let Some(unlinked) = unlinked {
            schedule.note_unlinked(unlinked, now_millis());
        }
        self.save_schedule(&schedule).await?;
        if let Err(error) = store.mirror_if_due(now_millis(), &result.summary.run_id).await {
            console_error!("decision-sync: copying the state to Workers KV failed (retried later): {error}");
        }
        self.arm(&schedule, store).await?;
        Ok(result)
    }

    async fn handle_run(&self, app: &App, mut req: Request) -> worker::Result<Response> {
        let ask: RunAsk = match req.json().await {
            Ok(ask) => ask,
            Err(e) => return json::error(400, format!("bad run request: {e}")),
        };
        let flags =
            RunFlags { dry_run: ask.dry_run, allow_mass_delete: ask.allow_mass_delete, marked_pages: Vec::new() };
        // The cron and /sync-now take any waiting webhook work along.
        let result = self.run_now(app, &ask.trigger, flags, true).await?;
        let status = run_status(&result.summary);
        if ask.dry_run {
            json::json(status, &result)
        } else {
            json::json(status, &result.summary)
        }
    }

    /// Records a kick and sets the alarm for it (kept when an earlier one is set).
    async fn kick(&self, app: &App, kick: &Kick) -> worker::Result<Option<u64>> {
        let config = config_of(app.settings());
        let now = now_millis();
        let mut schedule = self.schedule().await?;
        let due = schedule.kick(kick, now, &config);
        let next = coordinator::earlier_alarm(schedule.next_run_ms, due);
        schedule.next_run_ms = Some(next);
        self.save_schedule(&schedule).await?;
        if self.is_running() {
            // The run in progress sets the alarm when it ends (its watchdog is set meanwhile).
            return Ok(Some(next));
        }
        let current = self.state.storage().get_alarm().await?.and_then(|at| u64::try_from(at).ok());
        self.state.storage().set_alarm(time::from_millis(coordinator::earlier_alarm(current, next))).await?;
        Ok(Some(next))
    }

    async fn handle_kick(&self, app: &App, mut req: Request) -> worker::Result<Response> {
        let kick: Kick = match req.json().await {
            Ok(kick) => kick,
            Err(e) => return json::error(400, format!("bad kick: {e}")),
        };
        let next = self.kick(app, &kick).await?;
        json::json(202, &serde_json::json!({ "accepted": true, "next_run_at": next.map(time::from_millis) }))
    }

    async fn notion_token(&self) -> worker::Result<Option<NotionToken>> {
        self.state.storage().get(NOTION_TOKEN_KEY).await
    }

    /// `POST /webhooks/notion`: the verification request, or a signed event.
    async fn handle_notion_webhook(&self, app: &App, mut req: Request) -> worker::Result<Response> {
        let signature = req.headers().get("x-notion-signature")?;
        let body = req.bytes().await?;
        if let Some(verification) = verification_request(&body) {
            let token = NotionToken { verification_token: verification.verification_token, received_at: time::now() };
            self.state.storage().put(NOTION_TOKEN_KEY, &token).await?;
            return json::json(
                200,
                &serde_json::json!({ "ok": true, "message": "verification token received: read it with GET /webhooks/notion/token (admin token) and paste it into Notion's Verify dialog" }),
            );
        }
        let settings = app.settings();
        let stored = self.notion_token().await?.map(|token| token.verification_token);
        let key = settings.and_then(|s| s.notion_webhook_secret.clone()).or(stored);
        if let Err(error) = notion_signature::verify(&body, signature.as_deref(), key.as_deref()) {
            return json::error(401, error.to_string());
        }
        let event = match parse_event(&body) {
            Ok(event) => event,
            Err(error) => return json::error(400, format!("not a Notion webhook event: {error}")),
        };
        let Some(settings) = settings else {
            return json::json(
                202,
                &serde_json::json!({ "accepted": false, "reason": "the sync is not configured; see /health" }),
            );
        };
        let data_source = match app.store() {
            Ok(store) => store.load().await.ok().and_then(|state| state.data_source_id),
            Err(_) => None,
        }
        .or(settings.notion_data_source_id.clone());
        let signals = match data_source.as_deref() {
            Some(data_source) => {
                notion_event::signals(std::slice::from_ref(&event), &settings.notion_database_id, data_source)
            }
            // Before the first run the data source is unknown: every page event is read.
            None => notion_event::signals(std::slice::from_ref(&event), &event_parent(&event), &event_parent(&event)),
        };
        if signals.pages.is_empty() && !signals.schema_changed {
            return json::json(200, &serde_json::json!({ "accepted": true, "ignored": true }));
        }
        let kick = Kick {
            source: Some(KickSource::NotionWebhook),
            events: 1,
            pages: signals.pages,
            schema_changed: signals.schema_changed,
        };
        let next = self.kick(app, &kick).await?;
        json::json(200, &serde_json::json!({ "accepted": true, "next_run_at": next.map(time::from_millis) }))
    }

    /// The report, from the working state, plus the lock's and the coordinator's view.
    async fn report(&self, app: &App) -> Result<Health, String> {
        let store = app.store()?;
        let config = app.config();
        let mut health = match app.service() {
            Some(service) => service.health(config).await,
            None => {
                let state = store.load().await.map_err(|e| e.to_string())?;
                let skipped = SchemaCheck::NotChecked { reason: "settings are missing or invalid".into() };
                let schema = SchemaStatus { supabase: skipped.clone(), notion: skipped };
                health::build(&state, config, schema, time::now())
            }
        };
        if let Ok(status) = app.lock.status().await {
            health::add_lock_status(&mut health, &status);
        }
        let settings = app.settings();
        let schedule = self.schedule().await.unwrap_or_default();
        let mirror_due = store.mirror_due_at().await.ok().flatten();
        let copied: Option<u64> = self.state.storage().get("kv_mirrored_at").await.ok().flatten();
        let ready = Readiness {
            notion_secret_set: settings.is_some_and(|s| s.notion_webhook_secret.is_some()),
            notion_token_received: self.notion_token().await.ok().flatten().is_some(),
            supabase_secret_set: settings.is_some_and(|s| s.supabase_webhook_secret.is_some()),
            kv_copied_ms: copied,
            kv_copy_pending: mirror_due.is_some(),
            running: self.is_running(),
        };
        let config = config_of(settings);
        coordinator_status::add_to_health(
            &mut health,
            coordinator_status::status(&schedule, now_millis(), &config, ready),
        );
        Ok(public::for_visitors(health))
    }

    async fn handle_check(&self, app: &App) -> worker::Result<Response> {
        let store = match app.store() {
            Ok(store) => store,
            Err(message) => return json::error(503, message),
        };
        let settings = match app.settings_result() {
            Ok(settings) => settings,
            Err(error) => return json::error(503, error.to_string()),
        };
        let answer = match app.wire(settings, store).check_now(app.config()).await {
            Ok(checked) => json::json(200, &checked),
            Err(error) => json::error(503, settings.redact(&error.to_string())),
        };
        if let Err(error) = store.mirror_if_due(now_millis(), &time::new_run_id()).await {
            console_error!("decision-sync: copying the state to Workers KV failed (retried later): {error}");
        }
        self.arm(&self.schedule().await?, store).await?;
        answer
    }

    async fn handle_conflicts(&self, app: &App) -> worker::Result<Response> {
        let store = match app.store() {
            Ok(store) => store,
            Err(message) => return json::error(503, message),
        };
        match store.conflicts().await {
            Ok(conflicts) => json::json(200, &serde_json::json!({ "count": conflicts.len(), "conflicts": conflicts })),
            Err(error) => json::error(503, error.to_string()),
        }
    }
}

/// The parent id an event names (used as "ours" before the data source is known).
fn event_parent(event: &notion_event::NotionEvent) -> String {
    event
        .data
        .parent
        .as_ref()
        .map(|parent| parent.data_source_id.clone().unwrap_or_else(|| parent.id.clone()))
        .unwrap_or_default()
}

impl DurableObject for SyncLock {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, running: Alive::default() }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        let app = self.app();
        let app = &app;
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Post, "/run") => self.handle_run(app, req).await,
            (Method::Post, "/kick") => self.handle_kick(app, req).await,
            (Method::Post, "/webhooks/notion") => self.handle_notion_webhook(app, req).await,
            (Method::Get, "/notion-token") => match self.notion_token().await? {
                Some(token) => json::json(200, &token),
                None => json::error(
                    404,
                    "no verification token received yet: create the webhook subscription in Notion (Integrations → \
                     Webhooks) with this Worker's /webhooks/notion URL; Notion sends the token first",
                ),
            },
            (Method::Get, "/health") => match self.report(app).await {
                Ok(health) => json::json(200, &health),
                Err(message) => json::json(503, &serde_json::json!({ "status": "error", "error": message })),
            },
            (Method::Get, "/dashboard") => {
                let html = match self.report(app).await {
                    Ok(health) => crate::dashboard::render(&health),
                    Err(message) => crate::dashboard::error_page(&message),
                };
                Response::builder()
                    .with_status(200)
                    .with_header("content-type", "text/html; charset=utf-8")?
                    .with_header("cache-control", "no-store")
                    .map(|builder| builder.fixed(html.into_bytes()))
            }
            (Method::Post, "/health/check") => self.handle_check(app).await,
            (Method::Get, "/conflicts") => self.handle_conflicts(app).await,
            (method, _) => json::error(404, format!("the coordinator has no route {method:?} {path}")),
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if self.is_running() {
            // The run in progress sets the next alarm when it ends.
            return Response::ok("running");
        }
        let app = self.app();
        let now = now_millis();
        let mut schedule = self.schedule().await?;
        // A run that was in flight and is not alive here died with its invocation: run its work again.
        if schedule.recover_dead_run(now) {
            self.save_schedule(&schedule).await?;
        }
        if schedule.run_due(now) {
            let wanted = schedule.wanted.clone().unwrap_or_default();
            let trigger = alarm_trigger(&wanted, &schedule);
            self.run_now(&app, &trigger, RunFlags::default(), true).await?;
            return Response::ok("ran");
        }
        let store = match app.store() {
            Ok(store) => store,
            Err(message) => return Err(worker::Error::RustError(message)),
        };
        if let Err(error) = store.mirror_if_due(now, &time::new_run_id()).await {
            console_error!("decision-sync: copying the state to Workers KV failed (retried later): {error}");
        }
        self.arm(&schedule, store).await?;
        Response::ok("idle")
    }
}
