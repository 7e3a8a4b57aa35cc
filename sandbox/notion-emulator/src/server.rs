//! HTTP: the `/v1` API (auth, version, rate limit, faults, counters) and `/__admin`.

use crate::config::{DatabaseSpec, EmulatorConfig, InTrashReading};
use crate::dates::fmt_exact;
use crate::error::ApiError;
use crate::faults::{status_error, Fault, FaultKind};
use crate::ids;
use crate::query::{self, CursorState};
use crate::ratelimit::{retry_after_secs, Limiter, TokenBucket};
use crate::richtext::js_len;
use crate::store::{Actor, Kind, Store};
use crate::switches;
use crate::version::{self, ApiVersion};
use crate::webhook::{self, Hub};
use crate::window_limit::DocumentedLimiter;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Body keys accepted by `POST /v1/pages`.
pub const CREATE_PAGE_BODY_KEYS: &[&str] = &["parent", "properties", "icon", "cover", "children"];
/// Body keys accepted by `PATCH /v1/pages/{page_id}`.
pub const UPDATE_PAGE_BODY_KEYS: &[&str] = &["properties", "in_trash", "archived", "icon", "cover"];

/// Route templates of the API, as used by the counters and by fault targeting.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/databases/{database_id}"),
    ("GET", "/v1/data_sources/{data_source_id}"),
    ("POST", "/v1/data_sources/{data_source_id}/query"),
    ("POST", "/v1/pages"),
    ("GET", "/v1/pages/{page_id}"),
    ("PATCH", "/v1/pages/{page_id}"),
];

#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub total: u64,
    pub rate_limited: u64,
    pub faults_injected: u64,
    pub by_route: BTreeMap<String, u64>,
    pub by_status: BTreeMap<u16, u64>,
}

impl Counters {
    pub fn to_json(&self) -> Value {
        json!({
            "total": self.total,
            "rate_limited": self.rate_limited,
            "faults_injected": self.faults_injected,
            "by_route": self.by_route,
            "by_status": self.by_status.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<Map<_, _>>(),
        })
    }
}

pub struct Inner {
    pub config: EmulatorConfig,
    pub store: Store,
    pub cursors: HashMap<String, CursorState>,
    pub counters: Counters,
    pub faults: VecDeque<Fault>,
    pub limiter: Option<Limiter>,
    /// Results one query may return across its pages (Notion: 10,000).
    pub query_result_limit: usize,
    /// `Notion-Version`s the API accepts.
    pub versions: Vec<ApiVersion>,
    /// What `in_trash` in a query body does.
    pub in_trash_reading: InTrashReading,
    /// The webhook subscription and its delivery thread (kept across [`Inner::reset`]).
    pub webhooks: Hub,
}

impl Inner {
    pub fn new(config: EmulatorConfig) -> Result<Inner, String> {
        let store = Store::new(&config)?;
        let limiter = match (&config.documented_rate_limit, config.rate_limit) {
            (Some(d), _) => Some(Limiter::Documented(DocumentedLimiter::new(d.clone()))),
            (None, Some((r, b))) => Some(Limiter::Bucket(TokenBucket::new(r, b))),
            (None, None) => None,
        };
        if config.query_result_limit == 0 {
            return Err("query_result_limit must be at least 1".into());
        }
        let webhooks = Hub::new(&store.bot_user_id, &store.human_user_id);
        Ok(Inner {
            webhooks,
            query_result_limit: config.query_result_limit,
            versions: version::parse_list(&config.notion_versions)?,
            in_trash_reading: config.in_trash_reading,
            config,
            store,
            cursors: HashMap::new(),
            counters: Counters::default(),
            faults: VecDeque::new(),
            limiter,
        })
    }

    /// Back to the configured start: pages, extra databases, counters, faults, clock and
    /// rate limit all reset. The webhook subscription stays; its queued events and stats go.
    pub fn reset(&mut self) -> Result<(), String> {
        let webhooks = self.webhooks.clone();
        *self = Inner::new(self.config.clone())?;
        webhooks.reset();
        self.webhooks = webhooks;
        Ok(())
    }
}

#[derive(Clone)]
pub struct App {
    pub inner: Arc<Mutex<Inner>>,
    pub shutdown: watch::Receiver<bool>,
}

impl App {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The request id and the request's `Notion-Version`.
#[derive(Clone)]
struct ReqId(String, ApiVersion);

pub fn router(app: App) -> Router {
    let api = Router::new()
        .route("/v1/databases/{database_id}", get(get_database))
        .route("/v1/data_sources/{data_source_id}", get(get_data_source))
        .route("/v1/data_sources/{data_source_id}/query", post(query_data_source))
        .route("/v1/pages", post(create_page))
        .route("/v1/pages/{page_id}", get(get_page).patch(update_page));
    let admin = Router::new()
        .route("/__admin/health", get(admin_health))
        .route("/__admin/config", get(admin_config))
        .route("/__admin/reset", post(admin_reset))
        .route("/__admin/counters", get(admin_counters).delete(admin_reset_counters))
        .route("/__admin/pages", get(admin_list_pages).post(admin_create_page))
        .route("/__admin/pages/{page_id}", get(admin_get_page).patch(admin_update_page).delete(admin_delete_page))
        .route("/__admin/pages/{page_id}/trash", post(admin_trash_page))
        .route("/__admin/pages/{page_id}/restore", post(admin_restore_page))
        .route("/__admin/faults", get(admin_list_faults).post(admin_add_faults).delete(admin_clear_faults))
        .route("/__admin/clock", get(admin_get_clock).post(admin_set_clock))
        .route("/__admin/rate_limit", get(switches::admin_get_rate_limit).post(switches::admin_set_rate_limit))
        .route(
            "/__admin/query_result_limit",
            get(switches::admin_get_query_limit).post(switches::admin_set_query_limit),
        )
        .route("/__admin/versions", get(switches::admin_get_versions).post(switches::admin_set_versions))
        .route(
            "/__admin/in_trash_reading",
            get(switches::admin_get_in_trash_reading).post(switches::admin_set_in_trash_reading),
        )
        .route("/__admin/databases", post(admin_add_database))
        .route(
            "/__admin/webhooks",
            get(webhook::admin::get_webhooks)
                .post(webhook::admin::create_webhook)
                .patch(webhook::admin::update_webhook)
                .delete(webhook::admin::delete_webhook),
        )
        .route("/__admin/webhooks/stats", get(webhook::admin::get_stats).delete(webhook::admin::reset_stats))
        .route("/__admin/webhooks/flush", post(webhook::admin::flush))
        .route("/__admin/webhooks/events", post(webhook::admin::emit_event));
    admin.merge(api).fallback(fallback).layer(middleware::from_fn_with_state(app.clone(), api_layer)).with_state(app)
}

// ----- responses ---------------------------------------------------------------------------

fn json_response(status: u16, body: &Value, request_id: Option<&str>, retry_after: Option<u64>) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        h.insert("x-notion-request-id", id);
    }
    if let Some(s) = retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

fn error_response(e: &ApiError, request_id: &str) -> Response {
    json_response(e.status, &e.to_json(request_id), Some(request_id), e.retry_after)
}

fn reply(result: Result<Value, ApiError>, rid: &ReqId) -> Response {
    let request_id = rid.0.as_str();
    match result {
        Ok(mut v) => {
            version::adapt_response(rid.1, &mut v);
            if let Some(o) = v.as_object_mut() {
                o.insert("request_id".into(), json!(request_id));
            }
            json_response(200, &v, Some(request_id), None)
        }
        Err(e) => error_response(&e, request_id),
    }
}

fn fault_response(status: u16, retry_after: Option<u64>, request_id: &str) -> Response {
    if status == 502 {
        // Notion's 502s come from the edge, not the API: an HTML page, not a JSON error.
        let mut resp = Response::new(Body::from(
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
        ));
        *resp.status_mut() = StatusCode::BAD_GATEWAY;
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        if let Some(s) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        return resp;
    }
    let (code, message) = status_error(status);
    let e = ApiError { status, code, message: message.to_string(), retry_after, rate_limit_reason: None };
    error_response(&e, request_id)
}

// ----- the API layer -----------------------------------------------------------------------

/// `"GET /v1/pages/{page_id}"` for a request, or `"GET (unmatched)"`.
pub fn route_key(method: &Method, path: &str) -> String {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let template = match segs.as_slice() {
        ["v1", "databases", _] => Some("/v1/databases/{database_id}"),
        ["v1", "data_sources", _] => Some("/v1/data_sources/{data_source_id}"),
        ["v1", "data_sources", _, "query"] => Some("/v1/data_sources/{data_source_id}/query"),
        ["v1", "pages"] => Some("/v1/pages"),
        ["v1", "pages", _] => Some("/v1/pages/{page_id}"),
        _ => None,
    };
    let known = template.is_some_and(|t| ROUTES.iter().any(|(m, r)| *m == method.as_str() && *r == t));
    match (template, known) {
        (Some(t), true) => format!("{method} {t}"),
        _ => format!("{method} (unmatched)"),
    }
}

fn check_headers(headers: &HeaderMap, token: &str, accepted: &[ApiVersion]) -> Result<ApiVersion, ApiError> {
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let presented =
        auth.split_once(' ').filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer")).map(|(_, t)| t.trim());
    if presented != Some(token) {
        return Err(ApiError::unauthorized());
    }
    match headers.get("notion-version").map(|v| v.to_str().unwrap_or("")) {
        None => Err(ApiError::missing_version()),
        Some(v) => ApiVersion::parse(v)
            .filter(|parsed| accepted.contains(parsed))
            .ok_or_else(|| version::unsupported(accepted, v)),
    }
}

async fn sleep_or_shutdown(app: &App, d: Duration) {
    let mut rx = app.shutdown.clone();
    tokio::select! {
        _ = tokio::time::sleep(d.min(Duration::from_secs(86_400))) => {}
        _ = rx.wait_for(|stop| *stop) => {}
    }
}

async fn api_layer(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if !(path == "/v1" || path.starts_with("/v1/")) {
        return next.run(req).await;
    }
    let route = route_key(req.method(), &path);
    let request_id = ids::new_uuid();
    let (response, rate_limited, faulted) = api_pipeline(&app, &route, &request_id, &mut req, next).await;
    let mut inner = app.lock();
    let c = &mut inner.counters;
    c.total += 1;
    *c.by_route.entry(route).or_insert(0) += 1;
    *c.by_status.entry(response.status().as_u16()).or_insert(0) += 1;
    if rate_limited {
        c.rate_limited += 1;
    }
    if faulted {
        c.faults_injected += 1;
    }
    response
}

/// Returns (response, was rate limited, a fault was injected).
async fn api_pipeline(
    app: &App,
    route: &str,
    request_id: &str,
    req: &mut Request,
    next: Next,
) -> (Response, bool, bool) {
    // 1. Rate limit (every API request spends a token, as at Notion).
    let (limit, fault, token, versions) = {
        let mut inner = app.lock();
        let limit = inner.limiter.as_mut().map(|b| b.try_take(Instant::now()));
        let fault = match limit {
            Some(Err(_)) => None,
            _ => {
                let pos = inner.faults.iter().position(|f| f.applies_to(route));
                pos.and_then(|p| inner.faults.remove(p))
            }
        };
        (limit, fault, inner.config.token.clone(), inner.versions.clone())
    };
    if let Some(Err(denial)) = limit {
        let e = ApiError::rate_limited(denial.wait.map(retry_after_secs), denial.reason.as_str());
        return (error_response(&e, request_id), true, false);
    }
    // 2. Faults injected before the request is carried out.
    if let Some(f) = &fault {
        if !f.after_commit {
            let resp = match &f.kind {
                FaultKind::Status { status, retry_after } => fault_response(*status, *retry_after, request_id),
                FaultKind::Hang(d) => {
                    sleep_or_shutdown(app, *d).await;
                    fault_response(504, None, request_id)
                }
                FaultKind::MalformedJson => {
                    malformed(200, b"{\"object\":\"list\",\"results\":[{\"object\":\"page\",\"id\":")
                }
            };
            return (resp, false, true);
        }
    }
    // 3. Authorization and Notion-Version.
    let version = match check_headers(req.headers(), &token, &versions) {
        Ok(v) => v,
        Err(e) => return (error_response(&e, request_id), false, false),
    };
    // 4. The request itself.
    req.extensions_mut().insert(ReqId(request_id.to_string(), version));
    let owned = std::mem::replace(req, Request::new(Body::empty()));
    let mut resp = next.run(owned).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        resp = error_response(&ApiError::invalid_url(), request_id);
    }
    // 5. Faults injected after the request was carried out (the response is lost or garbled).
    let Some(f) = fault else {
        return (resp, false, false);
    };
    let resp = match f.kind {
        FaultKind::Status { status, retry_after } => fault_response(status, retry_after, request_id),
        FaultKind::Hang(d) => {
            sleep_or_shutdown(app, d).await;
            resp
        }
        FaultKind::MalformedJson => {
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap_or_default();
            let cut = (bytes.len() / 2).max(1).min(bytes.len());
            malformed(200, &bytes[..cut])
        }
    };
    (resp, false, true)
}

fn malformed(status: u16, body: &[u8]) -> Response {
    let mut resp = Response::new(Body::from(body.to_vec()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp
}

async fn fallback(req: Request) -> Response {
    let rid = req.extensions().get::<ReqId>().map(|r| r.0.clone()).unwrap_or_else(ids::new_uuid);
    if req.uri().path().starts_with("/__admin") {
        return admin_error(404, format!("no admin endpoint {} {}", req.method(), req.uri().path()));
    }
    error_response(&ApiError::invalid_url(), &rid)
}

// ----- API handlers ------------------------------------------------------------------------

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::invalid_json())?;
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(text).map_err(|_| ApiError::invalid_json())
}

fn path_id(raw: &str, name: &str) -> Result<String, ApiError> {
    ids::normalize(raw).ok_or_else(|| {
        ApiError::validation(format!(
            "path failed validation: path.{name} should be a valid uuid, instead was `{}`.",
            crate::error::show(&json!(raw))
        ))
    })
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'+' {
            out.push(b' ');
        } else if b == b'%' && i + 2 < bytes.len() {
            match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b),
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `filter_properties` query parameters (repeated, or `filter_properties[]`), each kept in
/// raw and decoded form.
fn filter_properties(raw: Option<&str>) -> Option<Vec<String>> {
    let raw = raw?;
    let mut out = Vec::new();
    for pair in raw.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = percent_decode(k);
        if k == "filter_properties" || k == "filter_properties[]" {
            let once = percent_decode(v);
            out.push(v.to_string());
            out.push(percent_decode(&once));
            out.push(once);
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

fn no_extra_keys(body: &Value, allowed: &[&str]) -> Result<(), ApiError> {
    let o = body.as_object().ok_or_else(|| ApiError::body("body", "an object", body))?;
    for (k, v) in o {
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::body(&format!("body.{k}"), "not present", v));
        }
    }
    Ok(())
}

async fn get_database(State(app): State<App>, Extension(rid): Extension<ReqId>, Path(id): Path<String>) -> Response {
    let result = (|| {
        let id = path_id(&id, "database_id")?;
        let inner = app.lock();
        let db = inner.store.database(&id).ok_or_else(|| ApiError::not_found("database", &id))?;
        Ok(inner.store.render_database(db))
    })();
    reply(result, &rid)
}

async fn get_data_source(State(app): State<App>, Extension(rid): Extension<ReqId>, Path(id): Path<String>) -> Response {
    let result = (|| {
        let id = path_id(&id, "data_source_id")?;
        let inner = app.lock();
        let ds = inner.store.data_sources.get(&id).ok_or_else(|| ApiError::not_found("data_source", &id))?;
        Ok(inner.store.render_data_source(ds))
    })();
    reply(result, &rid)
}

async fn query_data_source(
    State(app): State<App>,
    Extension(rid): Extension<ReqId>,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
    body: Bytes,
) -> Response {
    let result = (|| {
        let id = path_id(&id, "data_source_id")?;
        let body = parse_body(&body)?;
        let mut guard = app.lock();
        let inner = &mut *guard;
        let ds = inner.store.data_sources.get(&id).ok_or_else(|| ApiError::not_found("data_source", &id))?;
        version::check_body(rid.1, &body)?;
        let q = query::parse_query(&body, ds, inner.in_trash_reading)?;
        let batch = query::run(&inner.store, &mut inner.cursors, &id, &q, inner.query_result_limit)?;
        // 2026-12-01: "return only the title in each page's properties unless you pass
        // filter_properties" (the title property's id is always "title").
        let only = filter_properties(raw_query.as_deref())
            .or_else(|| rid.1.title_only_lists().then(|| vec!["title".to_string()]));
        let results: Vec<Value> = batch
            .page_ids
            .iter()
            .filter_map(|pid| inner.store.pages.get(pid))
            .map(|p| inner.store.render_page(p, only.as_deref()))
            .collect();
        let mut list = json!({
            "object": "list",
            "results": results,
            "next_cursor": batch.next_cursor,
            "has_more": batch.next_cursor.is_some(),
            "type": "page_or_data_source",
            "page_or_data_source": {},
        });
        if batch.incomplete {
            list["request_status"] = json!({"type": "incomplete", "incomplete_reason": "query_result_limit_reached"});
        }
        Ok(list)
    })();
    reply(result, &rid)
}

/// Resolves a page parent to a data source id.
fn resolve_parent(store: &Store, parent: Option<&Value>) -> Result<String, ApiError> {
    let parent = parent.ok_or_else(|| ApiError::body_missing("body.parent"))?;
    let o = parent.as_object().ok_or_else(|| ApiError::body("body.parent", "an object", parent))?;
    let ty = match o.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => return Err(ApiError::body("body.parent.type", "a string", other)),
        None => ["data_source_id", "database_id", "page_id", "workspace"]
            .iter()
            .find(|k| o.contains_key(**k))
            .map(|k| k.to_string())
            .ok_or_else(|| ApiError::body_missing("body.parent.data_source_id"))?,
    };
    let id_at = |key: &str| -> Result<String, ApiError> {
        let path = format!("body.parent.{key}");
        let v = o.get(key).ok_or_else(|| ApiError::body_missing(&path))?;
        let s = v.as_str().ok_or_else(|| ApiError::body(&path, "a string", v))?;
        ids::normalize(s).ok_or_else(|| ApiError::body(&path, "a valid uuid", v))
    };
    match ty.as_str() {
        "data_source_id" => {
            let id = id_at("data_source_id")?;
            if store.data_sources.contains_key(&id) {
                Ok(id)
            } else {
                Err(ApiError::not_found("data_source", &id))
            }
        }
        "database_id" => {
            let id = id_at("database_id")?;
            let db = store.database(&id).ok_or_else(|| ApiError::not_found("database", &id))?;
            match db.data_source_ids.as_slice() {
                [only] => Ok(only.clone()),
                many => Err(ApiError::validation(format!(
                    "Database {id} has {} data sources ({}). Use a parent of type data_source_id to choose one.",
                    many.len(),
                    many.join(", ")
                ))),
            }
        }
        "page_id" | "workspace" => Err(ApiError::validation(format!(
            "body failed validation: body.parent.type `{ty}` is valid at Notion, but the Notion emulator only models pages in data sources (parent type data_source_id or database_id)."
        ))),
        other => Err(ApiError::body(
            "body.parent.type",
            "`\"data_source_id\"`, `\"database_id\"`, `\"page_id\"` or `\"workspace\"`",
            &json!(other),
        )),
    }
}

fn icon_or_cover(body: &Value, key: &str) -> Result<Option<Value>, ApiError> {
    match body.get(key) {
        None => Ok(None),
        Some(v @ (Value::Null | Value::Object(_))) => Ok(Some(v.clone())),
        Some(other) => Err(ApiError::body(&format!("body.{key}"), "an object or `null`", other)),
    }
}

fn create_page_inner(inner: &mut Inner, body: &Value, actor: Actor) -> Result<Value, ApiError> {
    no_extra_keys(body, CREATE_PAGE_BODY_KEYS)?;
    let ds_id = resolve_parent(&inner.store, body.get("parent"))?;
    let properties = body.get("properties").ok_or_else(|| ApiError::body_missing("body.properties"))?;
    if let Some(c) = body.get("children") {
        if !c.is_array() {
            return Err(ApiError::body("body.children", "an array", c));
        }
    }
    let icon = icon_or_cover(body, "icon")?.unwrap_or(Value::Null);
    let cover = icon_or_cover(body, "cover")?.unwrap_or(Value::Null);
    let id = inner.store.create_page(&ds_id, properties, icon, cover, actor)?;
    if let Some(change) = webhook::detect::page_created(&inner.store, &id, actor) {
        inner.webhooks.emit(change);
    }
    let page = inner.store.pages.get(&id).ok_or_else(|| ApiError::not_found("page", &id))?;
    Ok(inner.store.render_page(page, None))
}

async fn create_page(State(app): State<App>, Extension(rid): Extension<ReqId>, body: Bytes) -> Response {
    let result = (|| {
        let body = parse_body(&body)?;
        let mut inner = app.lock();
        create_page_inner(&mut inner, &body, Actor::Bot)
    })();
    reply(result, &rid)
}

fn trash_flag(body: &Value) -> Result<Option<bool>, ApiError> {
    let get = |k: &str| -> Result<Option<bool>, ApiError> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(ApiError::body(&format!("body.{k}"), "a boolean", v)),
        }
    };
    match (get("in_trash")?, get("archived")?) {
        (Some(a), Some(b)) if a != b => Err(ApiError::validation(
            "body failed validation: body.in_trash and body.archived must agree when both are given.",
        )),
        (Some(a), _) | (None, Some(a)) => Ok(Some(a)),
        (None, None) => Ok(None),
    }
}

fn update_page_inner(inner: &mut Inner, page_id: &str, body: &Value, actor: Actor) -> Result<Value, ApiError> {
    let in_trash = trash_flag(body)?;
    let icon = icon_or_cover(body, "icon")?;
    let cover = icon_or_cover(body, "cover")?;
    let properties = match body.get("properties") {
        None | Some(Value::Null) => Value::Null,
        Some(p) => p.clone(),
    };
    let before = inner.store.pages.get(page_id).cloned();
    inner.store.update_page(page_id, &properties, in_trash, icon, cover, actor)?;
    for change in before.iter().flat_map(|b| webhook::detect::page_updated(&inner.store, b, actor)) {
        inner.webhooks.emit(change);
    }
    let page = inner.store.pages.get(page_id).ok_or_else(|| ApiError::not_found("page", page_id))?;
    Ok(inner.store.render_page(page, None))
}

async fn update_page(
    State(app): State<App>,
    Extension(rid): Extension<ReqId>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let result = (|| {
        let id = path_id(&id, "page_id")?;
        let body = parse_body(&body)?;
        version::check_body(rid.1, &body)?;
        no_extra_keys(&body, UPDATE_PAGE_BODY_KEYS)?;
        let mut inner = app.lock();
        update_page_inner(&mut inner, &id, &body, Actor::Bot)
    })();
    reply(result, &rid)
}

async fn get_page(
    State(app): State<App>,
    Extension(rid): Extension<ReqId>,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let result = (|| {
        let id = path_id(&id, "page_id")?;
        let inner = app.lock();
        let page = inner.store.pages.get(&id).ok_or_else(|| ApiError::not_found("page", &id))?;
        let only = filter_properties(raw_query.as_deref());
        Ok(inner.store.render_page(page, only.as_deref()))
    })();
    reply(result, &rid)
}

// ----- admin -------------------------------------------------------------------------------

pub(crate) fn admin_ok(v: Value) -> Response {
    json_response(200, &v, None, None)
}

pub(crate) fn admin_error(status: u16, message: impl Into<String>) -> Response {
    json_response(
        status,
        &json!({"object": "error", "status": status, "code": "admin_error", "message": message.into()}),
        None,
        None,
    )
}

fn admin_api_error(e: &ApiError) -> Response {
    json_response(e.status, &e.to_json("admin"), None, None)
}

pub(crate) fn admin_body(body: &Bytes) -> Result<Value, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(text).map_err(|e| format!("body is not valid JSON: {e}"))
}

async fn admin_health(State(app): State<App>) -> Response {
    let inner = app.lock();
    admin_ok(json!({
        "ok": true,
        "notion_version": crate::config::NOTION_VERSION,
        "notion_versions": switches::versions_json(&inner)["accepted"],
    }))
}

async fn admin_config(State(app): State<App>) -> Response {
    let inner = app.lock();
    admin_ok(json!({
        "token": inner.config.token,
        "database_id": inner.config.database_id,
        "data_source_id": inner.config.data_source_id,
        "bot_user_id": inner.store.bot_user_id,
        "human_user_id": inner.store.human_user_id,
        "notion_version": crate::config::NOTION_VERSION,
        "notion_versions": switches::versions_json(&inner)["accepted"],
        "query_result_limit": inner.query_result_limit,
        "in_trash_reading": inner.in_trash_reading.name(),
    }))
}

async fn admin_reset(State(app): State<App>) -> Response {
    let mut inner = app.lock();
    match inner.reset() {
        Ok(()) => admin_ok(json!({"reset": true})),
        Err(e) => admin_error(500, e),
    }
}

async fn admin_counters(State(app): State<App>) -> Response {
    admin_ok(app.lock().counters.to_json())
}

async fn admin_reset_counters(State(app): State<App>) -> Response {
    app.lock().counters = Counters::default();
    admin_ok(json!({"reset": true}))
}

/// A page as the admin listing shows it: the API object plus exact internal timestamps.
pub fn raw_page(store: &Store, page: &crate::store::Page) -> Value {
    let mut v = store.render_page(page, None);
    v["_emulator"] = json!({
        "exact_created_time": fmt_exact(page.created),
        "exact_last_edited_time": fmt_exact(page.edited),
        "data_source_id": page.data_source_id,
        "seq": page.seq,
    });
    v
}

pub fn all_pages(store: &Store, ds: Option<&str>) -> Vec<Value> {
    let mut pages: Vec<&crate::store::Page> =
        store.pages.values().filter(|p| ds.is_none_or(|d| p.data_source_id == d)).collect();
    pages.sort_by_key(|p| p.seq);
    pages.into_iter().map(|p| raw_page(store, p)).collect()
}

async fn admin_list_pages(State(app): State<App>, RawQuery(q): RawQuery) -> Response {
    let ds = q.as_deref().and_then(|q| {
        q.split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == "data_source_id")
            .and_then(|(_, v)| ids::normalize(&percent_decode(v)))
    });
    let inner = app.lock();
    let pages = all_pages(&inner.store, ds.as_deref());
    admin_ok(json!({"object": "list", "results": pages}))
}

async fn admin_get_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    let Some(id) = ids::normalize(&id) else {
        return admin_error(400, "page id is not a UUID");
    };
    let inner = app.lock();
    match inner.store.pages.get(&id) {
        Some(p) => admin_ok(raw_page(&inner.store, p)),
        None => admin_error(404, format!("no page {id}")),
    }
}

/// Chunks text into rich text objects of at most 2,000 UTF-16 units (as the Notion editor
/// stores long text), never splitting a character.
fn text_chunks(s: &str) -> Value {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if js_len(&cur) + c.len_utf16() > crate::richtext::MAX_TEXT_CONTENT {
            out.push(json!({"type": "text", "text": {"content": cur}}));
            cur = String::new();
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(json!({"type": "text", "text": {"content": cur}}));
    }
    Value::Array(out)
}

/// Admin convenience: `{"Decision": "text", "Type": "Ops", "Date": "2024-01-02", "Synced": true}`
/// becomes Notion property values; values already in Notion form are left alone.
pub fn coerce_simple(store: &Store, ds_id: &str, props: &Value) -> Value {
    let (Some(ds), Some(obj)) = (store.data_sources.get(ds_id), props.as_object()) else {
        return props.clone();
    };
    let mut out = Map::new();
    for (key, v) in obj {
        let Some(schema) = ds.prop_by_key(key) else {
            out.insert(key.clone(), v.clone());
            continue;
        };
        let t = schema.kind.name();
        if v.as_object().is_some_and(|o| o.contains_key(t) || o.contains_key("type")) {
            out.insert(key.clone(), v.clone());
            continue;
        }
        let names = |v: &Value| -> Value {
            match v {
                Value::String(s) => json!([{"name": s}]),
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|i| match i {
                            Value::String(s) => json!({"name": s}),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                other => other.clone(),
            }
        };
        let value = match (schema.kind, v) {
            (Kind::Title | Kind::RichText, Value::String(s)) => text_chunks(s),
            (Kind::MultiSelect, v) => names(v),
            (Kind::Select, Value::String(s)) => json!({"name": s}),
            (Kind::Date, Value::String(s)) => json!({"start": s}),
            (_, other) => other.clone(),
        };
        out.insert(key.clone(), json!({ t: value }));
    }
    Value::Object(out)
}

async fn admin_create_page(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let mut guard = app.lock();
    let inner = &mut *guard;
    let ds_id = match body.get("data_source_id").and_then(Value::as_str) {
        Some(s) => match ids::normalize(s) {
            Some(id) => id,
            None => return admin_error(400, "data_source_id is not a UUID"),
        },
        None => match ids::normalize(&inner.config.data_source_id) {
            Some(id) => id,
            None => return admin_error(500, "configured data_source_id is not a UUID"),
        },
    };
    let props = coerce_simple(&inner.store, &ds_id, body.get("properties").unwrap_or(&json!({})));
    let api_body = json!({"parent": {"type": "data_source_id", "data_source_id": ds_id}, "properties": props});
    match create_page_inner(inner, &api_body, Actor::Human) {
        Ok(mut page) => {
            if body.get("in_trash") == Some(&Value::Bool(true)) {
                let id = page["id"].as_str().unwrap_or_default().to_string();
                match update_page_inner(inner, &id, &json!({"in_trash": true}), Actor::Human) {
                    Ok(p) => page = p,
                    Err(e) => return admin_api_error(&e),
                }
            }
            admin_ok(page)
        }
        Err(e) => admin_api_error(&e),
    }
}

async fn admin_update_page(State(app): State<App>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let Some(id) = ids::normalize(&id) else {
        return admin_error(400, "page id is not a UUID");
    };
    let mut guard = app.lock();
    let inner = &mut *guard;
    let Some(ds_id) = inner.store.pages.get(&id).map(|p| p.data_source_id.clone()) else {
        return admin_error(404, format!("no page {id}"));
    };
    let mut api_body = json!({});
    if let Some(p) = body.get("properties") {
        api_body["properties"] = coerce_simple(&inner.store, &ds_id, p);
    }
    if let Some(t) = body.get("in_trash") {
        api_body["in_trash"] = t.clone();
    }
    match update_page_inner(inner, &id, &api_body, Actor::Human) {
        Ok(page) => admin_ok(page),
        Err(e) => admin_api_error(&e),
    }
}

fn admin_set_trash(app: &App, id: &str, trash: bool) -> Response {
    let Some(id) = ids::normalize(id) else {
        return admin_error(400, "page id is not a UUID");
    };
    let mut inner = app.lock();
    if !inner.store.pages.contains_key(&id) {
        return admin_error(404, format!("no page {id}"));
    }
    match update_page_inner(&mut inner, &id, &json!({"in_trash": trash}), Actor::Human) {
        Ok(page) => admin_ok(page),
        Err(e) => admin_api_error(&e),
    }
}

/// Permanent deletion (or the integration losing access): the API answers 404 afterwards.
async fn admin_delete_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    let Some(id) = ids::normalize(&id) else {
        return admin_error(400, "page id is not a UUID");
    };
    match app.lock().store.pages.remove(&id) {
        Some(_) => admin_ok(json!({"deleted": id})),
        None => admin_error(404, format!("no page {id}")),
    }
}

async fn admin_trash_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    admin_set_trash(&app, &id, true)
}

async fn admin_restore_page(State(app): State<App>, Path(id): Path<String>) -> Response {
    admin_set_trash(&app, &id, false)
}

async fn admin_list_faults(State(app): State<App>) -> Response {
    let inner = app.lock();
    admin_ok(json!({"pending": inner.faults.iter().map(Fault::to_json).collect::<Vec<_>>()}))
}

async fn admin_add_faults(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let specs: Vec<Value> = match body.get("faults") {
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return admin_error(400, "\"faults\" must be an array"),
        None => vec![body],
    };
    let mut parsed = Vec::new();
    for s in &specs {
        match Fault::from_json(s) {
            Ok(f) => parsed.push(f),
            Err(e) => return admin_error(400, e),
        }
    }
    let mut inner = app.lock();
    for (f, count) in parsed {
        for _ in 0..count {
            inner.faults.push_back(f.clone());
        }
    }
    admin_ok(json!({"pending": inner.faults.iter().map(Fault::to_json).collect::<Vec<_>>()}))
}

async fn admin_clear_faults(State(app): State<App>) -> Response {
    app.lock().faults.clear();
    admin_ok(json!({"pending": []}))
}

fn clock_json(inner: &Inner) -> Value {
    json!({
        "offset_seconds": inner.store.clock_offset_seconds,
        "now": fmt_exact(inner.store.now()),
    })
}

async fn admin_get_clock(State(app): State<App>) -> Response {
    admin_ok(clock_json(&app.lock()))
}

async fn admin_set_clock(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let mut inner = app.lock();
    if let Some(v) = body.get("offset_seconds") {
        match v.as_i64() {
            Some(s) => inner.store.clock_offset_seconds = s,
            None => return admin_error(400, "\"offset_seconds\" must be an integer"),
        }
    }
    if let Some(v) = body.get("advance_seconds") {
        match v.as_i64() {
            Some(s) => inner.store.clock_offset_seconds += s,
            None => return admin_error(400, "\"advance_seconds\" must be an integer"),
        }
    }
    admin_ok(clock_json(&inner))
}

async fn admin_add_database(State(app): State<App>, body: Bytes) -> Response {
    let body = match admin_body(&body) {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let spec = match DatabaseSpec::from_json(&body) {
        Ok(s) => s,
        Err(e) => return admin_error(400, e),
    };
    let mut inner = app.lock();
    match inner.store.add_database(&spec) {
        Ok((db, sources)) => {
            let sources: Vec<Value> = sources
                .iter()
                .filter_map(|id| inner.store.data_sources.get(id))
                .map(|ds| json!({"id": ds.id, "name": ds.name}))
                .collect();
            admin_ok(json!({"database_id": db, "data_sources": sources}))
        }
        Err(e) => admin_error(400, e),
    }
}
