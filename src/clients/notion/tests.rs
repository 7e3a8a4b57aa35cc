//! Client tests against a scripted transport (a queue of answers; requests and sleeps recorded).
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::clients::http::{HttpResponse, Method, TransportError};
use crate::test_support::block_on;

const DB: &str = "248104cd-477e-80fd-b757-e945d38000bd";
const DS: &str = "1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b";
const DS2: &str = "c174b72c-d782-432f-8dc0-b647e1c96df6";

fn fixture(name: &str) -> Value {
    let text = match name {
        "page_segments_mentions" => include_str!("../../../tests/fixtures/notion/page_segments_mentions.json"),
        "page_multi_type" => include_str!("../../../tests/fixtures/notion/page_multi_type.json"),
        "page_trashed" => include_str!("../../../tests/fixtures/notion/page_trashed.json"),
        "data_source" => include_str!("../../../tests/fixtures/notion/data_source.json"),
        "data_source_misconfigured" => include_str!("../../../tests/fixtures/notion/data_source_misconfigured.json"),
        "database" => include_str!("../../../tests/fixtures/notion/database.json"),
        "database_two_sources" => include_str!("../../../tests/fixtures/notion/database_two_sources.json"),
        "error_validation" => include_str!("../../../tests/fixtures/notion/error_validation.json"),
        "error_unauthorized" => include_str!("../../../tests/fixtures/notion/error_unauthorized.json"),
        "error_not_found" => include_str!("../../../tests/fixtures/notion/error_not_found.json"),
        "error_rate_limited" => include_str!("../../../tests/fixtures/notion/error_rate_limited.json"),
        "error_service_unavailable" => include_str!("../../../tests/fixtures/notion/error_service_unavailable.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

type Answer = Result<HttpResponse, TransportError>;

#[derive(Default)]
struct FakeTransport {
    answers: RefCell<VecDeque<Answer>>,
    requests: RefCell<Vec<HttpRequest>>,
    sleeps: RefCell<Vec<u64>>,
    /// Sends and sleeps in order: `"POST /v1/pages"`, `"sleep 340"`.
    log: RefCell<Vec<String>>,
    jitter: f64,
}

impl FakeTransport {
    fn with(answers: Vec<Answer>) -> Self {
        FakeTransport { answers: RefCell::new(answers.into()), ..FakeTransport::default() }
    }
    fn request(&self, index: usize) -> HttpRequest {
        self.requests.borrow()[index].clone()
    }
    fn body(&self, index: usize) -> Value {
        serde_json::from_str(self.request(index).body.as_deref().unwrap()).unwrap()
    }
    fn described(&self) -> Vec<String> {
        self.requests.borrow().iter().map(HttpRequest::describe).collect()
    }
    fn sleeps(&self) -> Vec<u64> {
        self.sleeps.borrow().clone()
    }
}

impl HttpTransport for FakeTransport {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.borrow_mut().push(request.clone());
        self.log.borrow_mut().push(request.describe());
        self.answers.borrow_mut().pop_front().unwrap_or_else(|| panic!("unscripted request {}", request.describe()))
    }
    async fn sleep(&self, millis: u64) {
        self.sleeps.borrow_mut().push(millis);
        self.log.borrow_mut().push(format!("sleep {millis}"));
    }
    fn jitter(&self) -> f64 {
        self.jitter
    }
}

fn ok(body: Value) -> Answer {
    Ok(HttpResponse { status: 200, headers: vec![], body: body.to_string() })
}

fn answer(status: u16, body: Value) -> Answer {
    Ok(HttpResponse { status, headers: vec![], body: body.to_string() })
}

fn answer_with(status: u16, body: Value, headers: &[(&str, &str)]) -> Answer {
    Ok(HttpResponse {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.to_string(),
    })
}

fn list(pages: Vec<Value>, next_cursor: Option<&str>) -> Value {
    json!({
        "object": "list",
        "results": pages,
        "next_cursor": next_cursor,
        "has_more": next_cursor.is_some(),
        "type": "page_or_data_source",
        "page_or_data_source": {},
        "request_id": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
    })
}

/// Configured data source, no pacing (pacing has its own tests).
fn config() -> NotionConfig {
    NotionConfig {
        api_base: "https://notion.test".into(),
        data_source_id: Some(DS.into()),
        min_interval_ms: 0,
        ..NotionConfig::new("ntn_test_token", DB)
    }
}

fn client(answers: Vec<Answer>) -> NotionClient<FakeTransport> {
    NotionClient::new(config(), FakeTransport::with(answers), Budget::new(50))
}

fn client_with(config: NotionConfig, budget: Budget, answers: Vec<Answer>) -> NotionClient<FakeTransport> {
    NotionClient::new(config, FakeTransport::with(answers), budget)
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn config_message(result: Result<impl std::fmt::Debug, PortError>) -> String {
    match result {
        Err(PortError::Config { message }) => message,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn query_sends_headers_filter_and_sort_and_follows_cursors() {
    let c = client(vec![
        ok(list(vec![fixture("page_segments_mentions")], Some("cursor-2"))),
        ok(list(vec![fixture("page_multi_type")], None)),
    ]);
    let since = Some(t("2025-08-07T09:58:00Z"));
    let first = block_on(c.query(&PageQuery::EditedSince(since), None)).unwrap();
    assert_eq!(first.pages.len(), 1);
    assert_eq!(first.next_cursor.as_deref(), Some("cursor-2"));
    let second = block_on(c.query(&PageQuery::EditedSince(since), first.next_cursor.as_deref())).unwrap();
    assert_eq!(second.pages[0].id, "7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e");
    assert_eq!(second.next_cursor, None);

    let fake = c.transport();
    let request = fake.request(0);
    assert_eq!(request.method, Method::Post);
    assert_eq!(request.url, format!("https://notion.test/v1/data_sources/{DS}/query"));
    let header = |name: &str| request.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(header("Authorization").as_deref(), Some("Bearer ntn_test_token"));
    assert_eq!(header("Notion-Version").as_deref(), Some("2026-03-11"));
    assert_eq!(header("Content-Type").as_deref(), Some("application/json"));
    let filter =
        json!({ "timestamp": "last_edited_time", "last_edited_time": { "on_or_after": "2025-08-07T09:58:00.000Z" } });
    let sorts = json!([{ "timestamp": "last_edited_time", "direction": "ascending" }]);
    assert_eq!(fake.body(0), json!({ "page_size": 100, "sorts": sorts, "filter": filter }));
    assert_eq!(fake.body(1), json!({ "page_size": 100, "sorts": sorts, "filter": filter, "start_cursor": "cursor-2" }));
    assert_eq!(c.budget().used(), 2);
}

#[test]
fn each_query_kind_sends_its_filter() {
    let c =
        client(vec![ok(list(vec![], None)), ok(list(vec![], None)), ok(list(vec![], None)), ok(list(vec![], None))]);
    block_on(c.query(&PageQuery::EditedSince(None), None)).unwrap();
    block_on(c.query(&PageQuery::TrashedSince(Some(t("2025-08-01T00:00:00Z"))), None)).unwrap();
    block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    block_on(c.query(&PageQuery::WithBase("f3bf0a3b".into()), None)).unwrap();
    let fake = c.transport();
    assert_eq!(fake.body(0).get("filter"), None);
    assert_eq!(fake.body(0).get("in_trash"), None);
    assert_eq!(fake.body(1)["in_trash"], json!(true));
    assert_eq!(fake.body(1)["filter"]["last_edited_time"]["on_or_after"], "2025-08-01T00:00:00.000Z");
    assert_eq!(fake.body(2)["filter"], json!({ "property": "Checksum", "rich_text": { "is_empty": true } }));
    assert_eq!(fake.body(3)["filter"], json!({ "property": "Checksum", "rich_text": { "equals": "f3bf0a3b" } }));
}

#[test]
fn trashed_query_keeps_only_trashed_pages_and_live_queries_only_live_ones() {
    let mixed = || list(vec![fixture("page_multi_type"), fixture("page_trashed")], None);
    let c = client(vec![ok(mixed()), ok(mixed()), ok(mixed()), ok(mixed())]);
    let trashed = block_on(c.query(&PageQuery::TrashedSince(None), None)).unwrap();
    assert_eq!(
        trashed.pages.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec!["be633bf1-dfa0-436d-b259-571129a590e5"]
    );
    assert!(trashed.pages[0].in_trash);
    let live = block_on(c.query(&PageQuery::EditedSince(None), None)).unwrap();
    assert_eq!(
        live.pages.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec!["7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e"]
    );
    let with_base = block_on(c.query(&PageQuery::WithBase("x".into()), None)).unwrap();
    assert_eq!(with_base.pages.iter().map(|p| p.in_trash).collect::<Vec<_>>(), vec![false]);
    let trashed_with_base = block_on(c.query(&PageQuery::TrashedWithBase("x".into()), None)).unwrap();
    assert_eq!(trashed_with_base.pages.iter().map(|p| p.in_trash).collect::<Vec<_>>(), vec![true]);
}

#[test]
fn a_query_result_missing_a_property_is_a_config_error() {
    let mut page = fixture("page_multi_type");
    page["properties"].as_object_mut().unwrap().remove("Checksum");
    let c = client(vec![ok(list(vec![page], None))]);
    let message = config_message(block_on(c.query(&PageQuery::Unsynced, None)));
    assert!(message.contains("`Checksum`") && message.contains("Text property"), "{message}");
}

#[test]
fn rate_limit_waits_retry_after_then_retries() {
    let c = client(vec![
        answer_with(429, fixture("error_rate_limited"), &[("Retry-After", "2")]),
        answer(529, json!({ "object": "error", "status": 529, "code": "service_overload", "message": "overloaded" })),
        ok(list(vec![], None)),
    ]);
    let batch = block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    assert!(batch.pages.is_empty());
    assert_eq!(c.transport().sleeps(), vec![2_000, 1_000], "Retry-After honoured, 1 s without one");
    assert_eq!(c.transport().requests.borrow().len(), 3);
    assert_eq!(c.budget().used(), 3, "every attempt takes a unit of budget");
}

#[test]
fn a_retry_after_longer_than_a_run_waits_ends_the_run_as_rate_limited_at_once() {
    for status in [429, 529] {
        let c = client(vec![answer_with(status, fixture("error_rate_limited"), &[("Retry-After", "75")])]);
        let err = block_on(c.query(&PageQuery::Unsynced, None)).unwrap_err();
        let PortError::RateLimited { service, retry_after_ms, message } = &err else {
            panic!("expected rate limited, got {err:?}")
        };
        assert_eq!((service.as_str(), *retry_after_ms), ("notion", 75_000));
        assert!(
            message.contains("rate limit") && message.contains("75 s") && message.contains("next run"),
            "{message}"
        );
        assert!(err.ends_run(), "no further request is sent in this run");
        assert!(c.transport().sleeps().is_empty(), "no wait longer than the run allows");
        assert_eq!(c.transport().requests.borrow().len(), 1);
    }
}

#[test]
fn a_workspace_rate_limit_names_its_reason() {
    let mut body = fixture("error_rate_limited");
    body["additional_data"] =
        json!({ "rate_limit_reason": "public_api_space_request_rate_limit", "retry_after": "90" });
    let c = client(vec![answer_with(429, body, &[("Retry-After", "90")])]);
    let err = block_on(c.query(&PageQuery::Unsynced, None)).unwrap_err();
    assert!(matches!(&err, PortError::RateLimited { retry_after_ms: 90_000, .. }), "{err:?}");
    assert!(err.to_string().contains("[public_api_space_request_rate_limit]"), "{err}");
}

#[test]
fn a_retry_after_within_the_bound_is_waited_for() {
    let c =
        client(vec![answer_with(429, fixture("error_rate_limited"), &[("Retry-After", "10")]), ok(list(vec![], None))]);
    assert!(block_on(c.query(&PageQuery::Unsynced, None)).unwrap().pages.is_empty());
    assert_eq!(c.transport().sleeps(), vec![10_000]);
    assert_eq!(config::DEFAULT_MAX_RETRY_AFTER_MS, 10_000);
}

#[test]
fn a_long_retry_after_on_a_5xx_stays_transient() {
    let c = client(vec![answer_with(503, fixture("error_service_unavailable"), &[("Retry-After", "300")])]);
    let err = block_on(c.get_page("59833787-2cf9-4fdf-8782-e53db20768a5")).unwrap_err();
    assert!(matches!(&err, PortError::Transient { message, .. } if message.contains("300 s")), "{err:?}");
}

fn client_speaking(version: NotionVersion, answers: Vec<Answer>) -> NotionClient<FakeTransport> {
    client_with(NotionConfig { version, ..config() }, Budget::new(50), answers)
}

#[test]
fn every_request_sends_the_configured_version() {
    for version in NotionVersion::ALL {
        let c = client_speaking(version, vec![ok(list(vec![], None)), ok(fixture("page_trashed"))]);
        block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
        block_on(c.get_page("59833787-2cf9-4fdf-8782-e53db20768a5")).unwrap();
        for index in 0..2 {
            let request = c.transport().request(index);
            let sent = request.headers.iter().find(|(name, _)| name == "Notion-Version").map(|(_, v)| v.clone());
            assert_eq!(sent.as_deref(), Some(version.as_str()));
        }
    }
    assert_eq!(NotionConfig::new("t", DB).version.as_str(), "2026-03-11", "default: Notion's current version");
}

/// Trash, restore and every query body: `in_trash` only, never `archived` (2026-03-11 answers
/// an `archived` in a body with 400).
#[test]
fn trash_and_restore_send_in_trash_never_archived_under_both_versions() {
    const PAGE: &str = "59833787-2cf9-4fdf-8782-e53db20768a5";
    for version in NotionVersion::ALL {
        let trashed = fixture("page_trashed");
        let mut live = trashed.clone();
        live["in_trash"] = json!(false);
        live["archived"] = json!(false);
        let c = client_speaking(version, vec![ok(trashed), ok(live), ok(list(vec![], None))]);
        let trash = PageWrite { in_trash: Some(true), ..PageWrite::default() };
        assert!(block_on(c.update_page(PAGE, &trash)).unwrap().in_trash);
        let restore = PageWrite { in_trash: Some(false), ..PageWrite::default() };
        assert!(!block_on(c.update_page(PAGE, &restore)).unwrap().in_trash);
        block_on(c.query(&PageQuery::TrashedSince(None), None)).unwrap();
        assert_eq!(c.transport().body(0), json!({ "in_trash": true }), "{version}");
        assert_eq!(c.transport().body(1), json!({ "in_trash": false }), "{version}");
        for index in 0..3 {
            let body = c.transport().request(index).body.unwrap_or_default();
            assert!(!body.contains("archived"), "{version}: {body}");
        }
    }
}

#[test]
fn archived_reads_as_trashed_only_under_2025_09_03() {
    let mut legacy = fixture("page_trashed");
    legacy["in_trash"] = json!(false);
    legacy["archived"] = json!(true);
    let old = client_speaking(NotionVersion::V2025_09_03, vec![ok(list(vec![legacy.clone()], None))]);
    let batch = block_on(old.query(&PageQuery::TrashedSince(None), None)).unwrap();
    assert_eq!(batch.pages.len(), 1, "2025-09-03: `archived: true` is the deprecated twin of `in_trash`");
    assert!(batch.pages[0].in_trash);
    let new = client_speaking(NotionVersion::V2026_03_11, vec![ok(legacy)]);
    let page = block_on(new.get_page("59833787-2cf9-4fdf-8782-e53db20768a5")).unwrap().unwrap();
    assert!(!page.in_trash, "2026-03-11 has no `archived`: only `in_trash` counts");
}

#[test]
fn server_errors_are_retried_max_retries_times_then_transient() {
    let unavailable = || answer(503, fixture("error_service_unavailable"));
    let c = client(vec![unavailable(), unavailable(), unavailable(), unavailable()]);
    let err = block_on(c.get_page("59833787-2cf9-4fdf-8782-e53db20768a5")).unwrap_err();
    let PortError::Transient { service, message } = err else { panic!("expected transient, got {err:?}") };
    assert_eq!(service, "notion");
    assert!(message.contains("service_unavailable") && message.contains("4 attempts"), "{message}");
    assert_eq!(c.transport().requests.borrow().len(), 4, "1 attempt + 3 retries");
    assert_eq!(c.transport().sleeps(), vec![250, 500, 1_000], "exponential backoff (jitter 0)");
    assert_eq!(c.budget().used(), 4);
}

#[test]
fn conflicts_network_errors_and_timeouts_are_retried() {
    let c = client(vec![
        answer(
            409,
            json!({ "object": "error", "status": 409, "code": "conflict_error", "message": "Conflict occurred while saving. Please try again." }),
        ),
        Err(TransportError::Network("connection reset".into())),
        Err(TransportError::Timeout(20_000)),
        ok(fixture("page_multi_type")),
    ]);
    let page = block_on(c.get_page("7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e")).unwrap().unwrap();
    assert_eq!(page.types, vec!["Ops", "Architecture", "Security"]);
    assert_eq!(c.transport().requests.borrow().len(), 4);
}

#[test]
fn jitter_spreads_the_backoff() {
    let mut fake = FakeTransport::with(vec![answer(500, json!({})), ok(fixture("page_multi_type"))]);
    fake.jitter = 0.5;
    let c = NotionClient::new(config(), fake, Budget::new(10));
    block_on(c.get_page("7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e")).unwrap();
    assert_eq!(c.transport().sleeps(), vec![375]);
}

#[test]
fn budget_is_taken_before_each_attempt_and_exhaustion_stops_at_once() {
    let unavailable = || answer(503, fixture("error_service_unavailable"));
    let budget = Budget::new(2);
    let c = client_with(config(), budget.clone(), vec![unavailable(), unavailable(), unavailable()]);
    let err = block_on(c.query(&PageQuery::Unsynced, None)).unwrap_err();
    // The budget ended while a 503 was being retried: the run names Notion's failure.
    let PortError::Transient { service, message } = &err else { panic!("{err:?}") };
    assert_eq!(service, "notion");
    assert!(message.contains("503") && message.contains("budget ended before a retry"), "{message}");
    assert_eq!(c.transport().requests.borrow().len(), 2, "no request without budget");
    assert_eq!(budget.used(), 2, "the run's budget is shared");

    let spent = Budget::new(0);
    let c = client_with(config(), spent, vec![]);
    assert_eq!(block_on(c.get_page("p")), Err(PortError::BudgetExhausted { limit: 0 }));
    assert!(c.transport().requests.borrow().is_empty());
}

#[test]
fn validation_error_is_a_record_error_with_notion_message_and_never_retried() {
    let c = client(vec![answer(400, fixture("error_validation"))]);
    let content = Content::normalize("Use Postgres", "Ops", "2025-08-07").unwrap();
    let err = block_on(c.create_page(&content, &content.checksum())).unwrap_err();
    assert_eq!(
        err,
        PortError::Record {
            service: "notion".into(),
            field: Some("Type".into()),
            message: "body failed validation: body.properties.Type.multi_select[0].name should be defined, instead was `undefined`.".into(),
        }
    );
    assert_eq!(c.transport().requests.borrow().len(), 1);
    assert!(c.transport().sleeps().is_empty());
}

#[test]
fn unauthorized_is_a_config_error_naming_the_secret() {
    let c = client(vec![answer(401, fixture("error_unauthorized"))]);
    let message = config_message(block_on(c.query(&PageQuery::Unsynced, None)));
    assert!(message.contains("NOTION_API_KEY is invalid") && message.contains("API token is invalid."), "{message}");
}

#[test]
fn unshared_data_source_is_a_config_error() {
    let not_found = json!({ "object": "error", "status": 404, "code": "object_not_found",
        "message": format!("Could not find data_source with ID: {DS}. Make sure the relevant pages and databases are shared with your integration.") });
    let c = client(vec![
        answer(404, not_found.clone()),
        answer(
            403,
            json!({ "object": "error", "status": 403, "code": "restricted_resource", "message": "Insufficient permissions for this endpoint." }),
        ),
    ]);
    assert!(config_message(block_on(c.query(&PageQuery::Unsynced, None)))
        .contains("share the database with the integration"));
    assert!(config_message(block_on(c.check_schema())).contains("share the database with the integration"));
}

#[test]
fn get_page_reads_returns_none_when_gone_and_none_when_moved_elsewhere() {
    let mut moved = fixture("page_multi_type");
    moved["parent"] = json!({ "type": "data_source_id", "data_source_id": DS2, "database_id": "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f" });
    let mut under_a_page = fixture("page_multi_type");
    under_a_page["parent"] = json!({ "type": "page_id", "page_id": "af5f89b5-a8ff-4c56-a5e8-69797d11b9f8" });
    let c =
        client(vec![ok(fixture("page_trashed")), answer(404, fixture("error_not_found")), ok(moved), ok(under_a_page)]);
    let trashed = block_on(c.get_page("be633bf1-dfa0-436d-b259-571129a590e5")).unwrap().unwrap();
    assert!(trashed.in_trash, "GET tells trashed from inaccessible");
    assert_eq!(block_on(c.get_page("59833787-2cf9-4fdf-8782-e53db20768a5")).unwrap(), None);
    assert_eq!(block_on(c.get_page("7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e")).unwrap(), None);
    assert_eq!(block_on(c.get_page("7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e")).unwrap(), None);
    assert_eq!(c.transport().request(0).url, "https://notion.test/v1/pages/be633bf1-dfa0-436d-b259-571129a590e5");
    assert_eq!(c.transport().request(0).method, Method::Get);
}

#[test]
fn create_page_posts_parent_and_properties() {
    let c = client(vec![ok(fixture("page_segments_mentions"))]);
    let content = Content::normalize("Use Postgres", "ops", "2025-08-07").unwrap();
    let page = block_on(c.create_page(&content, "base-1")).unwrap();
    assert_eq!(page.id, "59833787-2cf9-4fdf-8782-e53db20768a5");
    let fake = c.transport();
    assert_eq!(fake.described(), vec!["POST https://notion.test/v1/pages"]);
    assert_eq!(
        fake.body(0),
        json!({
            "parent": { "type": "data_source_id", "data_source_id": DS },
            "properties": {
                "Decision": { "title": [{ "type": "text", "text": { "content": "Use Postgres" } }] },
                "Type": { "multi_select": [{ "name": "Ops" }] },
                "Date": { "date": { "start": "2025-08-07" } },
                "Checksum": { "rich_text": [{ "type": "text", "text": { "content": "base-1" } }] },
                "Synced": { "checkbox": true },
            }
        })
    );
}

#[test]
fn create_page_content_errors_are_per_record_and_send_nothing() {
    let c = client(vec![]);
    let content = Content { decision: "x".into(), kind: "Ops, UX".into(), date: "2025-08-07".into() };
    let err = block_on(c.create_page(&content, "b")).unwrap_err();
    assert!(matches!(&err, PortError::Record { field: Some(field), .. } if field == "type"), "{err:?}");
    assert!(c.transport().requests.borrow().is_empty());
    assert_eq!(c.budget().used(), 0);
}

#[test]
fn a_create_is_not_repeated_when_notion_may_have_processed_it() {
    let content = Content::normalize("Use Postgres", "Ops", "2025-08-07").unwrap();
    let c = client(vec![answer(
        504,
        json!({ "object": "error", "status": 504, "code": "gateway_timeout", "message": "timeout" }),
    )]);
    let err = block_on(c.create_page(&content, "b")).unwrap_err();
    assert!(matches!(&err, PortError::Transient { message, .. } if message.contains("not repeated")), "{err:?}");
    assert_eq!(c.transport().requests.borrow().len(), 1);

    let c = client(vec![Err(TransportError::Timeout(20_000))]);
    assert!(matches!(block_on(c.create_page(&content, "b")), Err(PortError::Transient { .. })));
    assert_eq!(c.transport().requests.borrow().len(), 1);

    // A rate-limited create was not processed: it is retried.
    let c = client(vec![
        answer_with(429, fixture("error_rate_limited"), &[("Retry-After", "1")]),
        ok(fixture("page_multi_type")),
    ]);
    assert!(block_on(c.create_page(&content, "b")).is_ok());
    assert_eq!(c.transport().requests.borrow().len(), 2);
}

#[test]
fn update_page_sends_only_what_changes() {
    let content = Content::normalize("Use Postgres", "Ops", "2025-08-07").unwrap();
    let c = client(vec![
        ok(fixture("page_trashed")),
        ok(fixture("page_multi_type")),
        ok(fixture("page_multi_type")),
        ok(fixture("page_multi_type")),
    ]);
    let id = "be633bf1-dfa0-436d-b259-571129a590e5";
    let trashed = block_on(c.update_page(id, &PageWrite { in_trash: Some(true), ..PageWrite::default() })).unwrap();
    assert!(trashed.in_trash);
    block_on(c.update_page(id, &PageWrite { base: Some("b2".into()), ..PageWrite::default() })).unwrap();
    // Restore with new content: restore first, then write.
    block_on(c.update_page(
        id,
        &PageWrite { content: Some(content), base: Some("b3".into()), in_trash: Some(false), ..PageWrite::default() },
    ))
    .unwrap();
    let fake = c.transport();
    assert!(fake.requests.borrow().iter().all(|r| r.method == Method::Patch && r.url.ends_with(id)));
    assert_eq!(fake.body(0), json!({ "in_trash": true }));
    assert_eq!(
        fake.body(1),
        json!({ "properties": { "Checksum": { "rich_text": [{ "type": "text", "text": { "content": "b2" } }] }, "Synced": { "checkbox": true } } })
    );
    assert_eq!(fake.body(2), json!({ "in_trash": false }));
    assert_eq!(fake.body(3)["properties"]["Checksum"]["rich_text"][0]["text"]["content"], "b3");
    assert_eq!(fake.body(3)["properties"]["Decision"]["title"][0]["text"]["content"], "Use Postgres");
    assert_eq!(fake.body(3).get("in_trash"), None);
}

#[test]
fn update_of_a_vanished_page_is_a_record_error() {
    let c = client(vec![answer(404, fixture("error_not_found"))]);
    let err = block_on(c.update_page(
        "59833787-2cf9-4fdf-8782-e53db20768a5",
        &PageWrite { in_trash: Some(true), ..PageWrite::default() },
    ))
    .unwrap_err();
    assert!(
        matches!(&err, PortError::Record { field: None, message, .. } if message.contains("Could not find page")),
        "{err:?}"
    );
}

#[test]
fn pacing_spaces_request_starts() {
    let paced = NotionConfig { min_interval_ms: 340, ..config() };
    let c = client_with(
        paced.clone(),
        Budget::new(10),
        vec![ok(fixture("page_multi_type")), ok(fixture("page_multi_type")), ok(fixture("page_multi_type"))],
    );
    for _ in 0..3 {
        block_on(c.get_page("7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e")).unwrap();
    }
    let log = c.transport().log.borrow().clone();
    assert_eq!(
        log.iter().filter(|e| e.starts_with("sleep")).cloned().collect::<Vec<_>>(),
        vec!["sleep 340", "sleep 340"]
    );
    assert!(log[0].starts_with("GET"), "the first request is not delayed: {log:?}");

    // A backoff already waited counts towards the spacing.
    let c = client_with(paced.clone(), Budget::new(10), vec![answer(502, json!({})), ok(fixture("page_multi_type"))]);
    block_on(c.get_page("7b2d1c3e-5f6a-4b8c-9d0e-1f2a3b4c5d6e")).unwrap();
    assert_eq!(c.transport().sleeps(), vec![250, 90]);

    // With a clock only the rest of the interval is slept.
    let now = Rc::new(Cell::new(0.0));
    let ticking = now.clone();
    let c = client_with(paced, Budget::new(10), vec![ok(fixture("page_multi_type")), ok(fixture("page_multi_type"))])
        .with_clock(move || {
            ticking.set(ticking.get() + 100.0);
            ticking.get()
        });
    block_on(c.get_page("a")).unwrap();
    block_on(c.get_page("a")).unwrap();
    assert_eq!(c.transport().sleeps(), vec![240], "started at t=200, next asks at t=300: 340 - 100");
}

#[test]
fn data_source_is_discovered_from_the_database_once() {
    let discovering = NotionConfig { data_source_id: None, ..config() };
    let c = client_with(
        discovering,
        Budget::new(10),
        vec![ok(fixture("database")), ok(list(vec![], None)), ok(list(vec![], None))],
    );
    assert_eq!(c.data_source_id(), None);
    block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    assert_eq!(c.data_source_id().as_deref(), Some(DS));
    assert_eq!(c.data_source_origin(), Some(DataSourceOrigin::Discovered));
    assert_eq!(
        c.transport().described(),
        vec![
            format!("GET https://notion.test/v1/databases/{DB}"),
            format!("POST https://notion.test/v1/data_sources/{DS}/query"),
            format!("POST https://notion.test/v1/data_sources/{DS}/query"),
        ]
    );
}

#[test]
fn a_database_with_no_or_several_data_sources_is_a_config_error() {
    let discovering = NotionConfig { data_source_id: None, ..config() };
    let mut empty = fixture("database");
    empty["data_sources"] = json!([]);
    let c = client_with(discovering.clone(), Budget::new(10), vec![ok(empty)]);
    assert!(config_message(block_on(c.query(&PageQuery::Unsynced, None))).contains("has no data source"));

    let c = client_with(discovering, Budget::new(10), vec![ok(fixture("database_two_sources"))]);
    let message = config_message(block_on(c.resolve_data_source_id()));
    for needle in [DS, DS2, "Archive 2024", "NOTION_DATA_SOURCE_ID"] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
    assert_eq!(c.data_source_id(), None);
}

#[test]
fn a_stale_cached_data_source_is_rediscovered() {
    let discovering = NotionConfig { data_source_id: None, ..config() };
    let gone = json!({ "object": "error", "status": 404, "code": "object_not_found", "message": "Could not find data_source" });
    let c = client_with(
        discovering.clone(),
        Budget::new(10),
        vec![answer(404, gone), ok(fixture("database")), ok(fixture("data_source"))],
    );
    c.use_cached_data_source_id(Some(DS2));
    block_on(c.check_schema()).unwrap();
    assert_eq!(c.data_source_id().as_deref(), Some(DS));
    assert_eq!(c.transport().described()[1], format!("GET https://notion.test/v1/databases/{DB}"));

    // A cached id of another database (NOTION_DATABASE_ID changed) is replaced too.
    let mut foreign = fixture("data_source");
    foreign["id"] = json!(DS2);
    foreign["parent"]["database_id"] = json!("0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f");
    let c = client_with(
        discovering,
        Budget::new(10),
        vec![ok(foreign), ok(fixture("database")), ok(fixture("data_source"))],
    );
    c.use_cached_data_source_id(Some(DS2));
    block_on(c.check_schema()).unwrap();
    assert_eq!(c.data_source_id().as_deref(), Some(DS));

    // A configured id is never replaced, and a mismatch is reported.
    let mut foreign = fixture("data_source");
    foreign["parent"]["database_id"] = json!("0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f");
    let c = client(vec![ok(foreign)]);
    c.use_cached_data_source_id(Some(DS2));
    assert_eq!(c.data_source_id().as_deref(), Some(DS));
    assert!(config_message(block_on(c.check_schema())).contains("NOTION_DATA_SOURCE_ID"));
}

#[test]
fn check_schema_lists_every_problem_and_learns_about_synced() {
    let c = client(vec![ok(fixture("data_source_misconfigured"))]);
    let message = config_message(block_on(c.check_schema()));
    for needle in
        ["`Name` to `Decision`", "from Select to Multi-select", "`date` to `Date`", "named `Checksum`", "Synced"]
    {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
    assert_eq!(c.transport().described(), vec![format!("GET https://notion.test/v1/data_sources/{DS}")]);

    // Without the optional Synced property, writes leave it out.
    let mut no_synced = fixture("data_source");
    no_synced["properties"].as_object_mut().unwrap().remove("Synced");
    let c = client(vec![ok(no_synced), ok(fixture("page_multi_type"))]);
    block_on(c.check_schema()).unwrap();
    assert!(!c.has_synced_property());
    let content = Content::normalize("x", "Ops", "2025-08-07").unwrap();
    block_on(c.create_page(&content, "b")).unwrap();
    assert_eq!(c.transport().body(1)["properties"].get("Synced"), None);
}

#[test]
fn a_success_body_that_is_not_json_is_a_config_error() {
    let c = client(vec![Ok(HttpResponse { status: 200, headers: vec![], body: "<html>hello</html>".into() })]);
    assert!(config_message(block_on(c.query(&PageQuery::Unsynced, None))).contains("NOTION_API_BASE"));
}

fn truncated(status: u16) -> Answer {
    Ok(HttpResponse { status, headers: vec![], body: r#"{"object":"list","results":[{"object":"page","id":"#.into() })
}

#[test]
fn a_broken_json_success_is_retried_like_a_5xx_then_transient_naming_notion() {
    // Regression: one malformed answer was a configuration error ("check NOTION_API_BASE").
    let c = client(vec![truncated(200), ok(list(vec![fixture("page_multi_type")], None))]);
    let batch = block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    assert_eq!(batch.pages.len(), 1);
    assert_eq!(c.transport().sleeps(), vec![250], "one backoff, as for a 5xx");

    let c = client(vec![truncated(200), truncated(200), truncated(200), truncated(200)]);
    let err = block_on(c.query(&PageQuery::Unsynced, None)).unwrap_err();
    let PortError::Transient { service, message } = &err else { panic!("{err:?}") };
    assert_eq!(service, "notion");
    assert!(message.contains("not valid JSON") && message.contains("gave up after 4 attempts"), "{message}");
    assert!(err.to_string().starts_with("notion is unavailable: "), "{err}");

    // A create that Notion answered 2xx was processed: never sent twice.
    let c = client(vec![truncated(200)]);
    let content = Content::normalize("x", "Ops", "2025-08-07").unwrap();
    let err = block_on(c.create_page(&content, "b")).unwrap_err();
    assert!(matches!(&err, PortError::Transient { message, .. } if message.contains("not repeated")), "{err:?}");
    assert_eq!(c.transport().requests.borrow().len(), 1);
}

#[test]
fn an_answer_of_the_wrong_shape_is_transient_a_web_page_is_configuration() {
    let c = client(vec![ok(json!({ "object": "list", "has_more": false }))]);
    let err = block_on(c.query(&PageQuery::Unsynced, None)).unwrap_err();
    assert!(matches!(&err, PortError::Transient { service, .. } if service == "notion"), "{err:?}");

    let html = Ok(HttpResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
        body: "  <!doctype html><title>Notion</title>".into(),
    });
    let c = client(vec![html]);
    let err = block_on(c.query(&PageQuery::Unsynced, None)).unwrap_err();
    assert!(matches!(&err, PortError::Config { message } if message.contains("NOTION_API_BASE")), "{err:?}");
    assert_eq!(c.transport().requests.borrow().len(), 1, "a web page is not retried");
}

#[test]
fn writes_retry_once_without_synced_when_notion_says_it_does_not_exist() {
    let no_synced = json!({ "object": "error", "status": 400, "code": "validation_error", "message": "Synced is not a property that exists." });
    let c =
        client(vec![answer(400, no_synced.clone()), ok(fixture("page_multi_type")), ok(fixture("page_multi_type"))]);
    let content = Content::normalize("x", "Ops", "2025-08-07").unwrap();
    block_on(c.create_page(&content, "b")).unwrap();
    assert!(!c.has_synced_property());
    assert_eq!(c.transport().body(0)["properties"]["Synced"], json!({ "checkbox": true }));
    assert_eq!(c.transport().body(1)["properties"].get("Synced"), None);
    block_on(c.update_page("p", &PageWrite { base: Some("b".into()), ..PageWrite::default() })).unwrap();
    assert_eq!(c.transport().body(2)["properties"].get("Synced"), None);

    // Other validation errors are not retried.
    let c = client(vec![answer(400, fixture("error_validation"))]);
    assert!(matches!(
        block_on(c.update_page("p", &PageWrite { base: Some("b".into()), ..PageWrite::default() })),
        Err(PortError::Record { .. })
    ));
    assert_eq!(c.transport().requests.borrow().len(), 1);
}

/// Notion's 10,000-result cap (a small page here): `has_more` false with `request_status`
/// incomplete is not the end of the query; `complete` or no status is.
#[test]
fn a_capped_query_answer_is_marked_incomplete() {
    let mut capped = list(vec![fixture("page_multi_type")], None);
    capped["request_status"] = json!({ "type": "incomplete", "incomplete_reason": "query_result_limit_reached" });
    let mut complete = list(vec![fixture("page_multi_type")], None);
    complete["request_status"] = json!({ "type": "complete" });
    let mut unknown = list(vec![], None);
    unknown["request_status"] = json!({ "type": "something_new" });
    let c = client(vec![ok(capped), ok(complete), ok(list(vec![], None)), ok(unknown)]);
    let query = PageQuery::EditedSince(None);
    let first = block_on(c.query(&query, None)).unwrap();
    assert_eq!((first.pages.len(), first.next_cursor.as_deref(), first.incomplete), (1, None, true));
    assert!(!block_on(c.query(&query, None)).unwrap().incomplete);
    assert!(!block_on(c.query(&query, None)).unwrap().incomplete);
    assert!(block_on(c.query(&query, None)).unwrap().incomplete);
}

/// Where Notion ignores `in_trash: true`, the trashed-pages query lists live pages: they are
/// dropped (never taken for trashed ones) and the batch says so.
#[test]
fn live_pages_answering_a_trashed_query_are_dropped_and_flagged() {
    let live = fixture("page_multi_type");
    let c = client(vec![ok(list(vec![live.clone()], None)), ok(list(vec![live], None))]);
    let batch = block_on(c.query(&PageQuery::TrashedSince(None), None)).unwrap();
    assert!(batch.pages.is_empty() && batch.in_trash_ignored);
    let batch = block_on(c.query(&PageQuery::EditedSince(None), None)).unwrap();
    assert!(batch.pages.len() == 1 && !batch.in_trash_ignored);
}

/// The URLs of the requests sent, after the host.
fn urls(c: &NotionClient<FakeTransport>) -> Vec<String> {
    c.transport()
        .requests
        .borrow()
        .iter()
        .map(|r| r.url.trim_start_matches("https://notion.test").to_string())
        .collect()
}

const MAPPED: &str = "filter_properties=title&filter_properties=u%3ETk&filter_properties=Kj%7Dq&filter_properties=%3BxWq&filter_properties=Vx%40r";

#[test]
fn reads_ask_for_the_mapped_properties_once_the_schema_is_checked() {
    let c = client(vec![
        ok(list(vec![], None)),
        ok(fixture("page_multi_type")),
        ok(fixture("data_source")),
        ok(list(vec![fixture("page_multi_type")], None)),
        ok(fixture("page_multi_type")),
    ]);
    // Before the check: no ids known, every property.
    block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    block_on(c.get_page("p1")).unwrap();
    block_on(c.check_schema()).unwrap();
    let batch = block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    assert_eq!(batch.pages.len(), 1);
    block_on(c.get_page("p1")).unwrap().unwrap();
    assert_eq!(
        urls(&c),
        vec![
            format!("/v1/data_sources/{DS}/query"),
            "/v1/pages/p1".to_string(),
            format!("/v1/data_sources/{DS}"),
            format!("/v1/data_sources/{DS}/query?{MAPPED}"),
            format!("/v1/pages/p1?{MAPPED}"),
        ]
    );
    assert_eq!(c.property_filter(DS).len(), 5);
    assert!(c.property_filter(DS2).is_empty(), "ids belong to their data source");
}

#[test]
fn no_filter_without_synced_or_after_a_failed_check() {
    let mut no_synced = fixture("data_source");
    no_synced["properties"].as_object_mut().unwrap().remove("Synced");
    let c = client(vec![ok(no_synced), ok(list(vec![], None))]);
    block_on(c.check_schema()).unwrap();
    block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    assert!(urls(&c)[1].ends_with(
        "query?filter_properties=title&filter_properties=u%3ETk&filter_properties=Kj%7Dq&filter_properties=%3BxWq"
    ));

    let c = client(vec![ok(fixture("data_source_misconfigured")), ok(list(vec![], None))]);
    assert!(block_on(c.check_schema()).is_err());
    block_on(c.query(&PageQuery::Unsynced, None)).unwrap();
    assert_eq!(urls(&c)[1], format!("/v1/data_sources/{DS}/query"));
}

#[test]
fn a_filtered_page_read_refused_with_400_is_asked_again_whole() {
    let c = client(vec![
        ok(fixture("data_source")),
        answer(400, fixture("error_validation")),
        ok(fixture("page_multi_type")),
    ]);
    block_on(c.check_schema()).unwrap();
    assert!(block_on(c.get_page("p1")).unwrap().is_some());
    assert_eq!(urls(&c)[1..], [format!("/v1/pages/p1?{MAPPED}"), "/v1/pages/p1".to_string()]);
}
