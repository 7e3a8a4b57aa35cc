//! The presence sweep's query (see `core::trash_sweep`): every live page with a non-empty
//! `Checksum`, oldest creation first, from a `created_time` on, asking Notion for the title
//! property only (`filter_properties=title`: "only the properties whose ids are listed are
//! returned", developers.notion.com → reference → query a data source; the title's id is always
//! `title`). Trashed pages are not in a query's results unless `in_trash` is sent, which the
//! sweep never sends (it runs only where Notion refuses it).
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::clients::http::HttpRequest;
use crate::clients::http::Method;
use crate::clients::notion::config::NotionConfig;
use crate::clients::notion::error::MappingError;
use crate::clients::notion::page_json::{Loose, QueryAnswer};
use crate::clients::notion::request::{path_segment, property_filter, request, RequestStatus};
use crate::clients::notion::schema::PROP_CHECKSUM;
use crate::clients::notion::version::NotionVersion;
use crate::core::ports::{IdBatch, PAGE_SIZE};

/// The body: 100 results, oldest creation first, `Checksum` not empty, created on or after `from`.
pub fn live_ids_body(from: Option<DateTime<Utc>>, cursor: Option<&str>) -> Value {
    let mut all = vec![json!({ "property": PROP_CHECKSUM, "rich_text": { "is_not_empty": true } })];
    if let Some(from) = from {
        let at = from.to_rfc3339_opts(SecondsFormat::Millis, true);
        all.push(json!({ "timestamp": "created_time", "created_time": { "on_or_after": at } }));
    }
    let mut body = Map::new();
    body.insert("page_size".into(), json!(PAGE_SIZE));
    body.insert("sorts".into(), json!([{ "timestamp": "created_time", "direction": "ascending" }]));
    body.insert("filter".into(), json!({ "and": all }));
    if let Some(cursor) = cursor {
        body.insert("start_cursor".into(), json!(cursor));
    }
    Value::Object(body)
}

/// `POST /v1/data_sources/{id}/query?filter_properties=title` with [`live_ids_body`].
pub fn live_ids_query(
    config: &NotionConfig,
    data_source_id: &str,
    from: Option<DateTime<Utc>>,
    cursor: Option<&str>,
) -> HttpRequest {
    let only_title = property_filter(&["title".to_string()]);
    let path = format!("/v1/data_sources/{}/query{only_title}", path_segment(data_source_id));
    request(config, Method::Post, &path, Some(&live_ids_body(from, cursor)))
}

/// The answer's pages (ids and `created_time`; trashed ones and other objects skipped), cursor
/// and cap. The outer error is a body that is not JSON at all (for the client's retry rules).
pub fn parse_live_ids(body: &str, version: NotionVersion) -> Result<Result<IdBatch, MappingError>, serde_json::Error> {
    let answer = match serde_json::from_str::<QueryAnswer>(body) {
        Ok(answer) => answer,
        Err(error) if error.is_data() => {
            return Ok(Err(MappingError::Malformed { what: "a query answer".into(), detail: error.to_string() }))
        }
        Err(error) => return Err(error),
    };
    Ok(batch(answer, version.has_archived()))
}

fn batch(answer: QueryAnswer<'_>, read_archived: bool) -> Result<IdBatch, MappingError> {
    let results = answer.results.ok_or_else(|| MappingError::Malformed {
        what: "a query answer".into(),
        detail: "it has no `results` list".into(),
    })?;
    let mut pages = Vec::with_capacity(results.len());
    for item in results {
        match item {
            Loose(Some(item)) if item.is_other_object() => {}
            Loose(Some(item)) => pages.extend(item.into_stub(read_archived)?),
            Loose(None) => {
                return Err(MappingError::Malformed { what: "a page".into(), detail: "it has no `id`".into() })
            }
        }
    }
    let next_cursor =
        if answer.has_more { answer.next_cursor.filter(|c| !c.is_empty()).map(|c| c.into_owned()) } else { None };
    let incomplete = RequestStatus::from_status(answer.request_status.as_ref())
        .is_some_and(|status| status != RequestStatus::Complete);
    Ok(IdBatch { pages, next_cursor, incomplete })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_sorts_by_creation_and_filters_synced_pages_from_a_minute() {
        let from: DateTime<Utc> = "2025-08-07T10:05:00Z".parse().unwrap();
        assert_eq!(
            live_ids_body(Some(from), Some("c1")),
            json!({
                "page_size": 100,
                "sorts": [{ "timestamp": "created_time", "direction": "ascending" }],
                "filter": { "and": [
                    { "property": "Checksum", "rich_text": { "is_not_empty": true } },
                    { "timestamp": "created_time", "created_time": { "on_or_after": "2025-08-07T10:05:00.000Z" } },
                ]},
                "start_cursor": "c1",
            })
        );
        assert!(live_ids_body(None, None).get("start_cursor").is_none());
    }

    #[test]
    fn the_query_asks_for_the_title_only() {
        let config = NotionConfig { api_base: "https://notion.test".into(), ..NotionConfig::new("ntn_test", "db") };
        let request = live_ids_query(&config, "ds-1", None, None);
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.url, "https://notion.test/v1/data_sources/ds-1/query?filter_properties=title");
        assert!(request.body.as_deref().is_some_and(|body| !body.contains("in_trash")), "never `in_trash`");
    }

    #[test]
    fn the_answer_gives_live_ids_and_the_cap() {
        let body = json!({
            "object": "list", "has_more": false, "next_cursor": null,
            "request_status": { "type": "incomplete", "incomplete_reason": "query_result_limit_reached" },
            "results": [
                { "object": "page", "id": "p1", "created_time": "2025-08-07T10:05:00.000Z", "in_trash": false,
                  "properties": { "Decision": { "id": "title", "type": "title", "title": [] } } },
                { "object": "page", "id": "p2", "created_time": "2025-08-07T10:06:00.000Z", "in_trash": true, "properties": {} },
                { "object": "data_source", "id": "ds" },
            ],
        })
        .to_string();
        let batch = parse_live_ids(&body, NotionVersion::default()).unwrap().unwrap();
        assert_eq!(batch.pages.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["p1"]);
        assert!(batch.incomplete);
        assert_eq!(batch.next_cursor, None);
        let more = json!({ "results": [], "has_more": true, "next_cursor": "c2" }).to_string();
        assert_eq!(
            parse_live_ids(&more, NotionVersion::default()).unwrap().unwrap().next_cursor.as_deref(),
            Some("c2")
        );
        assert!(parse_live_ids("not json", NotionVersion::default()).is_err());
    }
}
