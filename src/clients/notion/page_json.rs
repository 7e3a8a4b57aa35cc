//! Reading pages: a Notion page object (API versions `2025-09-03` and `2026-03-11`) -> the core's
//! [`Page`] (plain text of the title, types, date as written and the whole `Date` value, base,
//! `Synced`, trash state, timestamps), and a query answer -> pages. Pure: no I/O.
use std::borrow::Cow;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::clients::notion::error::{malformed, MappingError};
use crate::clients::notion::schema::{PROP_CHECKSUM, PROP_DECISION, PROP_TYPE, SCHEMA};
use crate::core::content::normalize_date;
use crate::core::model::Page;
use crate::core::notion_date::NotionDate;
use crate::core::ports::PageStub;

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

    /// The whole value (as the reference reader of the tests reads a `Value`).
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

    /// Only the id and `created_time` (a presence sweep's answer carries only the title);
    /// `Ok(None)` for a trashed page (`read_archived`: as in [`PageJson::into_page`]).
    pub fn into_stub(self, read_archived: bool) -> Result<Option<PageStub>, MappingError> {
        let id = self.id.as_str().ok_or_else(|| malformed("a page", "it has no `id`"))?.to_string();
        if self.in_trash.0.unwrap_or(false) || (read_archived && self.archived.0.unwrap_or(false)) {
            return Ok(None);
        }
        let created_time = timestamp(self.created_time.as_str(), "created_time", &id)?;
        Ok(Some(PageStub { id, created_time }))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clients::notion::fixtures::{fixture, ts};
    use crate::clients::notion::schema::{PROP_DATE, PROP_SYNCED};
    use crate::core::error::PortError;

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
                Some(value) => (date_part(value), notion_date_from_value(value)),
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

    /// The value of a `date` property (`{start, end, time_zone}`) read from a `Value`; `None` when
    /// empty or not a date (the reference reader's date).
    fn notion_date_from_value(value: &Value) -> Option<NotionDate> {
        let text = |key: &str| {
            value.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
        };
        Some(NotionDate { start: text("start")?, end: text("end"), time_zone: text("time_zone") })
    }

    #[test]
    fn reads_every_field_and_empty_as_none() {
        let date = |start: &str, end: Option<&str>, time_zone: Option<&str>| NotionDate {
            start: start.into(),
            end: end.map(Into::into),
            time_zone: time_zone.map(Into::into),
        };
        let value = json!({ "start": "2025-03-01", "end": "2025-03-05", "time_zone": null });
        assert_eq!(notion_date_from_value(&value), Some(date("2025-03-01", Some("2025-03-05"), None)));
        assert_eq!(notion_date_from_value(&json!(null)), None);
        assert_eq!(notion_date_from_value(&json!({ "start": "" })), None);
        let zoned = json!({ "start": "2025-12-31T23:00:00.000", "end": null, "time_zone": "America/New_York" });
        assert_eq!(
            notion_date_from_value(&zoned),
            Some(date("2025-12-31T23:00:00.000", None, Some("America/New_York")))
        );
    }
}
