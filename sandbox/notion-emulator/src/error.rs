//! Notion's error object: `{object:"error", status, code, message, request_id}`.

use serde_json::{json, Value};

/// An API error as Notion reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Seconds for a `Retry-After` header (429 / 529 / injected faults).
    pub retry_after: Option<u64>,
    /// `additional_data.rate_limit_reason` of a 429.
    pub rate_limit_reason: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None, rate_limit_reason: None }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        ApiError::new(400, "validation_error", message)
    }

    /// `body failed validation: {path} should be {expected}, instead was `{actual}`.`
    pub fn body(path: &str, expected: &str, actual: &Value) -> Self {
        ApiError::validation(format!(
            "body failed validation: {path} should be {expected}, instead was `{}`.",
            show(actual)
        ))
    }

    /// Like [`ApiError::body`] for a missing key.
    pub fn body_missing(path: &str) -> Self {
        ApiError::validation(format!("body failed validation: {path} should be defined, instead was `undefined`."))
    }

    pub fn invalid_json() -> Self {
        ApiError::new(400, "invalid_json", "Error parsing JSON body.")
    }

    pub fn invalid_url() -> Self {
        ApiError::new(400, "invalid_request_url", "Invalid request URL.")
    }

    pub fn unauthorized() -> Self {
        ApiError::new(401, "unauthorized", "API token is invalid.")
    }

    pub fn missing_version() -> Self {
        ApiError::new(
            400,
            "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.",
        )
    }

    /// 404 with Notion's wording; `kind` is "page", "database", "data_source", "block".
    pub fn not_found(kind: &str, id: &str) -> Self {
        ApiError::new(
            404,
            "object_not_found",
            format!(
                "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
            ),
        )
    }

    /// 429 `rate_limited` with `Retry-After` (none when retrying won't help) and the reason.
    pub fn rate_limited(retry_after: Option<u64>, reason: &'static str) -> Self {
        ApiError {
            retry_after,
            rate_limit_reason: Some(reason),
            ..ApiError::new(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.")
        }
    }

    /// The error object. `additional_data` carries `rate_limit_reason` on a 429 and, "whenever
    /// a response includes Retry-After", `retry_after` as "a string of whole seconds"
    /// (developers.notion.com/reference/request-limits).
    pub fn to_json(&self, request_id: &str) -> Value {
        let mut v = json!({
            "object": "error",
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        });
        let mut extra = serde_json::Map::new();
        if let Some(r) = self.rate_limit_reason {
            extra.insert("rate_limit_reason".into(), json!(r));
        }
        if let Some(s) = self.retry_after {
            extra.insert("retry_after".into(), json!(s.to_string()));
        }
        if !extra.is_empty() {
            v["additional_data"] = Value::Object(extra);
        }
        v
    }
}

/// Renders a value the way Notion quotes it in validation messages (JSON, shortened).
pub fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        let cut: String = s.chars().take(57).collect();
        format!("{cut}...")
    } else {
        s
    }
}
