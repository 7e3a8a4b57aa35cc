//! Rows as PostgREST returns them (a JSON array of objects), into the core's [`Row`].
//!
//! Parsing is lenient where the sync can still do its job: a NULL `decision`/`type`/`date` (a
//! table older than the migration's NOT NULLs) becomes an empty string, which the engine then
//! reports as a per-record content error; a NULL `created_at` falls back to `updated_at`. A row
//! without an `id` or a readable `updated_at` cannot be placed in the keyset and fails the call.
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::clients::http::HttpResponse;
use crate::clients::postgrest::config::SERVICE;
use crate::core::error::PortError;
use crate::core::model::Row;
use crate::core::ports::LinkedPage;

#[derive(Debug, Deserialize)]
struct RawRow {
    id: Option<String>,
    #[serde(default)]
    decision: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    notion_page_id: Option<String>,
    #[serde(default)]
    notion_synced: Option<bool>,
    #[serde(default)]
    checksum: Option<String>,
    #[serde(default)]
    deleted_at: Option<String>,
}

/// A PostgreSQL `timestamptz` as PostgREST prints it (`2025-11-23T10:49:00.123456+00:00`).
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.trim())
        .ok()
        .or_else(|| DateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S%.f%#z").ok())
        .map(|t| t.with_timezone(&Utc))
}

fn bad_response(what: &str) -> PortError {
    PortError::transient(SERVICE, format!("unexpected response from PostgREST: {what}"))
}

/// Parses a JSON array of rows.
pub fn parse_rows(body: &str) -> Result<Vec<Row>, PortError> {
    let raw: Vec<RawRow> = serde_json::from_str(body).map_err(|e| {
        bad_response(&format!(
            "expected a JSON array of rows ({e}); is SUPABASE_URL / SUPABASE_REST_URL a PostgREST endpoint?"
        ))
    })?;
    raw.into_iter().map(into_row).collect()
}

#[derive(Debug, Deserialize)]
struct RawLink {
    id: Option<String>,
    #[serde(default)]
    notion_page_id: Option<String>,
}

/// Parses a JSON array of `{id, notion_page_id}` (a presence sweep's read); rows without a page
/// id are skipped.
pub fn parse_links(body: &str) -> Result<Vec<LinkedPage>, PortError> {
    let raw: Vec<RawLink> = serde_json::from_str(body)
        .map_err(|e| bad_response(&format!("expected a JSON array of rows with id and notion_page_id ({e})")))?;
    raw.into_iter()
        .filter_map(|link| {
            let page_id = link.notion_page_id.filter(|id| !id.is_empty())?;
            Some(match link.id.filter(|id| !id.is_empty()) {
                Some(row_id) => Ok(LinkedPage { row_id, page_id }),
                None => Err(bad_response("a row has no id")),
            })
        })
        .collect()
}

/// Whether rows follow an answer of `returned` rows to a request for `limit` with
/// `Prefer: count=exact`: PostgREST's `Content-Range` (`0-499/3000`) gives the total after the
/// keyset; without one, a full page means more may follow.
pub fn more_rows(response: &HttpResponse, returned: usize, limit: usize) -> bool {
    let total = response
        .header("content-range")
        .and_then(|range| range.rsplit_once('/'))
        .and_then(|(_, total)| total.trim().parse::<usize>().ok());
    match total {
        Some(total) => returned < total,
        None => returned >= limit,
    }
}

fn into_row(raw: RawRow) -> Result<Row, PortError> {
    let id = raw.id.filter(|id| !id.is_empty()).ok_or_else(|| bad_response("a row has no id"))?;
    let updated_at = raw
        .updated_at
        .as_deref()
        .and_then(parse_timestamp)
        .ok_or_else(|| bad_response(&format!("row {id} has no readable updated_at")))?;
    let created_at = raw.created_at.as_deref().and_then(parse_timestamp).unwrap_or(updated_at);
    let deleted_at = match raw.deleted_at.as_deref() {
        None => None,
        Some(text) => {
            Some(parse_timestamp(text).ok_or_else(|| bad_response(&format!("row {id} has an unreadable deleted_at")))?)
        }
    };
    Ok(Row {
        id,
        decision: raw.decision.unwrap_or_default(),
        kind: raw.kind.unwrap_or_default(),
        date: raw.date.unwrap_or_default(),
        created_at,
        updated_at,
        notion_page_id: raw.notion_page_id.filter(|p| !p.is_empty()),
        notion_synced: raw.notion_synced.unwrap_or(false),
        checksum: raw.checksum.filter(|c| !c.is_empty()),
        deleted_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn parses_postgrest_rows() {
        let body = r#"[{"id":"3f1c","decision":"Use Rust","type":"Architecture","date":"2025-11-20",
            "created_at":"2025-11-20T08:00:00+00:00","updated_at":"2025-11-23T10:49:00.123456+00:00",
            "notion_page_id":"p1","notion_synced":true,"checksum":"abc","deleted_at":null}]"#;
        let rows = parse_rows(body).unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(
            (row.id.as_str(), row.decision.as_str(), row.kind.as_str(), row.date.as_str()),
            ("3f1c", "Use Rust", "Architecture", "2025-11-20")
        );
        assert_eq!(row.updated_at, Utc.timestamp_micros(1_763_894_940_123_456).single().unwrap());
        assert_eq!(row.created_at, Utc.with_ymd_and_hms(2025, 11, 20, 8, 0, 0).single().unwrap());
        assert_eq!(
            (row.notion_page_id.as_deref(), row.notion_synced, row.checksum.as_deref(), row.deleted_at),
            (Some("p1"), true, Some("abc"), None)
        );
    }

    #[test]
    fn offsets_are_converted_and_nulls_are_tolerated() {
        let body = r#"[{"id":"a","decision":null,"type":null,"date":null,"created_at":null,
            "updated_at":"2025-11-23T12:49:00.5+02:00","notion_page_id":"","notion_synced":null,
            "checksum":"","deleted_at":"2025-11-24 01:02:03.25+00"}]"#;
        let row = parse_rows(body).unwrap().remove(0);
        assert_eq!(row.updated_at, Utc.timestamp_micros(1_763_894_940_500_000).single().unwrap());
        assert_eq!(row.created_at, row.updated_at);
        assert_eq!((row.decision.as_str(), row.kind.as_str(), row.date.as_str()), ("", "", ""));
        assert_eq!((row.notion_page_id, row.checksum, row.notion_synced), (None, None, false));
        assert_eq!(row.deleted_at, Some(Utc.timestamp_micros(1_763_946_123_250_000).single().unwrap()));
    }

    #[test]
    fn rows_without_id_or_updated_at_and_non_arrays_fail() {
        assert!(parse_rows(r#"[{"decision":"x","updated_at":"2025-11-23T10:49:00+00:00"}]"#).is_err());
        assert!(parse_rows(r#"[{"id":"a","updated_at":"yesterday"}]"#).is_err());
        let html = parse_rows("<html>").unwrap_err();
        assert!(html.to_string().contains("PostgREST endpoint"), "{html}");
        assert_eq!(parse_rows("[]").unwrap(), vec![]);
    }

    #[test]
    fn links_and_whether_more_follow_even_under_a_lower_max_rows() {
        let links = parse_links(r#"[{"id":"r1","notion_page_id":"p1"},{"id":"r2","notion_page_id":null}]"#).unwrap();
        assert_eq!(links, vec![LinkedPage { row_id: "r1".into(), page_id: "p1".into() }]);
        assert!(parse_links(r#"[{"notion_page_id":"p1"}]"#).is_err(), "a row without an id");
        let answer = |range: Option<&str>| HttpResponse {
            status: 200,
            headers: range.map(|range| vec![("Content-Range".to_string(), range.to_string())]).unwrap_or_default(),
            body: "[]".into(),
        };
        assert!(more_rows(&answer(Some("0-499/3000")), 500, 1000), "capped at 500 by the server: more follow");
        assert!(!more_rows(&answer(Some("0-299/300")), 300, 1000));
        assert!(!more_rows(&answer(Some("*/0")), 0, 1000));
        assert!(more_rows(&answer(None), 1000, 1000), "no count: a full page may have more");
        assert!(!more_rows(&answer(None), 10, 1000));
    }
}
