//! The Worker itself (wasm32 only): workers-rs entry points, routes, the KV state store and the
//! `SyncLock` Durable Object. Everything that touches the Workers runtime lives here; the sync rules
//! live in `core`.
//!
//! One concept per file:
//! - [`entry`]: the `fetch` and `scheduled` event handlers and the panic hook;
//! - [`router`]: which handler answers which method and path;
//! - [`health`]: `GET /health`;
//! - [`cron`]: what the scheduled (cron) run does and records;
//! - [`config`]: which settings are required and which are missing (names only);
//! - [`run`]: the record of one run, as stored in KV;
//! - [`state`]: typed keys and JSON values in Workers KV;
//! - [`lock`]: the `SyncLock` Durable Object (a lease) and its client;
//! - [`json`]: JSON responses;
//! - [`time`]: the clock and run ids.
pub mod config;
pub mod cron;
pub mod entry;
pub mod health;
pub mod json;
pub mod lock;
pub mod router;
pub mod run;
pub mod state;
pub mod time;
