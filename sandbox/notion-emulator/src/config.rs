//! Configuration of an emulator instance: token, ids, schema, rate limit, API versions,
//! the query result cap and the reading of `in_trash` in queries.

use serde_json::Value;

/// The `Notion-Version` the emulator's own tests send by default (and the one the Worker sends
/// today). See [`crate::version::ApiVersion`] for every version the emulator models.
pub const NOTION_VERSION: &str = "2025-09-03";

/// The versions accepted by default: 2025-09-03 and 2026-03-11 (Notion's current version,
/// developers.notion.com/reference/versioning). 2026-12-01 is modelled but opt-in.
pub const DEFAULT_NOTION_VERSIONS: &[&str] = &["2025-09-03", "2026-03-11"];

/// "A single data source query returns at most 10,000 results" (developers.notion.com →
/// Query a data source → Pagination limit).
pub const DEFAULT_QUERY_RESULT_LIMIT: usize = 10_000;

/// Default rate limit: Notion documents "an average of three requests per second"
/// with "some bursts beyond the average rate"; the burst size is our choice.
pub const DEFAULT_RATE_LIMIT: (f64, u32) = (3.0, 10);

/// The type of a data-source property the emulator can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyKind {
    Title,
    RichText,
    /// Initial option names (more are added when a page write names a new one).
    MultiSelect(Vec<String>),
    /// Initial option names.
    Select(Vec<String>),
    Date,
    Checkbox,
    Number,
    Url,
}

impl PropertyKind {
    /// Notion's type name (`"rich_text"`, `"multi_select"`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            PropertyKind::Title => "title",
            PropertyKind::RichText => "rich_text",
            PropertyKind::MultiSelect(_) => "multi_select",
            PropertyKind::Select(_) => "select",
            PropertyKind::Date => "date",
            PropertyKind::Checkbox => "checkbox",
            PropertyKind::Number => "number",
            PropertyKind::Url => "url",
        }
    }
}

/// One property of a data source's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertySpec {
    pub name: String,
    pub kind: PropertyKind,
}

impl PropertySpec {
    pub fn new(name: impl Into<String>, kind: PropertyKind) -> Self {
        PropertySpec { name: name.into(), kind }
    }

    /// Parses `{"name": "Type", "type": "multi_select", "options": ["A", "B"]}`.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let name =
            v.get("name").and_then(Value::as_str).ok_or_else(|| "property spec needs a string \"name\"".to_string())?;
        let ty = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("property spec {name:?} needs a string \"type\""))?;
        let options = || -> Result<Vec<String>, String> {
            match v.get("options") {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|o| {
                        o.as_str().map(str::to_string).ok_or_else(|| format!("options of {name:?} must be strings"))
                    })
                    .collect(),
                Some(_) => Err(format!("options of {name:?} must be an array of strings")),
            }
        };
        let kind = match ty {
            "title" => PropertyKind::Title,
            "rich_text" => PropertyKind::RichText,
            "multi_select" => PropertyKind::MultiSelect(options()?),
            "select" => PropertyKind::Select(options()?),
            "date" => PropertyKind::Date,
            "checkbox" => PropertyKind::Checkbox,
            "number" => PropertyKind::Number,
            "url" => PropertyKind::Url,
            other => {
                return Err(format!(
                    "property type {other:?} is not modelled (title, rich_text, multi_select, select, date, checkbox, number, url)"
                ))
            }
        };
        Ok(PropertySpec::new(name, kind))
    }
}

/// A data source inside a database.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSourceSpec {
    /// UUID (with or without dashes); a random one when `None`.
    pub id: Option<String>,
    pub name: String,
    pub properties: Vec<PropertySpec>,
}

impl DataSourceSpec {
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let id = opt_string(v, "id")?;
        let name = opt_string(v, "name")?.unwrap_or_else(|| "Data source".to_string());
        let properties = match v.get("properties") {
            None | Some(Value::Null) => EmulatorConfig::decision_schema(),
            Some(Value::Array(items)) => items.iter().map(PropertySpec::from_json).collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err("\"properties\" must be an array of property specs".into()),
        };
        Ok(DataSourceSpec { id, name, properties })
    }
}

/// A database with one or more data sources.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseSpec {
    pub id: Option<String>,
    pub title: String,
    pub data_sources: Vec<DataSourceSpec>,
}

impl DatabaseSpec {
    /// Parses `{"id"?, "title"?, "data_sources": [{"id"?, "name"?, "properties"?: [...]}]}`.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        if !v.is_object() {
            return Err("database spec must be a JSON object".into());
        }
        let id = opt_string(v, "id")?;
        let title = opt_string(v, "title")?.unwrap_or_else(|| "Decisions".to_string());
        let data_sources = match v.get("data_sources") {
            None | Some(Value::Null) => {
                vec![DataSourceSpec { id: None, name: title.clone(), properties: EmulatorConfig::decision_schema() }]
            }
            Some(Value::Array(items)) if !items.is_empty() => {
                items.iter().map(DataSourceSpec::from_json).collect::<Result<Vec<_>, _>>()?
            }
            Some(_) => return Err("\"data_sources\" must be a non-empty array".into()),
        };
        Ok(DatabaseSpec { id, title, data_sources })
    }
}

fn opt_string(v: &Value, key: &str) -> Result<Option<String>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("\"{key}\" must be a string")),
    }
}

/// Everything an emulator instance needs. `Default` gives the sandbox set-up: one database
/// with one data source holding the five Decision properties, random ids, rate limit on.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Bearer token the API accepts.
    pub token: String,
    /// Id of the main database (UUID with or without dashes).
    pub database_id: String,
    /// Id of the main database's single data source.
    pub data_source_id: String,
    pub database_title: String,
    pub data_source_name: String,
    /// Schema of the main data source.
    pub properties: Vec<PropertySpec>,
    /// Further databases (e.g. one with a wrong schema, one with two data sources).
    pub extra_databases: Vec<DatabaseSpec>,
    /// `Some((average requests per second, burst))`, or `None` to disable rate limiting.
    pub rate_limit: Option<(f64, u32)>,
    /// User id of the integration (bot): `created_by` / `last_edited_by` of API writes.
    pub bot_user_id: String,
    /// User id of the person whose edits `/__admin` simulates.
    pub human_user_id: String,
    /// Display name of that person (used in `@mention` plain text).
    pub human_name: String,
    /// The documented rate-limit model (a request budget per connection per window, plus a
    /// per-workspace limit). When `Some`, it replaces the token bucket of `rate_limit`.
    pub documented_rate_limit: Option<DocumentedRateLimit>,
    /// Results one query may return across all its pages (default 10,000).
    pub query_result_limit: usize,
    /// `Notion-Version` values the API accepts (default 2025-09-03 and 2026-03-11).
    pub notion_versions: Vec<String>,
    /// What `in_trash` (or `archived`) in a query body does.
    pub in_trash_reading: InTrashReading,
    /// A webhook subscription created at start (`--webhook-url`); `None`: none until
    /// `POST /__admin/webhooks`.
    pub webhook: Option<crate::webhook::SubscriptionSpec>,
}

/// The rate-limit model of developers.notion.com/reference/request-limits: "Each connection
/// has a fixed budget of requests per 60-second window" (180 on most plans, 600 on Business
/// and Enterprise) that "can be spent at any pace within the window", plus "a separate limit
/// [...] shared across all of the workspace's connections" whose `Retry-After` "can be longer
/// than a minute".
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentedRateLimit {
    /// Requests per connection (integration token) per window (default 180).
    pub requests_per_window: u32,
    /// Length of the connection window in seconds (default 60).
    pub window_seconds: u64,
    /// Requests per workspace per workspace window; `None` = no workspace budget (it can
    /// still be exhausted on purpose through the admin API).
    pub workspace_requests_per_window: Option<u32>,
    /// Length of the workspace window in seconds (default 300, so its `Retry-After` can
    /// exceed a minute; Notion documents no number).
    pub workspace_window_seconds: u64,
}

impl Default for DocumentedRateLimit {
    fn default() -> Self {
        DocumentedRateLimit {
            requests_per_window: 180,
            window_seconds: 60,
            workspace_requests_per_window: None,
            workspace_window_seconds: 300,
        }
    }
}

/// The three readings of `in_trash: true` in a query body (the docs disagree; see
/// docs/NOTION_EMULATOR.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InTrashReading {
    /// `true` lists only trashed pages (the SDK reference's description; the default).
    OnlyTrashed,
    /// Accepted but without effect: trashed pages are never listed.
    Ignored,
    /// `400 validation_error`: "body.in_trash should be not present".
    Rejected,
}

impl InTrashReading {
    pub const ALL: [InTrashReading; 3] =
        [InTrashReading::OnlyTrashed, InTrashReading::Ignored, InTrashReading::Rejected];

    pub fn name(self) -> &'static str {
        match self {
            InTrashReading::OnlyTrashed => "only_trashed",
            InTrashReading::Ignored => "ignored",
            InTrashReading::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Result<InTrashReading, String> {
        InTrashReading::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("in_trash reading {s:?} is not one of only_trashed, ignored, rejected"))
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            token: "secret_notion_emulator_token".to_string(),
            database_id: uuid::Uuid::new_v4().to_string(),
            data_source_id: uuid::Uuid::new_v4().to_string(),
            database_title: "Decisions".to_string(),
            data_source_name: "Decisions".to_string(),
            properties: EmulatorConfig::decision_schema(),
            extra_databases: Vec::new(),
            rate_limit: Some(DEFAULT_RATE_LIMIT),
            bot_user_id: uuid::Uuid::new_v4().to_string(),
            human_user_id: uuid::Uuid::new_v4().to_string(),
            human_name: "Ada Human".to_string(),
            documented_rate_limit: None,
            query_result_limit: DEFAULT_QUERY_RESULT_LIMIT,
            notion_versions: DEFAULT_NOTION_VERSIONS.iter().map(|v| v.to_string()).collect(),
            in_trash_reading: InTrashReading::OnlyTrashed,
            webhook: None,
        }
    }
}

impl EmulatorConfig {
    /// The schema of DESIGN.md: `Decision` (title), `Type` (multi_select with the five
    /// options), `Date` (date), `Checksum` (rich_text), `Synced` (checkbox).
    pub fn decision_schema() -> Vec<PropertySpec> {
        vec![
            PropertySpec::new("Decision", PropertyKind::Title),
            PropertySpec::new(
                "Type",
                PropertyKind::MultiSelect(
                    ["Policy", "Architecture", "Ops", "UX", "Other"].iter().map(|s| s.to_string()).collect(),
                ),
            ),
            PropertySpec::new("Date", PropertyKind::Date),
            PropertySpec::new("Checksum", PropertyKind::RichText),
            PropertySpec::new("Synced", PropertyKind::Checkbox),
        ]
    }

    /// Same config without rate limiting (handy in tests).
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self.documented_rate_limit = None;
        self
    }

    /// The main database as a [`DatabaseSpec`].
    pub(crate) fn main_database(&self) -> DatabaseSpec {
        DatabaseSpec {
            id: Some(self.database_id.clone()),
            title: self.database_title.clone(),
            data_sources: vec![DataSourceSpec {
                id: Some(self.data_source_id.clone()),
                name: self.data_source_name.clone(),
                properties: self.properties.clone(),
            }],
        }
    }
}
