//! Pure request builders and response parsers for the Notion API (`2025-09-03` and `2026-03-11`:
//! the bodies are the same, since the sync sends `in_trash`, never `archived`).
use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::clients::http::{HttpRequest, Method};
use crate::clients::notion::config::NotionConfig;
use crate::clients::notion::error::MappingError;
use crate::clients::notion::page_json::{Loose, QueryAnswer};
use crate::clients::notion::properties;
use crate::clients::notion::schema::PROP_CHECKSUM;
use crate::clients::notion::version::NotionVersion;
use crate::core::content::{Content, ContentError};
use crate::core::notion_date::DateWrite;
use crate::core::ports::{PageBatch, PageQuery, PageWrite, PAGE_SIZE};

/// Percent-encodes one path segment (ids come from configuration and from rows: never trust them
/// to be URL-safe).
pub fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A request with Notion's headers (`Authorization`, `Notion-Version`, `Content-Type`) and the
/// configured timeout; `body` is sent as JSON.
pub fn request(config: &NotionConfig, method: Method, path: &str, body: Option<&Value>) -> HttpRequest {
    let mut request = HttpRequest::new(method, format!("{}{}", config.api_base, path))
        .header("Authorization", format!("Bearer {}", config.token))
        .header("Notion-Version", config.version.as_str());
    request = match body {
        Some(body) => request.json_body(body),
        None => request.header("Content-Type", "application/json"),
    };
    request.timeout_ms = config.timeout_ms;
    request
}

/// `GET /v1/databases/{id}`.
pub fn get_database(config: &NotionConfig, database_id: &str) -> HttpRequest {
    request(config, Method::Get, &format!("/v1/databases/{}", path_segment(database_id)), None)
}

/// `GET /v1/data_sources/{id}`.
pub fn get_data_source(config: &NotionConfig, data_source_id: &str) -> HttpRequest {
    request(config, Method::Get, &format!("/v1/data_sources/{}", path_segment(data_source_id)), None)
}

/// `GET /v1/pages/{id}`, with only `properties` (ids from the data source's schema) in the
/// answer when there are any ([`property_filter`]).
pub fn get_page(config: &NotionConfig, page_id: &str, properties: &[String]) -> HttpRequest {
    let path = format!("/v1/pages/{}{}", path_segment(page_id), property_filter(properties));
    request(config, Method::Get, &path, None)
}

/// The query string asking Notion to answer only these properties of each page
/// (`?filter_properties=<id>&filter_properties=<id>…`, accepted by `POST /v1/data_sources/{id}/query`
/// and `GET /v1/pages/{id}`); empty when `ids` is (every property is answered then).
///
/// Ids are sent as Notion's JS SDK sends them: Notion lists property ids already percent-encoded
/// (`%3BxWq` is `;xWq`), so each is decoded, then encoded once as a query value; the server sees
/// the property's own id. (`title` is the title property's id.)
pub fn property_filter(ids: &[String]) -> String {
    let mut out = String::new();
    for id in ids.iter().filter(|id| !id.is_empty()) {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str("filter_properties=");
        out.push_str(&path_segment(&percent_decode(id)));
    }
    out
}

/// Decodes `%XX` escapes (invalid ones are kept as written; the result is read as UTF-8, lossily).
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|pair| std::str::from_utf8(pair).ok());
        match (bytes[i], hex.and_then(|hex| u8::from_str_radix(hex, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn edited_since(since: &Option<DateTime<Utc>>) -> Option<Value> {
    since
        .as_ref()
        .map(|t| json!({ "timestamp": "last_edited_time", "last_edited_time": { "on_or_after": timestamp(t) } }))
}

/// Edited within the minute `minute` (and created on or after `created_from`).
fn edited_in_minute(minute: &DateTime<Utc>, created_from: &Option<DateTime<Utc>>) -> Value {
    let end = *minute + chrono::Duration::minutes(1);
    let mut all = vec![
        json!({ "timestamp": "last_edited_time", "last_edited_time": { "on_or_after": timestamp(minute) } }),
        json!({ "timestamp": "last_edited_time", "last_edited_time": { "before": timestamp(&end) } }),
    ];
    if let Some(created_from) = created_from {
        all.push(json!({ "timestamp": "created_time", "created_time": { "on_or_after": timestamp(created_from) } }));
    }
    json!({ "and": all })
}

/// The body of `POST /v1/data_sources/{id}/query` for one page of `query`: 100 results, oldest
/// edit first, plus the query's filter (and `in_trash: true` for trashed pages).
pub fn query_body(query: &PageQuery, cursor: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("page_size".into(), json!(PAGE_SIZE));
    body.insert("sorts".into(), json!([{ "timestamp": "last_edited_time", "direction": "ascending" }]));
    let filter = match query {
        PageQuery::EditedSince(since) => edited_since(since),
        PageQuery::TrashedSince(since) => {
            body.insert("in_trash".into(), json!(true));
            edited_since(since)
        }
        PageQuery::EditedInMinute { minute, created_from, trashed } => {
            if *trashed {
                body.insert("in_trash".into(), json!(true));
            }
            body.insert("sorts".into(), json!([{ "timestamp": "created_time", "direction": "ascending" }]));
            Some(edited_in_minute(minute, created_from))
        }
        PageQuery::Unsynced => Some(json!({ "property": PROP_CHECKSUM, "rich_text": { "is_empty": true } })),
        PageQuery::WithBase(base) => with_base(base),
        PageQuery::TrashedWithBase(base) => {
            body.insert("in_trash".into(), json!(true));
            with_base(base)
        }
    };
    if let Some(filter) = filter {
        body.insert("filter".into(), filter);
    }
    if let Some(cursor) = cursor {
        body.insert("start_cursor".into(), json!(cursor));
    }
    Value::Object(body)
}

fn with_base(base: &str) -> Option<Value> {
    Some(json!({ "property": PROP_CHECKSUM, "rich_text": { "equals": base } }))
}

/// `POST /v1/data_sources/{id}/query`, with only `properties` (ids from the data source's schema)
/// in each page of the answer when there are any ([`property_filter`]).
pub fn query(
    config: &NotionConfig,
    data_source_id: &str,
    query: &PageQuery,
    cursor: Option<&str>,
    properties: &[String],
) -> HttpRequest {
    let path = format!("/v1/data_sources/{}/query{}", path_segment(data_source_id), property_filter(properties));
    request(config, Method::Post, &path, Some(&query_body(query, cursor)))
}

/// Whether a page belongs in the answer to `query` whatever Notion's filtering did:
/// the trashed queries keep trashed pages only, the others live pages only.
pub fn keeps(query: &PageQuery, in_trash: bool) -> bool {
    match query {
        PageQuery::TrashedSince(_) | PageQuery::TrashedWithBase(_) => in_trash,
        PageQuery::EditedInMinute { trashed, .. } => *trashed == in_trash,
        PageQuery::EditedSince(_) | PageQuery::Unsynced | PageQuery::WithBase(_) => !in_trash,
    }
}

/// A query answer -> the pages `query` asks for and the cursor of the next page (only when
/// `has_more`). Results that are not pages (child data sources) are skipped. `response` has had
/// its trash flags normalised ([`NotionVersion::normalize_trash`]).
pub fn parse_query_response(response: &Value, query: &PageQuery) -> Result<PageBatch, MappingError> {
    let answer = QueryAnswer::deserialize(response).map_err(|error| unreadable_answer(&error))?;
    batch_from_answer(answer, query, true)
}

/// The body of a query answer, as received -> the pages (typed parsing, no `Value` in between:
/// only the mapped properties are read, the others skipped). The outer error is a body that is not
/// JSON at all (for the client's retry rules); the inner one a JSON answer the sync cannot read.
pub fn parse_query_body(
    body: &str,
    query: &PageQuery,
    version: NotionVersion,
) -> Result<Result<PageBatch, MappingError>, serde_json::Error> {
    match serde_json::from_str::<QueryAnswer>(body) {
        Ok(answer) => Ok(batch_from_answer(answer, query, version.has_archived())),
        Err(error) if error.is_data() => Ok(Err(unreadable_answer(&error))),
        Err(error) => Err(error),
    }
}

fn unreadable_answer(error: &impl std::fmt::Display) -> MappingError {
    MappingError::Malformed { what: "a query answer".into(), detail: error.to_string() }
}

/// `read_archived`: whether `archived: true` means trashed (see [`crate::clients::notion::page_json::PageJson::into_page`]).
pub fn batch_from_answer(
    answer: QueryAnswer<'_>,
    query: &PageQuery,
    read_archived: bool,
) -> Result<PageBatch, MappingError> {
    let results = answer.results.ok_or_else(|| MappingError::Malformed {
        what: "a query answer".into(),
        detail: "it has no `results` list".into(),
    })?;
    let mut pages = Vec::with_capacity(results.len());
    let mut dropped_live = false;
    for item in results {
        let page = match item {
            Loose(Some(item)) if item.is_other_object() => continue,
            Loose(Some(item)) => item.into_page(read_archived)?,
            Loose(None) => {
                return Err(MappingError::Malformed { what: "a page".into(), detail: "it has no `id`".into() })
            }
        };
        if keeps(query, page.in_trash) {
            pages.push(page);
        } else {
            dropped_live |= !page.in_trash;
        }
    }
    let next_cursor =
        if answer.has_more { answer.next_cursor.filter(|c| !c.is_empty()).map(Cow::into_owned) } else { None };
    let incomplete = RequestStatus::from_status(answer.request_status.as_ref())
        .is_some_and(|status| status != RequestStatus::Complete);
    Ok(PageBatch { pages, next_cursor, incomplete, in_trash_ignored: dropped_live })
}

/// A query answer's `request_status`: `incomplete` (`incomplete_reason`
/// `query_result_limit_reached`) when Notion stopped at its 10,000-result cap. A status this
/// client does not know is not taken as complete either.
#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestStatus {
    Complete,
    Incomplete {
        #[serde(default)]
        incomplete_reason: Option<String>,
    },
    #[serde(other)]
    Unknown,
}

impl RequestStatus {
    /// The answer's status; `None` when it has none (complete). A malformed one reads as unknown.
    pub fn of(response: &Value) -> Option<Self> {
        Self::from_status(response.get("request_status"))
    }

    /// The status from the `request_status` member itself (`None` or `null`: complete).
    pub fn from_status(status: Option<&Value>) -> Option<Self> {
        let status = status.filter(|status| !status.is_null())?;
        Some(RequestStatus::deserialize(status).unwrap_or(RequestStatus::Unknown))
    }
}

/// The `properties` for a write: content and base together, the base alone, or the content alone
/// (the page's `Date` as `{start}`); see [`properties::write_properties`]. `Synced` is left out
/// when the data source has no such property.
pub fn write_properties(
    content: Option<&Content>,
    base: Option<&str>,
    with_synced: bool,
) -> Result<Option<Value>, ContentError> {
    properties::write_properties(content, base, with_synced, &DateWrite::Start)
}

/// The `properties` of a page update: [`write_properties`], with the page's `Date` as
/// `write.date` says (left out when the page keeps its Date, a whole value when its end stays).
pub fn page_write_properties(write: &PageWrite, with_synced: bool) -> Result<Option<Value>, ContentError> {
    properties::write_properties(write.content.as_ref(), write.base.as_deref(), with_synced, &write.date)
}

/// `POST /v1/pages` creating a page in the data source.
pub fn create_page(config: &NotionConfig, data_source_id: &str, properties: &Value) -> HttpRequest {
    let body = json!({
        "parent": { "type": "data_source_id", "data_source_id": data_source_id },
        "properties": properties,
    });
    request(config, Method::Post, "/v1/pages", Some(&body))
}

/// `PATCH /v1/pages/{id}` with properties and/or `in_trash`.
pub fn update_page(
    config: &NotionConfig,
    page_id: &str,
    properties: Option<&Value>,
    in_trash: Option<bool>,
) -> HttpRequest {
    let mut body = Map::new();
    if let Some(properties) = properties {
        body.insert("properties".into(), properties.clone());
    }
    if let Some(in_trash) = in_trash {
        body.insert("in_trash".into(), json!(in_trash));
    }
    request(config, Method::Patch, &format!("/v1/pages/{}", path_segment(page_id)), Some(&Value::Object(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn query_bodies_per_kind() {
        let sorts = json!([{ "timestamp": "last_edited_time", "direction": "ascending" }]);
        assert_eq!(query_body(&PageQuery::EditedSince(None), None), json!({ "page_size": 100, "sorts": sorts }));
        assert_eq!(
            query_body(&PageQuery::EditedSince(Some(t("2025-08-07T10:00:00Z"))), Some("cur-1")),
            json!({
                "page_size": 100, "sorts": sorts, "start_cursor": "cur-1",
                "filter": { "timestamp": "last_edited_time", "last_edited_time": { "on_or_after": "2025-08-07T10:00:00.000Z" } }
            })
        );
        assert_eq!(
            query_body(&PageQuery::TrashedSince(Some(t("2025-08-07T10:00:00Z"))), None),
            json!({
                "page_size": 100, "sorts": sorts, "in_trash": true,
                "filter": { "timestamp": "last_edited_time", "last_edited_time": { "on_or_after": "2025-08-07T10:00:00.000Z" } }
            })
        );
        assert_eq!(
            query_body(&PageQuery::TrashedSince(None), None),
            json!({ "page_size": 100, "sorts": sorts, "in_trash": true })
        );
        assert_eq!(
            query_body(&PageQuery::Unsynced, None),
            json!({ "page_size": 100, "sorts": sorts, "filter": { "property": "Checksum", "rich_text": { "is_empty": true } } })
        );
        assert_eq!(
            query_body(&PageQuery::WithBase("abc".into()), None),
            json!({ "page_size": 100, "sorts": sorts, "filter": { "property": "Checksum", "rich_text": { "equals": "abc" } } })
        );
        assert_eq!(
            query_body(&PageQuery::TrashedWithBase("abc".into()), None),
            json!({
                "page_size": 100, "sorts": sorts, "in_trash": true,
                "filter": { "property": "Checksum", "rich_text": { "equals": "abc" } }
            })
        );
    }

    #[test]
    fn requests_carry_notion_headers_and_encoded_ids() {
        let config = NotionConfig {
            api_base: "http://localhost:9000".into(),
            timeout_ms: 1234,
            ..NotionConfig::new("tok", "db")
        };
        let req = get_page(&config, "a/b?c", &[]);
        assert_eq!(req.url, "http://localhost:9000/v1/pages/a%2Fb%3Fc");
        assert_eq!(req.timeout_ms, 1234);
        let header = |name: &str| req.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(header("Authorization"), Some("Bearer tok"));
        assert_eq!(header("Notion-Version"), Some("2026-03-11"));
        assert_eq!(header("Content-Type"), Some("application/json"));
        let patch = update_page(&config, "p1", None, Some(true));
        assert_eq!((patch.method, patch.body.as_deref()), (Method::Patch, Some(r#"{"in_trash":true}"#)));
        assert_eq!(patch.headers.iter().filter(|(k, _)| k == "Content-Type").count(), 1);
    }

    #[test]
    fn property_filter_sends_each_id_once_encoded() {
        assert_eq!(property_filter(&[]), "");
        let ids: Vec<String> = ["title", "u%3ETk", "Kj%7Dq", "%3BxWq", "Vx%40r"].map(String::from).into();
        assert_eq!(
            property_filter(&ids),
            "?filter_properties=title&filter_properties=u%3ETk&filter_properties=Kj%7Dq&filter_properties=%3BxWq&filter_properties=Vx%40r"
        );
        // Ids not encoded by Notion are encoded; a stray `%` is kept as a character.
        let raw: Vec<String> = ["a b", "x%zz", "é"].map(String::from).into();
        assert_eq!(property_filter(&raw), "?filter_properties=a%20b&filter_properties=x%25zz&filter_properties=%C3%A9");
        let config = NotionConfig { api_base: "http://n".into(), ..NotionConfig::new("tok", "db") };
        let req = query(&config, "ds", &PageQuery::Unsynced, None, &ids[..1]);
        assert_eq!(req.url, "http://n/v1/data_sources/ds/query?filter_properties=title");
        assert_eq!(query(&config, "ds", &PageQuery::Unsynced, None, &[]).url, "http://n/v1/data_sources/ds/query");
        assert_eq!(
            get_page(&config, "p", &ids[..2]).url,
            "http://n/v1/pages/p?filter_properties=title&filter_properties=u%3ETk"
        );
    }

    fn page(id: &str, in_trash: bool) -> Value {
        let mut page: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/notion/page_multi_type.json")).unwrap();
        page["id"] = json!(id);
        page["in_trash"] = json!(in_trash);
        page
    }

    #[test]
    fn query_body_read_typed_as_the_value_reader_reads_it() {
        let data_source: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/notion/data_source.json")).unwrap();
        let answers = [
            json!({ "object": "list", "results": [page("a", false), data_source, page("b", true)], "has_more": true, "next_cursor": "c2" }),
            json!({ "object": "list", "results": [page("a", false)], "has_more": false, "next_cursor": "ignored" }),
            json!({ "results": [], "has_more": true, "next_cursor": "", "request_status": { "type": "incomplete", "incomplete_reason": "query_result_limit_reached" } }),
            json!({ "results": [], "request_status": { "type": "complete" } }),
            json!({ "results": [], "request_status": null }),
            json!({ "results": [], "request_status": { "type": "paused" } }),
            json!({ "results": [], "request_status": "odd" }),
        ];
        for answer in answers {
            for query in [PageQuery::Unsynced, PageQuery::TrashedSince(None)] {
                let by_value = parse_query_response(&answer, &query).unwrap();
                let typed = parse_query_body(&answer.to_string(), &query, NotionVersion::V2026_03_11).unwrap().unwrap();
                assert_eq!(typed, by_value, "{answer}");
            }
        }
        let batch =
            parse_query_body(&answers_first(), &PageQuery::Unsynced, NotionVersion::V2026_03_11).unwrap().unwrap();
        assert_eq!((batch.pages.len(), batch.next_cursor.as_deref()), (1, Some("c2")));
    }

    fn answers_first() -> String {
        json!({ "object": "list", "results": [page("a", false), page("b", true)], "has_more": true, "next_cursor": "c2" })
            .to_string()
    }

    #[test]
    fn query_body_errors_are_told_apart() {
        let read = |body: &str| parse_query_body(body, &PageQuery::Unsynced, NotionVersion::default());
        assert!(read("<html>").is_err(), "not JSON: the client's retry rules");
        assert!(read(r#"{"results": [{"object": "page", "id": "#).is_err(), "truncated");
        for unreadable in [
            r#"{"object": "list"}"#,
            r#"{"results": {}}"#,
            "[1]",
            r#"{"results": [5]}"#,
            r#"{"results": [{"object": "page"}]}"#,
        ] {
            assert!(matches!(read(unreadable), Ok(Err(MappingError::Malformed { .. }))), "{unreadable}");
        }
        // `archived` read as trashed under 2025-09-03 only.
        let mut archived = page("a", false);
        archived["archived"] = json!(true);
        let body = json!({ "results": [archived] }).to_string();
        let trashed = |version| parse_query_body(&body, &PageQuery::TrashedSince(None), version).unwrap().unwrap();
        assert_eq!(trashed(NotionVersion::V2025_09_03).pages.len(), 1);
        assert!(trashed(NotionVersion::V2026_03_11).in_trash_ignored);
    }

    #[test]
    fn write_properties_by_case() {
        let content = Content::normalize("Use Postgres", "Ops", "2025-08-07").unwrap();
        let full = write_properties(Some(&content), Some("b"), true).unwrap().unwrap();
        assert_eq!(full["Checksum"]["rich_text"][0]["text"]["content"], "b");
        assert_eq!(full["Synced"]["checkbox"], true);
        let no_synced = write_properties(Some(&content), Some("b"), false).unwrap().unwrap();
        assert!(no_synced.get("Synced").is_none());
        let base_only = write_properties(None, Some("b"), true).unwrap().unwrap();
        assert_eq!(base_only.as_object().unwrap().len(), 2);
        let content_only = write_properties(Some(&content), None, true).unwrap().unwrap();
        assert!(content_only.get("Checksum").is_none() && content_only.get("Synced").is_none());
        assert_eq!(content_only.as_object().unwrap().len(), 3);
        assert_eq!(write_properties(None, None, true).unwrap(), None);
    }

    #[test]
    fn page_write_properties_apply_the_date_write() {
        use crate::core::notion_date::{DateWrite, NotionDate};
        let content = Content::normalize("Freeze deploys", "Ops", "2025-03-03").unwrap();
        let push = |date: DateWrite| PageWrite {
            content: Some(content.clone()),
            base: Some("b".into()),
            in_trash: None,
            date,
        };
        let kept = page_write_properties(&push(DateWrite::Keep), true).unwrap().unwrap();
        assert_eq!(kept.get("Date"), None, "the page keeps its Date: not written");
        assert_eq!(kept["Checksum"]["rich_text"][0]["text"]["content"], "b");
        let range = NotionDate { start: "2025-03-03".into(), end: Some("2025-03-05".into()), time_zone: None };
        let moved = page_write_properties(&push(DateWrite::Value(range)), false).unwrap().unwrap();
        assert_eq!(moved["Date"], json!({ "date": { "start": "2025-03-03", "end": "2025-03-05" } }));
        assert!(moved.get("Synced").is_none());
        let start = page_write_properties(&push(DateWrite::Start), true).unwrap().unwrap();
        assert_eq!(start["Date"], json!({ "date": { "start": "2025-03-03" } }));
        let base_only = PageWrite { base: Some("b".into()), date: DateWrite::Keep, ..PageWrite::default() };
        assert_eq!(page_write_properties(&base_only, true).unwrap().unwrap().as_object().unwrap().len(), 2);
    }
}
