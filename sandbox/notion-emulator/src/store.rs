//! In-memory databases, data sources and pages, with Notion's validation of page writes.

use crate::config::{DatabaseSpec, EmulatorConfig, PropertyKind};
use crate::dates::{fmt_ts, IsoDate};
use crate::error::ApiError;
use crate::ids;
use crate::richtext::{self, DateValue, MentionContext, RichText};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Notion's option colours, handed out in turn to new options.
const OPTION_COLORS: &[&str] =
    &["default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Title,
    RichText,
    MultiSelect,
    Select,
    Date,
    Checkbox,
    Number,
    Url,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Title => "title",
            Kind::RichText => "rich_text",
            Kind::MultiSelect => "multi_select",
            Kind::Select => "select",
            Kind::Date => "date",
            Kind::Checkbox => "checkbox",
            Kind::Number => "number",
            Kind::Url => "url",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SelectOption {
    pub id: String,
    pub name: String,
    pub color: String,
}

#[derive(Debug, Clone)]
pub struct PropSchema {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub options: Vec<SelectOption>,
}

#[derive(Debug, Clone)]
pub struct DataSource {
    pub id: String,
    pub name: String,
    pub database_id: String,
    pub props: Vec<PropSchema>,
    pub created: DateTime<Utc>,
    pub edited: DateTime<Utc>,
}

impl DataSource {
    pub fn prop_by_key(&self, key: &str) -> Option<&PropSchema> {
        self.props.iter().find(|p| p.name == key).or_else(|| self.props.iter().find(|p| p.id == key))
    }
}

#[derive(Debug, Clone)]
pub struct Database {
    pub id: String,
    pub title: String,
    pub parent_page_id: String,
    pub data_source_ids: Vec<String>,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    Title(Vec<RichText>),
    RichText(Vec<RichText>),
    MultiSelect(Vec<String>),
    Select(Option<String>),
    Date(Option<DateValue>),
    Checkbox(bool),
    Number(Option<f64>),
    Url(Option<String>),
}

impl PropValue {
    pub fn empty(kind: Kind) -> PropValue {
        match kind {
            Kind::Title => PropValue::Title(Vec::new()),
            Kind::RichText => PropValue::RichText(Vec::new()),
            Kind::MultiSelect => PropValue::MultiSelect(Vec::new()),
            Kind::Select => PropValue::Select(None),
            Kind::Date => PropValue::Date(None),
            Kind::Checkbox => PropValue::Checkbox(false),
            Kind::Number => PropValue::Number(None),
            Kind::Url => PropValue::Url(None),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Page {
    pub id: String,
    pub data_source_id: String,
    pub database_id: String,
    pub created: DateTime<Utc>,
    pub edited: DateTime<Utc>,
    pub created_by: String,
    pub edited_by: String,
    pub in_trash: bool,
    pub values: HashMap<String, PropValue>,
    pub icon: Value,
    pub cover: Value,
    pub seq: u64,
}

/// Who performs a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Bot,
    Human,
}

/// A validated property write, not yet applied (new options are only added on commit).
#[derive(Debug, Clone)]
enum Pending {
    Ready(PropValue),
    MultiSelect(Vec<OptRef>),
    Select(Option<OptRef>),
}

#[derive(Debug, Clone)]
enum OptRef {
    Id(String),
    Name(String),
}

pub struct Store {
    pub databases: Vec<Database>,
    pub data_sources: HashMap<String, DataSource>,
    pub pages: HashMap<String, Page>,
    next_seq: u64,
    color_turn: usize,
    pub clock_offset_seconds: i64,
    pub bot_user_id: String,
    pub human_user_id: String,
    pub human_name: String,
}

impl MentionContext for Store {
    fn user_name(&self, id: &str) -> Option<String> {
        if id == self.human_user_id {
            Some(self.human_name.clone())
        } else if id == self.bot_user_id {
            Some("Notion Emulator Integration".to_string())
        } else {
            None
        }
    }

    fn page_info(&self, id: &str) -> Option<(String, String)> {
        self.pages.get(id).map(|p| (self.page_title(p), self.page_url(p)))
    }

    fn database_info(&self, id: &str) -> Option<(String, String)> {
        self.databases
            .iter()
            .find(|d| d.id == id)
            .map(|d| (d.title.clone(), format!("https://www.notion.so/{}", ids::undashed(&d.id))))
    }
}

impl Store {
    pub fn new(cfg: &EmulatorConfig) -> Result<Store, String> {
        let norm = |id: &str, what: &str| ids::normalize(id).ok_or_else(|| format!("{what} {id:?} is not a UUID"));
        let mut store = Store {
            databases: Vec::new(),
            data_sources: HashMap::new(),
            pages: HashMap::new(),
            next_seq: 0,
            color_turn: 0,
            clock_offset_seconds: 0,
            bot_user_id: norm(&cfg.bot_user_id, "bot_user_id")?,
            human_user_id: norm(&cfg.human_user_id, "human_user_id")?,
            human_name: cfg.human_name.clone(),
        };
        store.add_database(&cfg.main_database())?;
        for db in &cfg.extra_databases {
            store.add_database(db)?;
        }
        Ok(store)
    }

    /// The emulator's clock: real time plus the admin offset.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.clock_offset_seconds)
    }

    /// Adds a database; returns (database id, data source ids).
    pub fn add_database(&mut self, spec: &DatabaseSpec) -> Result<(String, Vec<String>), String> {
        let db_id = match &spec.id {
            Some(id) => ids::normalize(id).ok_or_else(|| format!("database id {id:?} is not a UUID"))?,
            None => ids::new_uuid(),
        };
        if self.databases.iter().any(|d| d.id == db_id) || self.data_sources.contains_key(&db_id) {
            return Err(format!("id {db_id} is already in use"));
        }
        if spec.data_sources.is_empty() {
            return Err("a database needs at least one data source".into());
        }
        let now = self.now();
        let mut ds_ids = Vec::new();
        let mut new_sources = Vec::new();
        for ds in &spec.data_sources {
            let ds_id = match &ds.id {
                Some(id) => ids::normalize(id).ok_or_else(|| format!("data source id {id:?} is not a UUID"))?,
                None => ids::new_uuid(),
            };
            if ds_id == db_id || ds_ids.contains(&ds_id) || self.data_sources.contains_key(&ds_id) {
                return Err(format!("id {ds_id} is already in use"));
            }
            let mut props: Vec<PropSchema> = Vec::new();
            for p in &ds.properties {
                if props.iter().any(|q| q.name == p.name) {
                    return Err(format!("property {:?} is defined twice", p.name));
                }
                let (kind, option_names) = match &p.kind {
                    PropertyKind::Title => (Kind::Title, vec![]),
                    PropertyKind::RichText => (Kind::RichText, vec![]),
                    PropertyKind::MultiSelect(o) => (Kind::MultiSelect, o.clone()),
                    PropertyKind::Select(o) => (Kind::Select, o.clone()),
                    PropertyKind::Date => (Kind::Date, vec![]),
                    PropertyKind::Checkbox => (Kind::Checkbox, vec![]),
                    PropertyKind::Number => (Kind::Number, vec![]),
                    PropertyKind::Url => (Kind::Url, vec![]),
                };
                if kind == Kind::Title && props.iter().any(|q| q.kind == Kind::Title) {
                    return Err("a data source has exactly one title property".into());
                }
                let id = if kind == Kind::Title {
                    "title".to_string()
                } else {
                    let taken: Vec<String> = props.iter().map(|q| q.id.clone()).collect();
                    ids::property_id(&ds_id, &p.name, &taken)
                };
                let mut options = Vec::new();
                for name in option_names {
                    if name.contains(',') {
                        return Err(format!("option {name:?} contains a comma"));
                    }
                    options.push(SelectOption { id: ids::new_uuid(), name, color: self.next_color() });
                }
                props.push(PropSchema { id, name: p.name.clone(), kind, options });
            }
            ds_ids.push(ds_id.clone());
            new_sources.push(DataSource {
                id: ds_id,
                name: ds.name.clone(),
                database_id: db_id.clone(),
                props,
                created: now,
                edited: now,
            });
        }
        for ds in new_sources {
            self.data_sources.insert(ds.id.clone(), ds);
        }
        self.databases.push(Database {
            id: db_id.clone(),
            title: spec.title.clone(),
            parent_page_id: ids::new_uuid(),
            data_source_ids: ds_ids.clone(),
            created: now,
        });
        Ok((db_id, ds_ids))
    }

    fn next_color(&mut self) -> String {
        let c = OPTION_COLORS[self.color_turn % OPTION_COLORS.len()];
        self.color_turn += 1;
        c.to_string()
    }

    fn user_of(&self, actor: Actor) -> String {
        match actor {
            Actor::Bot => self.bot_user_id.clone(),
            Actor::Human => self.human_user_id.clone(),
        }
    }

    pub fn database(&self, id: &str) -> Option<&Database> {
        self.databases.iter().find(|d| d.id == id)
    }

    // ----- writes -------------------------------------------------------------------------

    /// Creates a page in a data source from Notion property values.
    pub fn create_page(
        &mut self,
        ds_id: &str,
        properties: &Value,
        icon: Value,
        cover: Value,
        actor: Actor,
    ) -> Result<String, ApiError> {
        let pending = self.validate_properties(ds_id, properties, "body.properties")?;
        let now = self.now();
        let user = self.user_of(actor);
        let id = ids::new_uuid();
        let (database_id, defaults) = {
            let ds = self.data_sources.get(ds_id).ok_or_else(|| ApiError::not_found("data_source", ds_id))?;
            let defaults: HashMap<String, PropValue> =
                ds.props.iter().map(|p| (p.id.clone(), PropValue::empty(p.kind))).collect();
            (ds.database_id.clone(), defaults)
        };
        let mut values = defaults;
        for (pid, v) in self.commit(ds_id, pending) {
            values.insert(pid, v);
        }
        self.next_seq += 1;
        let page = Page {
            id: id.clone(),
            data_source_id: ds_id.to_string(),
            database_id,
            created: now,
            edited: now,
            created_by: user.clone(),
            edited_by: user,
            in_trash: false,
            values,
            icon,
            cover,
            seq: self.next_seq,
        };
        self.pages.insert(id.clone(), page);
        Ok(id)
    }

    /// Updates properties and/or trash state. `properties` may be `Value::Null`.
    pub fn update_page(
        &mut self,
        page_id: &str,
        properties: &Value,
        in_trash: Option<bool>,
        icon: Option<Value>,
        cover: Option<Value>,
        actor: Actor,
    ) -> Result<(), ApiError> {
        let page = self.pages.get(page_id).ok_or_else(|| ApiError::not_found("page", page_id))?;
        let ds_id = page.data_source_id.clone();
        let has_props = properties.as_object().is_some_and(|o| !o.is_empty());
        let will_be_trashed = in_trash.unwrap_or(page.in_trash);
        if page.in_trash && will_be_trashed && (has_props || icon.is_some() || cover.is_some()) {
            return Err(ApiError::validation(
                "Can't edit block that is archived. You must unarchive the block before editing.",
            ));
        }
        let pending = if properties.is_null() {
            Vec::new()
        } else {
            self.validate_properties(&ds_id, properties, "body.properties")?
        };
        let committed = self.commit(&ds_id, pending);
        let now = self.now();
        let user = self.user_of(actor);
        let page = self.pages.get_mut(page_id).ok_or_else(|| ApiError::not_found("page", page_id))?;
        let changed = !committed.is_empty() || in_trash.is_some() || icon.is_some() || cover.is_some();
        for (pid, v) in committed {
            page.values.insert(pid, v);
        }
        if let Some(t) = in_trash {
            page.in_trash = t;
        }
        if let Some(i) = icon {
            page.icon = i;
        }
        if let Some(c) = cover {
            page.cover = c;
        }
        if changed {
            page.edited = now;
            page.edited_by = user;
        }
        Ok(())
    }

    fn validate_properties(
        &self,
        ds_id: &str,
        properties: &Value,
        path: &str,
    ) -> Result<Vec<(String, Pending)>, ApiError> {
        let ds = self.data_sources.get(ds_id).ok_or_else(|| ApiError::not_found("data_source", ds_id))?;
        let obj = properties.as_object().ok_or_else(|| ApiError::body(path, "an object", properties))?;
        let mut soft_errors = Vec::new();
        let mut out = Vec::new();
        for (key, value) in obj {
            let Some(schema) = ds.prop_by_key(key) else {
                soft_errors.push(format!("{key} is not a property that exists."));
                continue;
            };
            let ppath = format!("{path}.{key}");
            let vobj = value.as_object().ok_or_else(|| ApiError::body(&ppath, "an object", value))?;
            let tname = schema.kind.name();
            let type_ok = match vobj.get("type") {
                None => vobj.contains_key(tname),
                Some(Value::String(t)) => t == tname,
                Some(_) => false,
            };
            if !type_ok {
                soft_errors.push(format!("{} is expected to be {}.", schema.name, tname));
                continue;
            }
            for k in vobj.keys() {
                if k != "type" && k != "id" && k != tname {
                    return Err(ApiError::body(&format!("{ppath}.{k}"), "not present", &vobj[k]));
                }
            }
            let v = vobj.get(tname).ok_or_else(|| ApiError::body_missing(&format!("{ppath}.{tname}")))?;
            let vpath = format!("{ppath}.{tname}");
            out.push((schema.id.clone(), self.parse_value(schema, v, &vpath)?));
        }
        if !soft_errors.is_empty() {
            return Err(ApiError::validation(soft_errors.join(" ")));
        }
        Ok(out)
    }

    fn parse_value(&self, schema: &PropSchema, v: &Value, path: &str) -> Result<Pending, ApiError> {
        Ok(match schema.kind {
            Kind::Title => Pending::Ready(PropValue::Title(richtext::parse_array(v, path, self)?)),
            Kind::RichText => Pending::Ready(PropValue::RichText(richtext::parse_array(v, path, self)?)),
            Kind::Checkbox => {
                Pending::Ready(PropValue::Checkbox(v.as_bool().ok_or_else(|| ApiError::body(path, "a boolean", v))?))
            }
            Kind::Number => Pending::Ready(PropValue::Number(match v {
                Value::Null => None,
                Value::Number(n) => n.as_f64(),
                other => return Err(ApiError::body(path, "a number or `null`", other)),
            })),
            Kind::Url => Pending::Ready(PropValue::Url(match v {
                Value::Null => None,
                Value::String(s) => {
                    if richtext::js_len(s) > richtext::MAX_LINK_URL {
                        return Err(ApiError::validation(format!(
                            "body failed validation: {path}.length should be ≤ `2000`, instead was `{}`.",
                            richtext::js_len(s)
                        )));
                    }
                    Some(s.clone())
                }
                other => return Err(ApiError::body(path, "a string or `null`", other)),
            })),
            Kind::Date => Pending::Ready(PropValue::Date(match v {
                Value::Null => None,
                other => Some(richtext::parse_date_object(other, path)?),
            })),
            Kind::Select => Pending::Select(match v {
                Value::Null => None,
                other => Some(self.parse_option(schema, other, path)?),
            }),
            Kind::MultiSelect => {
                let items = v.as_array().ok_or_else(|| ApiError::body(path, "an array", v))?;
                if items.len() > richtext::MAX_ARRAY {
                    return Err(ApiError::validation(format!(
                        "body failed validation: {path}.length should be ≤ `{}`, instead was `{}`.",
                        richtext::MAX_ARRAY,
                        items.len()
                    )));
                }
                let mut refs = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    refs.push(self.parse_option(schema, item, &format!("{path}[{i}]"))?);
                }
                Pending::MultiSelect(refs)
            }
        })
    }

    fn parse_option(&self, schema: &PropSchema, v: &Value, path: &str) -> Result<OptRef, ApiError> {
        let o = v.as_object().ok_or_else(|| ApiError::body(path, "an object", v))?;
        for k in o.keys() {
            if k != "id" && k != "name" && k != "color" {
                return Err(ApiError::body(&format!("{path}.{k}"), "not present", &o[k]));
            }
        }
        if let Some(id) = o.get("id") {
            let id = id.as_str().ok_or_else(|| ApiError::body(&format!("{path}.id"), "a string", id))?;
            if schema.options.iter().any(|opt| opt.id == id) {
                return Ok(OptRef::Id(id.to_string()));
            }
            if o.get("name").is_none() {
                return Err(ApiError::validation(format!(
                    "body failed validation: {path}.id should be the id of an existing option of {}, instead was `\"{id}\"`.",
                    schema.name
                )));
            }
        }
        match o.get("name") {
            Some(Value::String(name)) => {
                if name.contains(',') {
                    return Err(ApiError::validation(format!("Invalid select option, commas not allowed: {name}")));
                }
                if name.trim().is_empty() {
                    return Err(ApiError::body(&format!("{path}.name"), "a non-empty string", &json!(name)));
                }
                if richtext::js_len(name) > 100 {
                    return Err(ApiError::validation(format!(
                        "body failed validation: {path}.name.length should be ≤ `100`, instead was `{}`.",
                        richtext::js_len(name)
                    )));
                }
                Ok(OptRef::Name(name.clone()))
            }
            Some(other) => Err(ApiError::body(&format!("{path}.name"), "a string", other)),
            None => Err(ApiError::body_missing(&format!("{path}.name"))),
        }
    }

    /// Applies pending values: resolves option names, adding new options to the schema.
    fn commit(&mut self, ds_id: &str, pending: Vec<(String, Pending)>) -> Vec<(String, PropValue)> {
        let mut out = Vec::new();
        for (pid, p) in pending {
            let v = match p {
                Pending::Ready(v) => v,
                Pending::Select(r) => PropValue::Select(r.map(|r| self.resolve_option(ds_id, &pid, r))),
                Pending::MultiSelect(refs) => {
                    let mut ids_out: Vec<String> = Vec::new();
                    for r in refs {
                        let id = self.resolve_option(ds_id, &pid, r);
                        if !ids_out.contains(&id) {
                            ids_out.push(id);
                        }
                    }
                    PropValue::MultiSelect(ids_out)
                }
            };
            out.push((pid, v));
        }
        out
    }

    fn resolve_option(&mut self, ds_id: &str, pid: &str, r: OptRef) -> String {
        let name = match r {
            OptRef::Id(id) => return id,
            OptRef::Name(n) => n,
        };
        let color = self.next_color();
        let Some(ds) = self.data_sources.get_mut(ds_id) else {
            return String::new();
        };
        let Some(schema) = ds.props.iter_mut().find(|p| p.id == pid) else {
            return String::new();
        };
        if let Some(opt) = schema.options.iter().find(|o| o.name == name) {
            return opt.id.clone();
        }
        let id = ids::new_uuid();
        schema.options.push(SelectOption { id: id.clone(), name, color });
        id
    }

    // ----- rendering ----------------------------------------------------------------------

    pub fn page_title(&self, page: &Page) -> String {
        page.values
            .get("title")
            .map(|v| match v {
                PropValue::Title(items) => richtext::plain_text_of(items),
                _ => String::new(),
            })
            .unwrap_or_default()
    }

    pub fn page_url(&self, page: &Page) -> String {
        let title = self.page_title(page);
        let mut slug = String::new();
        for c in title.chars() {
            if c.is_alphanumeric() {
                slug.push(c);
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            format!("https://www.notion.so/{}", ids::undashed(&page.id))
        } else {
            format!("https://www.notion.so/{}-{}", slug, ids::undashed(&page.id))
        }
    }

    fn user(id: &str) -> Value {
        json!({"object": "user", "id": id})
    }

    /// The page object as Notion returns it. `only` limits properties (ids or names).
    pub fn render_page(&self, page: &Page, only: Option<&[String]>) -> Value {
        let mut props = Map::new();
        if let Some(ds) = self.data_sources.get(&page.data_source_id) {
            for schema in &ds.props {
                if let Some(only) = only {
                    if !only.iter().any(|k| k == &schema.id || k == &schema.name) {
                        continue;
                    }
                }
                let empty = PropValue::empty(schema.kind);
                let value = page.values.get(&schema.id).unwrap_or(&empty);
                let rendered = self.render_value(schema, value);
                let tname = schema.kind.name();
                props.insert(schema.name.clone(), json!({"id": schema.id, "type": tname, tname: rendered}));
            }
        }
        json!({
            "object": "page",
            "id": page.id,
            "created_time": fmt_ts(page.created),
            "last_edited_time": fmt_ts(page.edited),
            "created_by": Self::user(&page.created_by),
            "last_edited_by": Self::user(&page.edited_by),
            "cover": page.cover,
            "icon": page.icon,
            "parent": {
                "type": "data_source_id",
                "data_source_id": page.data_source_id,
                "database_id": page.database_id,
            },
            "archived": page.in_trash,
            "in_trash": page.in_trash,
            "is_locked": false,
            "properties": Value::Object(props),
            "url": self.page_url(page),
            "public_url": Value::Null,
        })
    }

    fn render_value(&self, schema: &PropSchema, value: &PropValue) -> Value {
        let option = |id: &str| {
            schema.options.iter().find(|o| o.id == id).map(|o| json!({"id": o.id, "name": o.name, "color": o.color}))
        };
        match value {
            PropValue::Title(items) | PropValue::RichText(items) => richtext::render(items),
            PropValue::MultiSelect(ids) => Value::Array(ids.iter().filter_map(|i| option(i)).collect()),
            PropValue::Select(id) => id.as_deref().and_then(option).unwrap_or(Value::Null),
            PropValue::Date(d) => d.as_ref().map(DateValue::to_json).unwrap_or(Value::Null),
            PropValue::Checkbox(b) => json!(b),
            PropValue::Number(n) => json!(n),
            PropValue::Url(u) => json!(u),
        }
    }

    fn render_schema(&self, p: &PropSchema) -> Value {
        let config = match p.kind {
            Kind::MultiSelect | Kind::Select => json!({
                "options": p.options.iter()
                    .map(|o| json!({"id": o.id, "name": o.name, "color": o.color, "description": Value::Null}))
                    .collect::<Vec<_>>()
            }),
            Kind::Number => json!({"format": "number"}),
            _ => json!({}),
        };
        let t = p.kind.name();
        json!({"id": p.id, "name": p.name, "description": "", "type": t, t: config})
    }

    pub fn render_data_source(&self, ds: &DataSource) -> Value {
        let parent_page = self.database(&ds.database_id).map(|d| d.parent_page_id.clone()).unwrap_or_default();
        let mut props = Map::new();
        for p in &ds.props {
            props.insert(p.name.clone(), self.render_schema(p));
        }
        json!({
            "object": "data_source",
            "id": ds.id,
            "created_time": fmt_ts(ds.created),
            "last_edited_time": fmt_ts(ds.edited),
            "created_by": Self::user(&self.human_user_id),
            "last_edited_by": Self::user(&self.human_user_id),
            "title": [RichText::plain(&ds.name).to_json()],
            "description": [],
            "icon": Value::Null,
            "cover": Value::Null,
            "properties": Value::Object(props),
            "parent": {"type": "database_id", "database_id": ds.database_id},
            "database_parent": {"type": "page_id", "page_id": parent_page},
            "is_inline": false,
            "archived": false,
            "in_trash": false,
            "url": format!("https://www.notion.so/{}", ids::undashed(&ds.id)),
            "public_url": Value::Null,
        })
    }

    pub fn render_database(&self, db: &Database) -> Value {
        let sources: Vec<Value> = db
            .data_source_ids
            .iter()
            .filter_map(|id| self.data_sources.get(id))
            .map(|ds| json!({"id": ds.id, "name": ds.name}))
            .collect();
        json!({
            "object": "database",
            "id": db.id,
            "created_time": fmt_ts(db.created),
            "last_edited_time": fmt_ts(db.created),
            "created_by": Self::user(&self.human_user_id),
            "last_edited_by": Self::user(&self.human_user_id),
            "title": [RichText::plain(&db.title).to_json()],
            "description": [],
            "icon": Value::Null,
            "cover": Value::Null,
            "parent": {"type": "page_id", "page_id": db.parent_page_id},
            "is_inline": false,
            "in_trash": false,
            "archived": false,
            "is_locked": false,
            "data_sources": sources,
            "url": format!("https://www.notion.so/{}", ids::undashed(&db.id)),
            "public_url": Value::Null,
        })
    }
}

/// Parses a date filter argument (`"2024-05-01"` or a date-time).
pub fn parse_date_arg(v: &Value, path: &str) -> Result<IsoDate, ApiError> {
    let s = v.as_str().ok_or_else(|| ApiError::body(path, "a string", v))?;
    IsoDate::parse(s).ok_or_else(|| ApiError::body(path, "a valid ISO 8601 date string", v))
}
