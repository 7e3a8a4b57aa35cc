//! Event payloads as developers.notion.com/reference/webhooks-events-delivery documents them:
//!
//! ```json
//! {"id", "timestamp", "workspace_id", "workspace_name", "subscription_id", "integration_id",
//!  "type", "authors": [{"id", "type": "person" | "bot"}], "accessible_by": [...],
//!  "attempt_number": 1, "api_version": "2025-09-03",
//!  "entity": {"id": "<page id>", "type": "page"},
//!  "data": {"parent": {"id": "<database id>", "type": "database", "data_source_id": "..."},
//!           "updated_properties": ["<property id>", ...]}}
//! ```
//!
//! An [`Event`] is built from one [`Change`] and may absorb later ones of the same page
//! (aggregation); it is rendered per delivery attempt ([`Event::to_json`]).

use crate::dates::fmt_exact;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The event types the emulator emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    PageCreated,
    PagePropertiesUpdated,
    PageContentUpdated,
    PageDeleted,
    PageUndeleted,
    PageMoved,
    DataSourceSchemaUpdated,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::PageCreated,
        EventType::PagePropertiesUpdated,
        EventType::PageContentUpdated,
        EventType::PageDeleted,
        EventType::PageUndeleted,
        EventType::PageMoved,
        EventType::DataSourceSchemaUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PageCreated => "page.created",
            EventType::PagePropertiesUpdated => "page.properties_updated",
            EventType::PageContentUpdated => "page.content_updated",
            EventType::PageDeleted => "page.deleted",
            EventType::PageUndeleted => "page.undeleted",
            EventType::PageMoved => "page.moved",
            EventType::DataSourceSchemaUpdated => "data_source.schema_updated",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Events Notion merges per entity over a short window.
    pub fn aggregates(self) -> bool {
        matches!(self, EventType::PagePropertiesUpdated | EventType::PageContentUpdated)
    }

    pub fn entity_type(self) -> &'static str {
        match self {
            EventType::DataSourceSchemaUpdated => "data_source",
            _ => "page",
        }
    }
}

/// Who made a change: `{"id", "type": "person" | "bot"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: String,
    pub kind: &'static str,
}

impl Author {
    pub fn person(id: &str) -> Author {
        Author { id: id.to_string(), kind: "person" }
    }

    pub fn bot(id: &str) -> Author {
        Author { id: id.to_string(), kind: "bot" }
    }

    fn to_json(&self) -> Value {
        json!({"id": self.id, "type": self.kind})
    }
}

/// One change the emulator's API (or admin) made.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: EventType,
    pub entity_id: String,
    /// `data.parent`.
    pub parent: Value,
    /// Property ids (page events) or `{id, name, action}` objects (schema events).
    pub updated_properties: Vec<Value>,
    pub author: Author,
    pub at: DateTime<Utc>,
}

/// What every payload of a subscription shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub workspace_id: String,
    pub workspace_name: String,
    pub subscription_id: String,
    pub integration_id: String,
    pub accessible_by: Vec<Author>,
    pub api_version: String,
}

/// An event, possibly aggregating several changes of one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: EventType,
    pub entity_id: String,
    pub parent: Value,
    pub updated_properties: Vec<Value>,
    pub authors: Vec<Author>,
    pub timestamp: DateTime<Utc>,
    /// Changes merged into it (1 when not aggregated).
    pub changes: u32,
}

impl Event {
    pub fn new(change: Change) -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            kind: change.kind,
            entity_id: change.entity_id,
            parent: change.parent,
            updated_properties: dedup(change.updated_properties),
            authors: vec![change.author],
            timestamp: change.at,
            changes: 1,
        }
    }

    /// Merges a later change of the same entity and type: the union of the updated properties
    /// and of the authors, the latest timestamp and parent.
    pub fn absorb(&mut self, change: Change) {
        for p in change.updated_properties {
            if !self.updated_properties.contains(&p) {
                self.updated_properties.push(p);
            }
        }
        if !self.authors.contains(&change.author) {
            self.authors.push(change.author);
        }
        self.timestamp = self.timestamp.max(change.at);
        self.parent = change.parent;
        self.changes += 1;
    }

    /// The payload of delivery attempt `attempt` (1-based).
    pub fn to_json(&self, envelope: &Envelope, attempt: u32) -> Value {
        let mut data = Map::new();
        data.insert("parent".into(), self.parent.clone());
        if matches!(self.kind, EventType::PagePropertiesUpdated | EventType::DataSourceSchemaUpdated) {
            data.insert("updated_properties".into(), Value::Array(self.updated_properties.clone()));
        }
        json!({
            "id": self.id,
            "timestamp": fmt_exact(self.timestamp),
            "workspace_id": envelope.workspace_id,
            "workspace_name": envelope.workspace_name,
            "subscription_id": envelope.subscription_id,
            "integration_id": envelope.integration_id,
            "type": self.kind.as_str(),
            "authors": self.authors.iter().map(Author::to_json).collect::<Vec<_>>(),
            "accessible_by": envelope.accessible_by.iter().map(Author::to_json).collect::<Vec<_>>(),
            "attempt_number": attempt,
            "api_version": envelope.api_version,
            "entity": {"id": self.entity_id, "type": self.kind.entity_type()},
            "data": Value::Object(data),
        })
    }
}

fn dedup(values: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// `data.parent` of a page in a data source.
pub fn page_parent(database_id: &str, data_source_id: &str) -> Value {
    json!({"id": database_id, "type": "database", "data_source_id": data_source_id})
}

/// `data.parent` of a data source.
pub fn data_source_parent(database_id: &str) -> Value {
    json!({"id": database_id, "type": "database"})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(props: &[&str], author: Author, second: u32) -> Change {
        Change {
            kind: EventType::PagePropertiesUpdated,
            entity_id: "p1".into(),
            parent: page_parent("db", "ds"),
            updated_properties: props.iter().map(|p| json!(p)).collect(),
            author,
            at: DateTime::from_timestamp(1_700_000_000 + i64::from(second), 0).unwrap_or_default(),
        }
    }

    fn envelope() -> Envelope {
        Envelope {
            workspace_id: "ws".into(),
            workspace_name: "Emulated".into(),
            subscription_id: "sub".into(),
            integration_id: "int".into(),
            accessible_by: vec![Author::bot("b")],
            api_version: "2025-09-03".into(),
        }
    }

    #[test]
    fn renders_the_documented_shape() {
        let e = Event::new(change(&["title", "XGe%40"], Author::person("u"), 0));
        let v = e.to_json(&envelope(), 3);
        assert_eq!(v["type"], "page.properties_updated");
        assert_eq!(v["attempt_number"], 3);
        assert_eq!(v["entity"], json!({"id": "p1", "type": "page"}));
        assert_eq!(v["data"]["parent"], json!({"id": "db", "type": "database", "data_source_id": "ds"}));
        assert_eq!(v["data"]["updated_properties"], json!(["title", "XGe%40"]));
        assert_eq!(v["authors"], json!([{"id": "u", "type": "person"}]));
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.000Z");
        for key in ["workspace_id", "workspace_name", "subscription_id", "integration_id", "api_version"] {
            assert!(v[key].is_string(), "{key}");
        }
    }

    #[test]
    fn absorbing_unions_properties_and_authors() {
        let mut e = Event::new(change(&["title"], Author::person("u"), 0));
        e.absorb(change(&["title", "abc"], Author::bot("b"), 5));
        e.absorb(change(&["xyz"], Author::person("u"), 2));
        assert_eq!(e.updated_properties, vec![json!("title"), json!("abc"), json!("xyz")]);
        assert_eq!(e.authors, vec![Author::person("u"), Author::bot("b")]);
        assert_eq!(e.changes, 3);
        assert_eq!(e.to_json(&envelope(), 1)["timestamp"], "2023-11-14T22:13:25.000Z");
    }

    #[test]
    fn page_events_other_than_property_updates_carry_only_the_parent() {
        let mut c = change(&[], Author::bot("b"), 0);
        c.kind = EventType::PageDeleted;
        let v = Event::new(c).to_json(&envelope(), 1);
        assert_eq!(v["type"], "page.deleted");
        assert!(v["data"].get("updated_properties").is_none());
    }
}
