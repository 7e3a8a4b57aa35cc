//! The Worker itself (wasm32 only): adapts workers-rs to the core's ports and serves the routes.
//! Everything that touches the Workers runtime lives here; the sync rules live in `core`.
//!
//! - [`entry`]: `fetch` and `scheduled` handlers, panic hook;
//! - [`router`]: which handler answers which method and path; [`pages`]: `/health` and `/`;
//!   [`admin`]: the token-protected routes; [`json`]: JSON responses;
//! - [`app`]: the composition root (settings parsed once, store, lock, clock) of one request or
//!   alarm of the coordinator; [`sync`]: one run, wired to the ports; [`cron`]: the scheduled run;
//! - [`env`]: settings from secrets and vars; [`kv_state`]: the state store on KV;
//!   [`coordinator`]: the `SyncLock` Durable Object that decides when runs happen and runs them,
//!   with [`object_lock`] (lease + create-intent journal) and [`object_state`] (working state,
//!   copied to KV at a bounded rate); [`coordinator_client`]: the Worker's way to it;
//!   [`webhooks`]: `POST /webhooks/notion` and `/webhooks/supabase`;
//!   [`transport`]: `fetch` as an HTTP transport; [`clock`], [`time`]: time and run ids.
pub mod admin;
pub mod app;
pub mod clock;
pub mod coordinator;
pub mod coordinator_client;
pub mod cron;
pub mod entry;
pub mod env;
pub mod error;
pub mod json;
pub mod kv_state;
pub mod object_lock;
pub mod object_state;
pub mod pages;
pub mod router;
pub mod sync;
pub mod time;
pub mod transport;
pub mod webhooks;
