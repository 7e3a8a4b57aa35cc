//! Which events a write produces, from the page before and after it (Notion sends events for the
//! integration's own API writes too: `authors` then names the bot).

use super::event::{data_source_parent, page_parent, Author, Change, EventType};
use crate::store::{Actor, Page, Store};
use serde_json::{json, Value};

fn author(store: &Store, actor: Actor) -> Author {
    match actor {
        Actor::Bot => Author::bot(&store.bot_user_id),
        Actor::Human => Author::person(&store.human_user_id),
    }
}

fn change(store: &Store, page: &Page, kind: EventType, props: Vec<Value>, actor: Actor) -> Change {
    Change {
        kind,
        entity_id: page.id.clone(),
        parent: page_parent(&page.database_id, &page.data_source_id),
        updated_properties: props,
        author: author(store, actor),
        at: store.now(),
    }
}

/// `page.created` for a new page.
pub fn page_created(store: &Store, page_id: &str, actor: Actor) -> Option<Change> {
    let page = store.pages.get(page_id)?;
    Some(change(store, page, EventType::PageCreated, Vec::new(), actor))
}

/// Ids of the properties whose value differs, in schema order.
fn changed_properties(store: &Store, before: &Page, after: &Page) -> Vec<Value> {
    let Some(ds) = store.data_sources.get(&after.data_source_id) else {
        return Vec::new();
    };
    ds.props.iter().filter(|p| before.values.get(&p.id) != after.values.get(&p.id)).map(|p| json!(p.id)).collect()
}

/// `page.undeleted` / `page.properties_updated` / `page.deleted` for an update, in that order.
pub fn page_updated(store: &Store, before: &Page, actor: Actor) -> Vec<Change> {
    let Some(after) = store.pages.get(&before.id) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if before.in_trash && !after.in_trash {
        out.push(change(store, after, EventType::PageUndeleted, Vec::new(), actor));
    }
    let props = changed_properties(store, before, after);
    if !props.is_empty() {
        out.push(change(store, after, EventType::PagePropertiesUpdated, props, actor));
    }
    if !before.in_trash && after.in_trash {
        out.push(change(store, after, EventType::PageDeleted, Vec::new(), actor));
    }
    out
}

/// An event an admin asks for (`POST /__admin/webhooks/events`): a schema change of a data
/// source, or any page event of a page (e.g. `page.moved`, which the API cannot cause here).
pub fn requested(store: &Store, body: &Value, default_data_source: &str) -> Result<Change, String> {
    let name = body.get("type").and_then(Value::as_str).ok_or("\"type\" must be an event type string")?;
    let kind = EventType::parse(name).ok_or_else(|| {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!("\"type\" {name:?} is not one of {}", known.join(", "))
    })?;
    let actor = match body.get("author").and_then(Value::as_str) {
        None | Some("person") => Actor::Human,
        Some("bot") => Actor::Bot,
        Some(other) => return Err(format!("\"author\" {other:?} is not \"person\" or \"bot\"")),
    };
    let props = match body.get("updated_properties") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err("\"updated_properties\" must be an array".into()),
    };
    if kind == EventType::DataSourceSchemaUpdated {
        return schema_change(store, body, default_data_source, props, actor);
    }
    let id = body.get("page_id").and_then(Value::as_str).and_then(crate::ids::normalize);
    let id = id.ok_or("\"page_id\" must be the UUID of a page")?;
    let page = store.pages.get(&id).ok_or_else(|| format!("no page {id}"))?;
    Ok(change(store, page, kind, props, actor))
}

fn schema_change(
    store: &Store,
    body: &Value,
    default: &str,
    props: Vec<Value>,
    actor: Actor,
) -> Result<Change, String> {
    let id = match body.get("data_source_id").and_then(Value::as_str) {
        Some(s) => crate::ids::normalize(s).ok_or("\"data_source_id\" is not a UUID")?,
        None => default.to_string(),
    };
    let ds = store.data_sources.get(&id).ok_or_else(|| format!("no data source {id}"))?;
    Ok(Change {
        kind: EventType::DataSourceSchemaUpdated,
        entity_id: ds.id.clone(),
        parent: data_source_parent(&ds.database_id),
        updated_properties: props,
        author: author(store, actor),
        at: store.now(),
    })
}
