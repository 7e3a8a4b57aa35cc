//! Bidirectional sync between the Supabase table `decision_vault` and a Notion database.
//!
//! `core` is the pure sync engine (the workspace crate `decision-sync-core`: no I/O, no serde_json,
//! no workers-rs); `clients` turn the engine's ports into HTTP requests for Notion and PostgREST
//! over an abstract transport; `edge` (wasm32 only) adapts workers-rs (fetch, KV, Durable Objects,
//! cron) to those ports.
// Nothing from the network or the user may panic the Worker: no unwrap()/expect() outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(unsafe_code)]
pub mod auth;
pub mod clients;
pub mod coordinator_status;
/// The pure sync engine, a crate of its own (`crates/sync-core/`, no serde_json, HTTP or workers-rs):
/// re-exported so that `crate::core::…` and `decision_sync::core::…` paths name it.
pub use decision_sync_core as core;
pub mod dashboard;
#[cfg(target_arch = "wasm32")]
pub mod edge;
pub mod health;
pub mod live_check;
pub mod public;
pub mod run_log;
pub mod service;
pub mod settings;
pub mod stored_chunks;
#[cfg(test)]
mod test_support;
pub mod webhooks;
