//! The Supabase table through PostgREST (`SUPABASE_URL/rest/v1`, or any PostgREST base).
//!
//! Pure request builders and response parsers, one concept per file, so the exact requests are
//! unit-tested; [`client::PostgrestClient`] sends them over an [`HttpTransport`] with retries and
//! the run's budget, and implements [`SupabasePort`].
//!
//! | port method | request |
//! |---|---|
//! | `check_schema` | `GET /decision_vault?select=<all>&limit=1`, then (once) `POST /rpc/decision_vault_sync_write_back {"updates":[]}` |
//! | `rows_changed_after` | `GET /decision_vault?select=…&or=(updated_at.gt."T",and(updated_at.eq."T",id.gt."ID"))&order=updated_at.asc,id.asc&limit=N` |
//! | `unlinked_rows` | `GET …&notion_page_id=is.null&deleted_at=is.null&or=(created_at…)&order=created_at.asc,id.asc&limit=1000` + `Prefer: count=exact` (more follow when `Content-Range`'s total is larger) |
//! | `rows_by_page_ids` | `GET …&notion_page_id=in.("p1","p2")` (100 ids per request) |
//! | `insert_rows` | `POST /decision_vault?on_conflict=notion_page_id&columns=…&select=…`, `Prefer: return=representation,resolution=ignore-duplicates`; skipped page ids looked up after |
//! | `count_linked` | `GET /decision_vault?select=id&notion_page_id=not.is.null&deleted_at=is.null&limit=1`, `Prefer: count=exact`, then the same with `deleted_at=not.is.null&notion_synced=is.false` (totals from `Content-Range`) |
//! | `write_rows` | `POST /rpc/decision_vault_sync_write_back {"updates":[…]}`; when missing, `PATCH /decision_vault?id=eq.X&updated_at=eq.T&select=id` per row |
//!
//! [`HttpTransport`]: crate::clients::http::HttpTransport
//! [`SupabasePort`]: crate::core::ports::SupabasePort
pub mod auth;
pub mod client;
pub mod config;
pub mod count;
pub mod errors;
pub mod insert;
pub mod query;
pub mod reads;
pub mod rows;
pub mod schema;
pub mod write_back;

pub use auth::{ApiKey, KeyKind};
pub use client::PostgrestClient;
pub use config::PostgrestConfig;
