//! JSON responses: every answer of the Worker is JSON with `cache-control: no-store`.
use serde::Serialize;
use serde_json::json;
use worker::{Response, Result};

/// `value` as JSON with this HTTP status.
pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response> {
    let body = serde_json::to_string(value)?;
    let response = Response::builder()
        .with_status(status)
        .with_header("content-type", "application/json; charset=utf-8")?
        .with_header("cache-control", "no-store")?
        .fixed(body.into_bytes());
    Ok(response)
}

/// `{"error": message}` with this HTTP status.
pub fn error(status: u16, message: impl Into<String>) -> Result<Response> {
    json(status, &json!({ "error": message.into() }))
}

/// The last-resort answer when building a response failed: a fixed JSON body that cannot fail to
/// encode.
pub fn internal_error(message: &str) -> Response {
    let body = json!({ "error": message }).to_string();
    match Response::builder().with_status(500).with_header("content-type", "application/json; charset=utf-8") {
        Ok(builder) => builder.fixed(body.into_bytes()),
        Err(_) => Response::builder().with_status(500).fixed(body.into_bytes()),
    }
}
