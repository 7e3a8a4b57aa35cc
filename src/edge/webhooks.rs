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
use worker::{Env, Method, Request};

use super::coordinator_client::Coordinator;
use super::env;
use super::error::{EdgeError, EdgeResult};
use crate::core::coordinator::{Kick, KickSource};
use crate::webhooks::supabase::{check_secret, parse_change, Action, SecretError, SECRET_HEADER, SECRET_SETTING};

/// Largest delivery accepted (Notion's and Supabase's payloads are a few KB).
const MAX_BODY_BYTES: usize = 256 * 1024;

async fn body_text(req: &mut Request) -> Result<String, EdgeError> {
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_BODY_BYTES {
        return Err(EdgeError::TooLarge(format!("webhook body larger than {MAX_BODY_BYTES} bytes")));
    }
    String::from_utf8(bytes).map_err(|_| EdgeError::BadRequest("webhook body is not UTF-8 JSON".to_string()))
}

pub async fn notion(mut req: Request, env: &Env) -> EdgeResult {
    let signature = req.headers().get("x-notion-signature")?;
    let body = body_text(&mut req).await?;
    let headers: Vec<(&str, String)> = signature.map(|s| ("x-notion-signature", s)).into_iter().collect();
    Ok(Coordinator::from_env(env)?.ask(Method::Post, "/webhooks/notion", Some(body), &headers).await?)
}

pub async fn supabase(mut req: Request, env: &Env) -> EdgeResult {
    let given = req.headers().get(SECRET_HEADER)?;
    let configured = env::lookup(env, SECRET_SETTING).filter(|s| !s.trim().is_empty());
    check_secret(given.as_deref(), configured.as_deref()).map_err(|error| match error {
        SecretError::NotConfigured => EdgeError::Forbidden(error.to_string()),
        _ => EdgeError::Unauthorized { message: error.to_string(), bearer: false },
    })?;
    let body = body_text(&mut req).await?;
    let pages = match parse_change(body.as_bytes()).map_err(|error| EdgeError::BadRequest(error.to_string()))? {
        (_, Action::SyncRow(_)) => Vec::new(),
        (_, Action::Orphan { notion_page_id, .. }) => notion_page_id.into_iter().collect(),
    };
    let kick = Kick { source: Some(KickSource::SupabaseWebhook), events: 1, pages, schema_changed: false };
    let body = serde_json::to_string(&kick).map_err(|e| EdgeError::BadRequest(e.to_string()))?;
    Ok(Coordinator::from_env(env)?.ask(Method::Post, "/kick", Some(body), &[]).await?)
}
