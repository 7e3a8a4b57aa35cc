//! The scheduled (cron) run: the safety net. It asks the coordinator for one run now (which also
//! takes any waiting webhook work along) and waits for it; the run's CPU is the coordinator's.
//! workers-rs never reports a failed cron run to Cloudflare, so every outcome is recorded (`/health`
//! shows it) and logged (`wrangler tail`).
use worker::{console_error, Env, Method, ScheduledEvent};

use super::coordinator::RunAsk;
use super::coordinator_client::Coordinator;

pub async fn on_schedule(event: ScheduledEvent, env: Env) {
    let trigger = format!("cron {}", event.cron());
    let ask = RunAsk { trigger: trigger.clone(), dry_run: false, allow_mass_delete: false };
    let result = match (Coordinator::from_env(&env), serde_json::to_string(&ask)) {
        (Ok(coordinator), Ok(body)) => coordinator.ask(Method::Post, "/run", Some(body), &[]).await.map(|_| ()),
        (Err(error), _) => Err(error),
        (_, Err(error)) => {
            console_error!("decision-sync {trigger}: {error}");
            return;
        }
    };
    if let Err(error) = result {
        console_error!("decision-sync {trigger}: the run could not start: {error}");
    }
}
