//! The routes behind `Authorization: Bearer $SYNC_ADMIN_TOKEN`: `/sync-now`, `/dry-run`,
//! `/conflicts`, `/health/check` and `/webhooks/notion/token`, each answered by the coordinator.
use worker::{Env, Method, Request, Response, Result};

use super::coordinator::RunAsk;
use super::coordinator_client::Coordinator;
use super::env;
use super::json;
use crate::auth::{check_bearer, Access};
use crate::core::mass_delete;

/// `Some(response)` when the request may not pass: 403 (no token configured) or 401.
pub fn refuse(req: &Request, env: &Env) -> Result<Option<Response>> {
    let header = req.headers().get("authorization")?;
    match check_bearer(header.as_deref(), env::admin_token(env).as_deref()) {
        Access::Allowed => Ok(None),
        Access::NotConfigured(message) => json::error(403, message).map(Some),
        Access::Denied(message) => {
            let mut response = json::error(401, message)?;
            response.headers_mut().set("www-authenticate", "Bearer")?;
            Ok(Some(response))
        }
    }
}

/// True when the (authenticated) request says `?allow-mass-delete=1`.
pub fn allows_mass_delete(req: &Request) -> bool {
    req.url().is_ok_and(|url| mass_delete::allows_mass_delete(url.query()))
}

/// Asks the coordinator `method path` and answers with its answer (503 when it cannot be reached).
pub async fn ask(env: &Env, method: Method, path: &str, body: Option<String>) -> Result<Response> {
    let coordinator = match Coordinator::from_env(env) {
        Ok(coordinator) => coordinator,
        Err(error) => return json::error(503, error.to_string()),
    };
    match coordinator.ask(method, path, body, &[]).await {
        Ok(response) => Ok(response),
        Err(error) => json::error(503, error.to_string()),
    }
}

/// Runs once now (or plans only) and answers with the report. `allow_mass_delete` lets this
/// run's deletes pass the mass-delete safety halt (and the runs after it finish them).
pub async fn run(env: &Env, dry_run: bool, allow_mass_delete: bool) -> Result<Response> {
    let trigger = if dry_run { "dry-run" } else { "sync-now" };
    let ask_body = RunAsk { trigger: trigger.to_string(), dry_run, allow_mass_delete };
    ask(env, Method::Post, "/run", Some(serde_json::to_string(&ask_body)?)).await
}
