//! Bidirectional sync between the Supabase table `decision_vault` and a Notion database.
//!
//! `core` is the pure sync engine (no I/O, no workers-rs); `clients` turn the engine's ports into
//! HTTP requests for Notion and PostgREST over an abstract transport; `edge` (wasm32 only) adapts
//! workers-rs (fetch, KV, Durable Objects, cron) to those ports.
pub mod auth;
pub mod clients;
pub mod core;
pub mod dashboard;
pub mod health;
pub mod live_check;
pub mod public;
pub mod run_log;
pub mod service;
pub mod settings;
pub mod webhooks;
#[cfg(target_arch = "wasm32")]
pub mod edge;
