//! The pure sync core: normal form, checksum, Notion mapping, matching, planner, executor.
//! Knows nothing of workers-rs; the outside world is reached only through [`ports`].
pub mod budget;
pub mod content;
pub mod error;
pub mod link;
pub mod model;
pub mod ports;
pub mod report;
pub mod rich_text;
pub mod state;
pub mod schema_check;
pub mod matching;
pub mod pair;
pub mod plan;
pub mod rejection;
pub mod planner;
pub mod snapshot;
pub mod time;
pub mod executor;
pub mod reader;
pub mod cursor;
pub mod engine;
pub mod mass_delete;
pub mod heartbeat;
pub mod lease;
pub mod notion_mapping;
pub mod notion_date;
