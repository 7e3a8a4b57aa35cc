//! `/__admin/webhooks`: the subscription, its options and delivery stats.
//!
//! - `GET /__admin/webhooks` → `{"subscription": {...} | null, "stats": {...}}`
//! - `POST /__admin/webhooks` `{"url", "verification_token"?, ...options}` → creates (replaces)
//!   the subscription and sends the verification request first
//! - `PATCH /__admin/webhooks` `{...options}` → changes options (e.g. `{"drop_next": 1}`)
//! - `DELETE /__admin/webhooks` → removes it
//! - `GET` / `DELETE /__admin/webhooks/stats` → the counters / zeroes them
//! - `POST /__admin/webhooks/flush` → ends every aggregation window now
//! - `POST /__admin/webhooks/events` `{"type", "page_id" | "data_source_id", ...}` → one event

use super::detect;
use super::options::SubscriptionSpec;
use super::Hub;
use crate::server::{admin_body, admin_error, admin_ok, App};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

fn hub(app: &App) -> Hub {
    app.lock().webhooks.clone()
}

pub async fn get_webhooks(State(app): State<App>) -> Response {
    admin_ok(hub(&app).to_json())
}

pub async fn create_webhook(State(app): State<App>, body: Bytes) -> Response {
    let spec = match admin_body(&body).and_then(|b| SubscriptionSpec::from_json(&b)) {
        Ok(s) => s,
        Err(e) => return admin_error(400, e),
    };
    let hub = hub(&app);
    hub.subscribe(spec);
    admin_ok(hub.to_json())
}

pub async fn update_webhook(State(app): State<App>, body: Bytes) -> Response {
    match admin_body(&body).and_then(|b| hub(&app).update_options(&b)) {
        Ok(_) => admin_ok(hub(&app).to_json()),
        Err(e) => admin_error(400, e),
    }
}

pub async fn delete_webhook(State(app): State<App>) -> Response {
    admin_ok(json!({"deleted": hub(&app).unsubscribe()}))
}

pub async fn get_stats(State(app): State<App>) -> Response {
    admin_ok(hub(&app).stats())
}

pub async fn reset_stats(State(app): State<App>) -> Response {
    let hub = hub(&app);
    hub.reset_stats();
    admin_ok(hub.stats())
}

pub async fn flush(State(app): State<App>) -> Response {
    let hub = hub(&app);
    hub.flush();
    admin_ok(hub.stats())
}

pub async fn emit_event(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let inner = app.lock();
    match detect::requested(&inner.store, &body, &inner.config.data_source_id) {
        Ok(change) => {
            inner.webhooks.emit(change);
            admin_ok(inner.webhooks.stats())
        }
        Err(e) => admin_error(400, e),
    }
}
