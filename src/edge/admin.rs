//! The routes behind `Authorization: Bearer $SYNC_ADMIN_TOKEN`: `/sync-now`, `/dry-run`,
//! `/conflicts`, `/health/check` and `/webhooks/notion/token`, each answered by the coordinator.
use worker::{Env, Method, Request};

use super::coordinator::RunAsk;
use super::coordinator_client::Coordinator;
use super::env;
use super::error::{EdgeError, EdgeResult};
use crate::auth::{check_bearer, Access};
use crate::core::mass_delete;

/// `Err` when the request may not pass: 403 (no token configured) or 401.
pub fn check(req: &Request, env: &Env) -> Result<(), EdgeError> {
    let header = req.headers().get("authorization")?;
    match check_bearer(header.as_deref(), env::admin_token(env).as_deref()) {
        Access::Allowed => Ok(()),
        Access::NotConfigured(message) => Err(EdgeError::Forbidden(message)),
        Access::Denied(message) => Err(EdgeError::Unauthorized { message, bearer: true }),
    }
}

/// True when the (authenticated) request says `?allow-mass-delete=1`.
pub fn allows_mass_delete(req: &Request) -> bool {
    req.url().is_ok_and(|url| mass_delete::allows_mass_delete(url.query()))
}

/// Asks the coordinator `method path` and answers with its answer (503 when it cannot be reached).
pub async fn ask(env: &Env, method: Method, path: &str, body: Option<String>) -> EdgeResult {
    let coordinator = Coordinator::from_env(env)?;
    Ok(coordinator.ask(method, path, body, &[]).await?)
}

/// Runs once now (or plans only) and answers with the report. `allow_mass_delete` lets this
/// run's deletes pass the mass-delete safety halt (and the runs after it finish them).
pub async fn run(env: &Env, dry_run: bool, allow_mass_delete: bool) -> EdgeResult {
    let trigger = if dry_run { "dry-run" } else { "sync-now" };
    let ask_body = RunAsk { trigger: trigger.to_string(), dry_run, allow_mass_delete };
    let body = serde_json::to_string(&ask_body).map_err(|e| EdgeError::BadRequest(e.to_string()))?;
    ask(env, Method::Post, "/run", Some(body)).await
}
