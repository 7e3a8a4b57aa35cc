//! Which handler answers which request. Every answer is JSON, including 404 and 405.
use worker::{console_error, Env, Method, Request, Response};

use super::health;
use super::json;

/// The routes the Worker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
}

/// Paths the Worker knows, with the methods each accepts (for 404/405 answers).
pub const ROUTES: &[(&str, &[Method])] = &[("/health", &[Method::Get])];

/// What the router decided for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Route(Route),
    NotFound,
    MethodNotAllowed { allow: Vec<Method> },
}

/// Maps a method and path to a route. A trailing slash is ignored (`/health/` is `/health`).
pub fn resolve(method: &Method, path: &str) -> Resolved {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let route = match path {
        "/health" => Route::Health,
        _ => return Resolved::NotFound,
    };
    let allowed = ROUTES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, methods)| methods.to_vec())
        .unwrap_or_default();
    if allowed.contains(method) {
        Resolved::Route(route)
    } else {
        Resolved::MethodNotAllowed { allow: allowed }
    }
}

/// Answers one request; never fails (an internal error becomes a logged JSON 500).
pub async fn handle(req: Request, env: Env) -> Response {
    let method = req.method();
    let path = req.path();
    let answer = match resolve(&method, &path) {
        Resolved::Route(Route::Health) => health::get(&env).await,
        Resolved::NotFound => json::error(404, format!("not found: {method} {path}")),
        Resolved::MethodNotAllowed { allow } => {
            let allow = allow
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            json::error(
                405,
                format!("method {method} not allowed on {path}; use {allow}"),
            )
            .map(|mut res| {
                // Header set failure only loses the hint; the JSON body says the same.
                let _ = res.headers_mut().set("allow", &allow);
                res
            })
        }
    };
    match answer {
        Ok(response) => response,
        Err(e) => {
            console_error!("{method} {path} failed: {e}");
            json::internal_error("internal error; see the Worker's logs")
        }
    }
}
