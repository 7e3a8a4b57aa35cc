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
use std::borrow::Cow;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
//
// Typed and lenient: a page is deserialised straight from the answer's text (or from a `Value`)
// into the few fields the sync reads, strings borrowed from the input unless an escape forces a
// copy. Only the five mapped properties are looked at; every other property (of any type, known
// or not) is skipped unread with `IgnoredAny`. A member of an unexpected JSON kind reads as absent,
// as `Value::as_str` and the like did, so the mapping below reports the same errors as before.
//
// Why not `#[serde(tag = "type")]` enums for property values: serde buffers an internally tagged
// value before it can pick the variant, `type` is documented as optional on property values (the
// key present is then used), and a property of an unexpected type must still be reported with its
// type's name (`WrongType { found: "select" }`), which `#[serde(other)]` loses. A property value
// is therefore one struct that keeps `type` and the value under each key the sync can map.

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

/// A JSON value read leniently: one method per JSON kind, whose default skips the value and
/// reads as `Self::default()` (`unexpected` may record what was found instead).
trait Lenient<'de>: Default {
    fn unexpected(_found: &'static str) -> Self {
        Self::default()
    }
    fn null() -> Self {
        Self::default()
    }
    fn boolean(_: bool) -> Self {
        Self::unexpected("a boolean")
    }
    fn string(_: Cow<'de, str>) -> Self {
        Self::unexpected("a string")
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::unexpected("an object"))
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::unexpected("an array"))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Lenient<'de>> Visitor<'de> for LenientVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<T, E> {
        Ok(T::boolean(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::unexpected("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::unexpected("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::unexpected("a number"))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<T, E> {
        Ok(T::string(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok(T::string(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<T, E> {
        Ok(T::string(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::null())
    }
    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::null())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
}

/// `Deserialize` for [`Lenient`] types (any JSON value is accepted).
macro_rules! lenient_deserialize {
    ($($ty:ident $(<$a:lifetime>)? $(<$t:ident>)?),* $(,)?) => {$(
        impl<'de $(: $a, $a)? $(, $t: Deserialize<'de>)?> Deserialize<'de> for $ty $(<$a>)? $(<$t>)? {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(LenientVisitor(PhantomData))
            }
        }
    )*};
}

/// A string, or `None` for anything else.
#[derive(Debug, Default)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Lenient<'de> for Str<'a> {
    fn string(value: Cow<'de, str>) -> Self {
        Str(Some(value))
    }
}

impl Str<'_> {
    fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A boolean, or `None` for anything else.
#[derive(Debug, Default)]
pub struct Flag(pub Option<bool>);

impl Lenient<'_> for Flag {
    fn boolean(value: bool) -> Self {
        Flag(Some(value))
    }
}

/// An object read as `T`, or `None` for anything else.
#[derive(Debug)]
pub struct Loose<T>(pub Option<T>);

impl<T> Default for Loose<T> {
    fn default() -> Self {
        Loose(None)
    }
}

impl<'de, T: Deserialize<'de>> Lenient<'de> for Loose<T> {
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(|value| Loose(Some(value)))
    }
}

/// An array of `T`, or `None` for anything else.
#[derive(Debug)]
pub struct List<T>(pub Option<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(None)
    }
}

impl<'de, T: Deserialize<'de>> Lenient<'de> for List<T> {
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(List(Some(items)))
    }
}

/// One rich-text segment (only the members that carry its text).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Segment<'a> {
    #[serde(borrow)]
    plain_text: Str<'a>,
    #[serde(borrow)]
    text: Loose<TextMember<'a>>,
    #[serde(borrow)]
    equation: Loose<EquationMember<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TextMember<'a> {
    #[serde(borrow)]
    content: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EquationMember<'a> {
    #[serde(borrow)]
    expression: Str<'a>,
}

impl Segment<'_> {
    fn text(&self) -> &str {
        self.plain_text
            .as_str()
            .or_else(|| self.text.0.as_ref().and_then(|text| text.content.as_str()))
            .or_else(|| self.equation.0.as_ref().and_then(|equation| equation.expression.as_str()))
            .unwrap_or("")
    }
}

/// A rich-text array (`title`, `rich_text`) as its concatenated plain text; `null` reads as
/// empty; anything else is `Err(what it is)`.
#[derive(Debug)]
struct PlainText(Result<String, &'static str>);

impl Default for PlainText {
    fn default() -> Self {
        PlainText(Ok(String::new()))
    }
}

impl<'de> Lenient<'de> for PlainText {
    fn unexpected(found: &'static str) -> Self {
        PlainText(Err(found))
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut out = String::new();
        while let Some(Loose(segment)) = seq.next_element::<Loose<Segment<'de>>>()? {
            if let Some(segment) = segment {
                out.push_str(segment.text());
            }
        }
        Ok(PlainText(Ok(out)))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SelectOption<'a> {
    #[serde(borrow)]
    name: Str<'a>,
}

/// A `multi_select` array as its option names (options without a name skipped); `null` reads as
/// empty; anything else is `Err(what it is)`.
#[derive(Debug)]
struct OptionNames(Result<Vec<String>, &'static str>);

impl Default for OptionNames {
    fn default() -> Self {
        OptionNames(Ok(Vec::new()))
    }
}

impl<'de> Lenient<'de> for OptionNames {
    fn unexpected(found: &'static str) -> Self {
        OptionNames(Err(found))
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut names = Vec::new();
        while let Some(Loose(option)) = seq.next_element::<Loose<SelectOption<'de>>>()? {
            if let Some(name) = option.and_then(|option| option.name.0) {
                names.push(name.into_owned());
            }
        }
        Ok(OptionNames(Ok(names)))
    }
}

/// A `date` property value.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DateMember<'a> {
    #[serde(borrow)]
    start: Str<'a>,
    #[serde(borrow)]
    end: Str<'a>,
    #[serde(borrow)]
    time_zone: Str<'a>,
}

impl DateMember<'_> {
    /// The date part of `start`, as written (never converted to UTC). A `start` that is not a date
    /// is kept as written, so the planner reports it per record.
    fn date_part(&self) -> Option<String> {
        let start = self.start.as_str()?;
        if start.trim().is_empty() {
            return None;
        }
        Some(normalize_date(start).unwrap_or_else(|_| start.trim().to_string()))
    }

    /// The whole value (as [`NotionDate::from_json`] reads it).
    fn notion_date(&self) -> Option<NotionDate> {
        let text = |value: &Str| value.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        Some(NotionDate { start: text(&self.start)?, end: text(&self.end), time_zone: text(&self.time_zone) })
    }
}

/// One property value of a page: its `type` and the value under each key the sync can map
/// (`Some` when the key is present, even as `null`). Other keys are skipped unread.
#[derive(Debug, Default)]
struct PropertyValue<'a> {
    found: Str<'a>,
    title: Option<PlainText>,
    rich_text: Option<PlainText>,
    multi_select: Option<OptionNames>,
    date: Option<Loose<DateMember<'a>>>,
    checkbox: Option<Flag>,
}

impl<'de: 'a, 'a> Deserialize<'de> for PropertyValue<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PropertyVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for PropertyVisitor<'a> {
            type Value = PropertyValue<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a property value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut value = PropertyValue::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    match key.as_deref() {
                        Some("type") => value.found = map.next_value()?,
                        Some("title") => value.title = Some(map.next_value()?),
                        Some("rich_text") => value.rich_text = Some(map.next_value()?),
                        Some("multi_select") => value.multi_select = Some(map.next_value()?),
                        Some("date") => value.date = Some(map.next_value()?),
                        Some("checkbox") => value.checkbox = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(value)
            }
        }
        deserializer.deserialize_map(PropertyVisitor(PhantomData))
    }
}

/// The `properties` of a page: the [`SCHEMA`] properties by position (`Some` when present, a
/// value that is not an object reading as an empty one); the others skipped unread.
#[derive(Debug, Default)]
struct Properties<'a>([Option<Loose<PropertyValue<'a>>>; SCHEMA.len()]);

impl<'de: 'a, 'a> Deserialize<'de> for Properties<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PropertiesVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for PropertiesVisitor<'a> {
            type Value = Properties<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a page's properties")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut properties = Properties::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    let slot = key.as_deref().and_then(|name| SCHEMA.iter().position(|spec| spec.name == name));
                    match slot {
                        Some(slot) => properties.0[slot] = Some(map.next_value()?),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(properties)
            }
        }
        deserializer.deserialize_map(PropertiesVisitor(PhantomData))
    }
}

/// A page object as the sync reads it (see [`PageJson::into_page`]). Deserialise it from the
/// answer's text (`serde_json::from_str`) or from a `&Value`; a value that is not an object reads
/// as [`Loose`]`(None)`.
#[derive(Debug, Default)]
pub struct PageJson<'a> {
    object: Str<'a>,
    id: Str<'a>,
    created_time: Str<'a>,
    last_edited_time: Str<'a>,
    in_trash: Flag,
    archived: Flag,
    properties: Loose<Properties<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for PageJson<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PageVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for PageVisitor<'a> {
            type Value = PageJson<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a page object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut page = PageJson::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    match key.as_deref() {
                        Some("object") => page.object = map.next_value()?,
                        Some("id") => page.id = map.next_value()?,
                        Some("created_time") => page.created_time = map.next_value()?,
                        Some("last_edited_time") => page.last_edited_time = map.next_value()?,
                        Some("in_trash") => page.in_trash = map.next_value()?,
                        Some("archived") => page.archived = map.next_value()?,
                        Some("properties") => page.properties = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(page)
            }
        }
        deserializer.deserialize_map(PageVisitor(PhantomData))
    }
}

lenient_deserialize!(Str<'a>, Flag, Loose<T>, List<T>, PlainText, OptionNames);

fn timestamp(raw: Option<&str>, field: &str, page_id: &str) -> Result<DateTime<Utc>, MappingError> {
    let raw = raw.ok_or_else(|| malformed("a page", format!("page {page_id} has no `{field}`")))?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| malformed("a page", format!("`{field}` of page {page_id} is {raw:?}, not an ISO 8601 timestamp")))
}

/// An array-valued property (`title`, `rich_text`, `multi_select`): `Err(found)` -> malformed.
fn array<T>(value: Result<T, &'static str>, page_id: &str, name: &str) -> Result<T, MappingError> {
    value.map_err(|found| {
        malformed("a page", format!("property `{name}` of page {page_id} holds {found}, not an array"))
    })
}

impl<'a> PageJson<'a> {
    /// Whether the object says it is something other than a page (a query's results may hold
    /// child data sources); an object without `object` counts as a page.
    pub fn is_other_object(&self) -> bool {
        self.object.as_str().is_some_and(|object| object != "page")
    }

    /// Takes a [`SCHEMA`] property out and checks its type. `Ok(None)` only when it is absent and
    /// optional. `type` is documented as optional on property values: the key present decides then.
    fn property(&mut self, page_id: &str, slot: usize) -> Result<Option<PropertyValue<'a>>, MappingError> {
        let spec = SCHEMA[slot];
        let found = self.properties.0.as_mut().and_then(|properties| properties.0[slot].take());
        let Some(Loose(value)) = found else {
            if spec.required {
                return Err(MappingError::MissingProperty {
                    page_id: page_id.to_string(),
                    property: spec.name.to_string(),
                    expected: spec.kind.to_string(),
                });
            }
            return Ok(None);
        };
        let found = value.as_ref().and_then(|value| value.found.as_str());
        let wrong = |found: &str| MappingError::WrongType {
            page_id: page_id.to_string(),
            property: spec.name.to_string(),
            expected: spec.kind.to_string(),
            found: found.to_string(),
        };
        if let Some(found) = found.filter(|found| *found != spec.kind) {
            return Err(wrong(found));
        }
        let has_value = value.as_ref().is_some_and(|value| match spec.kind {
            "title" => value.title.is_some(),
            "rich_text" => value.rich_text.is_some(),
            "multi_select" => value.multi_select.is_some(),
            "date" => value.date.is_some(),
            "checkbox" => value.checkbox.is_some(),
            _ => false,
        });
        if !has_value {
            return Err(wrong(found.unwrap_or("unknown")));
        }
        Ok(value)
    }

    /// The page as the core sees it. `read_archived`: whether the deprecated `archived: true`
    /// also means trashed (answers of `2025-09-03`; under `2026-03-11` it is not part of the API).
    pub fn into_page(mut self, read_archived: bool) -> Result<Page, MappingError> {
        if let Some(object) = self.object.as_str().filter(|object| *object != "page") {
            return Err(malformed("an object", format!("expected a page, got a {object:?}")));
        }
        let id = self.id.as_str().ok_or_else(|| malformed("a page", "it has no `id`"))?.to_string();
        if self.properties.0.is_none() {
            return Err(malformed("a page", format!("page {id} has no `properties` object")));
        }
        let decision = match self.property(&id, SLOT_DECISION)? {
            Some(value) => array(text_of(value.title), &id, PROP_DECISION)?,
            None => String::new(),
        };
        let types = match self.property(&id, SLOT_TYPE)? {
            Some(value) => array(value.multi_select.map_or(Ok(Vec::new()), |names| names.0), &id, PROP_TYPE)?,
            None => Vec::new(),
        };
        let (date, date_value) = match self.property(&id, SLOT_DATE)? {
            Some(PropertyValue { date: Some(Loose(Some(value))), .. }) => (value.date_part(), value.notion_date()),
            _ => (None, None),
        };
        let base = match self.property(&id, SLOT_CHECKSUM)? {
            Some(value) => {
                let text = array(text_of(value.rich_text), &id, PROP_CHECKSUM)?;
                let text = text.trim();
                (!text.is_empty()).then(|| text.to_string())
            }
            None => None,
        };
        let synced = match self.property(&id, SLOT_SYNCED)? {
            Some(value) => value.checkbox.and_then(|flag| flag.0).unwrap_or(false),
            None => false,
        };
        let in_trash = self.in_trash.0.unwrap_or(false) || (read_archived && self.archived.0.unwrap_or(false));

        Ok(Page {
            created_time: timestamp(self.created_time.as_str(), "created_time", &id)?,
            last_edited_time: timestamp(self.last_edited_time.as_str(), "last_edited_time", &id)?,
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
}

fn text_of(text: Option<PlainText>) -> Result<String, &'static str> {
    text.map_or(Ok(String::new()), |text| text.0)
}

// Positions in [`SCHEMA`].
const SLOT_DECISION: usize = 0;
const SLOT_TYPE: usize = 1;
const SLOT_DATE: usize = 2;
const SLOT_CHECKSUM: usize = 3;
const SLOT_SYNCED: usize = 4;

/// A page object (from a query, `GET /v1/pages/{id}`, a create or an update) -> [`Page`].
/// `in_trash` or `archived` true means trashed (the client has already dropped an `archived` its
/// API version does not define).
pub fn page_from_json(page: &Value) -> Result<Page, MappingError> {
    match Loose::<PageJson>::deserialize(page) {
        Ok(Loose(Some(page))) => page.into_page(true),
        Ok(Loose(None)) => Err(malformed("a page", "it has no `id`")),
        Err(error) => Err(malformed("a page", error.to_string())),
    }
}

/// A query answer (`POST /v1/data_sources/{id}/query`) as the client reads it: deserialise it
/// from the answer's text with `serde_json::from_str` (or from a `&Value`).
#[derive(Debug, Default)]
pub struct QueryAnswer<'a> {
    /// `None` when there is no `results` array; an item is `None` when it is not an object.
    pub results: Option<Vec<Loose<PageJson<'a>>>>,
    pub has_more: bool,
    pub next_cursor: Option<Cow<'a, str>>,
    /// `request_status`, when present and not `null`.
    pub request_status: Option<Value>,
}

impl<'de: 'a, 'a> Deserialize<'de> for QueryAnswer<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnswerVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for AnswerVisitor<'a> {
            type Value = QueryAnswer<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a query answer")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut answer = QueryAnswer::default();
                while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
                    match key.as_deref() {
                        Some("results") => answer.results = map.next_value::<List<Loose<PageJson<'a>>>>()?.0,
                        Some("has_more") => answer.has_more = map.next_value::<Flag>()?.0.unwrap_or(false),
                        Some("next_cursor") => answer.next_cursor = map.next_value::<Str<'a>>()?.0,
                        Some("request_status") => {
                            answer.request_status = map.next_value::<Value>().map(|v| (!v.is_null()).then_some(v))?
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(answer)
            }
        }
        deserializer.deserialize_map(AnswerVisitor(PhantomData))
    }
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

/// The ids of the [`SCHEMA`] properties of a data source object (the optional `Synced` when it
/// exists): what page reads ask for with `filter_properties`. Empty when a required one is
/// missing or has no id (the reads then ask for every property).
pub fn mapped_property_ids(data_source: &Value) -> Vec<String> {
    let Some(properties) = data_source.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut ids = Vec::with_capacity(SCHEMA.len());
    for spec in SCHEMA {
        match properties.get(spec.name).and_then(|prop| prop.get("id")).and_then(Value::as_str) {
            Some(id) if !id.is_empty() => ids.push(id.to_string()),
            _ if spec.required => return Vec::new(),
            _ => {}
        }
    }
    ids
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

    /// The `Value`-walking reader this module had before typed parsing: the reference the typed
    /// reader must agree with.
    mod reference {
        use super::*;
        use serde_json::Map;

        fn timestamp(page: &Value, field: &str, page_id: &str) -> Result<DateTime<Utc>, MappingError> {
            let raw = page
                .get(field)
                .and_then(Value::as_str)
                .ok_or_else(|| malformed("a page", format!("page {page_id} has no `{field}`")))?;
            DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).map_err(|_| malformed("a page", "ts"))
        }

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
            let found = prop.get("type").and_then(Value::as_str);
            let wrong = |found: &str| MappingError::WrongType {
                page_id: page_id.to_string(),
                property: name.to_string(),
                expected: kind.to_string(),
                found: found.to_string(),
            };
            match found {
                Some(found) if found != kind => Err(wrong(found)),
                _ => prop.get(kind).map(Some).ok_or_else(|| wrong(found.unwrap_or("unknown"))),
            }
        }

        fn array(value: &Value) -> Result<&[Value], MappingError> {
            match value {
                Value::Array(items) => Ok(items),
                Value::Null => Ok(&[]),
                _ => Err(malformed("a page", "not an array")),
            }
        }

        fn date_part(value: &Value) -> Option<String> {
            let start = value.get("start").and_then(Value::as_str)?;
            if start.trim().is_empty() {
                return None;
            }
            Some(normalize_date(start).unwrap_or_else(|_| start.trim().to_string()))
        }

        pub fn page_from_value(page: &Value) -> Result<Page, MappingError> {
            if let Some(object) = page.get("object").and_then(Value::as_str) {
                if object != "page" {
                    return Err(malformed("an object", "not a page"));
                }
            }
            let id = page.get("id").and_then(Value::as_str).ok_or_else(|| malformed("a page", "no id"))?.to_string();
            let properties = page
                .get("properties")
                .and_then(Value::as_object)
                .ok_or_else(|| malformed("a page", "no properties"))?;
            let decision = match property(properties, &id, PROP_DECISION, "title", true)? {
                Some(value) => plain_text(array(value)?),
                None => String::new(),
            };
            let types = match property(properties, &id, PROP_TYPE, "multi_select", true)? {
                Some(value) => array(value)?
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
                    let text = plain_text(array(value)?);
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
            Ok(Page {
                created_time: timestamp(page, "created_time", &id)?,
                last_edited_time: timestamp(page, "last_edited_time", &id)?,
                in_trash: flag("in_trash") || flag("archived"),
                id,
                decision,
                types,
                date,
                date_value,
                base,
                synced,
            })
        }
    }

    /// The typed reader, from a `Value` and from the text, against the reference: the same page,
    /// or an error of the same kind (the same error for missing or mistyped properties).
    fn assert_same_as_reference(json: &Value) {
        let expected = reference::page_from_value(json);
        let typed = page_from_json(json);
        let text = json.to_string();
        let from_text = match serde_json::from_str::<Loose<PageJson>>(&text).unwrap() {
            Loose(Some(page)) => page.into_page(true),
            Loose(None) => Err(malformed("a page", "it has no `id`")),
        };
        for got in [typed, from_text] {
            match (&expected, &got) {
                (Ok(expected), Ok(got)) => assert_eq!(expected, got, "{json}"),
                (Err(MappingError::Malformed { .. }), Err(MappingError::Malformed { .. })) => {}
                (Err(expected), Err(got)) => assert_eq!(expected, got, "{json}"),
                _ => panic!("reference {expected:?}, typed {got:?} for {json}"),
            }
        }
    }

    #[test]
    fn typed_reader_reads_every_fixture_and_variant_as_the_value_reader_did() {
        let mut cases: Vec<Value> =
            ["page_segments_mentions", "page_multi_type", "page_untyped_undated", "page_trashed", "page_missing_date"]
                .into_iter()
                .map(fixture)
                .collect();
        let base = fixture("page_segments_mentions");
        let with = |pointer: &str, value: Value| {
            let mut page = base.clone();
            *page.pointer_mut(pointer).unwrap() = value;
            page
        };
        let without = |key: &str, member: &str| {
            let mut page = base.clone();
            page[key].as_object_mut().unwrap().remove(member);
            page
        };
        cases.extend([
            // Nulls and odd kinds where the reader is lenient.
            with("/properties/Decision/title", json!(null)),
            with("/properties/Type/multi_select", json!(null)),
            with("/properties/Type/multi_select", json!([{ "id": "x" }, 7, { "name": 3 }, { "name": "Ops" }])),
            with("/properties/Date/date", json!(null)),
            with("/properties/Date/date", json!({ "start": "  " })),
            with("/properties/Date/date", json!({ "start": "not a date", "end": 5, "time_zone": "Europe/Paris" })),
            with("/properties/Synced/checkbox", json!(null)),
            with("/properties/Synced/checkbox", json!("yes")),
            with("/properties/Checksum/rich_text", json!([])),
            with("/properties/Checksum/rich_text", json!([{ "text": { "content": "  abc " } }, 5, null])),
            with(
                "/properties/Decision/title",
                json!([{ "equation": { "expression": "E=mc^2" } }, { "plain_text": 1 }]),
            ),
            with("/in_trash", json!("yes")),
            with("/archived", json!(true)),
            with("/id", json!(12)),
            with("/properties", json!([])),
            // Not arrays: malformed.
            with("/properties/Decision/title", json!("text")),
            with("/properties/Checksum/rich_text", json!({})),
            with("/properties/Type/multi_select", json!(true)),
            // Missing, mistyped, untyped.
            without("properties", "Date"),
            without("properties", "Synced"),
            with("/properties/Type", json!({ "id": "t", "type": "select", "select": { "name": "Ops" } })),
            with("/properties/Type", json!({ "id": "t", "multi_select": [{ "name": "Ops" }] })),
            with("/properties/Type", json!({ "id": "t", "select": null })),
            with("/properties/Type", json!(null)),
            with("/properties/Type", json!("Ops")),
            with(
                "/properties/Synced",
                json!({ "id": "s", "type": "formula", "formula": { "type": "boolean", "boolean": true } }),
            ),
            with(
                "/properties/Decision",
                json!({ "id": "title", "type": "some_future_type", "some_future_type": { "a": [1] } }),
            ),
            // Strings with escapes (copied, not borrowed) and non-ASCII text.
            with("/properties/Decision/title", json!([{ "plain_text": "Quote \"this\" \\ é 😀\n" }])),
            json!({}),
            json!({ "object": "page", "id": "x" }),
            json!({ "object": "list" }),
            json!([1]),
            json!("page"),
        ]);
        for case in &cases {
            assert_same_as_reference(case);
        }
    }

    #[test]
    fn unknown_property_types_are_skipped_and_a_mapped_one_is_reported_by_its_type() {
        let mut json = fixture("page_multi_type");
        let props = json["properties"].as_object_mut().unwrap();
        props.insert(
            "Future".into(),
            json!({ "id": "f", "type": "hologram", "hologram": { "layers": [[1, 2], { "x": null }] } }),
        );
        props.insert(
            "Formula".into(),
            json!({ "id": "g", "type": "formula", "formula": { "type": "string", "string": "x" } }),
        );
        props.insert("Broken".into(), json!("not even an object"));
        let page = page_from_json(&json).unwrap();
        assert_eq!(page, page_from_json(&fixture("page_multi_type")).unwrap(), "unmapped properties change nothing");

        json["properties"]["Date"] = json!({ "id": "Kj%7Dq", "type": "hologram", "hologram": {} });
        let err = page_from_json(&json).unwrap_err();
        assert!(
            matches!(&err, MappingError::WrongType { property, found, .. } if property == "Date" && found == "hologram"),
            "{err:?}"
        );
        assert!(err.to_string().contains("is a hologram property"), "{err}");
    }

    #[test]
    fn archived_counts_only_when_the_version_has_it() {
        let mut json = fixture("page_multi_type");
        json["in_trash"] = json!(false);
        json["archived"] = json!(true);
        let text = json.to_string();
        let read = |read_archived: bool| {
            let Loose(Some(page)) = serde_json::from_str::<Loose<PageJson>>(&text).unwrap() else { panic!() };
            page.into_page(read_archived).unwrap().in_trash
        };
        assert!(read(true));
        assert!(!read(false));
    }

    #[test]
    fn slots_follow_the_schema() {
        for (slot, name) in [
            (SLOT_DECISION, PROP_DECISION),
            (SLOT_TYPE, PROP_TYPE),
            (SLOT_DATE, PROP_DATE),
            (SLOT_CHECKSUM, PROP_CHECKSUM),
            (SLOT_SYNCED, PROP_SYNCED),
        ] {
            assert_eq!(SCHEMA[slot].name, name);
        }
    }

    #[test]
    fn mapped_property_ids_in_schema_order() {
        assert_eq!(mapped_property_ids(&fixture("data_source")), vec!["title", "u%3ETk", "Kj%7Dq", "%3BxWq", "Vx%40r"]);
        let mut no_synced = fixture("data_source");
        no_synced["properties"].as_object_mut().unwrap().remove("Synced");
        assert_eq!(mapped_property_ids(&no_synced), vec!["title", "u%3ETk", "Kj%7Dq", "%3BxWq"]);
        let mut no_date = fixture("data_source");
        no_date["properties"].as_object_mut().unwrap().remove("Date");
        assert!(mapped_property_ids(&no_date).is_empty(), "a required property missing: no filter");
        assert!(mapped_property_ids(&fixture("database")).is_empty());
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
