//! Which handler answers which request. Every answer but the dashboard is JSON, 404 and 405 too.
use worker::{console_error, Env, Method, Request, Response};

use super::error::EdgeResult;
use super::{admin, json, pages, webhooks};

/// The routes the Worker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Dashboard,
    Health,
    HealthCheck,
    SyncNow,
    DryRun,
    Conflicts,
    NotionWebhook,
    SupabaseWebhook,
    NotionToken,
}

impl Route {
    fn needs_token(self) -> bool {
        matches!(self, Route::HealthCheck | Route::SyncNow | Route::DryRun | Route::Conflicts | Route::NotionToken)
    }
}

/// Paths, the route each names, and the methods it accepts.
pub const ROUTES: &[(&str, Route, &[Method])] = &[
    ("/", Route::Dashboard, &[Method::Get]),
    ("/health", Route::Health, &[Method::Get]),
    ("/health/check", Route::HealthCheck, &[Method::Post]),
    ("/sync-now", Route::SyncNow, &[Method::Post]),
    ("/dry-run", Route::DryRun, &[Method::Post, Method::Get]),
    ("/conflicts", Route::Conflicts, &[Method::Get]),
    ("/webhooks/notion", Route::NotionWebhook, &[Method::Post]),
    ("/webhooks/notion/token", Route::NotionToken, &[Method::Get]),
    ("/webhooks/supabase", Route::SupabaseWebhook, &[Method::Post]),
];

/// What the router decided for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Route(Route),
    NotFound,
    MethodNotAllowed { allow: Vec<Method> },
}

/// Maps a method and path to a route. A trailing slash is ignored (`/health/` is `/health`).
pub fn resolve(method: &Method, path: &str) -> Resolved {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let Some((_, route, methods)) = ROUTES.iter().find(|(p, _, _)| *p == path) else {
        return Resolved::NotFound;
    };
    if methods.contains(method) {
        Resolved::Route(*route)
    } else {
        Resolved::MethodNotAllowed { allow: methods.to_vec() }
    }
}

async fn answer(route: Route, req: Request, env: &Env) -> EdgeResult {
    if route.needs_token() {
        admin::check(&req, env)?;
    }
    match route {
        Route::Dashboard => pages::dashboard(env).await,
        Route::Health => pages::health(env).await,
        // Reached only with a valid admin token (checked above).
        Route::HealthCheck => admin::ask(env, Method::Post, "/health/check", None).await,
        Route::SyncNow => admin::run(env, false, admin::allows_mass_delete(&req)).await,
        Route::DryRun => admin::run(env, true, admin::allows_mass_delete(&req)).await,
        Route::Conflicts => admin::ask(env, Method::Get, "/conflicts", None).await,
        Route::NotionToken => admin::ask(env, Method::Get, "/notion-token", None).await,
        // Authenticated by their own secrets (see `webhooks`).
        Route::NotionWebhook => webhooks::notion(req, env).await,
        Route::SupabaseWebhook => webhooks::supabase(req, env).await,
    }
}

/// Answers one request; never fails (an internal error becomes a logged JSON 500).
pub async fn handle(req: Request, env: Env) -> Response {
    let method = req.method();
    let path = req.path();
    let result = match resolve(&method, &path) {
        Resolved::Route(route) => match answer(route, req, &env).await {
            Ok(response) => Ok(response),
            Err(error) => error.response().unwrap_or(Err(worker::Error::RustError(error.to_string()))),
        },
        Resolved::NotFound => {
            json::error(404, format!("not found: {method} {path}; see docs/routes.md for the routes"))
        }
        Resolved::MethodNotAllowed { allow } => {
            let allow = allow.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ");
            json::error(405, format!("method {method} not allowed on {path}; use {allow}")).map(|mut res| {
                // A header that cannot be set only loses the hint; the body says the same.
                let _ = res.headers_mut().set("allow", &allow);
                res
            })
        }
    };
    match result {
        Ok(response) => response,
        Err(e) => {
            console_error!("{method} {path} failed: {e}");
            json::internal_error("internal error; see the Worker's logs (`npx wrangler tail`)")
        }
    }
}
