//! Test helpers: an emulator per test plus a small HTTP client.

use notion_emulator::{localhost, spawn, EmulatorConfig, RunningEmulator, NOTION_VERSION};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

pub struct Env {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or("")
    }
}

impl Env {
    /// An emulator with rate limiting off.
    pub async fn new() -> Env {
        Env::with(EmulatorConfig::default().without_rate_limit()).await
    }

    pub async fn with(cfg: EmulatorConfig) -> Env {
        let emu = spawn(cfg, localhost(0)).await.expect("emulator starts");
        let http = reqwest::Client::builder().build().expect("client");
        Env { emu, http }
    }

    pub fn ds(&self) -> String {
        self.emu.data_source_id().to_string()
    }

    pub fn db(&self) -> String {
        self.emu.database_id().to_string()
    }

    /// Sends a raw request: `headers` are (name, value) pairs, `body` is sent verbatim.
    pub async fn raw(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.emu.url(), path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    /// An authorised API call.
    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.api_v(NOTION_VERSION, method, path, body).await
    }

    /// An authorised API call with the given `Notion-Version`.
    pub async fn api_v(&self, version: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {}", self.emu.token());
        let body = body.map(|b| b.to_string());
        self.raw(method, path, &[("authorization", &auth), ("notion-version", version)], body.as_deref()).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string());
        self.raw(method, &format!("/__admin{path}"), &[], body.as_deref()).await
    }

    /// Creates a page through the API (asserting success) from Notion property values.
    pub async fn create(&self, properties: Value) -> Value {
        let r = self
            .api(
                Method::POST,
                "/v1/pages",
                Some(json!({"parent": {"type": "data_source_id", "data_source_id": self.ds()}, "properties": properties})),
            )
            .await;
        assert_eq!(r.status, 200, "create failed: {}", r.text);
        r.json
    }

    /// Creates a decision page with the given title.
    pub async fn create_decision(&self, title: &str) -> Value {
        self.create(decision(title, "Ops", "2024-05-01", "")).await
    }

    pub async fn query(&self, body: Value) -> Reply {
        self.api(Method::POST, &format!("/v1/data_sources/{}/query", self.ds()), Some(body)).await
    }

    /// All page ids a query returns, following cursors.
    pub async fn query_all_ids(&self, mut body: Value) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let r = self.query(body.clone()).await;
            assert_eq!(r.status, 200, "{}", r.text);
            for p in r.json["results"].as_array().expect("results") {
                out.push(p["id"].as_str().expect("id").to_string());
            }
            match r.json["next_cursor"].as_str() {
                Some(c) => body["start_cursor"] = json!(c),
                None => return out,
            }
        }
    }

    pub async fn advance_clock(&self, seconds: i64) {
        let r = self.admin(Method::POST, "/clock", Some(json!({"advance_seconds": seconds}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

pub fn text(s: &str) -> Value {
    json!([{"type": "text", "text": {"content": s}}])
}

/// Notion property values for a decision page.
pub fn decision(title: &str, ty: &str, date: &str, checksum: &str) -> Value {
    json!({
        "Decision": {"title": text(title)},
        "Type": {"multi_select": [{"name": ty}]},
        "Date": {"date": {"start": date}},
        "Checksum": {"rich_text": if checksum.is_empty() { json!([]) } else { text(checksum) }},
        "Synced": {"checkbox": false},
    })
}

pub fn id_of(page: &Value) -> String {
    page["id"].as_str().expect("page id").to_string()
}
