//! Integration webhooks: a tiny HTTP receiver on 127.0.0.1 records what the emulator delivers.

use crate::common::Env;
use decision_sync::webhooks::notion_event::{parse_event, EventKind, UpdatedProperty};
use decision_sync::webhooks::notion_signature::{verification_request, verify};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn signature(&self) -> Option<&str> {
        self.headers.get("x-notion-signature").map(String::as_str)
    }
}

/// Answers each request with the next scripted status (200 once the script is used up).
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn start(script: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/webhooks/notion", listener.local_addr().expect("addr"));
        let receiver = Receiver {
            url,
            got: Arc::new(Mutex::new(Vec::new())),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
        };
        let r = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                r.serve(stream);
            }
        });
        receiver
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream);
        let mut headers = HashMap::new();
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        self.got.lock().expect("lock").push(Received { headers, body });
        let status = self.script.lock().expect("lock").pop_front().unwrap_or(200);
        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = reader.get_mut().write_all(reply.as_bytes());
    }

    fn all(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Event deliveries (everything after the verification request).
    fn events(&self) -> Vec<Value> {
        self.all().iter().filter(|r| r.json().get("type").is_some()).map(Received::json).collect()
    }

    /// Waits until `n` requests arrived (or fails after 10 s).
    fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.all().len() < n {
            assert!(Instant::now() < deadline, "expected {n} deliveries, got {:?}", self.all());
            std::thread::sleep(Duration::from_millis(10));
        }
        self.all()
    }
}

/// Sleeps on the blocking pool (the receiver and the hub use their own threads).
async fn pause(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

async fn wait_for(receiver: &Receiver, n: usize) -> Vec<Received> {
    let r = receiver.clone();
    tokio::task::spawn_blocking(move || r.wait_for(n)).await.expect("join")
}

async fn subscribe(env: &Env, receiver: &Receiver, options: Value) -> Value {
    let mut body = json!({"url": receiver.url, "aggregation_ms": 0, "retry_base_ms": 20});
    for (k, v) in options.as_object().expect("object") {
        body[k] = v.clone();
    }
    let reply = env.admin(Method::POST, "/webhooks", Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json
}

async fn create_page(env: &Env, title: &str) -> String {
    let body = json!({
        "parent": {"data_source_id": env.ds()},
        "properties": {"Decision": {"title": [{"text": {"content": title}}]}}
    });
    let reply = env.api(Method::POST, "/v1/pages", Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["id"].as_str().expect("id").to_string()
}

/// The stats once nothing is pending any more (aggregation windows, queue, attempts in flight).
async fn stats(env: &Env) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = env.admin(Method::GET, "/webhooks/stats", None).await.json;
        if s["pending"] == 0 || Instant::now() > deadline {
            return s;
        }
        pause(10).await;
    }
}

fn hmac_hex(token: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn verification_comes_first_then_signed_events() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    let sub = subscribe(&env, &receiver, json!({})).await;
    let token = sub["subscription"]["verification_token"].as_str().expect("token").to_string();
    assert!(token.starts_with("secret_"), "{token}");
    let page = create_page(&env, "Hello").await;
    let got = wait_for(&receiver, 2).await;

    assert_eq!(got[0].json(), json!({"verification_token": token}));
    assert!(got[0].signature().is_none(), "the verification request is unsigned");
    assert_eq!(verification_request(&got[0].body).map(|v| v.verification_token), Some(token.clone()));

    let event = &got[1];
    let header = event.signature().expect("signed");
    assert_eq!(header, format!("sha256={}", hmac_hex(&token, &event.body)));
    verify(&event.body, Some(header), Some(&token)).expect("the Worker accepts the signature");
    assert!(verify(&event.body, Some(header), Some("secret_other")).is_err());

    let parsed = parse_event(&event.body).expect("the Worker parses the event");
    assert_eq!(parsed.kind, EventKind::PageCreated);
    assert_eq!(parsed.entity.id, page);
    assert_eq!(parsed.attempt_number, Some(1));
    assert_eq!(parsed.api_version.as_deref(), Some("2025-09-03"));
    assert_eq!(parsed.subscription_id.as_deref(), sub["subscription"]["id"].as_str());
    assert!(!parsed.is_elsewhere(&env.db(), &env.ds()));
    let parent = parsed.data.parent.clone().expect("parent");
    assert_eq!((parent.id, parent.kind, parent.data_source_id), (env.db(), "database".into(), Some(env.ds())));
    assert_eq!(parsed.authors.len(), 1);
    assert_eq!(parsed.authors[0].kind, "bot", "the integration's own write names the bot");
    assert_eq!(parsed.authors[0].id, env.emu.handle().bot_user_id());
}

#[tokio::test]
async fn a_fixed_token_signs_and_is_readable() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    subscribe(&env, &receiver, json!({"verification_token": "secret_fixed_for_tests"})).await;
    let got = env.admin(Method::GET, "/webhooks", None).await.json;
    assert_eq!(got["subscription"]["verification_token"], "secret_fixed_for_tests");
    assert_eq!(got["subscription"]["url"], receiver.url);
    create_page(&env, "x").await;
    let all = wait_for(&receiver, 2).await;
    verify(&all[1].body, all[1].signature(), Some("secret_fixed_for_tests")).expect("signed with the fixed token");
}

#[tokio::test]
async fn person_edits_trash_and_restore_produce_their_events() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    subscribe(&env, &receiver, json!({})).await;
    let page = create_page(&env, "Edit me").await;
    let edit = json!({"properties": {"Decision": "Edited", "Synced": true}});
    env.admin(Method::PATCH, &format!("/pages/{page}"), Some(edit)).await;
    env.admin(Method::POST, &format!("/pages/{page}/trash"), None).await;
    env.admin(Method::POST, &format!("/pages/{page}/restore"), None).await;
    wait_for(&receiver, 5).await;
    let events = receiver.events();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["page.created", "page.properties_updated", "page.deleted", "page.undeleted"]);
    assert_eq!(events[1]["authors"], json!([{"id": env.emu.handle().human_user_id(), "type": "person"}]));
    let props: Vec<&str> =
        events[1]["data"]["updated_properties"].as_array().expect("array").iter().filter_map(Value::as_str).collect();
    assert_eq!(props.len(), 2, "{props:?}");
    assert!(props.contains(&"title"), "{props:?}");
    for e in &events {
        parse_event(e.to_string().as_bytes()).expect("the Worker parses every event");
    }
}

#[tokio::test]
async fn edits_within_the_window_become_one_event() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    subscribe(&env, &receiver, json!({"aggregation_ms": 400})).await;
    let page = create_page(&env, "Aggregate").await;
    let path = format!("/v1/pages/{page}");
    let title = json!({"properties": {"Decision": {"title": [{"text": {"content": "v2"}}]}}});
    env.api(Method::PATCH, &path, Some(title)).await;
    env.admin(Method::PATCH, &format!("/pages/{page}"), Some(json!({"properties": {"Synced": true}}))).await;
    env.admin(Method::PATCH, &format!("/pages/{page}"), Some(json!({"properties": {"Date": "2025-01-02"}}))).await;
    wait_for(&receiver, 3).await;
    pause(600).await;
    let events = receiver.events();
    assert_eq!(events.len(), 2, "created + one aggregated update: {events:?}");
    let update = parse_event(events[1].to_string().as_bytes()).expect("parses");
    assert_eq!(update.kind, EventKind::PagePropertiesUpdated);
    assert_eq!(update.data.updated_properties.len(), 3, "the union: {:?}", update.data.updated_properties);
    assert!(update.data.updated_properties.contains(&UpdatedProperty::Id("title".into())));
    let kinds: Vec<&str> = update.authors.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["bot", "person"], "every author of the merged edits");
    assert_eq!(stats(&env).await["aggregated"], 2);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_next_attempt_number() {
    let env = Env::new().await;
    // The verification request gets 200, the first event delivery 500.
    let receiver = Receiver::start(&[200, 500]);
    let sub = subscribe(&env, &receiver, json!({})).await;
    let token = sub["subscription"]["verification_token"].as_str().expect("token").to_string();
    create_page(&env, "Retry").await;
    let got = wait_for(&receiver, 3).await;
    let (first, second) = (got[1].json(), got[2].json());
    assert_eq!((first["attempt_number"].clone(), second["attempt_number"].clone()), (json!(1), json!(2)));
    assert_eq!(first["id"], second["id"], "a retry is the same event");
    verify(&got[2].body, got[2].signature(), Some(&token)).expect("each attempt is signed anew");
    let s = stats(&env).await;
    assert_eq!(
        (s["retried"].clone(), s["attempts_failed"].clone(), s["delivered"].clone()),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(s["pending"], 0);
}

#[tokio::test]
async fn without_retry_a_failure_is_final() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[200, 503]);
    subscribe(&env, &receiver, json!({"retry": false})).await;
    create_page(&env, "No retry").await;
    wait_for(&receiver, 2).await;
    pause(200).await;
    assert_eq!(receiver.all().len(), 2);
    let s = stats(&env).await;
    assert_eq!((s["failed"].clone(), s["retried"].clone()), (json!(1), json!(0)));
}

#[tokio::test]
async fn drop_next_loses_events() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    subscribe(&env, &receiver, json!({"drop_next": 1})).await;
    create_page(&env, "Lost").await;
    let kept = create_page(&env, "Kept").await;
    wait_for(&receiver, 2).await;
    pause(200).await;
    let events = receiver.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["entity"]["id"], kept);
    let s = stats(&env).await;
    assert_eq!((s["dropped"].clone(), s["emitted"].clone()), (json!(1), json!(2)));

    // PATCH sets it again without a new verification request.
    let reply = env.admin(Method::PATCH, "/webhooks", Some(json!({"drop_next": 1}))).await;
    assert_eq!(reply.json["subscription"]["options"]["drop_next"], 1);
    create_page(&env, "Lost too").await;
    pause(200).await;
    assert_eq!(receiver.all().len(), 2);
}

#[tokio::test]
async fn duplicate_sends_each_delivery_twice() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    subscribe(&env, &receiver, json!({"duplicate": true})).await;
    create_page(&env, "Twice").await;
    wait_for(&receiver, 3).await;
    pause(100).await;
    let events = receiver.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0], events[1], "the same event, same attempt number");
    assert_eq!(stats(&env).await["duplicated"], 1);
}

#[tokio::test]
async fn reorder_delivers_every_event_of_a_batch() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    subscribe(&env, &receiver, json!({"aggregation_ms": 300, "reorder": true})).await;
    let mut pages = Vec::new();
    for i in 0..6 {
        let page = create_page(&env, &format!("p{i}")).await;
        env.admin(Method::PATCH, &format!("/pages/{page}"), Some(json!({"properties": {"Synced": true}}))).await;
        pages.push(page);
    }
    wait_for(&receiver, 13).await;
    let updated: Vec<String> = receiver
        .events()
        .iter()
        .filter(|e| e["type"] == "page.properties_updated")
        .filter_map(|e| e["entity"]["id"].as_str().map(str::to_string))
        .collect();
    let mut sorted = updated.clone();
    sorted.sort();
    let mut expected = pages.clone();
    expected.sort();
    assert_eq!(sorted, expected, "each page's update delivered once");
}

#[tokio::test]
async fn schema_events_and_unsubscribing() {
    let env = Env::new().await;
    let receiver = Receiver::start(&[]);
    subscribe(&env, &receiver, json!({})).await;
    let body = json!({"type": "data_source.schema_updated",
                      "updated_properties": [{"id": "abc", "name": "Type", "action": "updated"}]});
    let reply = env.admin(Method::POST, "/webhooks/events", Some(body)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    wait_for(&receiver, 2).await;
    let event = parse_event(receiver.events()[0].to_string().as_bytes()).expect("parses");
    assert_eq!(event.kind, EventKind::DataSourceSchemaUpdated);
    assert_eq!(event.entity.id, env.ds());
    assert_eq!(event.entity.kind, "data_source");
    let bad = env.admin(Method::POST, "/webhooks/events", Some(json!({"type": "page.moved"}))).await;
    assert_eq!(bad.status, 400);

    assert_eq!(env.admin(Method::DELETE, "/webhooks", None).await.json["deleted"], true);
    create_page(&env, "Nobody listens").await;
    pause(200).await;
    assert_eq!(receiver.all().len(), 2);
    assert_eq!(env.admin(Method::GET, "/webhooks", None).await.json["subscription"], Value::Null);
}

#[tokio::test]
async fn bad_subscriptions_are_refused() {
    let env = Env::new().await;
    for body in [json!({"url": "https://example.com/x"}), json!({"url": "http://h", "aggregation_ms": "1"}), json!({})]
    {
        let reply = env.admin(Method::POST, "/webhooks", Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    let reply = env.admin(Method::PATCH, "/webhooks", Some(json!({"drop_next": 1}))).await;
    assert_eq!(reply.status, 400, "no subscription yet");
}
