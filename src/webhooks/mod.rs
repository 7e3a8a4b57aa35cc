//! Webhook deliveries from Notion and Supabase: authentication and typed payloads, pure and
//! host-testable. Not routed yet: `POST /webhooks/notion` and `POST /webhooks/supabase` land with
//! the coordinator (issue 13), which only has to call these functions on the raw request.
//!
//! - [`notion_signature`]: the verification request and `X-Notion-Signature` (HMAC-SHA256);
//! - [`notion_event`]: Notion's event payloads, ordered by `timestamp`, reduced to pages to read;
//! - [`supabase`]: Supabase Database Webhook payloads and their shared-secret header;
//! - [`dedupe`]: a bounded memory of delivery ids (deliveries are at least once).
pub mod dedupe;
pub mod notion_event;
pub mod notion_signature;
pub mod secret;
pub mod supabase;
