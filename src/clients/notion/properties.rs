//! Writing pages: content and base -> the `properties` of a create or update request (long text
//! chunked with [`rich_text::chunk`]), and the page's `Date` as a push's [`DateWrite`] says. Pure:
//! no I/O.
use serde_json::{json, Map, Value};

use crate::clients::notion::schema::{PROP_CHECKSUM, PROP_DATE, PROP_DECISION, PROP_SYNCED, PROP_TYPE};
use crate::core::content::{normalize_date, Content, ContentError};
use crate::core::notion_date::{DateWrite, NotionDate};
use crate::core::rich_text;

/// `text` as rich-text objects of at most 2,000 UTF-16 units each (at most 100 of them).
pub fn rich_text_segments(text: &str) -> Result<Vec<Value>, ContentError> {
    Ok(rich_text::chunk(text)?
        .into_iter()
        .map(|segment| json!({ "type": "text", "text": { "content": segment } }))
        .collect())
}

/// The `properties` of a write, built in one pass with only what is written: the content
/// (`Decision`, `Type`, and `Date` as `date` says: `{start}` alone, left out so that the page
/// keeps its Date, or a whole value with the end kept), the base (`Checksum`, with `Synced = true`
/// unless the data source has no `Synced`), or both; `None` when neither. Per-record errors: a
/// comma in the type, a decision longer than 100 segments, a bad date.
pub fn write_properties(
    content: Option<&Content>,
    base: Option<&str>,
    with_synced: bool,
    date: &DateWrite,
) -> Result<Option<Value>, ContentError> {
    if content.is_none() && base.is_none() {
        return Ok(None);
    }
    let mut map = Map::new();
    if let Some(content) = content {
        if content.kind.contains(',') {
            return Err(ContentError::CommaInType(content.kind.clone()));
        }
        let start = normalize_date(&content.date)?;
        let kind = content.kind.trim();
        let types = if kind.is_empty() { json!([]) } else { json!([{ "name": kind }]) };
        map.insert(PROP_DECISION.to_string(), json!({ "title": rich_text_segments(&content.decision)? }));
        map.insert(PROP_TYPE.to_string(), json!({ "multi_select": types }));
        match date {
            DateWrite::Start => {
                map.insert(PROP_DATE.to_string(), json!({ "date": { "start": start } }));
            }
            DateWrite::Keep => {}
            DateWrite::Value(value) => {
                map.insert(PROP_DATE.to_string(), json!({ "date": date_json(value) }));
            }
        }
    }
    if let Some(base) = base {
        insert_base(&mut map, base, with_synced);
    }
    Ok(Some(Value::Object(map)))
}

/// `Checksum` holding `base`, and `Synced = true` when `with_synced`.
fn insert_base(map: &mut Map<String, Value>, base: &str, with_synced: bool) {
    let segments: Vec<Value> = if base.is_empty() {
        Vec::new()
    } else {
        // A base is a 64-character checksum: one segment.
        vec![json!({ "type": "text", "text": { "content": base } })]
    };
    map.insert(PROP_CHECKSUM.to_string(), json!({ "rich_text": segments }));
    if with_synced {
        map.insert(PROP_SYNCED.to_string(), json!({ "checkbox": true }));
    }
}

/// The `properties` of a create carrying this content and base, with `Synced = true` (the
/// [`write_properties`] of a new page).
pub fn properties_json(content: &Content, base: &str) -> Result<Value, ContentError> {
    Ok(write_properties(Some(content), Some(base), true, &DateWrite::Start)?.unwrap_or_else(|| json!({})))
}

/// The `properties` that store only a new base (`Checksum`) and `Synced = true`.
pub fn base_properties_json(base: &str) -> Value {
    let mut map = Map::new();
    insert_base(&mut map, base, true);
    Value::Object(map)
}

/// A whole `date` value to send. `end` is always there (Notion replaces the whole value: a `null`
/// end clears the range); `time_zone` only when set.
pub fn date_json(date: &NotionDate) -> Value {
    let mut value = json!({ "start": date.start, "end": date.end });
    if let (Some(time_zone), Some(map)) = (&date.time_zone, value.as_object_mut()) {
        map.insert("time_zone".into(), json!(time_zone));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::notion::fixtures::page_for;
    use crate::clients::notion::page_json::page_from_json;

    #[test]
    fn push_properties_keep_the_pages_date_as_the_date_write_says() {
        let content = Content::normalize("Freeze deploys", "Ops", "2025-03-03").unwrap();
        let props = || properties_json(&content, "b").unwrap();
        let with_date_write =
            |_: Value, write: &DateWrite| write_properties(Some(&content), Some("b"), true, write).unwrap().unwrap();
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
        assert_eq!(write_properties(None, Some("b"), true, &write).unwrap().unwrap(), base_properties_json("b"));
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
        let no_synced = write_properties(Some(&content), Some(&base), false, &DateWrite::Start).unwrap().unwrap();
        assert_eq!(no_synced.get("Synced"), None);
        assert_eq!(no_synced["Checksum"], props["Checksum"]);
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
    fn a_date_value_is_sent_whole_and_a_null_end_clears_the_range() {
        let date = |start: &str, time_zone: Option<&str>| NotionDate {
            start: start.into(),
            end: None,
            time_zone: time_zone.map(Into::into),
        };
        assert_eq!(
            date_json(&date("2025-03-09", None)),
            json!({ "start": "2025-03-09", "end": null }),
            "null clears the end"
        );
        let zoned = date("2025-03-09T10:00", Some("Europe/Paris"));
        assert_eq!(date_json(&zoned), json!({ "start": "2025-03-09T10:00", "end": null, "time_zone": "Europe/Paris" }));
    }
}
