//! Notion's webhook event payloads (developers.notion.com → Webhooks → "Event types & delivery",
//! and the per-event reference pages). Every event has this shape:
//!
//! ```json
//! {"id": "…", "timestamp": "2024-12-05T23:57:05.379Z", "workspace_id": "…", "workspace_name": "…",
//!  "subscription_id": "…", "integration_id": "…", "type": "page.properties_updated",
//!  "authors": [{"id": "…", "type": "person"}], "accessible_by": [{"id": "…", "type": "bot"}],
//!  "attempt_number": 1, "api_version": "2025-09-03",
//!  "entity": {"id": "<page id>", "type": "page"},
//!  "data": {"parent": {"id": "…", "type": "database", "data_source_id": "…"},
//!           "updated_properties": ["XGe%40", "title"]}}
//! ```
//!
//! Payloads carry ids, never property values: the pages they name are read, and the three-way
//! rules judge. Deliveries may be duplicated (`attempt_number` 1–8), aggregated (one
//! `page.properties_updated` for several edits in a short window, `authors` then lists several),
//! late and out of order: order by `timestamp`, never by arrival.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

/// What happened, from `type`. Types we do not act on are kept as [`EventKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    PageCreated,
    PagePropertiesUpdated,
    PageContentUpdated,
    PageDeleted,
    PageUndeleted,
    PageMoved,
    DataSourceSchemaUpdated,
    /// `database.schema_updated` (Notion-Version 2022-06-28 subscriptions).
    DatabaseSchemaUpdated,
    Other(String),
}

impl EventKind {
    pub fn parse(name: &str) -> EventKind {
        match name {
            "page.created" => EventKind::PageCreated,
            "page.properties_updated" => EventKind::PagePropertiesUpdated,
            "page.content_updated" => EventKind::PageContentUpdated,
            "page.deleted" => EventKind::PageDeleted,
            "page.undeleted" => EventKind::PageUndeleted,
            "page.moved" => EventKind::PageMoved,
            "data_source.schema_updated" => EventKind::DataSourceSchemaUpdated,
            "database.schema_updated" => EventKind::DatabaseSchemaUpdated,
            other => EventKind::Other(other.to_string()),
        }
    }

    /// Events whose page must be read again (its properties, trash state or parent changed).
    /// `page.content_updated` is the page's body, which the sync does not carry.
    pub fn names_a_page_to_read(&self) -> bool {
        matches!(
            self,
            EventKind::PageCreated
                | EventKind::PagePropertiesUpdated
                | EventKind::PageDeleted
                | EventKind::PageUndeleted
                | EventKind::PageMoved
        )
    }

    pub fn is_schema_change(&self) -> bool {
        matches!(self, EventKind::DataSourceSchemaUpdated | EventKind::DatabaseSchemaUpdated)
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|name| EventKind::parse(&name))
    }
}

/// The object the event is about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entity {
    pub id: String,
    /// `page`, `block`, `database`, `data_source`, `comment`, …
    #[serde(rename = "type")]
    pub kind: String,
}

/// A user, bot or agent (`authors`, `accessible_by`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Actor {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `data.parent`: where the entity lives (for a page of ours, the database and its data source).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Parent {
    pub id: String,
    /// `database`, `data_source`, `page`, `space`, `block`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data_source_id: Option<String>,
}

/// An element of `data.updated_properties`: a property id for page events, or
/// `{id, name, action}` for schema events.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum UpdatedProperty {
    Id(String),
    Schema {
        id: String,
        #[serde(default)]
        name: Option<String>,
        /// `created`, `updated`, `deleted`.
        #[serde(default)]
        action: Option<String>,
    },
}

/// `data`: event-specific; unknown members are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct EventData {
    #[serde(default)]
    pub parent: Option<Parent>,
    #[serde(default)]
    pub updated_properties: Vec<UpdatedProperty>,
}

/// One event delivery.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotionEvent {
    /// The event's id: the same on every retry of a delivery (deduplicate on it).
    pub id: String,
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub entity: Entity,
    #[serde(default)]
    pub data: EventData,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub workspace_name: Option<String>,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub integration_id: Option<String>,
    #[serde(default)]
    pub authors: Vec<Actor>,
    #[serde(default)]
    pub accessible_by: Vec<Actor>,
    /// 1 for the first delivery, up to 8 for Notion's retries.
    #[serde(default)]
    pub attempt_number: Option<u32>,
    #[serde(default)]
    pub api_version: Option<String>,
}

/// Why a (verified) body is not an event we can read.
#[derive(Debug, thiserror::Error)]
#[error("the Notion webhook delivery is not an event this Worker understands ({0}); it was ignored")]
pub struct EventError(#[from] serde_json::Error);

/// Parses one delivery's body.
pub fn parse_event(body: &[u8]) -> Result<NotionEvent, EventError> {
    Ok(serde_json::from_slice(body)?)
}

impl NotionEvent {
    /// True when the event's parent is not `data_source_id` nor `database_id`, as far as the
    /// payload tells: a page moved out of our data source, or an event of another database the
    /// integration can see. An event without a parent is kept (reading the page decides).
    pub fn is_elsewhere(&self, database_id: &str, data_source_id: &str) -> bool {
        let Some(parent) = &self.data.parent else {
            return false;
        };
        let ours = |id: &str| same_id(id, database_id) || same_id(id, data_source_id);
        match &parent.data_source_id {
            Some(source) => !same_id(source, data_source_id),
            None => !ours(&parent.id),
        }
    }
}

/// Notion ids compare without dashes and case (`abcd…` = `ABCD-…`).
fn same_id(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| *c != '-').flat_map(char::to_lowercase).collect::<String>();
    !a.is_empty() && norm(a) == norm(b)
}

/// Orders events by `timestamp` (then id, so the order is total and stable across retries).
pub fn sort_by_timestamp(events: &mut [NotionEvent]) {
    events.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
}

/// What a batch of events asks of the sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// Pages to read, each once, in the order of their latest event.
    pub pages: Vec<String>,
    /// A schema event for our data source: check the schema before the next run.
    pub schema_changed: bool,
    /// Events that ask nothing of the sync (other types, other entities).
    pub ignored: usize,
}

/// Reduces events (any order, duplicates and aggregates included) to the pages to read. Events
/// are ordered by `timestamp`; a page named several times is read once, placed by its latest
/// event. Events of other databases are ignored, except `page.moved`, whose new parent is by
/// definition not ours when the page left our data source (reading it tells).
pub fn signals(events: &[NotionEvent], database_id: &str, data_source_id: &str) -> Signals {
    let mut ordered: Vec<&NotionEvent> = events.iter().collect();
    ordered.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then_with(|| a.id.cmp(&b.id)));
    let mut out = Signals::default();
    for event in ordered {
        let moved = event.kind == EventKind::PageMoved;
        if event.kind.names_a_page_to_read() && event.entity.kind == "page" {
            if !moved && event.is_elsewhere(database_id, data_source_id) {
                out.ignored += 1;
                continue;
            }
            out.pages.retain(|p| !same_id(p, &event.entity.id));
            out.pages.push(event.entity.id.clone());
        } else if event.kind.is_schema_change()
            && (same_id(&event.entity.id, data_source_id) || same_id(&event.entity.id, database_id))
        {
            out.schema_changed = true;
        } else {
            out.ignored += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DB: &str = "1c3b1d2e-0000-4000-8000-00000000d001";
    const DS: &str = "1c3b1d2e-0000-4000-8000-00000000d5d5";

    fn event(id: &str, kind: &str, page: &str, timestamp: &str) -> serde_json::Value {
        json!({
            "id": id, "timestamp": timestamp,
            "workspace_id": "ws-1", "workspace_name": "Acme", "subscription_id": "sub-1",
            "integration_id": "int-1", "type": kind,
            "authors": [{"id": "user-1", "type": "person"}], "accessible_by": [],
            "attempt_number": 1, "api_version": "2025-09-03",
            "entity": {"id": page, "type": "page"},
            "data": {"parent": {"id": DB, "type": "database", "data_source_id": DS}}
        })
    }

    fn parsed(value: serde_json::Value) -> NotionEvent {
        parse_event(value.to_string().as_bytes()).expect("a valid event")
    }

    #[test]
    fn parses_the_documented_shape() {
        let mut value = event("evt-1", "page.properties_updated", "page-1", "2024-12-05T23:57:05.379Z");
        value["data"]["updated_properties"] = json!(["XGe%40", "title"]);
        value["authors"] = json!([{"id": "u1", "type": "person"}, {"id": "b1", "type": "bot"}]);
        value["attempt_number"] = json!(3);
        value["future_field"] = json!({"anything": true});
        let e = parsed(value);
        assert_eq!(e.id, "evt-1");
        assert_eq!(e.kind, EventKind::PagePropertiesUpdated);
        assert_eq!(e.entity, Entity { id: "page-1".into(), kind: "page".into() });
        assert_eq!(e.timestamp.to_rfc3339(), "2024-12-05T23:57:05.379+00:00");
        assert_eq!(e.workspace_id.as_deref(), Some("ws-1"));
        assert_eq!(e.subscription_id.as_deref(), Some("sub-1"));
        assert_eq!(e.integration_id.as_deref(), Some("int-1"));
        assert_eq!(e.attempt_number, Some(3));
        assert_eq!(e.authors.len(), 2, "an aggregated event lists every author");
        assert_eq!(
            e.data.updated_properties,
            vec![UpdatedProperty::Id("XGe%40".into()), UpdatedProperty::Id("title".into())]
        );
        assert_eq!(e.data.parent.as_ref().and_then(|p| p.data_source_id.as_deref()), Some(DS));
    }

    #[test]
    fn schema_events_carry_property_objects() {
        let e = parsed(json!({
            "id": "evt-s", "timestamp": "2025-01-01T00:00:00.000Z", "type": "data_source.schema_updated",
            "entity": {"id": DS, "type": "data_source"},
            "data": {"parent": {"id": DB, "type": "database"},
                     "updated_properties": [{"id": "abc", "name": "Type", "action": "updated"}]}
        }));
        assert_eq!(e.kind, EventKind::DataSourceSchemaUpdated);
        assert_eq!(
            e.data.updated_properties,
            vec![UpdatedProperty::Schema {
                id: "abc".into(),
                name: Some("Type".into()),
                action: Some("updated".into())
            }]
        );
        assert!(e.workspace_id.is_none());
    }

    #[test]
    fn unknown_types_are_kept_as_other() {
        let e = parsed(event("evt-c", "comment.created", "page-1", "2025-01-01T00:00:00Z"));
        assert_eq!(e.kind, EventKind::Other("comment.created".into()));
        let s = signals(&[e], DB, DS);
        assert_eq!(s, Signals { pages: vec![], schema_changed: false, ignored: 1 });
    }

    #[test]
    fn malformed_events_are_errors_not_panics() {
        for body in [
            "not json".to_string(),
            json!({"id": "x", "type": "page.created"}).to_string(), // no timestamp, no entity
            json!({"id": "x", "type": "page.created", "timestamp": "yesterday", "entity": {"id": "p", "type": "page"}})
                .to_string(),
        ] {
            let err = parse_event(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("ignored"), "{err}");
        }
    }

    #[test]
    fn events_are_ordered_by_timestamp_not_arrival() {
        let mut events = vec![
            parsed(event("evt-3", "page.properties_updated", "page-c", "2025-03-01T10:00:03Z")),
            parsed(event("evt-1", "page.created", "page-a", "2025-03-01T10:00:01Z")),
            parsed(event("evt-2", "page.deleted", "page-b", "2025-03-01T10:00:02.500+00:00")),
        ];
        sort_by_timestamp(&mut events);
        assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["evt-1", "evt-2", "evt-3"]);
        // Time zones are compared as instants.
        let mut events = vec![
            parsed(event("late", "page.created", "p", "2025-03-01T12:00:00+02:00")),
            parsed(event("early", "page.created", "p", "2025-03-01T10:30:00Z")),
        ];
        sort_by_timestamp(&mut events);
        assert_eq!(events[0].id, "late", "12:00+02:00 is 10:00Z, before 10:30Z");
    }

    #[test]
    fn duplicates_and_aggregates_read_each_page_once_in_latest_order() {
        let events = vec![
            parsed(event("evt-2", "page.properties_updated", "page-a", "2025-03-01T10:00:05Z")),
            parsed(event("evt-1", "page.properties_updated", "page-a", "2025-03-01T10:00:01Z")),
            parsed(event("evt-1", "page.properties_updated", "page-a", "2025-03-01T10:00:01Z")), // a retry
            parsed(event("evt-3", "page.created", "page-b", "2025-03-01T10:00:03Z")),
            parsed(event("evt-4", "page.content_updated", "page-b", "2025-03-01T10:00:04Z")),
        ];
        let s = signals(&events, DB, DS);
        assert_eq!(s.pages, ["page-b", "page-a"]);
        assert!(!s.schema_changed);
        assert_eq!(s.ignored, 1, "page.content_updated: the body is not synced");
    }

    #[test]
    fn ids_compare_without_dashes_and_case() {
        let events = vec![
            parsed(event(
                "e1",
                "page.properties_updated",
                "AAAABBBB-0000-4000-8000-000000000001",
                "2025-03-01T10:00:01Z",
            )),
            parsed(event("e2", "page.undeleted", "aaaabbbb000040008000000000000001", "2025-03-01T10:00:02Z")),
        ];
        assert_eq!(signals(&events, DB, DS).pages, ["aaaabbbb000040008000000000000001"]);
    }

    #[test]
    fn other_databases_are_ignored_but_moves_and_our_schema_count() {
        let mut elsewhere = event("e1", "page.properties_updated", "page-x", "2025-03-01T10:00:01Z");
        elsewhere["data"]["parent"] = json!({"id": "other-db", "type": "database", "data_source_id": "other-ds"});
        let mut moved = event("e2", "page.moved", "page-y", "2025-03-01T10:00:02Z");
        moved["data"]["parent"] = json!({"id": "some-page", "type": "page"});
        let mut no_parent = event("e3", "page.deleted", "page-z", "2025-03-01T10:00:03Z");
        no_parent["data"] = json!({});
        let dashless_ds = DS.replace('-', "");
        let schema = json!({"id": "e4", "timestamp": "2025-03-01T10:00:04Z", "type": "data_source.schema_updated",
                            "entity": {"id": dashless_ds, "type": "data_source"}, "data": {}});
        let other_schema = json!({"id": "e5", "timestamp": "2025-03-01T10:00:05Z", "type": "data_source.schema_updated",
                                  "entity": {"id": "other-ds", "type": "data_source"}, "data": {}});
        let events: Vec<NotionEvent> =
            [elsewhere, moved, no_parent, schema, other_schema].into_iter().map(parsed).collect();
        let s = signals(&events, DB, DS);
        assert_eq!(s.pages, ["page-y", "page-z"]);
        assert!(s.schema_changed);
        assert_eq!(s.ignored, 2);
        // A parent given by database id only (no data_source_id) is ours when it is our database.
        let mut by_db = event("e6", "page.created", "page-w", "2025-03-01T10:00:06Z");
        by_db["data"]["parent"] = json!({"id": DB, "type": "database"});
        assert_eq!(signals(&[parsed(by_db)], DB, DS).pages, ["page-w"]);
    }
}
