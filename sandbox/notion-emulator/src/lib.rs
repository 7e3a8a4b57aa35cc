//! Notion API emulator (native test tooling only).
//!
//! A stateful, in-memory HTTP server speaking the parts of Notion's API (versions
//! `2025-09-03` and `2026-03-11`; `2026-12-01` on request) that the sync Worker uses:
//! databases, data sources (retrieve + query) and pages (create, retrieve, update, trash), with
//! Notion's validation rules, error objects, minute-rounded timestamps, the 10,000-result query
//! cap and rate limiting. `/__admin/*` endpoints let tests act as a
//! human editor, move the clock, inject faults and read request counters.
//! See `docs/NOTION_EMULATOR.md` for what is (and is not) modelled.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use notion_emulator::{spawn, EmulatorConfig};
//! let emu = spawn(EmulatorConfig::default(), notion_emulator::localhost(0)).await?;
//! println!("{} {} {}", emu.url(), emu.token(), emu.data_source_id());
//! emu.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod config;
pub mod dates;
pub mod error;
pub mod faults;
pub mod ids;
pub mod query;
pub mod ratelimit;
pub mod richtext;
pub mod server;
pub mod store;
pub mod switches;
pub mod version;
pub mod webhook;
pub mod window_limit;

pub use config::{
    DataSourceSpec, DatabaseSpec, DocumentedRateLimit, EmulatorConfig, InTrashReading, PropertyKind, PropertySpec,
    DEFAULT_NOTION_VERSIONS, DEFAULT_QUERY_RESULT_LIMIT, DEFAULT_RATE_LIMIT, NOTION_VERSION,
};
pub use error::ApiError;
pub use faults::{Fault, FaultKind};
pub use version::ApiVersion;

use serde_json::{json, Value};
use server::{App, Inner};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// `127.0.0.1:port` (port 0 picks a free one). The emulator binds only to 127.0.0.1.
pub fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

/// Starts an emulator on `addr` (must be 127.0.0.1) and returns once it is listening.
pub async fn spawn(config: EmulatorConfig, addr: SocketAddr) -> io::Result<RunningEmulator> {
    if addr.ip() != std::net::IpAddr::V4(Ipv4Addr::LOCALHOST) {
        return Err(invalid(format!("the Notion emulator binds only to 127.0.0.1, not {}", addr.ip())));
    }
    let mut config = config;
    config.database_id = ids::normalize(&config.database_id)
        .ok_or_else(|| invalid(format!("database_id {:?} is not a UUID", config.database_id)))?;
    config.data_source_id = ids::normalize(&config.data_source_id)
        .ok_or_else(|| invalid(format!("data_source_id {:?} is not a UUID", config.data_source_id)))?;
    if config.token.trim().is_empty() {
        return Err(invalid("token must not be empty"));
    }
    let inner = Inner::new(config.clone()).map_err(invalid)?;
    if let Some(spec) = &config.webhook {
        inner.webhooks.subscribe(spec.clone());
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let app = App { inner: Arc::new(Mutex::new(inner)), shutdown: rx.clone() };
    let router = server::router(app.clone());
    let mut stop = rx;
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
    });
    Ok(RunningEmulator { addr: local, config, handle: EmulatorHandle { app }, shutdown_tx: tx, task: Some(task) })
}

/// A running emulator. Dropping it stops the server (without waiting); prefer
/// [`RunningEmulator::shutdown`].
pub struct RunningEmulator {
    addr: SocketAddr,
    config: EmulatorConfig,
    handle: EmulatorHandle,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningEmulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:{port}` — use as `NOTION_API_BASE`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.config.token
    }

    /// Main database id (dashed, lowercase).
    pub fn database_id(&self) -> &str {
        &self.config.database_id
    }

    /// Main data source id (dashed, lowercase).
    pub fn data_source_id(&self) -> &str {
        &self.config.data_source_id
    }

    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// In-process access to the admin functions.
    pub fn handle(&self) -> &EmulatorHandle {
        &self.handle
    }

    /// The JSON line the binary prints on start.
    pub fn announce(&self) -> Value {
        json!({
            "url": self.url(),
            "database_id": self.database_id(),
            "data_source_id": self.data_source_id(),
            "token": self.token(),
            "bot_user_id": self.handle.bot_user_id(),
            "human_user_id": self.handle.human_user_id(),
        })
    }

    /// Stops accepting requests, ends in-flight ones (injected hangs included) and waits.
    pub async fn shutdown(mut self) -> io::Result<()> {
        let _ = self.shutdown_tx.send(true);
        self.handle.webhooks().stop();
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }

    /// Runs until the server stops (for the binary).
    pub async fn wait(mut self) -> io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        self.handle.webhooks().stop();
    }
}

/// In-process equivalents of the `/__admin` endpoints.
#[derive(Clone)]
pub struct EmulatorHandle {
    app: App,
}

impl EmulatorHandle {
    pub fn bot_user_id(&self) -> String {
        self.app.lock().store.bot_user_id.clone()
    }

    pub fn human_user_id(&self) -> String {
        self.app.lock().store.human_user_id.clone()
    }

    /// Back to the configured start (pages, added databases, counters, faults, clock, limit).
    pub fn reset(&self) -> Result<(), String> {
        self.app.lock().reset()
    }

    pub fn set_clock_offset(&self, seconds: i64) {
        self.app.lock().store.clock_offset_seconds = seconds;
    }

    pub fn advance_clock(&self, seconds: i64) {
        self.app.lock().store.clock_offset_seconds += seconds;
    }

    pub fn clock_offset(&self) -> i64 {
        self.app.lock().store.clock_offset_seconds
    }

    /// The token bucket (`Some((per_second, burst))`); `None` disables rate limiting.
    pub fn set_rate_limit(&self, limit: Option<(f64, u32)>) {
        self.app.lock().limiter = limit.map(|(r, b)| ratelimit::Limiter::Bucket(ratelimit::TokenBucket::new(r, b)));
    }

    /// Switches to the documented model (fresh windows).
    pub fn set_documented_rate_limit(&self, spec: DocumentedRateLimit) {
        self.app.lock().limiter = Some(ratelimit::Limiter::Documented(window_limit::DocumentedLimiter::new(spec)));
    }

    /// Simulates other connections using up the workspace's shared budget for `seconds`
    /// (documented model only; returns false otherwise).
    pub fn exhaust_workspace(&self, seconds: u64) -> bool {
        let mut inner = self.app.lock();
        match inner.limiter.as_mut() {
            Some(ratelimit::Limiter::Documented(d)) => {
                d.workspace_exhausted_until =
                    Some(std::time::Instant::now() + std::time::Duration::from_secs(seconds.min(86_400)));
                true
            }
            _ => false,
        }
    }

    /// Results one query may return across its pages (Notion: 10,000); at least 1.
    pub fn set_query_result_limit(&self, max_results: usize) {
        self.app.lock().query_result_limit = max_results.max(1);
    }

    /// The `Notion-Version`s the API accepts.
    pub fn set_notion_versions(&self, accepted: &[ApiVersion]) -> Result<(), String> {
        let items: Vec<String> = accepted.iter().map(|v| v.as_str().to_string()).collect();
        self.app.lock().versions = version::parse_list(&items)?;
        Ok(())
    }

    pub fn set_in_trash_reading(&self, reading: InTrashReading) {
        self.app.lock().in_trash_reading = reading;
    }

    pub fn inject_fault(&self, fault: Fault, count: usize) {
        let mut inner = self.app.lock();
        for _ in 0..count {
            inner.faults.push_back(fault.clone());
        }
    }

    pub fn clear_faults(&self) {
        self.app.lock().faults.clear();
    }

    /// Same JSON as `GET /__admin/counters`.
    pub fn counters(&self) -> Value {
        self.app.lock().counters.to_json()
    }

    /// Every page (trashed included) as the admin listing shows it.
    pub fn all_pages(&self) -> Vec<Value> {
        server::all_pages(&self.app.lock().store, None)
    }

    /// The webhook subscription and its deliveries (same as `/__admin/webhooks`).
    pub fn webhooks(&self) -> webhook::Hub {
        self.app.lock().webhooks.clone()
    }

    /// Adds a database; returns (database id, data source ids).
    pub fn add_database(&self, spec: &DatabaseSpec) -> Result<(String, Vec<String>), String> {
        self.app.lock().store.add_database(spec)
    }
}
