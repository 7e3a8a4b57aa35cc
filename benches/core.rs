//! CPU cost of the pure core per record: `cargo bench --bench core`.
//!
//! - `planner::plan` over a snapshot of 10,000 linked rows/pages (a mix of clean pairs, edits
//!   on either side, conflicts, deletes and unlinked records);
//! - `clients::notion::page_json::page_from_json` over 10,000 page objects as Notion returns
//!   them, and `clients::notion::properties::properties_json` for 10,000 contents (the write
//!   direction; both figures keep their former `notion_mapping::` labels);
//! - a query answer's body (100 pages) -> the pages, as the client reads it, for the sync's own
//!   5-property data source and for a wide one (30 properties, 5 of them mapped) answered whole
//!   or with `filter_properties` (then it holds the 5 mapped properties only): bytes per 100
//!   pages and µs per record.
//!
//! Prints figures only: timing depends on the machine, so nothing is asserted about it.
//! (A Worker on the free plan has 10 ms of CPU per invocation; this says how much of it a
//! record costs.)
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, Utc};
use decision_sync::clients::notion::page_json::page_from_json;
use decision_sync::clients::notion::properties::properties_json;
use decision_sync::clients::notion::request::{parse_query_body, parse_query_response};
use decision_sync::clients::notion::NotionVersion;
use decision_sync::core::content::Content;
use decision_sync::core::model::{Page, Row};
use decision_sync::core::planner::plan;
use decision_sync::core::ports::PageQuery;
use decision_sync::core::snapshot::Snapshot;
use serde_json::{json, Value};

const RECORDS: usize = 10_000;
const ROUNDS: usize = 7;

fn uuid(prefix: u32, n: usize) -> String {
    format!("{prefix:08x}-0000-4000-8000-{n:012x}")
}

fn at(base: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    base + Span::seconds(seconds)
}

/// 10,000 linked pairs: 70% clean, 8% row edited, 8% page edited, 4% both (conflict),
/// 3% same edit on both sides, 3% row soft-deleted, 2% page trashed, 2% unlinked rows/pages.
fn snapshot() -> Snapshot {
    let now: DateTime<Utc> = "2025-08-07T12:00:00Z".parse().expect("a time");
    let mut snapshot = Snapshot { now, page_cursor: Some(now - Span::minutes(30)), ..Snapshot::default() };
    let types = ["Policy", "Architecture", "Ops", "UX", "Other"];
    for i in 0..RECORDS {
        let kind = types[i % types.len()];
        let date = format!("2025-{:02}-{:02}", 1 + i % 12, 1 + i % 28);
        let decision = format!("Decision number {i}: keep the {kind} review weekly and write it down");
        let content = Content::normalize(&decision, kind, &date).expect("valid content");
        let base = content.checksum();
        let row_id = uuid(1, i);
        let page_id = uuid(2, i);
        let mut row = Row {
            id: row_id.clone(),
            decision: decision.clone(),
            kind: kind.to_string(),
            date: date.clone(),
            created_at: at(now, -86_400),
            updated_at: at(now, -7_200 + (i % 3_600) as i64),
            notion_page_id: Some(page_id.clone()),
            notion_synced: true,
            checksum: Some(base.clone()),
            deleted_at: None,
        };
        let mut page = Page {
            id: page_id.clone(),
            decision: decision.clone(),
            types: vec![kind.to_string()],
            date: Some(date.clone()),
            date_value: None,
            base: Some(base.clone()),
            synced: true,
            in_trash: false,
            created_time: at(now, -86_400),
            last_edited_time: at(now, -7_200),
        };
        match i % 100 {
            0..=69 => {}
            70..=77 => {
                row.decision.push_str(" (row edit)");
                row.notion_synced = false;
            }
            78..=85 => {
                page.decision.push_str(" (page edit)");
                page.last_edited_time = at(now, -600);
            }
            86..=89 => {
                row.decision.push_str(" (row edit)");
                row.notion_synced = false;
                page.decision.push_str(" (page edit)");
                page.last_edited_time = at(now, -60);
            }
            90..=92 => {
                row.kind = kind.to_lowercase(); // same option, other spelling
                row.decision.push_str(" (both)");
                row.notion_synced = false;
                page.decision.push_str(" (both)");
                page.last_edited_time = at(now, -300);
            }
            93..=95 => {
                row.deleted_at = Some(at(now, -100));
                row.notion_synced = false;
            }
            96..=97 => {
                page.in_trash = true;
                page.last_edited_time = at(now, -100);
            }
            _ => {
                row.notion_page_id = None;
                row.checksum = None;
                row.notion_synced = false;
                page.base = None;
                if i % 2 == 0 {
                    page.decision.push_str(" (unmatched)");
                }
                snapshot.row_pool.push(row_id.clone());
                snapshot.page_pool.push(page_id.clone());
            }
        }
        snapshot.row_window.push(row_id.clone());
        snapshot.page_window.push(page_id.clone());
        snapshot.looked_up_pages.insert(page_id.clone());
        snapshot.rows.insert(row_id, row);
        snapshot.pages.insert(page_id, page);
    }
    snapshot.row_pool_complete = true;
    snapshot.page_pool_complete = true;
    snapshot
}

/// A page object as `POST /v1/data_sources/{id}/query` returns it.
fn page_json(i: usize) -> Value {
    let text = |content: &str| {
        json!({
            "type": "text",
            "text": { "content": content, "link": null },
            "annotations": { "bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default" },
            "plain_text": content,
            "href": null
        })
    };
    let title: Vec<Value> = if i.is_multiple_of(10) {
        vec![text("Adopt "), text(&format!("decision {i}")), text(" after review")]
    } else {
        vec![text(&format!("Decision number {i}: keep the review weekly and write it down"))]
    };
    json!({
        "object": "page",
        "id": uuid(2, i),
        "created_time": "2025-08-07T10:11:00.000Z",
        "last_edited_time": "2025-08-08T09:30:00.000Z",
        "created_by": { "object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4" },
        "last_edited_by": { "object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4" },
        "cover": null,
        "icon": null,
        "parent": { "type": "data_source_id", "data_source_id": "1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b" },
        "archived": false,
        "in_trash": false,
        "properties": {
            "Checksum": { "id": "%3BxWq", "type": "rich_text", "rich_text": [text("f3bf0a3b8ff79a86a598d64f118f4e7f9c9220a795e52105e4f63e9c7f9e458a")] },
            "Date": { "id": "Kj%7Dq", "type": "date", "date": { "start": "2025-08-07T23:30:00.000-05:00", "end": null, "time_zone": null } },
            "Synced": { "id": "Vx%40r", "type": "checkbox", "checkbox": true },
            "Type": { "id": "u%3ETk", "type": "multi_select", "multi_select": [ { "id": "8c1a2f4e", "name": "Architecture", "color": "purple" } ] },
            "Decision": { "id": "title", "type": "title", "title": title }
        },
        "url": format!("https://www.notion.so/{i}"),
        "public_url": null
    })
}

/// The 25 properties a wide data source has besides the 5 the sync maps (every common type).
fn extra_properties(i: usize) -> Vec<(String, Value)> {
    let user = json!({ "object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4" });
    let text = |content: &str| {
        json!([{
            "type": "text",
            "text": { "content": content, "link": null },
            "annotations": { "bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default" },
            "plain_text": content,
            "href": null
        }])
    };
    let option = |name: &str| json!({ "id": format!("opt-{name}"), "name": name, "color": "blue" });
    let values = [
        ("select", json!(option("Team A"))),
        ("status", json!({ "id": "st1", "name": "In progress", "color": "yellow" })),
        ("number", json!(i as f64 * 1.5)),
        ("url", json!(format!("https://example.com/decisions/{i}"))),
        ("email", json!("owner@example.com")),
        ("phone_number", json!("+33 1 23 45 67 89")),
        (
            "people",
            json!([{ "object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4", "name": "Ada", "avatar_url": null, "type": "person", "person": { "email": "ada@example.com" } }]),
        ),
        (
            "relation",
            json!([{ "id": "3a8e6d7c-1f2b-4c3d-9e8f-7a6b5c4d3e2f" }, { "id": "4b9f7e8d-2a3c-4d4e-8f9a-8b7c6d5e4f3a" }]),
        ),
        ("rollup", json!({ "type": "number", "number": 3, "function": "count" })),
        ("formula", json!({ "type": "string", "string": format!("D-{i}") })),
        (
            "files",
            json!([{ "name": "spec.pdf", "type": "external", "external": { "url": "https://example.com/spec.pdf" } }]),
        ),
        ("created_by", user.clone()),
        ("last_edited_by", user),
        ("created_time", json!("2025-08-07T10:11:00.000Z")),
        ("last_edited_time", json!("2025-08-08T09:30:00.000Z")),
        ("unique_id", json!({ "prefix": "DEC", "number": i })),
        ("rich_text", text("Context: the team discussed the options at length and wrote them down")),
        ("rich_text", text("Consequences: more reviews, fewer surprises")),
        ("multi_select", json!([option("Backend"), option("Frontend")])),
        ("date", json!({ "start": "2025-09-01", "end": null, "time_zone": null })),
        ("checkbox", json!(false)),
        ("number", json!(null)),
        ("select", json!(null)),
        ("button", json!({})),
        ("verification", json!({ "state": "unverified", "verified_by": null, "date": null })),
    ];
    values
        .into_iter()
        .enumerate()
        .map(|(n, (kind, value))| {
            let mut prop = serde_json::Map::new();
            prop.insert("id".into(), json!(format!("x{n:02}%3A")));
            prop.insert("type".into(), json!(kind));
            prop.insert(kind.into(), value);
            (format!("Extra {n} ({kind})"), Value::Object(prop))
        })
        .collect()
}

/// A page of the wide data source: the 5 mapped properties and 25 others.
fn wide_page_json(i: usize) -> Value {
    let mut page = page_json(i);
    if let Some(props) = page.get_mut("properties").and_then(Value::as_object_mut) {
        props.extend(extra_properties(i));
    }
    page
}

/// The body of a query answer holding `pages`, as Notion sends it.
fn answer_body(pages: &[Value]) -> String {
    json!({
        "object": "list",
        "results": pages,
        "next_cursor": null,
        "has_more": false,
        "type": "page_or_data_source",
        "page_or_data_source": {},
        "request_id": "7f0c5f0e-4b1e-4d7a-9a43-7a7e6b1a9c11"
    })
    .to_string()
}

/// 100 answers of 100 pages each (10,000 records) made by `page`.
fn answers(page: fn(usize) -> Value) -> Vec<String> {
    (0..RECORDS / 100).map(|n| answer_body(&(n * 100..n * 100 + 100).map(page).collect::<Vec<_>>())).collect()
}

/// The client's read of a query answer before typed parsing: the body as a `serde_json::Value`,
/// `archived` folded, then the pages.
fn read_via_value(body: &str) -> usize {
    let mut value: Value = serde_json::from_str(body).expect("JSON");
    NotionVersion::default().normalize_trash(&mut value);
    parse_query_response(&value, &PageQuery::Unsynced).expect("a batch").pages.len()
}

/// The client's read of a query answer now: typed, straight from the body.
fn read_typed(body: &str) -> usize {
    parse_query_body(body, &PageQuery::Unsynced, NotionVersion::default()).expect("JSON").expect("a batch").pages.len()
}

/// Best and median of `ROUNDS` timings of `work`.
fn measure(mut work: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[ROUNDS / 2])
}

fn report(what: &str, (best, median): (Duration, Duration)) {
    let per = |d: Duration| d.as_secs_f64() * 1e6 / RECORDS as f64;
    println!(
        "{what:<44} {RECORDS} records: best {:>8.2} ms, median {:>8.2} ms  =  {:>6.2} µs/record (median {:>6.2})",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        per(best),
        per(median)
    );
}

fn main() {
    println!("decision-sync core benchmark ({ROUNDS} rounds each; figures only, nothing asserted)");

    let snapshot = snapshot();
    let planned = plan(&snapshot);
    println!(
        "plan of {RECORDS} pairs: {} ops, {} issues, {} deferred, {} conflicts",
        planned.ops.len(),
        planned.issues.len(),
        planned.deferred.len(),
        planned.conflicts().len()
    );
    report(
        "planner::plan",
        measure(|| {
            black_box(plan(black_box(&snapshot)));
        }),
    );

    let pages: Vec<Value> = (0..RECORDS).map(page_json).collect();
    report(
        "notion_mapping::page_from_json",
        measure(|| {
            for page in &pages {
                black_box(page_from_json(black_box(page)).expect("a page"));
            }
        }),
    );

    let narrow = answers(page_json);
    let wide = answers(wide_page_json);
    let bytes = |bodies: &[String]| bodies.iter().map(String::len).sum::<usize>() / bodies.len();
    println!(
        "query answer bytes per 100 pages: 5-property data source {}, wide data source (30 properties) {} whole, {} with filter_properties (the 5 mapped)",
        bytes(&narrow),
        bytes(&wide),
        bytes(&narrow)
    );
    // With filter_properties the wide data source's answer holds the 5 mapped properties: the
    // same bodies as the sync's own 5-property data source.
    type Read = fn(&str) -> usize;
    let reads: [(&str, Read, &Vec<String>); 4] = [
        ("answer -> pages, Value, 5 props / filtered", read_via_value, &narrow),
        ("answer -> pages, Value, wide, no filter", read_via_value, &wide),
        ("answer -> pages, typed, 5 props / filtered", read_typed, &narrow),
        ("answer -> pages, typed, wide, no filter", read_typed, &wide),
    ];
    for (what, read, bodies) in reads {
        report(
            what,
            measure(|| {
                for body in bodies {
                    black_box(read(black_box(body)));
                }
            }),
        );
    }

    let contents: Vec<(Content, String)> = (0..RECORDS)
        .map(|i| {
            let content = Content::normalize(&format!("Decision number {i}: keep it weekly"), "Ops", "2025-08-07")
                .expect("content");
            let base = content.checksum();
            (content, base)
        })
        .collect();
    report(
        "notion_mapping::properties_json",
        measure(|| {
            for (content, base) in &contents {
                black_box(properties_json(black_box(content), black_box(base)).expect("properties"));
            }
        }),
    );

    let raw: Vec<(String, String, String)> = (0..RECORDS)
        .map(|i| {
            (
                format!("  Decision   number {i}:\tkeep it weekly "),
                "ops".to_string(),
                "2025-08-07T09:00:00+02:00".to_string(),
            )
        })
        .collect();
    report(
        "content: normal form + checksum",
        measure(|| {
            for (decision, kind, date) in &raw {
                black_box(Content::normalize(decision, kind, date).expect("content").checksum());
            }
        }),
    );
}
