//! `POST /webhooks/notion` and `POST /webhooks/supabase`: deliveries that kick the coordinator.
//!
//! - Notion: forwarded to the coordinator as received (raw body and `X-Notion-Signature`), which
//!   keeps the verification token of the first request and checks every later delivery's
//!   HMAC-SHA256 signature (`crate::webhooks::notion_signature`) against `NOTION_WEBHOOK_SECRET`,
//!   or that token; a bad or missing signature gets 401 and changes nothing.
//! - Supabase: the shared secret header is checked here, in constant time (absent or wrong: 401;
//!   no `SUPABASE_WEBHOOK_SECRET` set: 403), so a forged delivery never wakes the coordinator.
//!   INSERT and UPDATE ask for a run within seconds (the run reads the row again: the three-way
//!   rules judge); DELETE asks the run to read the linked page, so the row's loss is reported as
//!   an orphan and never propagated.
use worker::{Env, Method, Request, Response, Result};

use super::coordinator_client::Coordinator;
use super::env;
use super::json;
use crate::core::coordinator::{Kick, KickSource};
use crate::webhooks::supabase::{check_secret, parse_change, Action, SecretError, SECRET_HEADER, SECRET_SETTING};

/// Largest delivery accepted (Notion's and Supabase's payloads are a few KB).
const MAX_BODY_BYTES: usize = 256 * 1024;

async fn body_text(req: &mut Request) -> Result<std::result::Result<String, Response>> {
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_BODY_BYTES {
        return json::error(413, format!("webhook body larger than {MAX_BODY_BYTES} bytes")).map(Err);
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Ok(text)),
        Err(_) => json::error(400, "webhook body is not UTF-8 JSON").map(Err),
    }
}

fn coordinator(env: &Env) -> std::result::Result<Coordinator, String> {
    Coordinator::from_env(env).map_err(|e| e.to_string())
}

pub async fn notion(mut req: Request, env: &Env) -> Result<Response> {
    let signature = req.headers().get("x-notion-signature")?;
    let body = match body_text(&mut req).await? {
        Ok(body) => body,
        Err(refused) => return Ok(refused),
    };
    let coordinator = match coordinator(env) {
        Ok(coordinator) => coordinator,
        Err(message) => return json::error(503, message),
    };
    let headers: Vec<(&str, String)> = signature.map(|s| ("x-notion-signature", s)).into_iter().collect();
    match coordinator.ask(Method::Post, "/webhooks/notion", Some(body), &headers).await {
        Ok(response) => Ok(response),
        Err(error) => json::error(503, error.to_string()),
    }
}

pub async fn supabase(mut req: Request, env: &Env) -> Result<Response> {
    let given = req.headers().get(SECRET_HEADER)?;
    let configured = env::lookup(env, SECRET_SETTING).filter(|s| !s.trim().is_empty());
    match check_secret(given.as_deref(), configured.as_deref()) {
        Ok(()) => {}
        Err(error @ SecretError::NotConfigured) => return json::error(403, error.to_string()),
        Err(error) => return json::error(401, error.to_string()),
    }
    let body = match body_text(&mut req).await? {
        Ok(body) => body,
        Err(refused) => return Ok(refused),
    };
    let pages = match parse_change(body.as_bytes()) {
        Ok((_, Action::SyncRow(_))) => Vec::new(),
        Ok((_, Action::Orphan { notion_page_id, .. })) => notion_page_id.into_iter().collect(),
        Err(error) => return json::error(400, error.to_string()),
    };
    let kick = Kick { source: Some(KickSource::SupabaseWebhook), events: 1, pages, schema_changed: false };
    let coordinator = match coordinator(env) {
        Ok(coordinator) => coordinator,
        Err(message) => return json::error(503, message),
    };
    match coordinator.ask(Method::Post, "/kick", Some(serde_json::to_string(&kick)?), &[]).await {
        Ok(response) => Ok(response),
        Err(error) => json::error(503, error.to_string()),
    }
}
