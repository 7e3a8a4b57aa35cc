//! Notion and PostgREST clients implementing the core's ports over an [`http::HttpTransport`].
pub mod http;
pub mod notion;
pub mod postgrest;
pub mod retry;
