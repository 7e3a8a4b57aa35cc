//! The scheduled (cron) run. workers-rs never reports a failed cron run to Cloudflare, so every
//! outcome is recorded in KV (`/health` shows it) and logged (`wrangler tail`).
use worker::{console_error, Env, ScheduledEvent};

use super::sync;

pub async fn on_schedule(event: ScheduledEvent, env: Env) {
    let trigger = format!("cron {}", event.cron());
    if let Err(error) = sync::run(&env, &trigger, false, false).await {
        console_error!("decision-sync {trigger}: the run could not start: {error}");
    }
}
