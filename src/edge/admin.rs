//! The routes behind `Authorization: Bearer $SYNC_ADMIN_TOKEN`: `/sync-now`, `/dry-run`, `/conflicts`.
use worker::{Env, Request, Response, Result};

use super::env;
use super::json;
use super::sync;
use crate::auth::{check_bearer, Access};
use crate::core::mass_delete;
use crate::core::ports::StateStore;
use crate::core::report::RunOutcome;

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

/// Runs once now (or plans only) and answers with the report. `allow_mass_delete` lets this
/// run's deletes pass the mass-delete safety halt (and the runs after it finish them).
pub async fn run(env: &Env, dry_run: bool, allow_mass_delete: bool) -> Result<Response> {
    let trigger = if dry_run { "dry-run" } else { "sync-now" };
    let result = match sync::run(env, trigger, dry_run, allow_mass_delete).await {
        Ok(result) => result,
        Err(message) => return json::error(503, message),
    };
    let status = match &result.summary.outcome {
        RunOutcome::Ok | RunOutcome::Partial { .. } => 200,
        RunOutcome::Skipped { .. } => 409,
        RunOutcome::NotConfigured { .. } => 503,
        RunOutcome::Failed { .. } => 502,
    };
    if dry_run {
        json::json(status, &result)
    } else {
        json::json(status, &result.summary)
    }
}

pub async fn conflicts(env: &Env) -> Result<Response> {
    let store = match sync::store(env) {
        Ok(store) => store,
        Err(message) => return json::error(503, message),
    };
    match store.conflicts().await {
        Ok(conflicts) => json::json(200, &serde_json::json!({ "count": conflicts.len(), "conflicts": conflicts })),
        Err(error) => json::error(503, error.to_string()),
    }
}
