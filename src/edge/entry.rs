//! The Worker's entry points: `fetch` (HTTP), `scheduled` (cron) and module start (panic hook).
use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

use super::{cron, router};

/// Runs once per isolate: panics are logged with their message and location.
#[event(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
pub async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(router::handle(req, env).await)
}

#[event(scheduled)]
pub async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    cron::on_schedule(event, env).await;
}
