//! The pure sync core: normal form, checksum, Notion mapping, matching, planner, executor.
//! Knows nothing of workers-rs; the outside world is reached only through [`ports`].
pub mod budget;
pub mod content;
pub mod cursor;
pub mod engine;
pub mod error;
pub mod executor;
pub mod heartbeat;
pub mod lease;
pub mod link;
pub mod mass_delete;
pub mod matching;
pub mod model;
pub mod notion_date;
pub mod notion_mapping;
pub mod pair;
pub mod plan;
pub mod planner;
pub mod ports;
pub mod reader;
pub mod rejection;
pub mod report;
pub mod rich_text;
pub mod schema_check;
pub mod snapshot;
pub mod state;
pub mod time;
