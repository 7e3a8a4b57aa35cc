//! Admin switches for documented behaviours: the rate-limit model (`/__admin/rate_limit`), the
//! query result cap (`/__admin/query_result_limit`), the accepted `Notion-Version`s
//! (`/__admin/versions`) and the reading of `in_trash` in queries (`/__admin/in_trash_reading`).
//! Each lasts until `/__admin/reset`, which restores the configured value.

use crate::config::{DocumentedRateLimit, InTrashReading, DEFAULT_RATE_LIMIT};
use crate::ratelimit::{Limiter, TokenBucket};
use crate::server::{admin_body, admin_error, admin_ok, App, Inner};
use crate::version::{self, ApiVersion};
use crate::window_limit::DocumentedLimiter;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn rate_limit_json(inner: &Inner) -> Value {
    match &inner.limiter {
        Some(Limiter::Bucket(b)) => json!({
            "enabled": true, "mode": "token_bucket", "per_second": b.per_second, "burst": b.burst,
        }),
        Some(Limiter::Documented(d)) => {
            let exhausted =
                d.workspace_exhausted_until.map_or(0, |u| u.saturating_duration_since(Instant::now()).as_secs());
            json!({
                "enabled": true,
                "mode": "documented",
                "requests_per_window": d.spec.requests_per_window,
                "window_seconds": d.spec.window_seconds,
                "remaining_in_window": d.connection.remaining(),
                "workspace_requests_per_window": d.spec.workspace_requests_per_window,
                "workspace_window_seconds": d.spec.workspace_window_seconds,
                "workspace_exhausted_for_seconds": exhausted,
                "blocked": d.blocked,
            })
        }
        None => json!({"enabled": false}),
    }
}

pub async fn admin_get_rate_limit(State(app): State<App>) -> Response {
    admin_ok(rate_limit_json(&app.lock()))
}

fn positive(body: &Value, key: &str, default: u64) -> Result<u64, String> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(u32::MAX)).contains(n))
            .ok_or_else(|| format!("\"{key}\" must be a positive integer")),
    }
}

/// `{"mode": "documented", "requests_per_window"?, "window_seconds"?,
/// "workspace_requests_per_window"?, "workspace_window_seconds"?}` (defaults: 180 per 60 s, no
/// workspace budget, 300 s workspace window).
pub fn documented_from_json(body: &Value) -> Result<DocumentedRateLimit, String> {
    let d = DocumentedRateLimit::default();
    let workspace = match body.get("workspace_requests_per_window") {
        None | Some(Value::Null) => None,
        Some(_) => Some(positive(body, "workspace_requests_per_window", 1)? as u32),
    };
    Ok(DocumentedRateLimit {
        requests_per_window: positive(body, "requests_per_window", u64::from(d.requests_per_window))? as u32,
        window_seconds: positive(body, "window_seconds", d.window_seconds)?,
        workspace_requests_per_window: workspace,
        workspace_window_seconds: positive(body, "workspace_window_seconds", d.workspace_window_seconds)?,
    })
}

fn bucket_from_json(body: &Value) -> Result<TokenBucket, String> {
    let per_second = match body.get("per_second").and_then(Value::as_f64) {
        Some(r) if r > 0.0 && r.is_finite() => r,
        _ => return Err(
            "\"per_second\" must be a positive number (or send {\"enabled\": false}, or {\"mode\": \"documented\"})"
                .into(),
        ),
    };
    let burst = positive(body, "burst", u64::from(DEFAULT_RATE_LIMIT.1))? as u32;
    Ok(TokenBucket::new(per_second, burst))
}

/// The documented limiter's simulations: other connections using up the workspace budget
/// (`workspace_exhausted_seconds`) and a restricted connection (`blocked`).
fn apply_simulations(limiter: &mut Option<Limiter>, body: &Value) -> Result<(), String> {
    let wants = body.get("workspace_exhausted_seconds").is_some() || body.get("blocked").is_some();
    if !wants {
        return Ok(());
    }
    let Some(Limiter::Documented(d)) = limiter.as_mut() else {
        return Err(
            "workspace_exhausted_seconds and blocked need the documented model: send \"mode\": \"documented\" too"
                .into(),
        );
    };
    if let Some(v) = body.get("workspace_exhausted_seconds") {
        let s = v.as_u64().ok_or("\"workspace_exhausted_seconds\" must be whole seconds")?;
        d.workspace_exhausted_until = (s > 0).then(|| Instant::now() + Duration::from_secs(s.min(86_400)));
    }
    if let Some(v) = body.get("blocked") {
        d.blocked = v.as_bool().ok_or("\"blocked\" must be a boolean")?;
    }
    Ok(())
}

fn set_rate_limit(inner: &mut Inner, body: &Value) -> Result<(), String> {
    if body.get("enabled") == Some(&Value::Bool(false)) || body.is_null() {
        inner.limiter = None;
        return Ok(());
    }
    let simulation_only =
        body.as_object().is_some_and(|o| o.keys().all(|k| k == "workspace_exhausted_seconds" || k == "blocked"));
    if !simulation_only {
        inner.limiter = Some(match body.get("mode").and_then(Value::as_str) {
            Some("documented") => Limiter::Documented(DocumentedLimiter::new(documented_from_json(body)?)),
            None | Some("token_bucket") => Limiter::Bucket(bucket_from_json(body)?),
            Some(other) => return Err(format!("\"mode\" {other:?} is not one of \"token_bucket\", \"documented\"")),
        });
    }
    apply_simulations(&mut inner.limiter, body)
}

pub async fn admin_set_rate_limit(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let mut inner = app.lock();
    match set_rate_limit(&mut inner, &body) {
        Ok(()) => admin_ok(rate_limit_json(&inner)),
        Err(e) => admin_error(400, e),
    }
}

fn query_limit_json(inner: &Inner) -> Value {
    json!({"max_results": inner.query_result_limit})
}

pub async fn admin_get_query_limit(State(app): State<App>) -> Response {
    admin_ok(query_limit_json(&app.lock()))
}

/// `{"max_results": 50}`: results one query may return across its pages (Notion: 10,000).
pub async fn admin_set_query_limit(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let n = match body.get("max_results").and_then(Value::as_u64) {
        Some(n) if n >= 1 => n,
        _ => return admin_error(400, "\"max_results\" must be a positive integer"),
    };
    let mut inner = app.lock();
    inner.query_result_limit = usize::try_from(n).unwrap_or(usize::MAX);
    admin_ok(query_limit_json(&inner))
}

pub fn versions_json(inner: &Inner) -> Value {
    json!({
        "accepted": inner.versions.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
        "modelled": ApiVersion::ALL.map(ApiVersion::as_str),
    })
}

pub async fn admin_get_versions(State(app): State<App>) -> Response {
    admin_ok(versions_json(&app.lock()))
}

/// `{"accepted": ["2025-09-03", "2026-03-11", "2026-12-01"]}`.
pub async fn admin_set_versions(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let items: Option<Vec<String>> = body
        .get("accepted")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
    let Some(items) = items else {
        return admin_error(400, "\"accepted\" must be an array of Notion-Version strings");
    };
    match version::parse_list(&items) {
        Ok(list) => {
            let mut inner = app.lock();
            inner.versions = list;
            admin_ok(versions_json(&inner))
        }
        Err(e) => admin_error(400, e),
    }
}

fn reading_json(inner: &Inner) -> Value {
    json!({"reading": inner.in_trash_reading.name()})
}

pub async fn admin_get_in_trash_reading(State(app): State<App>) -> Response {
    admin_ok(reading_json(&app.lock()))
}

/// `{"reading": "only_trashed" | "ignored" | "rejected"}`.
pub async fn admin_set_in_trash_reading(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let parsed = body
        .get("reading")
        .and_then(Value::as_str)
        .ok_or_else(|| "\"reading\" must be \"only_trashed\", \"ignored\" or \"rejected\"".to_string())
        .and_then(InTrashReading::parse);
    match parsed {
        Ok(r) => {
            let mut inner = app.lock();
            inner.in_trash_reading = r;
            admin_ok(reading_json(&inner))
        }
        Err(e) => admin_error(400, e),
    }
}
