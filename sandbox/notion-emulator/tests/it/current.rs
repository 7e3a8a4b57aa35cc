//! Today's documented Notion: the 10,000-result query cap with `request_status`, the
//! per-connection / per-workspace rate-limit model with `additional_data`, versions 2025-09-03,
//! 2026-03-11 and 2026-12-01, and the three readings of `in_trash` in a query body.

use crate::common::{id_of, Env};
use crate::documented;
use crate::schema::Validator;
use notion_emulator::{ApiVersion, EmulatorConfig, InTrashReading};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn assert_shape(name: &str, v: &Value) {
    let doc = documented::doc();
    let errors = Validator::new(&doc).validate(&documented::r(name), v);
    assert!(errors.is_empty(), "{name}: {}\n{v}", errors.join("\n"));
}

fn retry_after(r: &crate::common::Reply) -> Option<u64> {
    r.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

/// The 429 says which limit was hit, and repeats the wait as a string of whole seconds.
fn assert_rate_limited(r: &crate::common::Reply, reason: &str) -> u64 {
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{}", r.text);
    assert_eq!(r.json["additional_data"]["rate_limit_reason"], reason);
    let wait = retry_after(r).expect("integer Retry-After");
    assert_eq!(r.json["additional_data"]["retry_after"], json!(wait.to_string()));
    assert_shape("error", &r.json);
    wait
}

async fn admin_ok(env: &Env, path: &str, body: Value) -> Value {
    let r = env.admin(Method::POST, path, Some(body)).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.json
}

async fn admin_pages(env: &Env, n: usize, prefix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = env
            .admin(Method::POST, "/pages", Some(json!({"properties": {"Decision": format!("{prefix}{i:03}")}})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        ids.push(id_of(&r.json));
    }
    ids
}

/// Follows cursors; returns the ids and every answer page.
async fn query_pages(env: &Env, mut body: Value) -> (Vec<String>, Vec<Value>) {
    let (mut ids, mut pages) = (Vec::new(), Vec::new());
    loop {
        let r = env.query(body.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_shape("list", &r.json);
        for p in r.json["results"].as_array().expect("results") {
            ids.push(id_of(p));
        }
        let next = r.json["next_cursor"].as_str().map(str::to_string);
        pages.push(r.json);
        match next {
            Some(c) => body["start_cursor"] = json!(c),
            None => return (ids, pages),
        }
    }
}

// ----- the 10,000-result cap -------------------------------------------------------------------

#[tokio::test]
async fn query_result_cap_ends_pagination_and_marks_every_page_incomplete() {
    let env = Env::new().await;
    let limit = env.admin(Method::GET, "/query_result_limit", None).await;
    assert_eq!(limit.json, json!({"max_results": 10_000}));
    admin_ok(&env, "/query_result_limit", json!({"max_results": 50})).await;
    let early = admin_pages(&env, 30, "early ").await;
    env.advance_clock(120).await;
    let late = admin_pages(&env, 30, "late ").await;

    // 60 matching pages, cap 50: pages of 20, 20 and 10, then has_more false and no cursor.
    let sorts = json!([{"timestamp": "created_time", "direction": "ascending"}]);
    let (ids, pages) = query_pages(&env, json!({"page_size": 20, "sorts": sorts})).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p["results"].as_array().map_or(0, Vec::len)).collect();
    assert_eq!(sizes, [20, 20, 10]);
    let expected: Vec<String> = early.iter().chain(&late).take(50).cloned().collect();
    assert_eq!(ids, expected);
    let last = pages.last().expect("a page");
    assert_eq!((last["has_more"].clone(), last["next_cursor"].clone()), (json!(false), Value::Null));
    for p in &pages {
        assert_eq!(
            p["request_status"],
            json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"})
        );
    }
    // One page of 100 stops at the cap too.
    let r = env.query(json!({})).await;
    assert_eq!(r.json["results"].as_array().map(Vec::len), Some(50));
    assert_eq!(r.json["has_more"], false);
    assert_eq!(r.json["request_status"]["type"], "incomplete");

    // The cap is per query: a created_time window from the last page seen (on_or_after, as
    // timestamps are minute-rounded) reads the rest, complete; a complete answer carries no
    // request_status (the docs show only the incomplete form; the SDK types make it optional).
    let from = pages[2]["results"][9]["created_time"].clone();
    let (rest, rest_pages) = query_pages(
        &env,
        json!({"sorts": sorts, "filter": {"timestamp": "created_time", "created_time": {"on_or_after": from}}}),
    )
    .await;
    assert_eq!(rest, late);
    assert!(rest_pages.iter().all(|p| p.get("request_status").is_none()));
    let mut all: Vec<String> = ids.iter().chain(&rest).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60);

    // Exactly at the cap is complete; reset restores the configured 10,000.
    admin_ok(&env, "/query_result_limit", json!({"max_results": 60})).await;
    let r = env.query(json!({})).await;
    assert_eq!(r.json["results"].as_array().map(Vec::len), Some(60));
    assert!(r.json.get("request_status").is_none(), "{}", r.text);
    assert_eq!(env.admin(Method::POST, "/query_result_limit", Some(json!({"max_results": 0}))).await.status, 400);
    env.admin(Method::POST, "/reset", None).await;
    let limit = env.admin(Method::GET, "/query_result_limit", None).await;
    assert_eq!(limit.json["max_results"], 10_000);
}

#[tokio::test]
async fn query_result_cap_from_config_and_handle() {
    let cfg = EmulatorConfig { query_result_limit: 3, ..EmulatorConfig::default().without_rate_limit() };
    let env = Env::with(cfg).await;
    admin_pages(&env, 5, "p").await;
    let (ids, pages) = query_pages(&env, json!({"page_size": 2})).await;
    assert_eq!(ids.len(), 3);
    assert_eq!(pages.len(), 2);
    assert!(pages.iter().all(|p| p["request_status"]["type"] == "incomplete"));
    env.emu.handle().set_query_result_limit(10);
    let (ids, pages) = query_pages(&env, json!({"page_size": 2})).await;
    assert_eq!(ids.len(), 5);
    assert!(pages.iter().all(|p| p.get("request_status").is_none()));
}

// ----- rate limits ---------------------------------------------------------------------------

#[tokio::test]
async fn documented_connection_budget_is_spent_in_a_burst_then_waits_for_the_window() {
    let env = Env::new().await;
    let body = json!({"mode": "documented", "requests_per_window": 3, "window_seconds": 2});
    let state = admin_ok(&env, "/rate_limit", body).await;
    assert_eq!(state["mode"], "documented");
    assert_eq!(state["remaining_in_window"], 3);
    let path = format!("/v1/databases/{}", env.db());
    for _ in 0..3 {
        assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    }
    let r = env.api(Method::GET, &path, None).await;
    let wait = assert_rate_limited(&r, "public_api_request_rate_limit");
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    for _ in 0..3 {
        assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    }
    let counters = env.admin(Method::GET, "/counters", None).await;
    assert_eq!(counters.json["rate_limited"], 1);
}

#[tokio::test]
async fn workspace_limit_answers_a_retry_after_longer_than_a_minute() {
    let env = Env::new().await;
    let path = format!("/v1/databases/{}", env.db());
    // A workspace budget smaller than the connection's.
    let body = json!({"mode": "documented", "workspace_requests_per_window": 2, "workspace_window_seconds": 300});
    admin_ok(&env, "/rate_limit", body).await;
    for _ in 0..2 {
        assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    }
    let r = env.api(Method::GET, &path, None).await;
    let wait = assert_rate_limited(&r, "public_api_space_request_rate_limit");
    assert!((61..=300).contains(&wait), "Retry-After {wait}");

    // Other connections used the workspace's budget up: 429 at once, for 90 seconds.
    admin_ok(&env, "/rate_limit", json!({"mode": "documented"})).await;
    let state = admin_ok(&env, "/rate_limit", json!({"workspace_exhausted_seconds": 90})).await;
    assert!(state["workspace_exhausted_for_seconds"].as_u64() >= Some(89));
    let r = env.api(Method::GET, &path, None).await;
    let wait = assert_rate_limited(&r, "public_api_space_request_rate_limit");
    assert!((89..=90).contains(&wait), "Retry-After {wait}");
    admin_ok(&env, "/rate_limit", json!({"workspace_exhausted_seconds": 0})).await;
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);

    // A restricted connection: retrying won't help, so no Retry-After.
    admin_ok(&env, "/rate_limit", json!({"blocked": true})).await;
    let r = env.api(Method::GET, &path, None).await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    assert_eq!(r.json["additional_data"]["rate_limit_reason"], "public_api_request_blocked");
    assert_eq!(retry_after(&r), None);
    assert_shape("error", &r.json);

    // The simulations need the documented model; off is off.
    admin_ok(&env, "/rate_limit", json!({"per_second": 100})).await;
    let r = env.admin(Method::POST, "/rate_limit", Some(json!({"blocked": true}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = env.admin(Method::POST, "/rate_limit", Some(json!({"mode": "leaky"}))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    admin_ok(&env, "/rate_limit", json!({"enabled": false})).await;
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
}

#[tokio::test]
async fn documented_model_from_config_and_handle() {
    let cfg = EmulatorConfig {
        documented_rate_limit: Some(notion_emulator::DocumentedRateLimit {
            requests_per_window: 1,
            ..Default::default()
        }),
        ..EmulatorConfig::default()
    };
    let env = Env::with(cfg).await;
    let path = format!("/v1/databases/{}", env.db());
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    let r = env.api(Method::GET, &path, None).await;
    let wait = assert_rate_limited(&r, "public_api_request_rate_limit");
    assert!((59..=60).contains(&wait), "Retry-After {wait}");
    let state = env.admin(Method::GET, "/rate_limit", None).await;
    assert_eq!(state.json["requests_per_window"], 1);
    assert_eq!(state.json["window_seconds"], 60);

    env.emu.handle().set_documented_rate_limit(notion_emulator::DocumentedRateLimit::default());
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    assert!(env.emu.handle().exhaust_workspace(120));
    let r = env.api(Method::GET, &path, None).await;
    let wait = assert_rate_limited(&r, "public_api_space_request_rate_limit");
    assert!(wait > 60, "Retry-After {wait}");
    env.emu.handle().set_rate_limit(None);
    assert!(!env.emu.handle().exhaust_workspace(120));
}

#[tokio::test]
async fn token_bucket_429_and_529_carry_additional_data() {
    let cfg = EmulatorConfig { rate_limit: Some((0.5, 1)), ..EmulatorConfig::default() };
    let env = Env::with(cfg).await;
    let path = format!("/v1/databases/{}", env.db());
    let state = env.admin(Method::GET, "/rate_limit", None).await;
    assert_eq!(state.json["mode"], "token_bucket");
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    let r = env.api(Method::GET, &path, None).await;
    assert_rate_limited(&r, "public_api_request_rate_limit");

    env.emu.handle().set_rate_limit(None);
    let r = env.admin(Method::POST, "/faults", Some(json!({"kind": "status", "status": 529, "retry_after": 3}))).await;
    assert_eq!(r.status, 200);
    let r = env.api(Method::GET, &path, None).await;
    assert_eq!((r.status, r.code()), (529, "service_overload"));
    assert_eq!(retry_after(&r), Some(3));
    assert_eq!(r.json["additional_data"], json!({"retry_after": "3"}));
    assert_shape("error", &r.json);
}

// ----- versions ------------------------------------------------------------------------------

const V2025: &str = "2025-09-03";
const V2026: &str = "2026-03-11";
const V2026_12: &str = "2026-12-01";

#[tokio::test]
async fn versions_2025_09_03_and_2026_03_11_differ_only_in_archived() {
    let env = Env::new().await;
    let page = id_of(&env.create_decision("versions").await);
    let page_path = format!("/v1/pages/{page}");
    let paths = [page_path.clone(), format!("/v1/databases/{}", env.db()), format!("/v1/data_sources/{}", env.ds())];
    for path in &paths {
        let old = env.api_v(V2025, Method::GET, path, None).await;
        assert_eq!(old.status, 200, "{}", old.text);
        assert_eq!(old.json["archived"], false, "{path} under {V2025}");
        let new = env.api_v(V2026, Method::GET, path, None).await;
        assert_eq!(new.status, 200, "{}", new.text);
        assert!(new.json.get("archived").is_none(), "{path}: {}", new.text);
        assert_eq!(new.json["in_trash"], false, "{path}");
    }
    let query = format!("/v1/data_sources/{}/query", env.ds());
    let r = env.api_v(V2026, Method::POST, &query, Some(json!({}))).await;
    assert_eq!(r.status, 200);
    assert!(r.json["results"][0].get("archived").is_none(), "{}", r.text);
    assert_eq!(r.json["results"][0]["in_trash"], false);
    let r = env.api_v(V2026, Method::POST, &query, Some(json!({"archived": false}))).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(r.message(), "body failed validation: body.archived should be not present, instead was `false`.");

    // Trash: `archived` is refused from 2026-03-11 on, `in_trash` works on both.
    let r = env.api_v(V2026, Method::PATCH, &page_path, Some(json!({"archived": true}))).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"), "{}", r.text);
    assert_eq!(r.message(), "body failed validation: body.archived should be not present, instead was `true`.");
    let r = env.api_v(V2026, Method::PATCH, &page_path, Some(json!({"in_trash": true}))).await;
    assert_eq!((r.status, r.json["in_trash"].clone()), (200, json!(true)));
    assert!(r.json.get("archived").is_none());
    let r = env.api_v(V2025, Method::PATCH, &page_path, Some(json!({"archived": false}))).await;
    assert_eq!((r.status, r.json["archived"].clone()), (200, json!(false)));
}

#[tokio::test]
async fn other_versions_get_the_documented_400() {
    let env = Env::new().await;
    let path = format!("/v1/databases/{}", env.db());
    for v in [V2026_12, "2022-06-28", "2026-03-12"] {
        let r = env.api_v(v, Method::GET, &path, None).await;
        assert_eq!((r.status, r.code()), (400, "validation_error"), "{v}");
        assert_eq!(
            r.message(),
            format!("Notion-Version header failed validation: Notion-Version header should be \"2025-09-03\" or \"2026-03-11\", instead was `\"{v}\"`.")
        );
        assert_shape("error", &r.json);
    }
    let versions = env.admin(Method::GET, "/versions", None).await;
    assert_eq!(versions.json["accepted"], json!([V2025, V2026]));
    assert_eq!(versions.json["modelled"], json!([V2025, V2026, V2026_12]));
    // Accept only the newest: 2025-09-03 is refused then.
    admin_ok(&env, "/versions", json!({"accepted": [V2026]})).await;
    let r = env.api_v(V2025, Method::GET, &path, None).await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("should be \"2026-03-11\", instead"), "{}", r.message());
    for bad in [json!({"accepted": []}), json!({"accepted": ["2022-06-28"]}), json!({})] {
        assert_eq!(env.admin(Method::POST, "/versions", Some(bad)).await.status, 400);
    }
    env.emu.handle().set_notion_versions(&[ApiVersion::V2025_09_03]).expect("set");
    assert_eq!(env.api_v(V2026, Method::GET, &path, None).await.status, 400);
    let config = env.admin(Method::GET, "/config", None).await;
    assert_eq!(config.json["notion_versions"], json!([V2025]));
}

#[tokio::test]
async fn version_2026_12_01_lists_only_the_title_unless_filter_properties() {
    let cfg = EmulatorConfig {
        notion_versions: vec![V2025.into(), V2026.into(), V2026_12.into()],
        ..EmulatorConfig::default().without_rate_limit()
    };
    let env = Env::with(cfg).await;
    let page = id_of(&env.create_decision("wide").await);
    let query = format!("/v1/data_sources/{}/query", env.ds());
    let keys = |r: &crate::common::Reply| -> Vec<String> {
        let mut k: Vec<String> =
            r.json["results"][0]["properties"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        k.sort();
        k
    };
    let r = env.api_v(V2026_12, Method::POST, &query, Some(json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(keys(&r), ["Decision"]);
    assert!(r.json["results"][0].get("archived").is_none());
    let r = env
        .api_v(
            V2026_12,
            Method::POST,
            &format!("{query}?filter_properties[]=title&filter_properties[]=Checksum"),
            Some(json!({})),
        )
        .await;
    assert_eq!(keys(&r), ["Checksum", "Decision"]);
    let r = env.api_v(V2026, Method::POST, &query, Some(json!({}))).await;
    assert_eq!(keys(&r).len(), 5);
    // Retrieving one page still returns every property.
    let r = env.api_v(V2026_12, Method::GET, &format!("/v1/pages/{page}"), None).await;
    assert_eq!(r.json["properties"].as_object().map(|o| o.len()), Some(5));
}

// ----- in_trash in a query body --------------------------------------------------------------

#[tokio::test]
async fn in_trash_in_a_query_has_three_readings() {
    let env = Env::new().await;
    let live = id_of(&env.create_decision("live").await);
    let gone = id_of(&env.create_decision("gone").await);
    let r = env.admin(Method::POST, &format!("/pages/{gone}/trash"), None).await;
    assert_eq!(r.status, 200);
    let reading = env.admin(Method::GET, "/in_trash_reading", None).await;
    assert_eq!(reading.json, json!({"reading": "only_trashed"}));
    assert_eq!(env.query_all_ids(json!({"in_trash": true})).await, vec![gone.clone()]);

    admin_ok(&env, "/in_trash_reading", json!({"reading": "ignored"})).await;
    assert_eq!(env.query_all_ids(json!({"in_trash": true})).await, vec![live.clone()]);
    assert_eq!(env.query_all_ids(json!({"archived": true})).await, vec![live.clone()]);
    assert_eq!(env.query_all_ids(json!({})).await, vec![live.clone()]);

    admin_ok(&env, "/in_trash_reading", json!({"reading": "rejected"})).await;
    for (key, value) in [("in_trash", true), ("in_trash", false), ("archived", true)] {
        let r = env.query(json!({ key: value })).await;
        assert_eq!((r.status, r.code()), (400, "validation_error"), "{key}");
        assert_eq!(
            r.message(),
            format!("body failed validation: body.{key} should be not present, instead was `{value}`.")
        );
    }
    assert_eq!(env.query_all_ids(json!({})).await, vec![live.clone()]);
    let r = env.admin(Method::POST, "/in_trash_reading", Some(json!({"reading": "maybe"}))).await;
    assert_eq!(r.status, 400);

    env.admin(Method::POST, "/reset", None).await;
    let reading = env.admin(Method::GET, "/in_trash_reading", None).await;
    assert_eq!(reading.json["reading"], "only_trashed");
}

#[tokio::test]
async fn in_trash_reading_from_config_and_handle() {
    let cfg =
        EmulatorConfig { in_trash_reading: InTrashReading::Ignored, ..EmulatorConfig::default().without_rate_limit() };
    let env = Env::with(cfg).await;
    let live = id_of(&env.create_decision("live").await);
    let gone = id_of(&env.create_decision("gone").await);
    env.admin(Method::POST, &format!("/pages/{gone}/trash"), None).await;
    assert_eq!(env.query_all_ids(json!({"in_trash": true})).await, [live]);
    env.emu.handle().set_in_trash_reading(InTrashReading::OnlyTrashed);
    assert_eq!(env.query_all_ids(json!({"in_trash": true})).await, [gone]);
    env.emu.handle().set_in_trash_reading(InTrashReading::Rejected);
    assert_eq!(env.query(json!({"in_trash": true})).await.status, 400);
}

#[tokio::test]
async fn filter_properties_on_queries_by_name_or_id() {
    let env = Env::new().await;
    env.create_decision("narrow").await;
    let ds = env.ds();
    let schema = env.api(Method::GET, &format!("/v1/data_sources/{ds}"), None).await;
    let checksum_id = schema.json["properties"]["Checksum"]["id"].as_str().expect("property id").to_string();
    let r = env
        .api(
            Method::POST,
            &format!("/v1/data_sources/{ds}/query?filter_properties[]=Synced&filter_properties[]={checksum_id}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut keys: Vec<&String> = r.json["results"][0]["properties"].as_object().expect("properties").keys().collect();
    keys.sort();
    assert_eq!(keys, ["Checksum", "Synced"]);
}
