//! `GET /health` (JSON) and `GET /` (the dashboard): the same report, built by the coordinator from
//! its working state (no request to Notion or Supabase) and without internal URLs. When the
//! coordinator cannot be reached, `/health` falls back to what Workers KV holds (at most 5 minutes
//! behind) and says so.
use worker::{Env, Method, Response};

use super::admin;
use super::env;
use super::error::EdgeResult;
use super::json;
use super::sync;
use super::time;
use crate::core::ports::StateStore;
use crate::health::{self, Health, SchemaCheck, SchemaStatus};
use crate::public;

/// The report from KV alone (the coordinator could not be asked: `why`).
async fn kv_report(env: &Env, why: &str) -> std::result::Result<Health, String> {
    let store = sync::kv_store(env)?;
    let (_, config) = env::status(env);
    let state = store.load().await.map_err(|e| e.to_string())?;
    let skipped = SchemaCheck::NotChecked { reason: format!("the coordinator could not be reached: {why}") };
    let schema = SchemaStatus { supabase: skipped.clone(), notion: skipped };
    let mut health = health::build(&state, config, schema, time::now());
    health.fix.insert(
        0,
        format!("the coordinator Durable Object could not be reached ({why}); this report is from Workers KV"),
    );
    Ok(public::for_visitors(health))
}

/// Why the coordinator's report is not available (`None`: here it is).
fn unavailable(answer: &EdgeResult) -> Option<String> {
    match answer {
        Ok(response) if response.status_code() == 200 => None,
        Ok(response) => Some(format!("it answered {}", response.status_code())),
        Err(error) => Some(error.to_string()),
    }
}

pub async fn health(env: &Env) -> EdgeResult {
    let answer = admin::ask(env, Method::Get, "/health", None).await;
    let Some(why) = unavailable(&answer) else { return answer };
    Ok(match kv_report(env, &why).await {
        Ok(health) => json::json(200, &health)?,
        Err(message) => json::json(503, &serde_json::json!({ "status": "error", "error": message }))?,
    })
}

pub async fn dashboard(env: &Env) -> EdgeResult {
    let answer = admin::ask(env, Method::Get, "/dashboard", None).await;
    let Some(why) = unavailable(&answer) else { return answer };
    let html = match kv_report(env, &why).await {
        Ok(health) => crate::dashboard::render(&health),
        Err(message) => crate::dashboard::error_page(&message),
    };
    Ok(Response::builder()
        .with_status(200)
        .with_header("content-type", "text/html; charset=utf-8")?
        .with_header("cache-control", "no-store")?
        .fixed(html.into_bytes()))
}
