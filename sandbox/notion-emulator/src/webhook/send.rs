//! One delivery attempt: an HTTP/1.1 POST of the raw JSON body (plain HTTP only).

use super::signature::{sign, SIGNATURE_HEADER};
use std::time::Duration;

/// What an attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Error(String),
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(s))
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Status(s) => Some(*s),
            Outcome::Error(_) => None,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Outcome::Status(_) => None,
            Outcome::Error(e) => Some(e),
        }
    }
}

/// POSTs `body` to `url`, signed with `token` when given (events; the verification request is
/// unsigned). Never panics: every failure is an [`Outcome::Error`].
pub fn post(url: &str, body: &[u8], token: Option<&str>, timeout: Duration) -> Outcome {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).build().into();
    let mut request = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", "notion-emulator-webhooks/1 (+https://developers.notion.com/reference/webhooks)");
    if let Some(token) = token {
        request = request.header(SIGNATURE_HEADER, sign(body, token));
    }
    match request.send(body) {
        Ok(response) => Outcome::Status(response.status().as_u16()),
        Err(e) => Outcome::Error(e.to_string()),
    }
}
