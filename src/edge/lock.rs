//! One run at a time: the `SyncLock` Durable Object holds a lease (holder + expiry) in its storage,
//! and [`SyncLockClient`] asks it for one.
//!
//! The lease expires by itself, so a run that dies without releasing it blocks others only until
//! `expires_at_ms`. A holder may renew its own lease by acquiring it again.
//!
//! Protocol (internal; the object is reachable only through its binding, never from outside):
//! - `POST /acquire` `{"holder": "...", "ttl_ms": 600000}` → `{"acquired": bool, "lease": Lease}`
//!   (`lease` is the caller's new lease, or the one that blocks it);
//! - `POST /release` `{"holder": "..."}` → `{"released": bool}` (false when the caller holds nothing);
//! - `GET /lease` → `{"lease": Lease | null}` (the live lease, if any).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::error::PortError;
use crate::core::ports::{CreateIntent, Lease as RunLease, RunLock};
use worker::wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, State,
    Stub,
};

use super::json;
use super::time::now_millis;

/// Name of the Durable Object binding in `wrangler.toml`.
pub const LOCK_BINDING: &str = "SYNC_LOCK";
/// The one lock object all runs share.
const LOCK_OBJECT_NAME: &str = "sync";
/// Storage key of the lease inside the object.
const LEASE_KEY: &str = "lease";
/// Storage key of the create-intent journal (row id → intent), one value so writes are atomic.
const INTENTS_KEY: &str = "intents";
/// Longest lease a caller may ask for (1 hour); a run is far shorter.
pub const MAX_TTL_MS: u64 = 60 * 60 * 1000;

/// A lease on the sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub holder: String,
    pub acquired_at_ms: u64,
    pub expires_at_ms: u64,
}

impl Lease {
    pub fn is_live(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms
    }
}

#[derive(Debug, Deserialize)]
struct AcquireRequest {
    holder: String,
    ttl_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct AcquireReply {
    acquired: bool,
    lease: Lease,
}

#[derive(Debug, Deserialize)]
struct ReleaseRequest {
    holder: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReleaseReply {
    released: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct LeaseReply {
    lease: Option<Lease>,
}

/// What the object decides for an acquire, given the stored lease (pure).
fn decide_acquire(current: Option<Lease>, holder: &str, ttl_ms: u64, now_ms: u64) -> AcquireReply {
    match current {
        Some(lease) if lease.is_live(now_ms) && lease.holder != holder => AcquireReply {
            acquired: false,
            lease,
        },
        Some(lease) if lease.is_live(now_ms) => AcquireReply {
            // Renewal by the same holder keeps the original acquisition time.
            acquired: true,
            lease: Lease {
                expires_at_ms: now_ms.saturating_add(ttl_ms),
                ..lease
            },
        },
        _ => AcquireReply {
            acquired: true,
            lease: Lease {
                holder: holder.to_string(),
                acquired_at_ms: now_ms,
                expires_at_ms: now_ms.saturating_add(ttl_ms),
            },
        },
    }
}

/// The lock object: one lease, kept in Durable Object storage.
#[durable_object(fetch)]
pub struct SyncLock {
    state: State,
}

impl SyncLock {
    async fn intents(&self) -> worker::Result<BTreeMap<String, CreateIntent>> {
        Ok(self.state.storage().get(INTENTS_KEY).await?.unwrap_or_default())
    }
}

impl DurableObject for SyncLock {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Post, "/acquire") => {
                let body: AcquireRequest = match req.json().await {
                    Ok(body) => body,
                    Err(e) => return json::error(400, format!("bad acquire request: {e}")),
                };
                if body.holder.is_empty() || body.ttl_ms == 0 || body.ttl_ms > MAX_TTL_MS {
                    return json::error(
                        400,
                        format!("holder must be non-empty and ttl_ms in 1..={MAX_TTL_MS}"),
                    );
                }
                let storage = self.state.storage();
                let current: Option<Lease> = storage.get(LEASE_KEY).await?;
                let reply = decide_acquire(current, &body.holder, body.ttl_ms, now_millis());
                if reply.acquired {
                    storage.put(LEASE_KEY, &reply.lease).await?;
                }
                json::json(200, &reply)
            }
            (Method::Post, "/release") => {
                let body: ReleaseRequest = match req.json().await {
                    Ok(body) => body,
                    Err(e) => return json::error(400, format!("bad release request: {e}")),
                };
                let storage = self.state.storage();
                let current: Option<Lease> = storage.get(LEASE_KEY).await?;
                let released = match current {
                    Some(lease) if lease.holder == body.holder => {
                        storage.delete(LEASE_KEY).await?;
                        lease.is_live(now_millis())
                    }
                    _ => false,
                };
                json::json(200, &ReleaseReply { released })
            }
            (Method::Get, "/lease") => {
                let current: Option<Lease> = self.state.storage().get(LEASE_KEY).await?;
                let lease = current.filter(|lease| lease.is_live(now_millis()));
                json::json(200, &LeaseReply { lease })
            }
            (Method::Get, "/intents") => json::json(200, &self.intents().await?),
            (Method::Post, "/intents") => {
                let added: Vec<CreateIntent> = match req.json().await {
                    Ok(body) => body,
                    Err(e) => return json::error(400, format!("bad intents: {e}")),
                };
                let mut intents = self.intents().await?;
                for intent in added {
                    intents.insert(intent.row_id.clone(), intent);
                }
                self.state.storage().put(INTENTS_KEY, &intents).await?;
                json::json(200, &intents.len())
            }
            (Method::Post, "/intents/clear") => {
                let row_ids: Vec<String> = match req.json().await {
                    Ok(body) => body,
                    Err(e) => return json::error(400, format!("bad row ids: {e}")),
                };
                let mut intents = self.intents().await?;
                for row_id in &row_ids {
                    intents.remove(row_id);
                }
                self.state.storage().put(INTENTS_KEY, &intents).await?;
                json::json(200, &intents.len())
            }
            (method, _) => json::error(404, format!("SyncLock has no route {method:?} {path}")),
        }
    }
}

/// A lock failure, saying what to fix where it can.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the Durable Object binding `{LOCK_BINDING}` is not configured ({0}); declare it in wrangler.toml")]
    Binding(String),
    #[error("the SyncLock Durable Object could not be reached: {0}")]
    Unreachable(String),
    #[error("the SyncLock Durable Object answered {status}: {body}")]
    Refused { status: u16, body: String },
}

/// The outcome of an acquire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The caller holds this lease now.
    Granted(Lease),
    /// Someone else holds this lease.
    Held(Lease),
}

/// Talks to the one `SyncLock` object.
pub struct SyncLockClient {
    stub: Stub,
}

impl SyncLockClient {
    pub fn from_env(env: &Env) -> Result<Self, LockError> {
        let namespace = env
            .durable_object(LOCK_BINDING)
            .map_err(|e| LockError::Binding(e.to_string()))?;
        let stub = namespace
            .get_by_name(LOCK_OBJECT_NAME)
            .map_err(|e| LockError::Binding(e.to_string()))?;
        Ok(Self { stub })
    }

    /// Takes (or renews) the lease for `ttl_ms` milliseconds, unless someone else holds it.
    pub async fn acquire(&self, holder: &str, ttl_ms: u64) -> Result<Acquired, LockError> {
        let body = serde_json::json!({ "holder": holder, "ttl_ms": ttl_ms });
        let reply: AcquireReply = self.call(Method::Post, "/acquire", Some(body)).await?;
        Ok(if reply.acquired {
            Acquired::Granted(reply.lease)
        } else {
            Acquired::Held(reply.lease)
        })
    }

    /// Gives the lease back; `false` when `holder` did not hold a live lease.
    pub async fn release(&self, holder: &str) -> Result<bool, LockError> {
        let body = serde_json::json!({ "holder": holder });
        let reply: ReleaseReply = self.call(Method::Post, "/release", Some(body)).await?;
        Ok(reply.released)
    }

    /// The live lease, if any.
    pub async fn current(&self) -> Result<Option<Lease>, LockError> {
        let reply: LeaseReply = self.call(Method::Get, "/lease", None).await?;
        Ok(reply.lease)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, LockError> {
        let mut init = RequestInit::new();
        init.with_method(method);
        if let Some(body) = body {
            let headers = Headers::new();
            headers
                .set("content-type", "application/json")
                .map_err(|e| LockError::Unreachable(e.to_string()))?;
            init.with_headers(headers);
            init.with_body(Some(JsValue::from_str(&body.to_string())));
        }
        let url = format!("https://sync-lock.internal{path}");
        let request = Request::new_with_init(&url, &init)
            .map_err(|e| LockError::Unreachable(e.to_string()))?;
        let mut response = self
            .stub
            .fetch_with_request(request)
            .await
            .map_err(|e| LockError::Unreachable(e.to_string()))?;
        let status = response.status_code();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            return Err(LockError::Refused { status, body });
        }
        response
            .json::<T>()
            .await
            .map_err(|e| LockError::Unreachable(format!("unreadable reply: {e}")))
    }
}

fn lock_error(error: LockError) -> PortError {
    PortError::transient("SyncLock Durable Object", error.to_string())
}

impl RunLock for SyncLockClient {
    async fn acquire(&self, run_id: &str, _now: chrono::DateTime<chrono::Utc>, ttl_seconds: i64) -> Result<RunLease, PortError> {
        let ttl_ms = u64::try_from(ttl_seconds).unwrap_or(0).saturating_mul(1000).clamp(1, MAX_TTL_MS);
        match SyncLockClient::acquire(self, run_id, ttl_ms).await.map_err(lock_error)? {
            Acquired::Granted(_) => Ok(RunLease::Acquired),
            Acquired::Held(lease) => {
                Ok(RunLease::Busy { run_id: lease.holder, since: super::time::from_millis(lease.acquired_at_ms) })
            }
        }
    }

    async fn release(&self, run_id: &str) -> Result<(), PortError> {
        SyncLockClient::release(self, run_id).await.map(|_| ()).map_err(lock_error)
    }

    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), PortError> {
        let body = serde_json::to_value(intents).map_err(|e| PortError::transient("SyncLock Durable Object", e.to_string()))?;
        self.call::<usize>(Method::Post, "/intents", Some(body)).await.map(|_| ()).map_err(lock_error)
    }

    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
        let intents: BTreeMap<String, CreateIntent> = self.call(Method::Get, "/intents", None).await.map_err(lock_error)?;
        Ok(intents.into_values().collect())
    }

    async fn clear_intents(&self, row_ids: &[String]) -> Result<(), PortError> {
        let body = serde_json::json!(row_ids);
        self.call::<usize>(Method::Post, "/intents/clear", Some(body)).await.map(|_| ()).map_err(lock_error)
    }
}
