//! Bulk insert of rows created from Notion pages, idempotent on `notion_page_id`.
use serde_json::{json, Value};

use crate::clients::http::{HttpRequest, Method};
use crate::clients::postgrest::config::PostgrestConfig;
use crate::clients::postgrest::query;
use crate::core::model::Row;
use crate::core::ports::NewRow;

/// Columns sent by an insert (same keys in every object, as PostgREST requires).
pub const INSERT_COLUMNS: &str = "decision,type,date,notion_page_id,checksum,notion_synced";

/// `POST {base}/decision_vault?on_conflict=notion_page_id&columns=…&select=…` with
/// `Prefer: return=representation,resolution=ignore-duplicates` and a JSON array body: a page id
/// that is already linked is skipped (`ON CONFLICT (notion_page_id) DO NOTHING`), not an error,
/// and only the rows actually inserted come back.
pub fn insert_rows(config: &PostgrestConfig, rows: &[NewRow]) -> HttpRequest {
    let body: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "decision": row.content.decision,
                "type": row.content.kind,
                "date": row.content.date,
                "notion_page_id": row.notion_page_id,
                "checksum": row.checksum,
                "notion_synced": true,
            })
        })
        .collect();
    let url = format!(
        "{}?on_conflict=notion_page_id&columns={}&{}",
        config.table_url(),
        query::encode(INSERT_COLUMNS),
        query::select_all()
    );
    let mut request = HttpRequest::new(Method::Post, url)
        .header("Accept", "application/json")
        .header("Prefer", "return=representation,resolution=ignore-duplicates")
        .json_body(&Value::Array(body));
    for (name, value) in config.key.headers() {
        request = request.header(&name, value);
    }
    request.timeout_ms = config.timeout_ms;
    request
}

/// The page ids of `wanted` that no returned row is linked to (skipped as duplicates: to be
/// looked up), in order, without repeats.
pub fn missing_page_ids(wanted: &[NewRow], returned: &[Row]) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    for row in wanted {
        let linked = returned.iter().any(|r| r.notion_page_id.as_deref() == Some(row.notion_page_id.as_str()));
        if !linked && !missing.contains(&row.notion_page_id) {
            missing.push(row.notion_page_id.clone());
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::content::Content;

    fn new_row(page: &str) -> NewRow {
        NewRow {
            content: Content { decision: "Adopt Rust".into(), kind: "Architecture".into(), date: "2025-11-20".into() },
            notion_page_id: page.into(),
            checksum: "c0ffee".into(),
        }
    }

    #[test]
    fn request_shape() {
        let config = PostgrestConfig::new("http://127.0.0.1:3000", "a.b.c", 3).unwrap();
        let request = insert_rows(&config, &[new_row("p1"), new_row("p2")]);
        assert_eq!(request.method, Method::Post);
        assert_eq!(
            request.url,
            "http://127.0.0.1:3000/decision_vault?on_conflict=notion_page_id\
             &columns=decision,type,date,notion_page_id,checksum,notion_synced\
             &select=id,decision,type,date,created_at,updated_at,notion_page_id,notion_synced,checksum,deleted_at"
        );
        assert!(request
            .headers
            .contains(&("Prefer".to_string(), "return=representation,resolution=ignore-duplicates".to_string())));
        assert!(request.headers.contains(&("Content-Type".to_string(), "application/json".to_string())));
        assert!(request.headers.contains(&("Authorization".to_string(), "Bearer a.b.c".to_string())));
        let body: Value = serde_json::from_str(request.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!([
                {"decision":"Adopt Rust","type":"Architecture","date":"2025-11-20","notion_page_id":"p1","checksum":"c0ffee","notion_synced":true},
                {"decision":"Adopt Rust","type":"Architecture","date":"2025-11-20","notion_page_id":"p2","checksum":"c0ffee","notion_synced":true}
            ])
        );
    }

    #[test]
    fn skipped_duplicates_are_the_page_ids_not_returned() {
        let returned = crate::clients::postgrest::rows::parse_rows(
            r#"[{"id":"r1","updated_at":"2025-11-23T10:49:00+00:00","notion_page_id":"p2"}]"#,
        )
        .unwrap();
        let wanted = [new_row("p1"), new_row("p2"), new_row("p3"), new_row("p1")];
        assert_eq!(missing_page_ids(&wanted, &returned), vec!["p1".to_string(), "p3".to_string()]);
    }
}
