//! Injected faults for the next API requests.

use serde_json::{json, Value};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// An error status: 500, 502, 503, 504 or 529 (529 and 503 may carry `Retry-After`).
    Status { status: u16, retry_after: Option<u64> },
    /// Wait this long before answering (504 `gateway_timeout` if the client is still there).
    Hang(Duration),
    /// A 200 whose body is not valid JSON.
    MalformedJson,
}

/// One pending fault. `after_commit`: the request is carried out (state changes) and only the
/// response is replaced — e.g. "page created, response lost".
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// `"METHOD /v1/route/{template}"` the fault is limited to; any API request when `None`.
    pub route: Option<String>,
    pub after_commit: bool,
}

impl Fault {
    /// Parses `{"kind": "status"|"hang"|"malformed_json", "status"?, "retry_after"?, "seconds"?,
    /// "millis"?, "route"?, "after_commit"?, "count"?}`; returns the fault and its count.
    pub fn from_json(v: &Value) -> Result<(Fault, usize), String> {
        let o = v.as_object().ok_or("fault must be a JSON object")?;
        let kind = o
            .get("kind")
            .and_then(Value::as_str)
            .ok_or("fault needs \"kind\": \"status\", \"hang\" or \"malformed_json\"")?;
        let count = match o.get("count") {
            None => 1,
            Some(c) => c.as_u64().ok_or("\"count\" must be a non-negative integer")? as usize,
        };
        let route = match o.get("route") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(r.clone()),
            Some(_) => return Err("\"route\" must be a string like \"POST /v1/pages\"".into()),
        };
        let retry_after = match o.get("retry_after") {
            None | Some(Value::Null) => None,
            Some(r) => Some(r.as_u64().ok_or("\"retry_after\" must be whole seconds")?),
        };
        let fault_kind = match kind {
            "status" => {
                let status = o
                    .get("status")
                    .and_then(Value::as_u64)
                    .ok_or("a status fault needs \"status\" (500, 502, 503, 504 or 529)")?;
                let status = match status {
                    500 | 502 | 503 | 504 | 529 => status as u16,
                    other => {
                        return Err(format!("status {other} is not an injectable fault (500, 502, 503, 504, 529)"))
                    }
                };
                let retry_after = retry_after.or(if status == 529 { Some(1) } else { None });
                FaultKind::Status { status, retry_after }
            }
            "hang" => {
                let d = if let Some(ms) = o.get("millis").and_then(Value::as_u64) {
                    Duration::from_millis(ms)
                } else if let Some(s) = o.get("seconds").and_then(Value::as_f64) {
                    Duration::try_from_secs_f64(s)
                        .map_err(|_| "\"seconds\" must be a non-negative number".to_string())?
                } else {
                    return Err("a hang fault needs \"seconds\" or \"millis\"".into());
                };
                FaultKind::Hang(d)
            }
            "malformed_json" => FaultKind::MalformedJson,
            other => return Err(format!("unknown fault kind {other:?}")),
        };
        let after_commit = match o.get("after_commit") {
            None | Some(Value::Null) => matches!(fault_kind, FaultKind::MalformedJson),
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("\"after_commit\" must be a boolean".into()),
        };
        Ok((Fault { kind: fault_kind, route, after_commit }, count))
    }

    pub fn to_json(&self) -> Value {
        let mut v = match &self.kind {
            FaultKind::Status { status, retry_after } => {
                json!({"kind": "status", "status": status, "retry_after": retry_after})
            }
            FaultKind::Hang(d) => json!({"kind": "hang", "millis": d.as_millis() as u64}),
            FaultKind::MalformedJson => json!({"kind": "malformed_json"}),
        };
        v["route"] = json!(self.route);
        v["after_commit"] = json!(self.after_commit);
        v
    }

    pub fn applies_to(&self, route: &str) -> bool {
        self.route.as_deref().is_none_or(|r| r == route)
    }
}

/// The (code, message) Notion uses for an error status.
pub fn status_error(status: u16) -> (&'static str, &'static str) {
    match status {
        500 => ("internal_server_error", "Unexpected error occurred."),
        502 => {
            ("bad_gateway", "Notion encountered an issue while attempting to complete this request. Please try again.")
        }
        503 => ("service_unavailable", "Notion is unavailable. Try again later."),
        504 => {
            ("gateway_timeout", "Notion timed out while attempting to complete this request. Please try again later.")
        }
        529 => ("service_overload", "Notion is experiencing high load. Please try again later."),
        _ => ("internal_server_error", "Unexpected error occurred."),
    }
}
