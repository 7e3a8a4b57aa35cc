//! One run at a time: the `SyncLock` Durable Object holds a lease in its storage, and
//! [`SyncLockClient`] asks it for one. The rules (grant, renewal, expiry, a lease left by an
//! earlier instance of the object) are [`crate::core::lease`]'s; this file only stores and serves.
//!
//! The object draws a random instance id when it is built (each restart of `wrangler dev`, each
//! deploy or eviction builds a new one) and stamps it on the lease it grants or renews: a lease
//! stamped by an earlier instance dies after half its TTL without renewal instead of the whole
//! TTL. A run renews its lease while it works (`POST /renew`); it also records the last run
//! started (id, trigger, time) and the last one that released its lease, so `/health` can name a
//! run that was interrupted (started, not finished, lease dead).
//!
//! Protocol (internal; the object is reachable only through its binding, never from outside):
//! - `POST /acquire` `{"holder": "...", "ttl_ms": 60000, "trigger": "cron"}` →
//!   `{"acquired": bool, "lease": LeaseRecord}` (the caller's lease, or the one that blocks it);
//! - `POST /renew` `{"holder": "...", "ttl_ms": 60000}` → `Renewal` (`{"outcome": "renewed"}` or
//!   `{"outcome": "lost", "holder": "..." | null}`);
//! - `POST /release` `{"holder": "..."}` → `{"released": bool}` (false when the caller holds nothing);
//! - `GET /lease` → `{"lease": LeaseRecord | null}` (the live lease, if any);
//! - `GET /status` → `LockStatus` (last run started and finished, live holder, pending intents).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::core::error::PortError;
use crate::core::lease::{self, Acquire, LeaseRecord, LockStatus, Renewal, RunStart};
use crate::core::ports::{CreateIntent, Lease as RunLease, RunLock};
use worker::wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, State, Stub};

use super::json;
use super::time::{from_millis, now_millis};

/// Name of the Durable Object binding in `wrangler.toml`.
pub const LOCK_BINDING: &str = "SYNC_LOCK";
/// The one lock object all runs share.
const LOCK_OBJECT_NAME: &str = "sync";
/// Storage key of the lease inside the object.
const LEASE_KEY: &str = "lease";
/// Storage keys of the last run started (`RunStart`) and of the last run finished (its id).
const LAST_STARTED_KEY: &str = "last_started";
const LAST_FINISHED_KEY: &str = "last_finished";
/// Storage key of the create-intent journal (row id → intent), one value so writes are atomic.
const INTENTS_KEY: &str = "intents";
/// Longest lease a caller may ask for (1 hour).
pub const MAX_TTL_MS: u64 = 60 * 60 * 1000;

#[derive(Debug, Deserialize)]
struct AcquireRequest {
    holder: String,
    ttl_ms: u64,
    #[serde(default)]
    trigger: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct AcquireReply {
    acquired: bool,
    lease: LeaseRecord,
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
    lease: Option<LeaseRecord>,
}

/// A random id for this instance of the object.
fn new_instance_id() -> String {
    let mut random = [0u8; 8];
    // Without randomness the time still tells instances apart.
    if getrandom::fill(&mut random).is_err() {
        return format!("t{:x}", now_millis());
    }
    hex::encode(random)
}

/// The lock object: one lease, the last run started and finished, and the intent journal.
#[durable_object(fetch)]
pub struct SyncLock {
    state: State,
    /// New on each construction: tells leases confirmed by this instance from earlier ones.
    instance: String,
}

impl SyncLock {
    async fn intents(&self) -> worker::Result<BTreeMap<String, CreateIntent>> {
        Ok(self.state.storage().get(INTENTS_KEY).await?.unwrap_or_default())
    }

    async fn lease(&self) -> worker::Result<Option<LeaseRecord>> {
        self.state.storage().get(LEASE_KEY).await
    }

    /// Why an acquire or renew request is malformed, if it is.
    fn bad_lease_request(holder: &str, ttl_ms: u64) -> Option<String> {
        (holder.is_empty() || ttl_ms == 0 || ttl_ms > MAX_TTL_MS)
            .then(|| format!("holder must be non-empty and ttl_ms in 1..={MAX_TTL_MS}"))
    }

    async fn acquire(&self, mut req: Request) -> worker::Result<Response> {
        let body: AcquireRequest = match req.json().await {
            Ok(body) => body,
            Err(e) => return json::error(400, format!("bad acquire request: {e}")),
        };
        if let Some(problem) = Self::bad_lease_request(&body.holder, body.ttl_ms) {
            return json::error(400, problem);
        }
        let now = now_millis();
        let storage = self.state.storage();
        let reply = match lease::acquire(self.lease().await?.as_ref(), &body.holder, body.ttl_ms, now, &self.instance) {
            Acquire::Granted { lease, new_run } => {
                storage.put(LEASE_KEY, &lease).await?;
                if new_run {
                    let start =
                        RunStart { run_id: body.holder.clone(), trigger: body.trigger, started_at: from_millis(now) };
                    storage.put(LAST_STARTED_KEY, &start).await?;
                }
                AcquireReply { acquired: true, lease }
            }
            Acquire::Held(lease) => AcquireReply { acquired: false, lease },
        };
        json::json(200, &reply)
    }

    async fn renew(&self, mut req: Request) -> worker::Result<Response> {
        let body: AcquireRequest = match req.json().await {
            Ok(body) => body,
            Err(e) => return json::error(400, format!("bad renew request: {e}")),
        };
        if let Some(problem) = Self::bad_lease_request(&body.holder, body.ttl_ms) {
            return json::error(400, problem);
        }
        let (renewal, renewed) =
            lease::renew(self.lease().await?.as_ref(), &body.holder, body.ttl_ms, now_millis(), &self.instance);
        if let Some(renewed) = renewed {
            self.state.storage().put(LEASE_KEY, &renewed).await?;
        }
        json::json(200, &renewal)
    }

    async fn release(&self, mut req: Request) -> worker::Result<Response> {
        let body: ReleaseRequest = match req.json().await {
            Ok(body) => body,
            Err(e) => return json::error(400, format!("bad release request: {e}")),
        };
        let current = self.lease().await?;
        let released = lease::releases(current.as_ref(), &body.holder);
        if released {
            let storage = self.state.storage();
            storage.delete(LEASE_KEY).await?;
            storage.put(LAST_FINISHED_KEY, &body.holder).await?;
        }
        json::json(200, &ReleaseReply { released })
    }

    async fn status(&self) -> worker::Result<LockStatus> {
        let storage = self.state.storage();
        let now = now_millis();
        let live_holder =
            self.lease().await?.filter(|lease| lease.is_live(now, &self.instance)).map(|lease| lease.holder);
        Ok(LockStatus {
            last_started: storage.get(LAST_STARTED_KEY).await?,
            last_finished: storage.get(LAST_FINISHED_KEY).await?,
            live_holder,
            pending_intents: self.intents().await?.len(),
        })
    }
}

impl DurableObject for SyncLock {
    fn new(state: State, _env: Env) -> Self {
        Self { state, instance: new_instance_id() }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Post, "/acquire") => self.acquire(req).await,
            (Method::Post, "/renew") => self.renew(req).await,
            (Method::Post, "/release") => self.release(req).await,
            (Method::Get, "/lease") => {
                let now = now_millis();
                let lease = self.lease().await?.filter(|lease| lease.is_live(now, &self.instance));
                json::json(200, &LeaseReply { lease })
            }
            (Method::Get, "/status") => json::json(200, &self.status().await?),
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

/// Talks to the one `SyncLock` object.
pub struct SyncLockClient {
    stub: Stub,
}

impl SyncLockClient {
    pub fn from_env(env: &Env) -> Result<Self, LockError> {
        let namespace = env.durable_object(LOCK_BINDING).map_err(|e| LockError::Binding(e.to_string()))?;
        let stub = namespace.get_by_name(LOCK_OBJECT_NAME).map_err(|e| LockError::Binding(e.to_string()))?;
        Ok(Self { stub })
    }

    /// What the object knows about runs (one call; `/health` makes it).
    pub async fn lock_status(&self) -> Result<LockStatus, LockError> {
        self.call(Method::Get, "/status", None).await
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
            headers.set("content-type", "application/json").map_err(|e| LockError::Unreachable(e.to_string()))?;
            init.with_headers(headers);
            init.with_body(Some(JsValue::from_str(&body.to_string())));
        }
        let url = format!("https://sync-lock.internal{path}");
        let request = Request::new_with_init(&url, &init).map_err(|e| LockError::Unreachable(e.to_string()))?;
        let mut response =
            self.stub.fetch_with_request(request).await.map_err(|e| LockError::Unreachable(e.to_string()))?;
        let status = response.status_code();
        if status != 200 {
            let body = response.text().await.unwrap_or_default();
            return Err(LockError::Refused { status, body });
        }
        response.json::<T>().await.map_err(|e| LockError::Unreachable(format!("unreadable reply: {e}")))
    }
}

fn lock_error(error: LockError) -> PortError {
    PortError::transient("SyncLock Durable Object", error.to_string())
}

fn ttl_ms(ttl_seconds: i64) -> u64 {
    u64::try_from(ttl_seconds).unwrap_or(0).saturating_mul(1000).clamp(1, MAX_TTL_MS)
}

impl RunLock for SyncLockClient {
    async fn acquire(
        &self,
        run_id: &str,
        trigger: &str,
        _now: chrono::DateTime<chrono::Utc>,
        ttl_seconds: i64,
    ) -> Result<RunLease, PortError> {
        let body = serde_json::json!({ "holder": run_id, "ttl_ms": ttl_ms(ttl_seconds), "trigger": trigger });
        let reply: AcquireReply = self.call(Method::Post, "/acquire", Some(body)).await.map_err(lock_error)?;
        Ok(if reply.acquired {
            RunLease::Acquired
        } else {
            RunLease::Busy { run_id: reply.lease.holder, since: from_millis(reply.lease.acquired_at_ms) }
        })
    }

    async fn renew(
        &self,
        run_id: &str,
        _now: chrono::DateTime<chrono::Utc>,
        ttl_seconds: i64,
    ) -> Result<Renewal, PortError> {
        let body = serde_json::json!({ "holder": run_id, "ttl_ms": ttl_ms(ttl_seconds) });
        self.call(Method::Post, "/renew", Some(body)).await.map_err(lock_error)
    }

    async fn release(&self, run_id: &str) -> Result<(), PortError> {
        let body = serde_json::json!({ "holder": run_id });
        self.call::<ReleaseReply>(Method::Post, "/release", Some(body)).await.map(|_| ()).map_err(lock_error)
    }

    async fn status(&self) -> Result<LockStatus, PortError> {
        self.lock_status().await.map_err(lock_error)
    }

    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), PortError> {
        let body = serde_json::to_value(intents)
            .map_err(|e| PortError::transient("SyncLock Durable Object", e.to_string()))?;
        self.call::<usize>(Method::Post, "/intents", Some(body)).await.map(|_| ()).map_err(lock_error)
    }

    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
        let intents: BTreeMap<String, CreateIntent> =
            self.call(Method::Get, "/intents", None).await.map_err(lock_error)?;
        Ok(intents.into_values().collect())
    }

    async fn clear_intents(&self, row_ids: &[String]) -> Result<(), PortError> {
        let body = serde_json::json!(row_ids);
        self.call::<usize>(Method::Post, "/intents/clear", Some(body)).await.map(|_| ()).map_err(lock_error)
    }
}
