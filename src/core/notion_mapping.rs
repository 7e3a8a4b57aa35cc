//! Notion JSON (API version `2025-09-03`) <-> the core's records. Pure: no I/O.
//!
//! - [`page_from_json`]: a page object -> [`Page`] (plain text of the title, types, date as
//!   written and the whole `Date` value, base, `Synced`, trash state, timestamps).
//! - [`with_date_write`]: the `Date` of a push as [`DateWrite`] says (kept, or the end kept).
//! - [`properties_json`] / [`base_properties_json`]: content and base -> the `properties` of a
//!   create or update request (long text chunked with [`rich_text::chunk`]).
//! - [`check_data_source_schema`]: a data source object -> every problem with its properties,
//!   each saying what to change in Notion.
//! - [`data_source_id_from_database`]: a database object -> the id of its (only) data source.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::core::content::{normalize_date, Content, ContentError};
use crate::core::error::PortError;
use crate::core::model::Page;
use crate::core::notion_date::{DateWrite, NotionDate};
use crate::core::rich_text;

/// Title property: the decision text.
pub const PROP_DECISION: &str = "Decision";
/// Multi-select property: the decision's type.
pub const PROP_TYPE: &str = "Type";
/// Date property: the decision's date.
pub const PROP_DATE: &str = "Date";
/// Text property: the base (checksum of the content as of the last successful sync).
pub const PROP_CHECKSUM: &str = "Checksum";
/// Checkbox property (optional): true once the page and its row agree.
pub const PROP_SYNCED: &str = "Synced";

/// One property the sync reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertySpec {
    /// Name, exactly as in Notion (names are case-sensitive).
    pub name: &'static str,
    /// API type (`title`, `multi_select`, ...).
    pub kind: &'static str,
    pub required: bool,
}

/// The properties the sync needs, in the order problems are reported.
pub const SCHEMA: [PropertySpec; 5] = [
    PropertySpec { name: PROP_DECISION, kind: "title", required: true },
    PropertySpec { name: PROP_TYPE, kind: "multi_select", required: true },
    PropertySpec { name: PROP_DATE, kind: "date", required: true },
    PropertySpec { name: PROP_CHECKSUM, kind: "rich_text", required: true },
    PropertySpec { name: PROP_SYNCED, kind: "checkbox", required: false },
];

/// The name Notion's app shows for a property type (what the user picks in the type menu).
pub fn ui_type_name(api_type: &str) -> &str {
    match api_type {
        "title" => "Title",
        "rich_text" => "Text",
        "multi_select" => "Multi-select",
        "select" => "Select",
        "status" => "Status",
        "date" => "Date",
        "checkbox" => "Checkbox",
        "number" => "Number",
        "people" => "Person",
        "files" => "Files & media",
        "url" => "URL",
        "email" => "Email",
        "phone_number" => "Phone",
        "formula" => "Formula",
        "relation" => "Relation",
        "rollup" => "Rollup",
        "created_time" => "Created time",
        "created_by" => "Created by",
        "last_edited_time" => "Last edited time",
        "last_edited_by" => "Last edited by",
        "unique_id" => "ID",
        "button" => "Button",
        "verification" => "Verification",
        other => other,
    }
}

/// A data source of a database, as listed by `GET /v1/databases/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSourceRef {
    pub id: String,
    pub name: String,
}

impl std::fmt::Display for DataSourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\" ({})", self.name, self.id)
    }
}

fn list_refs(refs: &[DataSourceRef]) -> String {
    refs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Why Notion JSON could not be read. Every variant is a configuration problem (the data source
/// does not have the shape the sync needs, or the API answering is not Notion `2025-09-03`);
/// [`From<MappingError> for PortError`] makes it a `PortError::Config`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("Notion page {page_id} has no property `{property}`: the data source needs a {ui} property named exactly `{property}` (names are case-sensitive); add or rename it in Notion", ui = ui_type_name(.expected))]
    MissingProperty { page_id: String, property: String, expected: String },
    #[error("property `{property}` of Notion page {page_id} is a {found_ui} property but the sync needs {expected_ui}: in Notion, change the type of `{property}` to {expected_ui}", found_ui = ui_type_name(.found), expected_ui = ui_type_name(.expected))]
    WrongType { page_id: String, property: String, expected: String, found: String },
    #[error("Notion returned {what} the sync cannot read ({detail}): check that NOTION_API_BASE points at the Notion API (https://api.notion.com)")]
    Malformed { what: String, detail: String },
    #[error("Notion database {database_id} has no data source: check that NOTION_DATABASE_ID is the id of a database (not of a page or a linked view) and that the database is shared with the integration")]
    NoDataSource { database_id: String },
    #[error("Notion database {database_id} has {count} data sources: {list}. Set NOTION_DATA_SOURCE_ID to the id of the one to sync", count = .data_sources.len(), list = list_refs(.data_sources))]
    SeveralDataSources { database_id: String, data_sources: Vec<DataSourceRef> },
}

impl From<MappingError> for PortError {
    /// A malformed answer from a Notion that otherwise answers is transient (the next run
    /// retries); the others name what to fix in the data source.
    fn from(error: MappingError) -> Self {
        match error {
            MappingError::Malformed { .. } => PortError::transient("notion", error.to_string()),
            _ => PortError::config(error.to_string()),
        }
    }
}

fn malformed(what: &str, detail: impl Into<String>) -> MappingError {
    MappingError::Malformed { what: what.to_string(), detail: detail.into() }
}

// ---------------------------------------------------------------------------------------------
// Reading pages

/// Concatenated `plain_text` of a rich-text array (text, mention and equation segments all carry
/// `plain_text`; `text.content` / `equation.expression` are used if it is ever missing).
pub fn plain_text(segments: &[Value]) -> String {
    let mut out = String::new();
    for segment in segments {
        let text = segment
            .get("plain_text")
            .and_then(Value::as_str)
            .or_else(|| segment.pointer("/text/content").and_then(Value::as_str))
            .or_else(|| segment.pointer("/equation/expression").and_then(Value::as_str))
            .unwrap_or("");
        out.push_str(text);
    }
    out
}

fn timestamp(page: &Value, field: &str, page_id: &str) -> Result<DateTime<Utc>, MappingError> {
    let raw = page
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("a page", format!("page {page_id} has no `{field}`")))?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| malformed("a page", format!("`{field}` of page {page_id} is {raw:?}, not an ISO 8601 timestamp")))
}

/// Looks a property up and checks its type. `Ok(None)` only when it is absent and optional.
fn property<'a>(
    properties: &'a Map<String, Value>,
    page_id: &str,
    name: &str,
    kind: &str,
    required: bool,
) -> Result<Option<&'a Value>, MappingError> {
    let Some(prop) = properties.get(name) else {
        if required {
            return Err(MappingError::MissingProperty {
                page_id: page_id.to_string(),
                property: name.to_string(),
                expected: kind.to_string(),
            });
        }
        return Ok(None);
    };
    // `type` is documented as optional on property values: fall back to the key present.
    let found = prop.get("type").and_then(Value::as_str);
    match found {
        Some(found) if found != kind => Err(MappingError::WrongType {
            page_id: page_id.to_string(),
            property: name.to_string(),
            expected: kind.to_string(),
            found: found.to_string(),
        }),
        _ => match prop.get(kind) {
            Some(value) => Ok(Some(value)),
            None => Err(MappingError::WrongType {
                page_id: page_id.to_string(),
                property: name.to_string(),
                expected: kind.to_string(),
                found: found.unwrap_or("unknown").to_string(),
            }),
        },
    }
}

/// An array-valued property (`title`, `rich_text`, `multi_select`); `null` reads as empty.
fn array<'a>(value: &'a Value, page_id: &str, name: &str) -> Result<&'a [Value], MappingError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        other => Err(malformed("a page", format!("property `{name}` of page {page_id} holds {other}, not an array"))),
    }
}

/// A page object (from a query, `GET /v1/pages/{id}`, a create or an update) -> [`Page`].
pub fn page_from_json(page: &Value) -> Result<Page, MappingError> {
    if let Some(object) = page.get("object").and_then(Value::as_str) {
        if object != "page" {
            return Err(malformed("an object", format!("expected a page, got a {object:?}")));
        }
    }
    let id = page.get("id").and_then(Value::as_str).ok_or_else(|| malformed("a page", "it has no `id`"))?.to_string();
    let properties = page
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("a page", format!("page {id} has no `properties` object")))?;

    let decision = match property(properties, &id, PROP_DECISION, "title", true)? {
        Some(value) => plain_text(array(value, &id, PROP_DECISION)?),
        None => String::new(),
    };
    let types = match property(properties, &id, PROP_TYPE, "multi_select", true)? {
        Some(value) => array(value, &id, PROP_TYPE)?
            .iter()
            .filter_map(|option| option.get("name").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    let (date, date_value) = match property(properties, &id, PROP_DATE, "date", true)? {
        Some(value) => (date_part(value), NotionDate::from_json(value)),
        None => (None, None),
    };
    let base = match property(properties, &id, PROP_CHECKSUM, "rich_text", true)? {
        Some(value) => {
            let text = plain_text(array(value, &id, PROP_CHECKSUM)?);
            let text = text.trim();
            (!text.is_empty()).then(|| text.to_string())
        }
        None => None,
    };
    let synced = match property(properties, &id, PROP_SYNCED, "checkbox", false)? {
        Some(value) => value.as_bool().unwrap_or(false),
        None => false,
    };
    let flag = |key: &str| page.get(key).and_then(Value::as_bool).unwrap_or(false);
    let in_trash = flag("in_trash") || flag("archived");

    Ok(Page {
        created_time: timestamp(page, "created_time", &id)?,
        last_edited_time: timestamp(page, "last_edited_time", &id)?,
        id,
        decision,
        types,
        date,
        date_value,
        base,
        synced,
        in_trash,
    })
}

/// The date part of a date property value's `start`, as written (never converted to UTC).
/// A `start` that is not a date is kept as written, so the planner reports it per record.
fn date_part(value: &Value) -> Option<String> {
    let start = value.get("start").and_then(Value::as_str)?;
    if start.trim().is_empty() {
        return None;
    }
    Some(normalize_date(start).unwrap_or_else(|_| start.trim().to_string()))
}

// ---------------------------------------------------------------------------------------------
// Writing pages

/// `text` as rich-text objects of at most 2,000 UTF-16 units each (at most 100 of them).
pub fn rich_text_segments(text: &str) -> Result<Vec<Value>, ContentError> {
    Ok(rich_text::chunk(text)?
        .into_iter()
        .map(|segment| json!({ "type": "text", "text": { "content": segment } }))
        .collect())
}

/// The `properties` of a create or update carrying this content and base, with `Synced = true`.
/// Per-record errors: a comma in the type, a decision longer than 100 segments, a bad date.
pub fn properties_json(content: &Content, base: &str) -> Result<Value, ContentError> {
    if content.kind.contains(',') {
        return Err(ContentError::CommaInType(content.kind.clone()));
    }
    let date = normalize_date(&content.date)?;
    let kind = content.kind.trim();
    let types = if kind.is_empty() { json!([]) } else { json!([{ "name": kind }]) };
    let mut properties = base_properties_json(base);
    if let Some(map) = properties.as_object_mut() {
        map.insert(PROP_DECISION.to_string(), json!({ "title": rich_text_segments(&content.decision)? }));
        map.insert(PROP_TYPE.to_string(), json!({ "multi_select": types }));
        map.insert(PROP_DATE.to_string(), json!({ "date": { "start": date } }));
    }
    Ok(properties)
}

/// `properties` (of a content write) with the page's `Date` as `write` says: `{start}` alone (as
/// built), left out (the page keeps its Date as it is), or a whole value (the end kept).
pub fn with_date_write(mut properties: Value, write: &DateWrite) -> Value {
    if let Some(map) = properties.as_object_mut().filter(|map| map.contains_key(PROP_DATE)) {
        match write {
            DateWrite::Start => {}
            DateWrite::Keep => {
                map.remove(PROP_DATE);
            }
            DateWrite::Value(value) => {
                map.insert(PROP_DATE.to_string(), json!({ "date": value.to_json() }));
            }
        }
    }
    properties
}

/// The `properties` that store only a new base (`Checksum`) and `Synced = true`.
pub fn base_properties_json(base: &str) -> Value {
    let segments: Vec<Value> = if base.is_empty() {
        Vec::new()
    } else {
        // A base is a 64-character checksum: one segment.
        vec![json!({ "type": "text", "text": { "content": base } })]
    };
    json!({
        PROP_CHECKSUM: { "rich_text": segments },
        PROP_SYNCED: { "checkbox": true },
    })
}

/// Removes `Synced` from a `properties` object (for data sources without that optional property).
pub fn without_synced(mut properties: Value) -> Value {
    if let Some(map) = properties.as_object_mut() {
        map.remove(PROP_SYNCED);
    }
    properties
}

// ---------------------------------------------------------------------------------------------
// Data source schema

/// One thing wrong with the data source's properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaProblem {
    /// The property the sync needs (`Decision`, `Type`...); empty for the data source itself.
    pub property: String,
    /// The API type it needs.
    pub expected: String,
    /// The API type it has, when it exists.
    pub found: Option<String>,
    /// What to change in Notion.
    pub message: String,
}

/// The outcome of [`check_data_source_schema`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SchemaCheck {
    pub data_source_id: Option<String>,
    /// `parent.database_id` of the data source.
    pub database_id: Option<String>,
    pub problems: Vec<SchemaProblem>,
    /// Whether the optional `Synced` checkbox exists (writes leave it out when it does not).
    pub has_synced: bool,
}

impl SchemaCheck {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// One message listing every problem, or `None` when there is none.
    pub fn message(&self) -> Option<String> {
        if self.problems.is_empty() {
            return None;
        }
        let which = self.data_source_id.as_deref().map(|id| format!(" {id}")).unwrap_or_default();
        let list = self
            .problems
            .iter()
            .enumerate()
            .map(|(i, problem)| format!("{}) {}", i + 1, problem.message))
            .collect::<Vec<_>>()
            .join(" ");
        Some(format!(
            "The Notion data source{which} does not have the properties the sync needs. {list} Fix this in Notion, then run the sync again."
        ))
    }

    /// `PortError::Config` with every problem, or `Ok(())`.
    pub fn into_result(self) -> Result<(), PortError> {
        match self.message() {
            Some(message) => Err(PortError::config(message)),
            None => Ok(()),
        }
    }
}

/// Checks a data source object (`GET /v1/data_sources/{id}`) against [`SCHEMA`] and lists every
/// problem, each with a message that says what to change in Notion. `Synced` may be absent.
pub fn check_data_source_schema(data_source: &Value) -> SchemaCheck {
    let mut check = SchemaCheck {
        data_source_id: data_source.get("id").and_then(Value::as_str).map(str::to_string),
        database_id: data_source.pointer("/parent/database_id").and_then(Value::as_str).map(str::to_string),
        ..SchemaCheck::default()
    };
    let problem = |property: &str, expected: &str, found: Option<&str>, message: String| SchemaProblem {
        property: property.to_string(),
        expected: expected.to_string(),
        found: found.map(str::to_string),
        message,
    };
    if let Some(object) = data_source.get("object").and_then(Value::as_str) {
        if object != "data_source" {
            check.problems.push(problem("", "data_source", Some(object), format!(
                "Notion answered with a {object:?} where a data source was expected: check NOTION_DATA_SOURCE_ID (it must be a data source id, found under the database's ⋯ → Manage data sources) and NOTION_API_BASE."
            )));
            return check;
        }
    }
    let flag = |key: &str| data_source.get(key).and_then(Value::as_bool).unwrap_or(false);
    if flag("in_trash") || flag("archived") {
        check.problems.push(problem("", "data_source", None,
            "The database is in Notion's trash: restore it from the trash (or point NOTION_DATABASE_ID at another database).".to_string()));
    }
    let Some(properties) = data_source.get("properties").and_then(Value::as_object) else {
        check.problems.push(problem("", "data_source", None,
            "Notion returned a data source without `properties`: check that the integration has the \"Read content\" capability and that NOTION_API_BASE points at the Notion API.".to_string()));
        return check;
    };
    // Property name -> API type.
    let kinds: Vec<(&str, &str)> = properties
        .iter()
        .map(|(name, prop)| (name.as_str(), prop.get("type").and_then(Value::as_str).unwrap_or("unknown")))
        .collect();
    let title_name = kinds.iter().find(|(_, kind)| *kind == "title").map(|(name, _)| *name);

    for spec in SCHEMA {
        let expected_ui = ui_type_name(spec.kind);
        match kinds.iter().find(|(name, _)| *name == spec.name) {
            Some((_, kind)) if *kind == spec.kind => {
                if spec.name == PROP_SYNCED {
                    check.has_synced = true;
                }
            }
            Some((_, kind)) => {
                let found_ui = ui_type_name(kind);
                let message = if spec.kind == "title" {
                    let title = title_name.unwrap_or("(the title property)");
                    format!(
                        "`{}` is a {found_ui} property, but it must be the database's title: rename the {found_ui} property `{}` (or delete it), then rename the title property `{title}` to `{}`.",
                        spec.name, spec.name, spec.name
                    )
                } else if spec.required {
                    format!("Change the type of property `{}` from {found_ui} to {expected_ui}.", spec.name)
                } else {
                    format!(
                        "Property `{}` is optional but must be a {expected_ui}: change its type from {found_ui} to {expected_ui}, or delete it.",
                        spec.name
                    )
                };
                check.problems.push(problem(spec.name, spec.kind, Some(kind), message));
            }
            None if !spec.required => {}
            None => {
                let near = kinds.iter().find(|(name, _)| name.trim().eq_ignore_ascii_case(spec.name));
                let message = match (spec.kind, near) {
                    ("title", _) => match title_name {
                        Some(title) => format!("Rename the title property `{title}` to `{}`.", spec.name),
                        None => format!("Add a title property named `{}`.", spec.name),
                    },
                    (_, Some((name, kind))) if *kind == spec.kind => {
                        format!("Rename property `{name}` to `{}` (names are case-sensitive).", spec.name)
                    }
                    (_, Some((name, kind))) => format!(
                        "Rename property `{name}` to `{}` (names are case-sensitive) and change its type from {} to {expected_ui}.",
                        spec.name,
                        ui_type_name(kind)
                    ),
                    (_, None) => format!("Add a {expected_ui} property named `{}`.", spec.name),
                };
                check.problems.push(problem(spec.name, spec.kind, None, message));
            }
        }
    }
    check
}

// ---------------------------------------------------------------------------------------------
// Database -> data source

/// The data sources listed by a database object (`GET /v1/databases/{id}`).
pub fn data_sources_of_database(database: &Value) -> Result<Vec<DataSourceRef>, MappingError> {
    let list = database.get("data_sources").and_then(Value::as_array).ok_or_else(|| {
        malformed("a database", "it has no `data_sources` list; the request must send `Notion-Version: 2025-09-03` or later (NOTION_VERSION)")
    })?;
    Ok(list
        .iter()
        .filter_map(|item| {
            let id = item.get("id").and_then(Value::as_str)?;
            let name = item.get("name").and_then(Value::as_str).unwrap_or("");
            Some(DataSourceRef { id: id.to_string(), name: name.to_string() })
        })
        .collect())
}

/// The id of the database's only data source; none or several -> an error (several: naming them
/// all and asking for `NOTION_DATA_SOURCE_ID`).
pub fn data_source_id_from_database(database: &Value) -> Result<String, MappingError> {
    let database_id = database.get("id").and_then(Value::as_str).unwrap_or("(unknown)").to_string();
    let mut sources = data_sources_of_database(database)?;
    match sources.len() {
        0 => Err(MappingError::NoDataSource { database_id }),
        1 => Ok(sources.remove(0).id),
        _ => Err(MappingError::SeveralDataSources { database_id, data_sources: sources }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let text = match name {
            "page_segments_mentions" => include_str!("../../tests/fixtures/notion/page_segments_mentions.json"),
            "page_multi_type" => include_str!("../../tests/fixtures/notion/page_multi_type.json"),
            "page_untyped_undated" => include_str!("../../tests/fixtures/notion/page_untyped_undated.json"),
            "page_trashed" => include_str!("../../tests/fixtures/notion/page_trashed.json"),
            "page_missing_date" => include_str!("../../tests/fixtures/notion/page_missing_date.json"),
            "data_source" => include_str!("../../tests/fixtures/notion/data_source.json"),
            "data_source_misconfigured" => include_str!("../../tests/fixtures/notion/data_source_misconfigured.json"),
            "database" => include_str!("../../tests/fixtures/notion/database.json"),
            "database_two_sources" => include_str!("../../tests/fixtures/notion/database_two_sources.json"),
            other => panic!("no fixture {other}"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// What Notion answers for the rich text we send: each segment gains `plain_text`.
    fn as_notion_returns(sent: &Value) -> Value {
        let segments = sent.as_array().unwrap();
        Value::Array(
            segments
                .iter()
                .map(|s| {
                    let content = s["text"]["content"].as_str().unwrap();
                    json!({
                        "type": "text",
                        "text": { "content": content, "link": null },
                        "annotations": { "bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default" },
                        "plain_text": content,
                        "href": null
                    })
                })
                .collect(),
        )
    }

    /// A page object as Notion would return it after a create with these `properties`.
    fn page_for(properties: &Value) -> Value {
        let mut page = fixture("page_untyped_undated");
        let props = page["properties"].as_object_mut().unwrap();
        props.insert(
            "Decision".into(),
            json!({ "id": "title", "type": "title", "title": as_notion_returns(&properties["Decision"]["title"]) }),
        );
        props.insert("Checksum".into(), json!({ "id": "x", "type": "rich_text", "rich_text": as_notion_returns(&properties["Checksum"]["rich_text"]) }));
        let types: Vec<Value> = properties["Type"]["multi_select"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| json!({ "id": "o", "name": o["name"], "color": "default" }))
            .collect();
        props.insert("Type".into(), json!({ "id": "t", "type": "multi_select", "multi_select": types }));
        let start = properties["Date"]["date"]["start"].clone();
        props.insert(
            "Date".into(),
            json!({ "id": "d", "type": "date", "date": { "start": start, "end": null, "time_zone": null } }),
        );
        props.insert(
            "Synced".into(),
            json!({ "id": "s", "type": "checkbox", "checkbox": properties["Synced"]["checkbox"] }),
        );
        page
    }

    #[test]
    fn title_concatenates_text_mention_and_equation_segments() {
        let page = page_from_json(&fixture("page_segments_mentions")).unwrap();
        assert_eq!(
            page.decision,
            "Adopt event sourcing after Architecture review with @Ada Lovelace on 2025-08-07 (cost O(n \\log n))"
        );
        assert_eq!(page.id, "59833787-2cf9-4fdf-8782-e53db20768a5");
        assert_eq!(page.types, vec!["Architecture"]);
        assert_eq!(page.base.as_deref(), Some("f3bf0a3b8ff79a86a598d64f118f4e7f9c9220a795e52105e4f63e9c7f9e458a"));
        assert!(page.synced);
        assert!(!page.in_trash);
        assert_eq!(page.created_time, ts("2025-08-07T10:11:00Z"));
        assert_eq!(page.last_edited_time, ts("2025-08-08T09:30:00Z"));
    }

    #[test]
    fn date_with_time_and_offset_keeps_the_date_as_written() {
        // 2025-08-07T23:30-05:00 is 2025-08-08 in UTC: the date as written wins.
        let page = page_from_json(&fixture("page_segments_mentions")).unwrap();
        assert_eq!(page.date.as_deref(), Some("2025-08-07"));

        let mut json = fixture("page_segments_mentions");
        json["properties"]["Date"]["date"] =
            json!({ "start": "2025-08-08T01:00:00.000+09:00", "end": null, "time_zone": null });
        assert_eq!(page_from_json(&json).unwrap().date.as_deref(), Some("2025-08-08"));
        // With a named time zone Notion writes the local time without an offset.
        json["properties"]["Date"]["date"] =
            json!({ "start": "2025-12-31T23:00:00.000", "end": null, "time_zone": "America/New_York" });
        assert_eq!(page_from_json(&json).unwrap().date.as_deref(), Some("2025-12-31"));
        // A range keeps its start.
        json["properties"]["Date"]["date"] = json!({ "start": "2025-03-01", "end": "2025-03-05", "time_zone": null });
        assert_eq!(page_from_json(&json).unwrap().date.as_deref(), Some("2025-03-01"));
    }

    #[test]
    fn the_whole_date_value_is_kept_for_the_push() {
        let page = page_from_json(&fixture("page_segments_mentions")).unwrap();
        assert_eq!(
            page.date_value,
            Some(NotionDate { start: "2025-08-07T23:30:00.000-05:00".into(), end: None, time_zone: None })
        );
        let mut json = fixture("page_segments_mentions");
        json["properties"]["Date"]["date"] = json!({ "start": "2025-03-01", "end": "2025-03-05", "time_zone": null });
        let range = page_from_json(&json).unwrap();
        assert_eq!(range.date.as_deref(), Some("2025-03-01"), "the normal form sees the start's date only");
        assert_eq!(range.date_value.unwrap().end.as_deref(), Some("2025-03-05"));
        assert_eq!(page_from_json(&fixture("page_untyped_undated")).unwrap().date_value, None);
    }

    #[test]
    fn push_properties_keep_the_pages_date_as_the_date_write_says() {
        let content = Content::normalize("Freeze deploys", "Ops", "2025-03-03").unwrap();
        let props = || properties_json(&content, "b").unwrap();
        // Range kept: the new start, the page's end.
        let range = NotionDate { start: "2025-03-01".into(), end: Some("2025-03-05".into()), time_zone: None };
        let write = crate::core::notion_date::date_for_push(Some(&range), &content.date);
        assert_eq!(
            with_date_write(props(), &write)["Date"],
            json!({ "date": { "start": "2025-03-03", "end": "2025-03-05" } })
        );
        // End before the new start: dropped (a null end clears it), and a warning names the page.
        let early = NotionDate { start: "2025-02-01".into(), end: Some("2025-02-05".into()), time_zone: None };
        let write = crate::core::notion_date::date_for_push(Some(&early), &content.date);
        assert_eq!(with_date_write(props(), &write)["Date"], json!({ "date": { "start": "2025-03-03", "end": null } }));
        assert!(write.warning("p1", &early).is_some_and(|w| w.contains("p1") && w.contains("end date")));
        // A time dropped, with a warning.
        let timed = NotionDate { start: "2025-08-07T23:30:00.000-05:00".into(), end: None, time_zone: None };
        let write = crate::core::notion_date::date_for_push(Some(&timed), &content.date);
        assert_eq!(with_date_write(props(), &write)["Date"]["date"]["start"], "2025-03-03");
        assert!(write.warning("p2", &timed).is_some_and(|w| w.contains("p2") && w.contains("time")));
        // The row's date is the page's: Date is not written at all.
        let same = NotionDate {
            start: "2025-03-03T09:00:00.000+02:00".into(),
            end: Some("2025-03-04".into()),
            time_zone: None,
        };
        let write = crate::core::notion_date::date_for_push(Some(&same), &content.date);
        let kept = with_date_write(props(), &write);
        assert_eq!(kept.get("Date"), None);
        assert_eq!(kept["Decision"], props()["Decision"], "the rest is written");
        assert_eq!(write.warning("p3", &same), None);
        // A create (or a page whose Date was a date only): `{start}` alone, as before.
        assert_eq!(with_date_write(props(), &DateWrite::Start), props());
        // A base-only write has no Date to touch.
        assert_eq!(with_date_write(base_properties_json("b"), &write), base_properties_json("b"));
    }

    #[test]
    fn date_only_several_types_empty_checksum_and_no_synced_property() {
        let page = page_from_json(&fixture("page_multi_type")).unwrap();
        assert_eq!(page.date.as_deref(), Some("2025-06-01"));
        assert_eq!(page.types, vec!["Ops", "Architecture", "Security"]);
        assert_eq!(page.base, None);
        assert!(!page.synced, "Synced is optional: absent reads as false");
    }

    #[test]
    fn no_type_no_date_empty_title() {
        let page = page_from_json(&fixture("page_untyped_undated")).unwrap();
        assert!(page.types.is_empty());
        assert_eq!(page.date, None);
        assert_eq!(page.decision, "");
        assert_eq!(page.base, None);
        assert!(!page.synced);
    }

    #[test]
    fn trashed_page_and_legacy_archived_flag() {
        let page = page_from_json(&fixture("page_trashed")).unwrap();
        assert!(page.in_trash);
        assert_eq!(page.types, vec!["Policy"]);

        let mut legacy = fixture("page_trashed");
        legacy.as_object_mut().unwrap().remove("in_trash");
        assert!(page_from_json(&legacy).unwrap().in_trash, "legacy `archived: true` means trashed");
        legacy["archived"] = json!(false);
        assert!(!page_from_json(&legacy).unwrap().in_trash);
    }

    #[test]
    fn missing_property_names_the_property_and_the_type() {
        let mut json = fixture("page_missing_date");
        json["properties"]["Type"] = json!({ "id": "u%3ETk", "type": "multi_select", "multi_select": [] });
        let err = page_from_json(&json).unwrap_err();
        assert_eq!(
            err,
            MappingError::MissingProperty {
                page_id: "4d3c2b1a-0f9e-4d8c-b7a6-958473625140".into(),
                property: "Date".into(),
                expected: "date".into(),
            }
        );
        let message = err.to_string();
        assert!(message.contains("`Date`") && message.contains("Date property"), "{message}");
        let port: PortError = err.into();
        assert!(matches!(port, PortError::Config { .. }));
    }

    #[test]
    fn wrong_type_names_what_to_change() {
        let mut json = fixture("page_missing_date");
        json["properties"]["Date"] = json!({ "id": "Kj%7Dq", "type": "date", "date": null });
        let err = page_from_json(&json).unwrap_err();
        assert!(matches!(&err, MappingError::WrongType { property, expected, found, .. }
            if property == "Type" && expected == "multi_select" && found == "select"));
        assert!(err.to_string().contains("change the type of `Type` to Multi-select"), "{err}");

        let mut json = fixture("page_multi_type");
        json["properties"]["Synced"] = json!({ "id": "s", "type": "rich_text", "rich_text": [] });
        assert!(matches!(page_from_json(&json), Err(MappingError::WrongType { property, .. }) if property == "Synced"));
    }

    #[test]
    fn malformed_pages_are_errors_not_panics() {
        for bad in [json!({}), json!({"object": "page", "id": "x"}), json!({"object": "list"}), json!([1])] {
            assert!(matches!(page_from_json(&bad), Err(MappingError::Malformed { .. })), "{bad}");
        }
        let mut json = fixture("page_multi_type");
        json["last_edited_time"] = json!("yesterday");
        assert!(matches!(page_from_json(&json), Err(MappingError::Malformed { .. })));
        let mut json = fixture("page_multi_type");
        json["properties"]["Decision"]["title"] = json!("not an array");
        assert!(matches!(page_from_json(&json), Err(MappingError::Malformed { .. })));
    }

    #[test]
    fn properties_for_a_create() {
        let content = Content::normalize("Use Postgres", "ops", "2025-08-07").unwrap();
        let base = content.checksum();
        let props = properties_json(&content, &base).unwrap();
        assert_eq!(
            props,
            json!({
                "Decision": { "title": [{ "type": "text", "text": { "content": "Use Postgres" } }] },
                "Type": { "multi_select": [{ "name": "Ops" }] },
                "Date": { "date": { "start": "2025-08-07" } },
                "Checksum": { "rich_text": [{ "type": "text", "text": { "content": base } }] },
                "Synced": { "checkbox": true },
            })
        );
        let untyped = Content { decision: "x".into(), kind: String::new(), date: "2025-01-02".into() };
        assert_eq!(properties_json(&untyped, "b").unwrap()["Type"], json!({ "multi_select": [] }));
        assert_eq!(without_synced(props).get("Synced"), None);
        assert_eq!(
            base_properties_json("abc"),
            json!({ "Checksum": { "rich_text": [{ "type": "text", "text": { "content": "abc" } }] }, "Synced": { "checkbox": true } })
        );
    }

    #[test]
    fn per_record_content_errors() {
        let comma = Content { decision: "x".into(), kind: "Ops, UX".into(), date: "2025-01-02".into() };
        assert_eq!(properties_json(&comma, "b"), Err(ContentError::CommaInType("Ops, UX".into())));
        let long = Content { decision: "a".repeat(200_001), kind: "Ops".into(), date: "2025-01-02".into() };
        assert!(matches!(properties_json(&long, "b"), Err(ContentError::DecisionTooLong { .. })));
        let undated = Content { decision: "x".into(), kind: "Ops".into(), date: String::new() };
        assert_eq!(properties_json(&undated, "b"), Err(ContentError::MissingDate));
    }

    #[test]
    fn five_thousand_char_title_round_trips() {
        let decision: String = (0..5_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let content = Content::normalize(&decision, "Architecture", "2025-08-07").unwrap();
        let base = content.checksum();
        let props = properties_json(&content, &base).unwrap();
        let sent = props["Decision"]["title"].as_array().unwrap();
        let lengths: Vec<usize> =
            sent.iter().map(|s| s["text"]["content"].as_str().unwrap().encode_utf16().count()).collect();
        assert_eq!(lengths, vec![2_000, 2_000, 1_000]);

        let page = page_from_json(&page_for(&props)).unwrap();
        assert_eq!(page.decision, decision);
        assert_eq!(page.types, vec!["Architecture"]);
        assert_eq!(page.date.as_deref(), Some("2025-08-07"));
        assert_eq!(page.base.as_deref(), Some(base.as_str()));
        assert!(page.synced);
        let back = Content::normalize(&page.decision, &page.types[0], page.date.as_deref().unwrap()).unwrap();
        assert_eq!(back.checksum(), base);
    }

    #[test]
    fn emoji_at_the_2000_unit_boundary_is_not_split() {
        let decision = format!("{}😀{}", "a".repeat(1_999), "b".repeat(10));
        let content = Content::normalize(&decision, "UX", "2025-08-07").unwrap();
        let props = properties_json(&content, "base").unwrap();
        let sent: Vec<&str> = props["Decision"]["title"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"]["content"].as_str().unwrap())
            .collect();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0].encode_utf16().count(), 1_999);
        assert!(sent[1].starts_with('😀'));
        for segment in &sent {
            assert!(segment.encode_utf16().count() <= rich_text::MAX_SEGMENT_UNITS);
        }
        let page = page_from_json(&page_for(&props)).unwrap();
        assert_eq!(page.decision, decision);
    }

    #[test]
    fn good_schema_has_no_problems_and_reports_synced() {
        let check = check_data_source_schema(&fixture("data_source"));
        assert!(check.is_ok(), "{:?}", check.problems);
        assert!(check.has_synced);
        assert_eq!(check.database_id.as_deref(), Some("248104cd-477e-80fd-b757-e945d38000bd"));
        assert_eq!(check.clone().into_result(), Ok(()));

        let mut without = fixture("data_source");
        without["properties"].as_object_mut().unwrap().remove("Synced");
        let check = check_data_source_schema(&without);
        assert!(check.is_ok(), "Synced is optional");
        assert!(!check.has_synced);
    }

    #[test]
    fn every_schema_problem_is_listed_with_the_fix() {
        let check = check_data_source_schema(&fixture("data_source_misconfigured"));
        let by_name = |name: &str| {
            check
                .problems
                .iter()
                .find(|p| p.property == name)
                .unwrap_or_else(|| panic!("no problem for {name}: {:?}", check.problems))
        };
        assert_eq!(check.problems.len(), 5, "{:?}", check.problems);
        assert!(by_name("Decision").message.contains("Rename the title property `Name` to `Decision`"));
        let type_problem = by_name("Type");
        assert_eq!(type_problem.found.as_deref(), Some("select"));
        assert!(type_problem.message.contains("from Select to Multi-select"), "{}", type_problem.message);
        assert!(by_name("Date").message.contains("Rename property `date` to `Date`"));
        assert!(by_name("Checksum").message.contains("Add a Text property named `Checksum`"));
        assert!(by_name("Synced").message.contains("change its type from Text to Checkbox, or delete it"));
        assert!(!check.has_synced);
        let Err(PortError::Config { message }) = check.into_result() else { panic!("expected a config error") };
        assert!(message.contains("1) ") && message.contains("5) "), "{message}");
    }

    #[test]
    fn trashed_or_foreign_objects_are_schema_problems() {
        let mut trashed = fixture("data_source");
        trashed["in_trash"] = json!(true);
        let check = check_data_source_schema(&trashed);
        assert_eq!(check.problems.len(), 1);
        assert!(check.problems[0].message.contains("trash"));

        let check = check_data_source_schema(&fixture("database"));
        assert_eq!(check.problems.len(), 1);
        assert!(check.problems[0].message.contains("NOTION_DATA_SOURCE_ID"));

        let mut title_as_text = fixture("data_source");
        let props = title_as_text["properties"].as_object_mut().unwrap();
        props.insert("Decision".into(), json!({ "id": "a", "name": "Decision", "type": "rich_text", "rich_text": {} }));
        props.insert("Name".into(), json!({ "id": "title", "name": "Name", "type": "title", "title": {} }));
        let check = check_data_source_schema(&title_as_text);
        assert_eq!(check.problems.len(), 1);
        assert!(
            check.problems[0].message.contains("rename the title property `Name` to `Decision`"),
            "{}",
            check.problems[0].message
        );
    }

    #[test]
    fn database_with_zero_one_or_two_data_sources() {
        assert_eq!(data_source_id_from_database(&fixture("database")).unwrap(), "1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b");

        let mut none = fixture("database");
        none["data_sources"] = json!([]);
        let err = data_source_id_from_database(&none).unwrap_err();
        assert!(matches!(err, MappingError::NoDataSource { .. }));
        assert!(err.to_string().contains("NOTION_DATABASE_ID"));

        let err = data_source_id_from_database(&fixture("database_two_sources")).unwrap_err();
        let message = err.to_string();
        for needle in [
            "1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
            "c174b72c-d782-432f-8dc0-b647e1c96df6",
            "\"Decision vault\"",
            "\"Archive 2024\"",
            "NOTION_DATA_SOURCE_ID",
            "2 data sources",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }

        let mut old_api = fixture("database");
        old_api.as_object_mut().unwrap().remove("data_sources");
        assert!(matches!(data_source_id_from_database(&old_api), Err(MappingError::Malformed { .. })));
    }
}
