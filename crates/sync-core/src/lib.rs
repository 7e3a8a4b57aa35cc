//! The pure sync core: normal form, checksum, matching, planner, executor.
//! Knows nothing of workers-rs, HTTP or JSON (no serde_json: the adapters serialize the state);
//! the outside world is reached only through [`ports`]. The Worker crate re-exports it as
//! `decision_sync::core`.
// Nothing from the network or the user may panic the Worker: no unwrap()/expect() outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![deny(unsafe_code)]
pub mod budget;
pub mod canonical;
pub mod content;
pub mod coordinator;
pub mod cursor;
pub mod engine;
pub mod error;
pub mod executor;
pub mod heartbeat;
pub mod lease;
pub mod link;
pub mod lock_store;
pub mod mass_delete;
pub mod matching;
pub mod model;
pub mod notion_date;
pub mod pair;
pub mod plan;
pub mod planner;
pub mod pool_scan;
pub mod ports;
pub mod presence;
pub mod progress;
pub mod reader;
pub mod rejection;
pub mod report;
pub mod rich_text;
pub mod schema_check;
pub mod seen;
pub mod snapshot;
pub mod state;
pub mod time;
pub mod trash_sweep;
