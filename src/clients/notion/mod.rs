//! The Notion client: [`NotionPort`] over any [`HttpTransport`] (API version `NOTION_VERSION`:
//! `2026-03-11` by default, or `2025-09-03`; see [`version`]).
//!
//! - Data source: `NOTION_DATA_SOURCE_ID` when set, else the id cached from an earlier run
//!   ([`NotionClient::use_cached_data_source_id`]), else discovered with
//!   `GET /v1/databases/{id}`. [`NotionClient::data_source_id`] gives it back to be cached. A
//!   cached id that no longer answers, or whose parent is not `NOTION_DATABASE_ID` (checked by
//!   `check_schema`), is dropped and discovered again.
//! - Every HTTP attempt takes one unit of the run's [`Budget`] before it is sent; request starts
//!   are spaced by `min_interval_ms` (Notion allows an average of 3 requests per second).
//! - 429/529: wait `Retry-After` (fallback 1 s) and retry; 409 `conflict_error`, 5xx, network
//!   errors and timeouts: jittered exponential backoff, `max_retries` retries, then `Transient`.
//!   A page create is retried only when Notion certainly did not process it (429, 529, 409):
//!   after a timeout or a 5xx it may exist, and the engine's create-intent journal finds it.
//! - A 2xx whose body is not JSON: a web page (wrong `NOTION_API_BASE`) is a configuration
//!   error; anything else is a broken answer, retried like a 5xx, then `Transient`.
//! - Reads of pages: once `check_schema` has passed in this run, queries and `GET /v1/pages/{id}`
//!   send `filter_properties` with the ids of the mapped properties (answers then carry only
//!   those; a wide data source's answer shrinks accordingly); before that, every property is
//!   asked for. Query answers are parsed typed straight from the body
//!   ([`request::parse_query_body`]): only the mapped properties are read, the others skipped.
//! - Error answers keep Notion's message ([`NotionApiError`]) and become [`PortError`]s by
//!   status and target (see [`NotionApiError::to_port_error`]).
pub mod config;
pub mod data_source;
pub mod error;
#[cfg(test)]
mod fixtures;
pub mod page_json;
pub mod properties;
pub mod request;
pub mod schema;
pub mod sweep;
#[cfg(test)]
mod tests;
pub mod version;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::clients::http::{HttpRequest, HttpTransport};
use crate::clients::retry::{
    classify_status, parse_retry_after, Failure, GiveUpReason, Pacer, RetryDecision, RetryPolicy, RetryState,
};
use crate::core::budget::Budget;
use crate::core::content::{Content, ContentError};
use crate::core::error::PortError;
use crate::core::model::Page;
use crate::core::ports::{IdBatch, NotionPort, PageBatch, PageQuery, PageWrite};

pub use config::{normalize_notion_id, same_id, NotionConfig, DEFAULT_API_BASE, NOTION_VERSION};
pub use error::{MappingError, NotionApiError, Target, SERVICE};
pub use schema::SchemaCheck;
pub use version::NotionVersion;

/// Where the data source id in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSourceOrigin {
    /// `NOTION_DATA_SOURCE_ID`: used as is, never replaced.
    Configured,
    /// Saved by an earlier run: replaced if it turns out stale.
    Cached,
    /// Found with `GET /v1/databases/{id}` in this run.
    Discovered,
}

/// Why an exchange failed: an error answer not retried (mapped by the caller, which knows the
/// target), or an error already decided (budget, retries exhausted, unreadable body).
#[derive(Debug)]
enum CallError {
    Api(NotionApiError),
    Port(PortError),
}

/// Whether a request may be sent again after a failure that leaves its effect unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    /// Reads and PATCHes: sending twice does no harm.
    Safe,
    /// Page creates: only retried when Notion certainly did not process the request.
    OnlyIfUnprocessed,
}

/// The Notion client. Holds a clone of the run's budget; not `Sync` (one run, one thread).
pub struct NotionClient<T: HttpTransport> {
    config: NotionConfig,
    transport: T,
    budget: Budget,
    policy: RetryPolicy,
    pacer: RefCell<Pacer>,
    clock: Option<Rc<dyn Fn() -> f64>>,
    data_source: RefCell<Option<(String, DataSourceOrigin)>>,
    has_synced: Cell<bool>,
    /// The ids of the mapped properties of a data source whose schema passed the check in this
    /// run: (data source id, property ids), sent as `filter_properties` so that reads of pages
    /// carry only those properties.
    property_ids: RefCell<Option<(String, Vec<String>)>>,
}

fn content_error(error: ContentError) -> PortError {
    PortError::record(SERVICE, Some(error.field()), error.to_string())
}

impl<T: HttpTransport> NotionClient<T> {
    pub fn new(config: NotionConfig, transport: T, budget: Budget) -> Self {
        let policy = RetryPolicy {
            max_retries: config.max_retries,
            max_retry_after_ms: config.max_retry_after_ms,
            ..RetryPolicy::default()
        };
        let data_source = config.data_source_id.clone().map(|id| (id, DataSourceOrigin::Configured));
        NotionClient {
            pacer: RefCell::new(Pacer::new(config.min_interval_ms)),
            config,
            transport,
            budget,
            policy,
            clock: None,
            data_source: RefCell::new(data_source),
            has_synced: Cell::new(true),
            property_ids: RefCell::new(None),
        }
    }

    /// A clock in milliseconds (e.g. `Date.now()`): pacing then sleeps only what remains of the
    /// interval since the last request start. Without one it assumes requests take no time.
    pub fn with_clock(mut self, clock: impl Fn() -> f64 + 'static) -> Self {
        self.clock = Some(Rc::new(clock));
        self
    }

    /// Replaces the default backoff policy (`max_retries` and `max_retry_after_ms` come from the
    /// configuration).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Uses the data source id saved by an earlier run (ignored when `NOTION_DATA_SOURCE_ID` is set).
    pub fn use_cached_data_source_id(&self, id: Option<&str>) {
        let mut current = self.data_source.borrow_mut();
        if matches!(*current, Some((_, DataSourceOrigin::Configured))) {
            return;
        }
        *current = id.filter(|id| !id.trim().is_empty()).map(|id| (id.to_string(), DataSourceOrigin::Cached));
    }

    /// The data source id in use, if known yet: save it in the sync state for the next run.
    pub fn data_source_id(&self) -> Option<String> {
        self.data_source.borrow().as_ref().map(|(id, _)| id.clone())
    }

    pub fn data_source_origin(&self) -> Option<DataSourceOrigin> {
        self.data_source.borrow().as_ref().map(|(_, origin)| *origin)
    }

    /// Whether writes include `Synced` (false once `check_schema` found no such property).
    pub fn has_synced_property(&self) -> bool {
        self.has_synced.get()
    }

    pub fn config(&self) -> &NotionConfig {
        &self.config
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The data source id, discovering it from the database when not known yet.
    pub async fn resolve_data_source_id(&self) -> Result<String, PortError> {
        Ok(self.resolve().await?.0)
    }

    /// Reads the data source and checks its properties, without turning problems into an error
    /// (for `/health`). Remembers whether `Synced` exists and, when the check passes, the ids of
    /// the mapped properties (page reads then ask for those only).
    pub async fn inspect_schema(&self) -> Result<SchemaCheck, PortError> {
        let data_source = self.fetch_data_source().await?;
        let check = schema::check_data_source_schema(&data_source);
        self.has_synced.set(check.has_synced);
        let ids = if check.is_ok() { schema::mapped_property_ids(&data_source) } else { Vec::new() };
        *self.property_ids.borrow_mut() = self.data_source_id().filter(|_| !ids.is_empty()).map(|id| (id, ids));
        Ok(check)
    }

    /// The property ids to ask for on reads of pages of `data_source_id` (empty: every property,
    /// as when the schema has not been checked in this run).
    pub fn property_filter(&self, data_source_id: &str) -> Vec<String> {
        match &*self.property_ids.borrow() {
            Some((id, ids)) if same_id(id, data_source_id) => ids.clone(),
            _ => Vec::new(),
        }
    }

    async fn resolve(&self) -> Result<(String, DataSourceOrigin), PortError> {
        let known = self.data_source.borrow().clone();
        if let Some(known) = known {
            return Ok(known);
        }
        let database_id = self.config.database_id.clone();
        let request = request::get_database(&self.config, &database_id);
        let database = self.call(&request, &Target::Database { id: database_id }, Replay::Safe).await?;
        let id = data_source::data_source_id_from_database(&database)?;
        *self.data_source.borrow_mut() = Some((id.clone(), DataSourceOrigin::Discovered));
        Ok((id, DataSourceOrigin::Discovered))
    }

    fn forget_data_source(&self) {
        *self.data_source.borrow_mut() = None;
        *self.property_ids.borrow_mut() = None;
    }

    /// `GET /v1/data_sources/{id}`, replacing a stale cached id once.
    async fn fetch_data_source(&self) -> Result<Value, PortError> {
        let mut rediscovered = false;
        loop {
            let (id, origin) = self.resolve().await?;
            let stale_allowed = origin == DataSourceOrigin::Cached && !rediscovered;
            match self.exchange(&request::get_data_source(&self.config, &id), Replay::Safe).await {
                Ok(value) => {
                    let parent = value.pointer("/parent/database_id").and_then(Value::as_str);
                    if let Some(parent) = parent.filter(|parent| !same_id(parent, &self.config.database_id)) {
                        if stale_allowed {
                            self.forget_data_source();
                            rediscovered = true;
                            continue;
                        }
                        if origin == DataSourceOrigin::Configured {
                            return Err(PortError::config(format!(
                                "NOTION_DATA_SOURCE_ID {id} belongs to the Notion database {parent}, not to NOTION_DATABASE_ID {}: correct one of them",
                                self.config.database_id
                            )));
                        }
                    }
                    return Ok(value);
                }
                Err(CallError::Api(error)) if stale_allowed && matches!(error.status, 403 | 404) => {
                    self.forget_data_source();
                    rediscovered = true;
                }
                Err(CallError::Api(error)) => return Err(error.to_port_error(&Target::DataSource { id })),
                Err(CallError::Port(error)) => return Err(error),
            }
        }
    }

    /// A request on the data source (`build` gets its id), replacing a stale cached id once.
    async fn on_data_source(
        &self,
        replay: Replay,
        build: impl Fn(&str) -> (HttpRequest, Target),
    ) -> Result<Value, PortError> {
        self.on_data_source_with(replay, build, |body| self.read_value(body)).await
    }

    /// [`Self::on_data_source`], the answer's body read by `read` (see [`Self::exchange_with`]).
    async fn on_data_source_with<R>(
        &self,
        replay: Replay,
        build: impl Fn(&str) -> (HttpRequest, Target),
        read: impl Fn(&str) -> Result<R, serde_json::Error>,
    ) -> Result<R, PortError> {
        let mut rediscovered = false;
        loop {
            let (id, origin) = self.resolve().await?;
            let (request, target) = build(&id);
            match self.exchange_with(&request, replay, &read).await {
                Ok(value) => return Ok(value),
                Err(CallError::Api(error))
                    if error.status == 404 && origin == DataSourceOrigin::Cached && !rediscovered =>
                {
                    self.forget_data_source();
                    rediscovered = true;
                }
                Err(CallError::Api(error)) => return Err(error.to_port_error(&target)),
                Err(CallError::Port(error)) => return Err(error),
            }
        }
    }

    async fn call(&self, request: &HttpRequest, target: &Target, replay: Replay) -> Result<Value, PortError> {
        self.exchange(request, replay).await.map_err(|error| match error {
            CallError::Api(error) => error.to_port_error(target),
            CallError::Port(error) => error,
        })
    }

    fn now(&self) -> Option<f64> {
        self.clock.as_ref().map(|clock| clock())
    }

    async fn sleep(&self, millis: u64) {
        if millis == 0 {
            return;
        }
        self.transport.sleep(millis).await;
        self.pacer.borrow_mut().slept(millis);
    }

    /// Waits for the pacing interval, then marks a request start.
    async fn pace(&self) {
        let wait = self.pacer.borrow().wait_ms(self.now());
        self.sleep(wait).await;
        let now = self.now();
        self.pacer.borrow_mut().started(now);
    }

    /// One logical request: budget, pacing, send, retries. `Ok` carries the parsed JSON body.
    ///
    /// A success whose body is not JSON is a web page (wrong `NOTION_API_BASE`: configuration) or
    /// a broken answer (transient: retried like a 5xx). A budget that ends while a failure is
    /// being retried ends the request as that failure, so the run names it.
    async fn exchange(&self, request: &HttpRequest, replay: Replay) -> Result<Value, CallError> {
        self.exchange_with(request, replay, |body| self.read_value(body)).await
    }

    /// A success's body as JSON, its trash flags read as the API version defines them.
    fn read_value(&self, body: &str) -> Result<Value, serde_json::Error> {
        let mut value = serde_json::from_str::<Value>(body)?;
        self.config.version.normalize_trash(&mut value);
        Ok(value)
    }

    /// [`Self::exchange`], a success's body read by `read` (an error from `read` is a body that
    /// is not JSON).
    async fn exchange_with<R>(
        &self,
        request: &HttpRequest,
        replay: Replay,
        read: impl Fn(&str) -> Result<R, serde_json::Error>,
    ) -> Result<R, CallError> {
        let mut state = RetryState::default();
        let mut failed: Option<String> = None;
        loop {
            if let Err(spent) = self.budget.take() {
                return Err(CallError::Port(match failed {
                    Some(last) => PortError::transient(
                        SERVICE,
                        format!(
                            "{} failed ({last}); the run's budget ended before a retry; the next run retries",
                            request.describe()
                        ),
                    ),
                    None => spent,
                }));
            }
            self.pace().await;
            let (failure, last) = match self.transport.send(request).await {
                Ok(response) if response.is_success() => match read(&response.body) {
                    Ok(value) => return Ok(value),
                    Err(_) if response.looks_like_html() => {
                        return Err(CallError::Port(PortError::config(format!(
                            "Notion answered {} with a web page, not JSON: check that NOTION_API_BASE ({}) points at the Notion API",
                            request.describe(),
                            self.config.api_base
                        ))));
                    }
                    Err(error) => {
                        let last =
                            format!("Notion answered {} with a body that is not valid JSON: {error}", response.status);
                        if replay != Replay::Safe {
                            return Err(CallError::Port(not_replayed(request, &last)));
                        }
                        (Failure::Server { retry_after_ms: None }, last)
                    }
                },
                Ok(response) => {
                    let error = NotionApiError::from_response(&response);
                    let retry_after = response.header("Retry-After");
                    let failure = match response.status {
                        409 => Some(Failure::Server { retry_after_ms: parse_retry_after(retry_after) }),
                        status => classify_status(status, retry_after),
                    };
                    let unprocessed = matches!(response.status, 409 | 429 | 529);
                    match failure {
                        Some(failure) if replay == Replay::Safe || unprocessed => {
                            (failure, with_limit_reason(error.to_string(), &response.body))
                        }
                        Some(_) => return Err(CallError::Port(not_replayed(request, &error.to_string()))),
                        None => return Err(CallError::Api(error)),
                    }
                }
                Err(error) => {
                    if replay != Replay::Safe {
                        return Err(CallError::Port(not_replayed(request, &error.to_string())));
                    }
                    (Failure::Network, error.to_string())
                }
            };
            failed = Some(last.clone());
            match self.policy.next(&mut state, failure, self.transport.jitter()) {
                RetryDecision::Retry { after_ms } => self.sleep(after_ms).await,
                RetryDecision::GiveUp(GiveUpReason::WaitTooLong { retry_after_ms })
                    if matches!(failure, Failure::RateLimited { .. }) =>
                {
                    return Err(CallError::Port(rate_limit_wait_too_long(
                        &last,
                        retry_after_ms,
                        self.policy.max_retry_after_ms,
                    )));
                }
                RetryDecision::GiveUp(reason) => {
                    return Err(CallError::Port(PortError::transient(
                        SERVICE,
                        format!("{} failed ({last}); {reason}; the next run retries", request.describe()),
                    )));
                }
            }
        }
    }

    /// `PATCH /v1/pages/{id}` -> the updated page.
    async fn patch(
        &self,
        page_id: &str,
        properties: Option<&Value>,
        in_trash: Option<bool>,
    ) -> Result<Page, PortError> {
        let request = request::update_page(&self.config, page_id, properties, in_trash);
        let value = self.call(&request, &Target::UpdatePage { id: page_id.to_string() }, Replay::Safe).await?;
        Ok(page_json::page_from_json(&value)?)
    }

    /// Whether a page object belongs to the synced data source (a page moved elsewhere reads as
    /// gone rather than as a schema error).
    fn belongs_here(&self, page: &Value) -> bool {
        let Some(parent) = page.get("parent") else { return true };
        if let Some(data_source) = parent.get("data_source_id").and_then(Value::as_str) {
            if let Some(ours) = self.data_source_id() {
                return same_id(data_source, &ours);
            }
        }
        match parent.get("database_id").and_then(Value::as_str) {
            Some(database) => same_id(database, &self.config.database_id),
            None => false,
        }
    }
}

/// A 429/529 whose `Retry-After` is longer than one run waits: the run ends cleanly (partial,
/// state saved) and the next run resumes, instead of failing.
pub fn rate_limit_wait_too_long(last: &str, retry_after_ms: u64, max_wait_ms: u64) -> PortError {
    let wait = retry_after_ms.div_ceil(1000);
    PortError::RateLimited {
        service: SERVICE.to_string(),
        retry_after_ms,
        message: format!(
            "Notion's rate limit asks to wait {wait} s ({last}), longer than one run waits ({} s): the run stopped \
             with its state saved and the next run resumes (the next cron run, every 15 minutes by default, or \
             POST /sync-now once {wait} s have passed)",
            max_wait_ms.div_ceil(1000)
        ),
    }
}

/// Notion's `additional_data.rate_limit_reason` (e.g. `public_api_space_request_rate_limit`: the
/// workspace's shared limit), appended to the error's text when the answer carries one.
fn with_limit_reason(text: String, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().and_then(|v| v.pointer("/additional_data/rate_limit_reason")).and_then(Value::as_str) {
        Some(reason) => format!("{text} [{reason}]"),
        None => text,
    }
}

/// A create that failed in a way that leaves its effect unknown is not sent again.
fn not_replayed(request: &HttpRequest, last: &str) -> PortError {
    PortError::transient(
        SERVICE,
        format!(
            "{} failed ({last}); not repeated because Notion may have processed it: the next run links the page if it was created",
            request.describe()
        ),
    )
}

impl<T: HttpTransport> NotionPort for NotionClient<T> {
    fn data_source_id(&self) -> Option<String> {
        NotionClient::data_source_id(self)
    }

    async fn check_schema(&self) -> Result<(), PortError> {
        self.inspect_schema().await?.into_result()
    }

    /// The answer is read typed, straight from its body (only the mapped properties are looked
    /// at), and holds only the mapped properties once the schema has been checked.
    async fn query(&self, query: &PageQuery, cursor: Option<&str>) -> Result<PageBatch, PortError> {
        let version = self.config.version;
        let batch = self
            .on_data_source_with(
                Replay::Safe,
                |id| {
                    let properties = self.property_filter(id);
                    let request = request::query(&self.config, id, query, cursor, &properties);
                    (request, Target::DataSource { id: id.to_string() })
                },
                |body| request::parse_query_body(body, query, version),
            )
            .await?;
        Ok(batch?)
    }

    /// The presence sweep's query: the title only, whatever the schema check found.
    async fn live_page_ids(&self, from: Option<DateTime<Utc>>, cursor: Option<&str>) -> Result<IdBatch, PortError> {
        let version = self.config.version;
        let batch = self
            .on_data_source_with(
                Replay::Safe,
                |id| (sweep::live_ids_query(&self.config, id, from, cursor), Target::DataSource { id: id.to_string() }),
                |body| sweep::parse_live_ids(body, version),
            )
            .await?;
        Ok(batch?)
    }

    /// Asks for the mapped properties only once the schema has been checked; a 400 to that (the
    /// page is not in the synced data source, whose property ids it may refuse) is asked again
    /// without the filter, so such a page still reads as gone rather than failing the run.
    async fn get_page(&self, page_id: &str) -> Result<Option<Page>, PortError> {
        let target = Target::ReadPage { id: page_id.to_string() };
        let mut properties = self.data_source_id().map(|id| self.property_filter(&id)).unwrap_or_default();
        loop {
            let request = request::get_page(&self.config, page_id, &properties);
            return match self.exchange(&request, Replay::Safe).await {
                Ok(value) if !self.belongs_here(&value) => Ok(None),
                Ok(value) => Ok(Some(page_json::page_from_json(&value)?)),
                Err(CallError::Api(error)) if error.status == 404 => Ok(None),
                Err(CallError::Api(error)) if error.status == 400 && !properties.is_empty() => {
                    properties.clear();
                    continue;
                }
                Err(CallError::Api(error)) => Err(error.to_port_error(&target)),
                Err(CallError::Port(error)) => Err(error),
            };
        }
    }

    async fn create_page(&self, content: &Content, base: &str) -> Result<Page, PortError> {
        loop {
            let with_synced = self.has_synced.get();
            let properties = request::write_properties(Some(content), Some(base), with_synced)
                .map_err(content_error)?
                .unwrap_or_else(|| Value::Object(Default::default()));
            let result = self
                .on_data_source(Replay::OnlyIfUnprocessed, |id| {
                    (
                        request::create_page(&self.config, id, &properties),
                        Target::CreatePage { data_source_id: id.to_string() },
                    )
                })
                .await;
            if with_synced && rejects_synced(&result) {
                self.has_synced.set(false);
                continue;
            }
            return Ok(page_json::page_from_json(&result?)?);
        }
    }

    async fn update_page(&self, page_id: &str, write: &PageWrite) -> Result<Page, PortError> {
        loop {
            let with_synced = self.has_synced.get();
            let result = self.update_once(page_id, write, with_synced).await;
            if with_synced && rejects_synced(&result) {
                self.has_synced.set(false);
                continue;
            }
            return result;
        }
    }
}

/// Notion refused the optional `Synced` property (the data source has none and `check_schema`
/// did not run first): the write is repeated without it.
fn rejects_synced<V>(result: &Result<V, PortError>) -> bool {
    matches!(result, Err(PortError::Record { field: Some(field), .. }) if field == schema::PROP_SYNCED)
}

impl<T: HttpTransport> NotionClient<T> {
    async fn update_once(&self, page_id: &str, write: &PageWrite, with_synced: bool) -> Result<Page, PortError> {
        let properties = request::page_write_properties(write, with_synced).map_err(content_error)?;
        match (properties, write.in_trash) {
            (None, None) => self.get_page(page_id).await?.ok_or_else(|| {
                PortError::record(
                    SERVICE,
                    None,
                    format!("the Notion page {page_id} no longer exists or is not shared with the integration"),
                )
            }),
            // A trashed page cannot be edited: restore first, then write.
            (Some(properties), Some(false)) => {
                self.patch(page_id, None, Some(false)).await?;
                self.patch(page_id, Some(&properties), None).await
            }
            // Write first (the page is still editable), then move it to the trash.
            (Some(properties), Some(true)) => {
                self.patch(page_id, Some(&properties), None).await?;
                self.patch(page_id, None, Some(true)).await
            }
            (properties, in_trash) => self.patch(page_id, properties.as_ref(), in_trash).await,
        }
    }
}
