//! Test fixtures shared by the mapping's tests: Notion objects from `tests/fixtures/notion/`, and a
//! page as Notion would return it after a create.
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub fn fixture(name: &str) -> Value {
    let text = match name {
        "page_segments_mentions" => include_str!("../../../tests/fixtures/notion/page_segments_mentions.json"),
        "page_multi_type" => include_str!("../../../tests/fixtures/notion/page_multi_type.json"),
        "page_untyped_undated" => include_str!("../../../tests/fixtures/notion/page_untyped_undated.json"),
        "page_trashed" => include_str!("../../../tests/fixtures/notion/page_trashed.json"),
        "page_missing_date" => include_str!("../../../tests/fixtures/notion/page_missing_date.json"),
        "data_source" => include_str!("../../../tests/fixtures/notion/data_source.json"),
        "data_source_misconfigured" => include_str!("../../../tests/fixtures/notion/data_source_misconfigured.json"),
        "database" => include_str!("../../../tests/fixtures/notion/database.json"),
        "database_two_sources" => include_str!("../../../tests/fixtures/notion/database_two_sources.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

pub fn ts(s: &str) -> DateTime<Utc> {
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
pub fn page_for(properties: &Value) -> Value {
    let mut page = fixture("page_untyped_undated");
    let props = page["properties"].as_object_mut().unwrap();
    props.insert(
        "Decision".into(),
        json!({ "id": "title", "type": "title", "title": as_notion_returns(&properties["Decision"]["title"]) }),
    );
    props.insert(
        "Checksum".into(),
        json!({ "id": "x", "type": "rich_text", "rich_text": as_notion_returns(&properties["Checksum"]["rich_text"]) }),
    );
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
