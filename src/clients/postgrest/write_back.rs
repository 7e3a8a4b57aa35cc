//! Conditional write-back of rows: in bulk through the migration's SQL function, or one
//! conditional `PATCH` per row when the function is missing.
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clients::http::{HttpRequest, Method};
use crate::clients::postgrest::config::{PostgrestConfig, SERVICE};
use crate::clients::postgrest::errors::ApiError;
use crate::clients::postgrest::query;
use crate::core::error::PortError;
use crate::core::ports::{RowWrite, WriteResult};

/// The header that marks a `PATCH` as the sync's own write, so the migration's trigger does not
/// reset `notion_synced` (PostgREST exposes request headers to SQL as `request.headers`).
pub const WRITER_HEADER: &str = "X-Decision-Sync-Writer";

/// How rows are written back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteBackMode {
    /// Not known yet: try the function, fall back on PGRST202 / 404.
    Unknown,
    /// The function exists.
    Function,
    /// The function is missing: one conditional PATCH per row, for the rest of the run.
    Patch,
}

/// The columns a write sets (present keys only; JSON null clears `deleted_at`).
pub fn set_columns(write: &RowWrite) -> Map<String, Value> {
    let mut set = Map::new();
    if let Some(content) = &write.content {
        set.insert("decision".into(), Value::String(content.decision.clone()));
        set.insert("type".into(), Value::String(content.kind.clone()));
        set.insert("date".into(), Value::String(content.date.clone()));
    }
    if let Some(page_id) = &write.notion_page_id {
        set.insert("notion_page_id".into(), Value::String(page_id.clone()));
    }
    if let Some(checksum) = &write.checksum {
        set.insert("checksum".into(), Value::String(checksum.clone()));
    }
    if let Some(synced) = write.notion_synced {
        set.insert("notion_synced".into(), Value::Bool(synced));
    }
    if let Some(deleted_at) = &write.deleted_at {
        let value = deleted_at.as_ref().map(|t| Value::String(query::timestamp(t))).unwrap_or(Value::Null);
        set.insert("deleted_at".into(), value);
    }
    set
}

/// `POST {base}/rpc/decision_vault_sync_write_back` with `{"updates":[{"id","expected_updated_at",
/// …columns to set}]}`; answers `[{"id","applied"}]`.
pub fn rpc_request(config: &PostgrestConfig, writes: &[RowWrite]) -> HttpRequest {
    let updates: Vec<Value> = writes
        .iter()
        .map(|write| {
            let mut object = Map::new();
            object.insert("id".into(), Value::String(write.id.clone()));
            object.insert(
                "expected_updated_at".into(),
                write.expected_updated_at.as_ref().map(|t| Value::String(query::timestamp(t))).unwrap_or(Value::Null),
            );
            object.extend(set_columns(write));
            Value::Object(object)
        })
        .collect();
    let mut body = Map::new();
    body.insert("updates".into(), Value::Array(updates));
    let mut request = HttpRequest::new(Method::Post, config.write_back_url())
        .header("Accept", "application/json")
        .json_body(&Value::Object(body));
    for (name, value) in config.key.headers() {
        request = request.header(&name, value);
    }
    request.timeout_ms = config.timeout_ms;
    request
}

/// An empty call: `{"updates":[]}` writes nothing and tells whether the function exists.
pub fn probe_request(config: &PostgrestConfig) -> HttpRequest {
    rpc_request(config, &[])
}

#[derive(Deserialize)]
struct Applied {
    id: Option<String>,
    #[serde(default)]
    applied: Option<bool>,
}

/// One result per write, in the order of `writes`: a write the function did not report on is
/// not applied.
pub fn parse_rpc_response(writes: &[RowWrite], body: &str) -> Result<Vec<WriteResult>, PortError> {
    let results: Vec<Applied> = serde_json::from_str(body)
        .map_err(|e| PortError::transient(SERVICE, format!("unexpected response from the write-back function: {e}")))?;
    let mut reported: Vec<(String, bool)> = results
        .into_iter()
        .filter_map(|r| r.id.map(|id| (id.to_ascii_lowercase(), r.applied.unwrap_or(false))))
        .collect();
    Ok(writes
        .iter()
        .map(|write| {
            let key = write.id.to_ascii_lowercase();
            let applied = match reported.iter().position(|(id, _)| *id == key) {
                Some(index) => reported.remove(index).1,
                None => false,
            };
            WriteResult { id: write.id.clone(), applied }
        })
        .collect())
}

/// Where a fallback `PATCH` carries its precondition (`updated_at` as read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// In the URL, `updated_at=eq.T`: PostgREST's own conditional update.
    Filter,
    /// In the body, `"updated_at": T`: the migration's trigger leaves the row alone when it is
    /// not the current value. For servers that cannot filter a PATCH on a `timestamptz`
    /// (postrust-server 3.1 binds the value as text without a cast: `42883 operator does not
    /// exist: timestamp with time zone = text`).
    Body,
}

/// True for the error a server gives when it cannot compare a `timestamptz` column with a
/// filter value in a PATCH (then [`Precondition::Body`] is used).
pub fn is_timestamptz_filter_unsupported(error: &ApiError) -> bool {
    error.code() == "42883" && error.message.as_deref().is_some_and(|m| m.contains("timestamp with time zone"))
}

/// The fallback: `PATCH {base}/decision_vault?id=eq.ID&updated_at=eq.T&select=id` with
/// `Prefer: return=representation` and the writer header; an empty array back = not applied.
/// With [`Precondition::Body`]: `PATCH …?id=eq.ID&select=id` and `"updated_at": T` in the body.
pub fn patch_request(config: &PostgrestConfig, write: &RowWrite, precondition: Precondition) -> HttpRequest {
    let mut params = vec![query::eq("id", &write.id)];
    if let (Some(expected), Precondition::Filter) = (&write.expected_updated_at, precondition) {
        params.push(query::eq("updated_at", &query::timestamp(expected)));
    }
    params.push("select=id".into());
    let mut set = set_columns(write);
    if let (Some(expected), Precondition::Body) = (&write.expected_updated_at, precondition) {
        set.insert("updated_at".into(), Value::String(query::timestamp(expected)));
    }
    if set.is_empty() {
        // Nothing to change: still "touch" the row, as the function does, so the outcome is the
        // same on both paths.
        set.insert("id".into(), Value::String(write.id.clone()));
    }
    let url = format!("{}?{}", config.table_url(), params.join("&"));
    let mut request = HttpRequest::new(Method::Patch, url)
        .header("Accept", "application/json")
        .header("Prefer", "return=representation")
        .header(WRITER_HEADER, "on")
        .json_body(&Value::Object(set));
    for (name, value) in config.key.headers() {
        request = request.header(&name, value);
    }
    request.timeout_ms = config.timeout_ms;
    request
}

/// Applied when the PATCH returned the row.
pub fn parse_patch_response(write: &RowWrite, body: &str) -> Result<WriteResult, PortError> {
    let rows: Vec<Value> = serde_json::from_str(body)
        .map_err(|e| PortError::transient(SERVICE, format!("unexpected response to a PATCH: {e}")))?;
    Ok(WriteResult { id: write.id.clone(), applied: !rows.is_empty() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::content::Content;
    use chrono::TimeZone;
    use serde_json::json;

    fn config() -> PostgrestConfig {
        PostgrestConfig::new("https://abc.supabase.co/rest/v1", "sb_secret_k", 3).unwrap()
    }

    fn t(micros: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.timestamp_micros(micros).single().unwrap()
    }

    fn full_write() -> RowWrite {
        RowWrite {
            id: "r1".into(),
            expected_updated_at: Some(t(1_763_894_940_123_456)),
            content: Some(Content { decision: "D".into(), kind: "Ops".into(), date: "2025-11-20".into() }),
            notion_page_id: Some("p1".into()),
            checksum: Some("abc".into()),
            notion_synced: Some(true),
            deleted_at: Some(Some(t(1_763_894_940_000_000))),
        }
    }

    #[test]
    fn rpc_body_has_present_keys_only_and_null_clears() {
        let clear =
            RowWrite { id: "r2".into(), deleted_at: Some(None), notion_synced: Some(true), ..RowWrite::default() };
        let request = rpc_request(&config(), &[full_write(), clear]);
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://abc.supabase.co/rest/v1/rpc/decision_vault_sync_write_back");
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"updates": [
                {"id":"r1","expected_updated_at":"2025-11-23T10:49:00.123456+00:00","decision":"D","type":"Ops",
                 "date":"2025-11-20","notion_page_id":"p1","checksum":"abc","notion_synced":true,
                 "deleted_at":"2025-11-23T10:49:00.000000+00:00"},
                {"id":"r2","expected_updated_at":null,"notion_synced":true,"deleted_at":null}
            ]})
        );
        let probe: Value = serde_json::from_str(probe_request(&config()).body.as_deref().unwrap()).unwrap();
        assert_eq!(probe, json!({"updates": []}));
    }

    #[test]
    fn rpc_results_follow_the_writes_order() {
        let writes = [
            RowWrite { id: "A1".into(), ..RowWrite::default() },
            RowWrite { id: "b2".into(), ..RowWrite::default() },
            RowWrite { id: "c3".into(), ..RowWrite::default() },
        ];
        let results =
            parse_rpc_response(&writes, r#"[{"id":"b2","applied":false},{"id":"a1","applied":true}]"#).unwrap();
        assert_eq!(
            results,
            vec![
                WriteResult { id: "A1".into(), applied: true },
                WriteResult { id: "b2".into(), applied: false },
                WriteResult { id: "c3".into(), applied: false },
            ]
        );
        assert!(parse_rpc_response(&writes, "{}").is_err());
    }

    #[test]
    fn patch_fallback_shape() {
        let request = patch_request(&config(), &full_write(), Precondition::Filter);
        assert_eq!(request.method, Method::Patch);
        assert_eq!(
            request.url,
            "https://abc.supabase.co/rest/v1/decision_vault?id=eq.r1&updated_at=eq.2025-11-23T10:49:00.123456%2B00:00&select=id"
        );
        assert!(request.headers.contains(&("Prefer".to_string(), "return=representation".to_string())));
        assert!(request.headers.contains(&(WRITER_HEADER.to_string(), "on".to_string())));
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["deleted_at"], json!("2025-11-23T10:49:00.000000+00:00"));
        assert!(body.get("id").is_none() && body.get("expected_updated_at").is_none());

        let unconditional =
            patch_request(&config(), &RowWrite { id: "r9".into(), ..RowWrite::default() }, Precondition::Body);
        assert_eq!(unconditional.url, "https://abc.supabase.co/rest/v1/decision_vault?id=eq.r9&select=id");
        assert_eq!(unconditional.body.as_deref(), Some(r#"{"id":"r9"}"#));

        let in_body = patch_request(&config(), &full_write(), Precondition::Body);
        assert_eq!(in_body.url, "https://abc.supabase.co/rest/v1/decision_vault?id=eq.r1&select=id");
        let body: Value = serde_json::from_str(in_body.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["updated_at"], json!("2025-11-23T10:49:00.123456+00:00"));
        assert_eq!(body["decision"], json!("D"));
        assert!(is_timestamptz_filter_unsupported(&ApiError::parse(
            r#"{"code":"42883","message":"operator does not exist: timestamp with time zone = text"}"#
        )));
        assert!(!is_timestamptz_filter_unsupported(&ApiError::parse(
            r#"{"code":"42883","message":"function x() does not exist"}"#
        )));

        let write = full_write();
        assert!(parse_patch_response(&write, r#"[{"id":"r1"}]"#).unwrap().applied);
        assert!(!parse_patch_response(&write, "[]").unwrap().applied);
    }
}
