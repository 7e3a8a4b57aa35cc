//! `GET /health` (JSON) and `GET /` (the dashboard): the same report, from the saved state only
//! (no request to Notion or Supabase) and without internal URLs; `POST /health/check` (admin
//! token): a live schema check, at most once a minute.
use worker::{Env, Response, Result};

use super::clock::WorkerClock;
use super::env;
use super::json;
use super::lock::SyncLockClient;
use super::sync;
use super::time;
use super::transport::FetchTransport;
use crate::core::ports::StateStore;
use crate::health::{self, Health, SchemaCheck, SchemaStatus};
use crate::public;
use crate::service::Service;

async fn report(env: &Env) -> std::result::Result<Health, String> {
    let store = sync::store(env)?;
    let (settings, config) = env::status(env);
    match settings {
        Ok(settings) => {
            let lock = SyncLockClient::from_env(env).map_err(|e| e.to_string())?;
            let clock = WorkerClock;
            let service =
                Service { settings: &settings, transport: FetchTransport, store: &store, lock: &lock, clock: &clock };
            Ok(public::for_visitors(service.health(config).await))
        }
        Err(_) => {
            let state = store.load().await.map_err(|e| e.to_string())?;
            let skipped = SchemaCheck::NotChecked { reason: "settings are missing or invalid".into() };
            let schema = SchemaStatus { supabase: skipped.clone(), notion: skipped };
            Ok(public::for_visitors(health::build(&state, config, schema, time::now())))
        }
    }
}

/// The report plus what the lock knows (one Durable Object call, never Notion or Supabase): a run
/// that was interrupted. A lock that cannot be asked only leaves that out.
async fn report_with_lock(env: &Env) -> std::result::Result<Health, String> {
    let mut health = report(env).await?;
    if let Ok(lock) = SyncLockClient::from_env(env) {
        if let Ok(status) = lock.lock_status().await {
            health::add_lock_status(&mut health, &status);
        }
    }
    Ok(health)
}

pub async fn health(env: &Env) -> Result<Response> {
    match report_with_lock(env).await {
        Ok(health) => json::json(200, &health),
        Err(message) => json::json(503, &serde_json::json!({ "status": "error", "error": message })),
    }
}

/// `POST /health/check`: the full report after a live schema check (or the last one's result
/// when it is less than a minute old).
pub async fn check(env: &Env) -> Result<Response> {
    let store = match sync::store(env) {
        Ok(store) => store,
        Err(message) => return json::error(503, message),
    };
    let (settings, config) = env::status(env);
    let settings = match settings {
        Ok(settings) => settings,
        Err(error) => return json::error(503, error.to_string()),
    };
    let lock = match SyncLockClient::from_env(env) {
        Ok(lock) => lock,
        Err(error) => return json::error(503, error.to_string()),
    };
    let clock = WorkerClock;
    let service = Service { settings: &settings, transport: FetchTransport, store: &store, lock: &lock, clock: &clock };
    match service.check_now(config).await {
        Ok(checked) => json::json(200, &checked),
        Err(error) => json::error(503, settings.redact(&error.to_string())),
    }
}

pub async fn dashboard(env: &Env) -> Result<Response> {
    let html = match report_with_lock(env).await {
        Ok(health) => crate::dashboard::render(&health),
        Err(message) => format!(
            "<!doctype html><html><head><meta http-equiv=\"refresh\" content=\"30\"><title>Decision sync: error</title></head>\
             <body><h1>Decision sync: error</h1><p>{}</p></body></html>",
            crate::dashboard::escape(&message)
        ),
    };
    let response = Response::builder()
        .with_status(200)
        .with_header("content-type", "text/html; charset=utf-8")?
        .with_header("cache-control", "no-store")?
        .fixed(html.into_bytes());
    Ok(response)
}
