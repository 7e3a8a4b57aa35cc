//! One HTTP exchange, abstracted: the Worker sends it with `worker::Fetch`, native tools with a
//! blocking client. Clients build [`HttpRequest`]s and parse [`HttpResponse`]s as pure data.
#![allow(async_fn_in_trait)]

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
    Patch,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// A request as pure data. Header values may hold secrets: never log a request's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Abort the request after this long (the transport enforces it).
    pub timeout_ms: u64,
}

impl HttpRequest {
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        HttpRequest { method, url: url.into(), headers: Vec::new(), body: None, timeout_ms: 20_000 }
    }
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    pub fn json_body(mut self, body: &serde_json::Value) -> Self {
        self.body = Some(body.to_string());
        self.header("Content-Type", "application/json")
    }
    /// Method and URL without the query string: safe to log.
    pub fn describe(&self) -> String {
        let path = self.url.split('?').next().unwrap_or("");
        format!("{} {}", self.method.as_str(), path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// Case-insensitive header lookup.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// A web page rather than an API answer (`Content-Type: text/html`, or a body starting with
    /// `<`): the base URL points at a website, not at the API.
    pub fn looks_like_html(&self) -> bool {
        let html_type = self.header("content-type").is_some_and(|kind| kind.to_ascii_lowercase().contains("html"));
        html_type || self.body.trim_start().starts_with('<')
    }
}

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("request timed out after {0} ms")]
    Timeout(u64),
    #[error("network error: {0}")]
    Network(String),
}

/// Sends requests and waits; one implementation per runtime.
pub trait HttpTransport {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError>;
    async fn sleep(&self, millis: u64);
    /// A random number in `[0, 1)` for backoff jitter.
    fn jitter(&self) -> f64;
}
