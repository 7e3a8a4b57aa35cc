//! One error type for the Worker's own handlers, mapped to the HTTP status each answers with.
//! Messages say what to do; none carries a secret (the webhook and admin checks name settings,
//! never values).
use worker::Response;

use super::json;

/// What went wrong answering a request, and so which status it gets.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// 400: the request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 401: a missing or wrong credential (`bearer`: ask for a Bearer token).
    #[error("{message}")]
    Unauthorized { message: String, bearer: bool },
    /// 403: the route is closed until a setting is made.
    #[error("{0}")]
    Forbidden(String),
    /// 413: a body larger than the route accepts.
    #[error("{0}")]
    TooLarge(String),
    /// 503: a binding is missing or the coordinator cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// 500: the runtime failed (logged; the answer points at the logs).
    #[error("{0}")]
    Runtime(#[from] worker::Error),
}

impl EdgeError {
    pub fn status(&self) -> u16 {
        match self {
            EdgeError::BadRequest(_) => 400,
            EdgeError::Unauthorized { .. } => 401,
            EdgeError::Forbidden(_) => 403,
            EdgeError::TooLarge(_) => 413,
            EdgeError::Unavailable(_) => 503,
            EdgeError::Runtime(_) => 500,
        }
    }

    /// The JSON answer (`{"error": message}`); `None` only for [`EdgeError::Runtime`], which the
    /// router logs and answers with a fixed 500.
    pub fn response(&self) -> Option<worker::Result<Response>> {
        if let EdgeError::Runtime(_) = self {
            return None;
        }
        let answer = json::error(self.status(), self.to_string());
        Some(match self {
            EdgeError::Unauthorized { bearer: true, .. } => answer.and_then(|mut response| {
                response.headers_mut().set("www-authenticate", "Bearer")?;
                Ok(response)
            }),
            _ => answer,
        })
    }
}

/// What a handler returns.
pub type EdgeResult = Result<Response, EdgeError>;
