//! Behaviour over real HTTP: every endpoint, the errors Notion returns, pagination,
//! filters, minute rounding, rate limiting, faults and the admin API.

use crate::common::{decision, id_of, text, Env};
use notion_emulator::{
    localhost, spawn, DataSourceSpec, DatabaseSpec, EmulatorConfig, PropertyKind, PropertySpec, NOTION_VERSION,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

// ----- databases and data sources --------------------------------------------------------

#[tokio::test]
async fn database_lists_its_data_source() {
    let env = Env::new().await;
    let r = env.api(Method::GET, &format!("/v1/databases/{}", env.db()), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["object"], "database");
    assert_eq!(r.json["id"], json!(env.db()));
    assert_eq!(r.json["data_sources"], json!([{"id": env.ds(), "name": "Decisions"}]));
    assert!(r.json.get("properties").is_none(), "2025-09-03: properties live on the data source");
    assert!(r.headers.get("x-notion-request-id").is_some());
    // Ids are accepted without dashes too.
    let undashed: String = env.db().chars().filter(|c| *c != '-').collect();
    let r = env.api(Method::GET, &format!("/v1/databases/{undashed}"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["id"], json!(env.db()));
}

#[tokio::test]
async fn data_source_has_the_decision_schema() {
    let env = Env::new().await;
    let r = env.api(Method::GET, &format!("/v1/data_sources/{}", env.ds()), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["object"], "data_source");
    assert_eq!(r.json["parent"], json!({"type": "database_id", "database_id": env.db()}));
    let props = &r.json["properties"];
    for (name, ty) in [
        ("Decision", "title"),
        ("Type", "multi_select"),
        ("Date", "date"),
        ("Checksum", "rich_text"),
        ("Synced", "checkbox"),
    ] {
        assert_eq!(props[name]["type"], ty, "{name}");
        assert_eq!(props[name]["name"], name);
        assert!(props[name]["id"].is_string());
        assert!(props[name][ty].is_object());
    }
    assert_eq!(props["Decision"]["id"], "title");
    let options: Vec<&str> = props["Type"]["multi_select"]["options"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(options, ["Policy", "Architecture", "Ops", "UX", "Other"]);
}

#[tokio::test]
async fn unknown_and_malformed_ids() {
    let env = Env::new().await;
    let unknown = "0b0b0b0b-0000-4000-8000-000000000000";
    for (path, kind) in [
        (format!("/v1/databases/{unknown}"), "database"),
        (format!("/v1/data_sources/{unknown}"), "data_source"),
        (format!("/v1/pages/{unknown}"), "page"),
    ] {
        let r = env.api(Method::GET, &path, None).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.code(), "object_not_found");
        assert_eq!(
            r.message(),
            format!("Could not find {kind} with ID: {unknown}. Make sure the relevant pages and databases are shared with your integration.")
        );
        assert_eq!(r.json["object"], "error");
        assert!(r.json["request_id"].is_string());
    }
    let r = env.api(Method::GET, "/v1/pages/not-a-uuid", None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "validation_error");
    assert_eq!(
        r.message(),
        "path failed validation: path.page_id should be a valid uuid, instead was `\"not-a-uuid\"`."
    );
    let r = env.api(Method::POST, "/v1/data_sources/xyz/query", Some(json!({}))).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    // A data source id is not a database id (and vice versa).
    let r = env.api(Method::GET, &format!("/v1/databases/{}", env.ds()), None).await;
    assert_eq!(r.status, 404);
    // Unknown id in a body parent.
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"type": "data_source_id", "data_source_id": unknown}, "properties": {}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "object_not_found"));
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"type": "data_source_id", "data_source_id": "nope"}, "properties": {}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert!(r.message().contains("body.parent.data_source_id should be a valid uuid"), "{}", r.message());
}

// ----- pages -------------------------------------------------------------------------------

#[tokio::test]
async fn created_page_has_notions_shape() {
    let env = Env::new().await;
    let page = env
        .create(json!({
            "Decision": {"title": [
                {"type": "text", "text": {"content": "Use "}},
                {"type": "text", "text": {"content": "Rust", "link": {"url": "https://www.rust-lang.org"}}, "annotations": {"bold": true}}
            ]},
            "Type": {"multi_select": [{"name": "Architecture"}]},
            "Date": {"date": {"start": "2024-05-01"}},
            "Checksum": {"rich_text": text("abc")},
            "Synced": {"checkbox": true},
        }))
        .await;
    assert_eq!(page["object"], "page");
    let id = id_of(&page);
    assert_eq!(id.len(), 36);
    assert_eq!(page["in_trash"], false);
    assert_eq!(page["archived"], false);
    assert_eq!(page["parent"]["type"], "data_source_id");
    assert_eq!(page["parent"]["data_source_id"], json!(env.ds()));
    assert_eq!(page["parent"]["database_id"], json!(env.db()));
    let bot = env.emu.handle().bot_user_id();
    assert_eq!(page["created_by"], json!({"object": "user", "id": bot}));
    assert_eq!(page["last_edited_by"], json!({"object": "user", "id": bot}));
    let undashed: String = id.chars().filter(|c| *c != '-').collect();
    assert_eq!(page["url"], json!(format!("https://www.notion.so/Use-Rust-{undashed}")));

    let p = &page["properties"];
    assert_eq!(p["Decision"]["id"], "title");
    assert_eq!(p["Decision"]["type"], "title");
    let title = &p["Decision"]["title"];
    assert_eq!(title.as_array().map(Vec::len), Some(2));
    assert_eq!(
        title[0],
        json!({"type": "text", "text": {"content": "Use ", "link": null},
               "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"},
               "plain_text": "Use ", "href": null})
    );
    assert_eq!(title[1]["text"]["link"], json!({"url": "https://www.rust-lang.org"}));
    assert_eq!(title[1]["href"], "https://www.rust-lang.org");
    assert_eq!(title[1]["annotations"]["bold"], true);
    let ms = &p["Type"]["multi_select"];
    assert_eq!(ms[0]["name"], "Architecture");
    assert!(ms[0]["id"].is_string() && ms[0]["color"].is_string());
    assert_eq!(p["Date"]["date"], json!({"start": "2024-05-01", "end": null, "time_zone": null}));
    assert_eq!(p["Checksum"]["rich_text"][0]["plain_text"], "abc");
    assert_eq!(p["Synced"]["checkbox"], true);

    // GET returns the same object.
    let r = env.api(Method::GET, &format!("/v1/pages/{id}"), None).await;
    assert_eq!(r.status, 200);
    let mut got = r.json.clone();
    let mut created = page.clone();
    got.as_object_mut().map(|o| o.remove("request_id"));
    created.as_object_mut().map(|o| o.remove("request_id"));
    assert_eq!(got, created);
}

#[tokio::test]
async fn missing_properties_get_empty_values() {
    let env = Env::new().await;
    let page = env.create(json!({"Decision": {"title": text("only a title")}})).await;
    let p = &page["properties"];
    assert_eq!(p["Type"]["multi_select"], json!([]));
    assert_eq!(p["Date"]["date"], Value::Null);
    assert_eq!(p["Checksum"]["rich_text"], json!([]));
    assert_eq!(p["Synced"]["checkbox"], false);
    // Property ids may be used instead of names.
    let checksum_id = p["Checksum"]["id"].as_str().unwrap_or_default().to_string();
    let r = env
        .api(
            Method::PATCH,
            &format!("/v1/pages/{}", id_of(&page)),
            Some(json!({"properties": {checksum_id: {"rich_text": text("x")}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["properties"]["Checksum"]["rich_text"][0]["plain_text"], "x");
}

#[tokio::test]
async fn database_parent_works_with_one_data_source_only() {
    let mut cfg = EmulatorConfig::default().without_rate_limit();
    cfg.extra_databases.push(DatabaseSpec {
        id: None,
        title: "Two sources".into(),
        data_sources: vec![
            DataSourceSpec { id: None, name: "A".into(), properties: EmulatorConfig::decision_schema() },
            DataSourceSpec { id: None, name: "B".into(), properties: EmulatorConfig::decision_schema() },
        ],
    });
    let env = Env::with(cfg).await;
    let r = env
        .api(Method::POST, "/v1/pages", Some(json!({"parent": {"type": "database_id", "database_id": env.db()}, "properties": decision("x", "Ops", "2024-01-01", "")})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["parent"]["data_source_id"], json!(env.ds()));
    // The OpenAPI form without "type" is accepted too.
    let r =
        env.api(Method::POST, "/v1/pages", Some(json!({"parent": {"database_id": env.db()}, "properties": {}}))).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let pages = env.admin(Method::GET, "/pages", None).await;
    assert_eq!(pages.json["results"].as_array().map(Vec::len), Some(2));
    let two = env
        .admin(Method::POST, "/databases", Some(json!({"title": "T", "data_sources": [{"name": "A"}, {"name": "B"}]})))
        .await;
    assert_eq!(two.status, 200, "{}", two.text);
    let db2 = two.json["database_id"].as_str().unwrap_or_default().to_string();
    let r = env.api(Method::GET, &format!("/v1/databases/{db2}"), None).await;
    assert_eq!(r.json["data_sources"].as_array().map(Vec::len), Some(2));
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"type": "database_id", "database_id": db2}, "properties": {}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    for s in two.json["data_sources"].as_array().cloned().unwrap_or_default() {
        assert!(r.message().contains(s["id"].as_str().unwrap_or("?")), "names every data source: {}", r.message());
    }
}

#[tokio::test]
async fn update_bumps_last_edited_time_only() {
    let env = Env::new().await;
    let page = env.create_decision("first").await;
    let id = id_of(&page);
    env.advance_clock(180).await;
    let r = env
        .api(
            Method::PATCH,
            &format!("/v1/pages/{id}"),
            Some(json!({"properties": {"Decision": {"title": text("second")}, "Synced": {"checkbox": true}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["created_time"], page["created_time"]);
    assert_ne!(r.json["last_edited_time"], page["last_edited_time"]);
    assert_eq!(r.json["properties"]["Decision"]["title"][0]["plain_text"], "second");
    assert_eq!(r.json["properties"]["Synced"]["checkbox"], true);
    // Untouched properties keep their values.
    assert_eq!(r.json["properties"]["Type"], page["properties"]["Type"]);
    assert_eq!(r.json["last_edited_by"]["id"], json!(env.emu.handle().bot_user_id()));
}

#[tokio::test]
async fn trash_restore_and_in_trash_queries() {
    let env = Env::new().await;
    let keep = id_of(&env.create_decision("keep").await);
    let gone = id_of(&env.create_decision("gone").await);
    let r = env.api(Method::PATCH, &format!("/v1/pages/{gone}"), Some(json!({"in_trash": true}))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.json["in_trash"].clone(), r.json["archived"].clone()), (json!(true), json!(true)));

    // Retrieve still works and says so.
    let r = env.api(Method::GET, &format!("/v1/pages/{gone}"), None).await;
    assert_eq!((r.status, r.json["in_trash"].clone()), (200, json!(true)));
    // Default query excludes trashed pages; in_trash: true returns only trashed ones.
    assert_eq!(env.query_all_ids(json!({})).await, vec![keep.clone()]);
    assert_eq!(env.query_all_ids(json!({"in_trash": true})).await, vec![gone.clone()]);
    assert_eq!(env.query_all_ids(json!({"in_trash": false})).await, vec![keep.clone()]);
    assert_eq!(env.query_all_ids(json!({"archived": true})).await, vec![gone.clone()]);

    // Editing a trashed page is refused until it is restored.
    let r = env
        .api(Method::PATCH, &format!("/v1/pages/{gone}"), Some(json!({"properties": {"Synced": {"checkbox": true}}})))
        .await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(r.message(), "Can't edit block that is archived. You must unarchive the block before editing.");
    let r = env
        .api(
            Method::PATCH,
            &format!("/v1/pages/{gone}"),
            Some(json!({"in_trash": false, "properties": {"Synced": {"checkbox": true}}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["in_trash"], false);
    let mut all = env.query_all_ids(json!({})).await;
    all.sort();
    let mut expected = vec![keep, gone];
    expected.sort();
    assert_eq!(all, expected);
    // The deprecated `archived` flag is the same switch.
    let r = env.api(Method::PATCH, &format!("/v1/pages/{}", expected[0]), Some(json!({"archived": true}))).await;
    assert_eq!(r.json["in_trash"], true);
    let r = env
        .api(Method::PATCH, &format!("/v1/pages/{}", expected[0]), Some(json!({"archived": true, "in_trash": false})))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn filter_properties_limits_returned_properties() {
    let env = Env::new().await;
    let page = env.create_decision("x").await;
    let r = env.api(Method::GET, &format!("/v1/pages/{}?filter_properties=title", id_of(&page)), None).await;
    assert_eq!(r.status, 200);
    let keys: Vec<&String> = r.json["properties"].as_object().map(|o| o.keys().collect()).unwrap_or_default();
    assert_eq!(keys, ["Decision"]);
}

// ----- validation --------------------------------------------------------------------------

#[tokio::test]
async fn auth_and_version_headers() {
    let env = Env::new().await;
    let path = format!("/v1/databases/{}", env.db());
    let bearer = format!("Bearer {}", env.emu.token());
    let r = env.raw(Method::GET, &path, &[("notion-version", NOTION_VERSION)], None).await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    assert_eq!(r.message(), "API token is invalid.");
    let r = env
        .raw(Method::GET, &path, &[("authorization", "Bearer wrong"), ("notion-version", NOTION_VERSION)], None)
        .await;
    assert_eq!((r.status, r.code()), (401, "unauthorized"));
    let r = env.raw(Method::GET, &path, &[("authorization", &bearer)], None).await;
    assert_eq!((r.status, r.code()), (400, "missing_version"));
    assert_eq!(
        r.message(),
        "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`."
    );
    let r = env.raw(Method::GET, &path, &[("authorization", &bearer), ("notion-version", "2022-06-28")], None).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    let r = env.raw(Method::GET, &path, &[("authorization", &bearer), ("notion-version", NOTION_VERSION)], None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn bad_json_and_unknown_routes() {
    let env = Env::new().await;
    let bearer = format!("Bearer {}", env.emu.token());
    let h = [("authorization", bearer.as_str()), ("notion-version", NOTION_VERSION)];
    let r = env.raw(Method::POST, "/v1/pages", &h, Some("{\"parent\": ")).await;
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    assert_eq!(r.message(), "Error parsing JSON body.");
    let r = env.raw(Method::POST, &format!("/v1/data_sources/{}/query", env.ds()), &h, Some("[1,")).await;
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    let r = env.raw(Method::POST, &format!("/v1/data_sources/{}/query", env.ds()), &h, Some("[]")).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    let r = env.api(Method::GET, "/v1/blocks/0b0b0b0b-0000-4000-8000-000000000000/children", None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request_url"));
    let r = env.api(Method::DELETE, &format!("/v1/databases/{}", env.db()), None).await;
    assert_eq!((r.status, r.code()), (400, "invalid_request_url"));
}

#[tokio::test]
async fn rich_text_limits_and_segments() {
    let env = Env::new().await;
    let ok = "a".repeat(2000);
    let page = env.create(json!({"Checksum": {"rich_text": text(&ok)}})).await;
    assert_eq!(page["properties"]["Checksum"]["rich_text"][0]["plain_text"].as_str().map(str::len), Some(2000));

    let too_long = "é".repeat(2001);
    let r = env
        .api(Method::POST, "/v1/pages", Some(json!({"parent": {"data_source_id": env.ds()}, "properties": {"Checksum": {"rich_text": text(&too_long)}}})))
        .await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(
        r.message(),
        "body failed validation: body.properties.Checksum.rich_text[0].text.content.length should be ≤ `2000`, instead was `2001`."
    );
    // Length counts UTF-16 units: 1000 emoji = 2000 units is fine, 1001 is not.
    let page = env.create(json!({"Decision": {"title": text(&"😀".repeat(1000))}})).await;
    assert_eq!(page["object"], "page");
    let r = env
        .api(Method::POST, "/v1/pages", Some(json!({"parent": {"data_source_id": env.ds()}, "properties": {"Decision": {"title": text(&"😀".repeat(1001))}}})))
        .await;
    assert_eq!(r.status, 400);

    // Several segments (3 × 2,000) are fine and read back in order.
    let segs: Vec<Value> = ["x", "y", "z"].iter().map(|c| json!({"text": {"content": c.repeat(2000)}})).collect();
    let page = env.create(json!({"Decision": {"title": segs}})).await;
    let joined: String = page["properties"]["Decision"]["title"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["plain_text"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(joined, format!("{}{}{}", "x".repeat(2000), "y".repeat(2000), "z".repeat(2000)));

    // More than 100 rich text objects.
    let many: Vec<Value> = (0..101).map(|_| json!({"text": {"content": "a"}})).collect();
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"data_source_id": env.ds()}, "properties": {"Checksum": {"rich_text": many}}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "body failed validation: body.properties.Checksum.rich_text.length should be ≤ `100`, instead was `101`."
    );
}

#[tokio::test]
async fn mentions_produce_plain_text() {
    let env = Env::new().await;
    let human = env.emu.handle().human_user_id();
    let other = id_of(&env.create_decision("Other decision").await);
    let page = env
        .create(json!({"Decision": {"title": [
            {"type": "text", "text": {"content": "Agreed with "}},
            {"type": "mention", "mention": {"type": "user", "user": {"id": human}}},
            {"type": "text", "text": {"content": " on "}},
            {"type": "mention", "mention": {"type": "date", "date": {"start": "2024-03-01"}}},
            {"type": "text", "text": {"content": ", see "}},
            {"type": "mention", "mention": {"type": "page", "page": {"id": other}}},
            {"type": "equation", "equation": {"expression": "E=mc^2"}}
        ]}}))
        .await;
    let title = &page["properties"]["Decision"]["title"];
    let plain: String =
        title.as_array().map(|a| a.iter().filter_map(|t| t["plain_text"].as_str()).collect()).unwrap_or_default();
    assert_eq!(plain, "Agreed with @Ada Human on 2024-03-01, see Other decisionE=mc^2");
    assert_eq!(title[1]["type"], "mention");
    assert_eq!(title[1]["mention"]["user"]["id"], json!(human));
    assert!(title[5]["href"].as_str().is_some_and(|h| h.starts_with("https://www.notion.so/Other-decision-")));
}

#[tokio::test]
async fn multi_select_rules() {
    let env = Env::new().await;
    let r = env
        .api(Method::POST, "/v1/pages", Some(json!({"parent": {"data_source_id": env.ds()}, "properties": {"Type": {"multi_select": [{"name": "Ops, Policy"}]}}})))
        .await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(r.message(), "Invalid select option, commas not allowed: Ops, Policy");

    // A new option name is added to the schema, like Notion does.
    let page = env.create(json!({"Type": {"multi_select": [{"name": "Security"}, {"name": "Ops"}]}})).await;
    let names: Vec<&str> = page["properties"]["Type"]["multi_select"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Security", "Ops"]);
    let ds = env.api(Method::GET, &format!("/v1/data_sources/{}", env.ds()), None).await;
    let options: Vec<&str> = ds.json["properties"]["Type"]["multi_select"]["options"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(options.contains(&"Security"));
    // Writing the same name again reuses the option (same id).
    let again = env.create(json!({"Type": {"multi_select": [{"name": "Security"}]}})).await;
    assert_eq!(
        again["properties"]["Type"]["multi_select"][0]["id"],
        page["properties"]["Type"]["multi_select"][0]["id"]
    );
    // By id.
    let opt_id = again["properties"]["Type"]["multi_select"][0]["id"].clone();
    let by_id = env.create(json!({"Type": {"multi_select": [{"id": opt_id}]}})).await;
    assert_eq!(by_id["properties"]["Type"]["multi_select"][0]["name"], "Security");
    // More than 100 options.
    let many: Vec<Value> = (0..101).map(|i| json!({"name": format!("o{i}")})).collect();
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"data_source_id": env.ds()}, "properties": {"Type": {"multi_select": many}}})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("body.properties.Type.multi_select.length should be ≤ `100`"), "{}", r.message());
}

#[tokio::test]
async fn unknown_properties_and_wrong_types() {
    let env = Env::new().await;
    let create = |props: Value| json!({"parent": {"data_source_id": env.ds()}, "properties": props});
    let r = env.api(Method::POST, "/v1/pages", Some(create(json!({"Owner": {"rich_text": text("x")}})))).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(r.message(), "Owner is not a property that exists.");
    let r = env.api(Method::POST, "/v1/pages", Some(create(json!({"Checksum": {"title": text("x")}})))).await;
    assert_eq!(r.message(), "Checksum is expected to be rich_text.");
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(create(json!({"Type": {"select": {"name": "Ops"}}, "Synced": {"rich_text": []}}))),
        )
        .await;
    assert_eq!(r.message(), "Synced is expected to be checkbox. Type is expected to be multi_select.");
    let r = env.api(Method::POST, "/v1/pages", Some(create(json!({"Synced": {"checkbox": "yes"}})))).await;
    assert_eq!(
        r.message(),
        "body failed validation: body.properties.Synced.checkbox should be a boolean, instead was `\"yes\"`."
    );
    let r = env.api(Method::POST, "/v1/pages", Some(create(json!({"Date": {"date": {"start": "01/02/2024"}}})))).await;
    assert_eq!(r.status, 400);
    assert!(
        r.message().contains("body.properties.Date.date.start should be a valid ISO 8601 date string"),
        "{}",
        r.message()
    );
    let r = env.api(Method::POST, "/v1/pages", Some(create(json!({"Checksum": {"rich_text": "plain string"}})))).await;
    assert_eq!(r.message(), "body failed validation: body.properties.Checksum.rich_text should be an array, instead was `\"plain string\"`.");
    let r = env.api(Method::POST, "/v1/pages", Some(json!({"parent": {"data_source_id": env.ds()}}))).await;
    assert_eq!(r.message(), "body failed validation: body.properties should be defined, instead was `undefined`.");
    let r = env.api(Method::POST, "/v1/pages", Some(json!({"properties": {}}))).await;
    assert_eq!(r.message(), "body failed validation: body.parent should be defined, instead was `undefined`.");
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"data_source_id": env.ds()}, "properties": {}, "bogus": 1})),
        )
        .await;
    assert_eq!(r.message(), "body failed validation: body.bogus should be not present, instead was `1`.");
    // Nothing was created by any of these.
    assert_eq!(env.admin(Method::GET, "/pages", None).await.json["results"], json!([]));
}

#[tokio::test]
async fn query_body_validation() {
    let env = Env::new().await;
    let r = env.query(json!({"page_size": 101})).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    assert_eq!(r.message(), "body failed validation: body.page_size should be ≤ `100`, instead was `101`.");
    assert_eq!(env.query(json!({"page_size": 0})).await.status, 400);
    assert_eq!(env.query(json!({"page_size": "10"})).await.status, 400);
    let r = env.query(json!({"limit": 10})).await;
    assert_eq!(r.message(), "body failed validation: body.limit should be not present, instead was `10`.");
    let r = env.query(json!({"start_cursor": "0b0b0b0b-0000-4000-8000-000000000000"})).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    let r = env.query(json!({"filter": {"property": "Owner", "rich_text": {"equals": "x"}}})).await;
    assert_eq!(r.message(), "Could not find property with name or id: Owner");
    let r = env.query(json!({"filter": {"property": "Synced", "rich_text": {"equals": "x"}}})).await;
    assert_eq!(r.status, 400);
    let r = env.query(json!({"sorts": [{"timestamp": "last_edited_time", "direction": "up"}]})).await;
    assert_eq!(r.status, 400);
    // An empty body is a valid query.
    let bearer = format!("Bearer {}", env.emu.token());
    let r = env
        .raw(
            Method::POST,
            &format!("/v1/data_sources/{}/query", env.ds()),
            &[("authorization", &bearer), ("notion-version", NOTION_VERSION)],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["object"], "list");
    assert_eq!(r.json["type"], "page_or_data_source");
}

/// Date values as Notion documents them: a range keeps its `end`, a time keeps its offset, a
/// write replaces the whole value (`{start}` alone clears the end), and a `time_zone` goes only
/// with local date-times (https://developers.notion.com/changelog/time-zone-support).
#[tokio::test]
async fn date_ranges_times_and_time_zones() {
    let env = Env::new().await;
    let page = env.create(json!({"Date": {"date": {"start": "2025-03-01", "end": "2025-03-05"}}})).await;
    assert_eq!(
        page["properties"]["Date"]["date"],
        json!({"start": "2025-03-01", "end": "2025-03-05", "time_zone": null})
    );
    let id = id_of(&page);
    let patch = |date: Value| json!({"properties": {"Date": {"date": date}}});
    let r = env
        .api(Method::PATCH, &format!("/v1/pages/{id}"), Some(patch(json!({"start": "2025-08-07T23:30:00-05:00"}))))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json["properties"]["Date"]["date"],
        json!({"start": "2025-08-07T23:30:00.000-05:00", "end": null, "time_zone": null}),
        "the whole value is replaced: no end any more"
    );
    let r = env
        .api(
            Method::PATCH,
            &format!("/v1/pages/{id}"),
            Some(patch(json!({"start": "2025-08-07T09:00", "end": "2025-08-07T17:00", "time_zone": "Europe/Paris"}))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for (date, key) in [
        (json!({"start": "2025-08-07", "time_zone": "Europe/Paris"}), "start"),
        (json!({"start": "2025-08-07T09:00:00+02:00", "time_zone": "Europe/Paris"}), "start"),
        (json!({"start": "2025-08-07T09:00", "end": "2025-08-08", "time_zone": "Europe/Paris"}), "end"),
    ] {
        let r = env.api(Method::PATCH, &format!("/v1/pages/{id}"), Some(patch(date.clone()))).await;
        assert_eq!((r.status, r.code()), (400, "validation_error"), "{date}: {}", r.text);
        assert!(r.message().contains(&format!("body.properties.Date.date.{key}")), "{}", r.message());
    }
}

// ----- pagination, filters, sorts, rounding --------------------------------------------------

#[tokio::test]
async fn pagination_across_more_than_100_pages() {
    let env = Env::new().await;
    let mut created = Vec::new();
    for i in 0..230 {
        created.push(id_of(&env.create_decision(&format!("d{i}")).await));
    }
    let first = env.query(json!({})).await;
    assert_eq!(first.json["results"].as_array().map(Vec::len), Some(100), "default page_size is 100");
    assert_eq!(first.json["has_more"], true);
    let cursor = first.json["next_cursor"].as_str().expect("cursor").to_string();
    let second = env.query(json!({"start_cursor": cursor})).await;
    assert_eq!(second.json["results"].as_array().map(Vec::len), Some(100));
    let third = env.query(json!({"start_cursor": second.json["next_cursor"]})).await;
    assert_eq!(third.json["results"].as_array().map(Vec::len), Some(30));
    assert_eq!(third.json["has_more"], false);
    assert_eq!(third.json["next_cursor"], Value::Null);

    let all = env.query_all_ids(json!({})).await;
    assert_eq!(all, created, "default order is creation order");
    let small = env.query_all_ids(json!({"page_size": 7})).await;
    assert_eq!(small, created);
    let unique: HashSet<&String> = small.iter().collect();
    assert_eq!(unique.len(), 230);
}

#[tokio::test]
async fn cursor_survives_when_its_page_stops_matching() {
    let env = Env::new().await;
    for i in 0..5 {
        env.create(decision(&format!("d{i}"), "Ops", "2024-01-01", "")).await;
    }
    let filter = json!({"filter": {"property": "Synced", "checkbox": {"equals": false}}, "page_size": 2});
    let first = env.query(filter.clone()).await;
    let ids: Vec<String> = first.json["results"].as_array().map(|a| a.iter().map(id_of).collect()).unwrap_or_default();
    // The next page (third created) is edited so it no longer matches.
    let all = env.query_all_ids(json!({})).await;
    let r = env
        .api(
            Method::PATCH,
            &format!("/v1/pages/{}", all[2]),
            Some(json!({"properties": {"Synced": {"checkbox": true}}})),
        )
        .await;
    assert_eq!(r.status, 200);
    let mut body = filter.clone();
    body["start_cursor"] = first.json["next_cursor"].clone();
    let rest = env.query(body).await;
    assert_eq!(rest.status, 200, "{}", rest.text);
    let rest_ids: Vec<String> =
        rest.json["results"].as_array().map(|a| a.iter().map(id_of).collect()).unwrap_or_default();
    assert_eq!(ids, all[0..2].to_vec());
    assert_eq!(rest_ids, all[3..5].to_vec());
}

#[tokio::test]
async fn timestamps_are_rounded_down_to_the_minute() {
    let env = Env::new().await;
    // Put the clock at hh:mm:30 or later so rounding is visible.
    let now = chrono::Utc::now();
    let secs = chrono::Timelike::second(&now) as i64;
    env.advance_clock(if secs < 30 { 30 - secs } else { 0 }).await;
    let page = env.create_decision("rounded").await;
    for key in ["created_time", "last_edited_time"] {
        let t = page[key].as_str().unwrap_or_default();
        assert!(t.ends_with(":00.000Z") && t.len() == 24, "{key} = {t}");
    }
    let raw = env.admin(Method::GET, &format!("/pages/{}", id_of(&page)), None).await;
    let exact = raw.json["_emulator"]["exact_created_time"].as_str().unwrap_or_default().to_string();
    assert!(!exact.ends_with(":00.000Z"), "exact time keeps seconds: {exact}");
    assert_eq!(&exact[..16], &page["created_time"].as_str().unwrap_or_default()[..16]);
    // A filter on the rounded minute finds the page; `after` that minute does not.
    let minute = page["last_edited_time"].clone();
    let found = env
        .query_all_ids(
            json!({"filter": {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": minute}}}),
        )
        .await;
    assert_eq!(found, vec![id_of(&page)]);
    let found = env
        .query_all_ids(json!({"filter": {"timestamp": "last_edited_time", "last_edited_time": {"after": minute}}}))
        .await;
    assert!(found.is_empty());
    let found = env
        .query_all_ids(
            json!({"filter": {"timestamp": "last_edited_time", "last_edited_time": {"on_or_before": minute}}}),
        )
        .await;
    assert_eq!(found, vec![id_of(&page)]);
}

#[tokio::test]
async fn timestamp_filters_and_sorts() {
    let env = Env::new().await;
    let a = id_of(&env.create_decision("a").await);
    env.advance_clock(600).await;
    let b = id_of(&env.create_decision("b").await);
    env.advance_clock(600).await;
    let c = id_of(&env.create_decision("c").await);
    env.advance_clock(600).await;
    // Edit a: it becomes the most recently edited, but stays the oldest created.
    let r = env
        .api(Method::PATCH, &format!("/v1/pages/{a}"), Some(json!({"properties": {"Synced": {"checkbox": true}}})))
        .await;
    let a_edited = r.json["last_edited_time"].clone();
    let b_page = env.api(Method::GET, &format!("/v1/pages/{b}"), None).await.json;
    let b_time = b_page["last_edited_time"].clone();

    let q = |field: &str, op: &str, v: &Value| json!({"filter": {"timestamp": field, field: {op: v}}, "sorts": [{"timestamp": "created_time", "direction": "ascending"}]});
    assert_eq!(
        env.query_all_ids(q("last_edited_time", "on_or_after", &b_time)).await,
        vec![a.clone(), b.clone(), c.clone()]
    );
    assert_eq!(env.query_all_ids(q("last_edited_time", "after", &b_time)).await, vec![a.clone(), c.clone()]);
    assert_eq!(env.query_all_ids(q("last_edited_time", "before", &a_edited)).await, vec![b.clone(), c.clone()]);
    assert_eq!(env.query_all_ids(q("last_edited_time", "on_or_before", &b_time)).await, vec![b.clone()]);
    assert_eq!(env.query_all_ids(q("created_time", "on_or_after", &b_time)).await, vec![b.clone(), c.clone()]);
    assert_eq!(env.query_all_ids(q("created_time", "before", &b_time)).await, vec![a.clone()]);
    // Offsets other than Z are understood.
    let b_plus2 = b_time.as_str().map(|t| t.replace("Z", "+00:00")).unwrap_or_default();
    assert_eq!(env.query_all_ids(q("created_time", "on_or_before", &json!(b_plus2))).await, vec![a.clone(), b.clone()]);

    let sorted = |field: &str, dir: &str| json!({"sorts": [{"timestamp": field, "direction": dir}]});
    assert_eq!(env.query_all_ids(sorted("last_edited_time", "ascending")).await, vec![b.clone(), c.clone(), a.clone()]);
    assert_eq!(
        env.query_all_ids(sorted("last_edited_time", "descending")).await,
        vec![a.clone(), c.clone(), b.clone()]
    );
    assert_eq!(env.query_all_ids(sorted("created_time", "descending")).await, vec![c.clone(), b.clone(), a.clone()]);
    // Property sort.
    let by_title = json!({"sorts": [{"property": "Decision", "direction": "descending"}]});
    assert_eq!(env.query_all_ids(by_title).await, vec![c, b, a]);
}

#[tokio::test]
async fn property_and_compound_filters() {
    let env = Env::new().await;
    let p1 = id_of(&env.create(decision("Alpha", "Ops", "2024-01-01", "sum1")).await);
    let p2 = id_of(&env.create(decision("Beta", "UX", "2024-02-01", "")).await);
    let p3 = id_of(&env.create(decision("Gamma", "Ops", "2024-03-01", "sum3")).await);
    env.api(Method::PATCH, &format!("/v1/pages/{p3}"), Some(json!({"properties": {"Synced": {"checkbox": true}}})))
        .await;

    let f = |filter: Value| json!({"filter": filter});
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Checksum", "rich_text": {"equals": "sum1"}}))).await,
        vec![p1.clone()]
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Checksum", "rich_text": {"is_empty": true}}))).await,
        vec![p2.clone()]
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Checksum", "rich_text": {"is_not_empty": true}}))).await,
        vec![p1.clone(), p3.clone()]
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Decision", "title": {"equals": "Beta"}}))).await,
        vec![p2.clone()]
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Decision", "title": {"equals": "beta"}}))).await,
        Vec::<String>::new()
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Synced", "checkbox": {"equals": true}}))).await,
        vec![p3.clone()]
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Synced", "checkbox": {"equals": false}}))).await,
        vec![p1.clone(), p2.clone()]
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Type", "multi_select": {"contains": "Ops"}}))).await,
        vec![p1.clone(), p3.clone()]
    );
    assert_eq!(
        env.query_all_ids(f(json!({"property": "Date", "date": {"after": "2024-01-15"}}))).await,
        vec![p2.clone(), p3.clone()]
    );

    let and = json!({"and": [
        {"property": "Type", "multi_select": {"contains": "Ops"}},
        {"property": "Synced", "checkbox": {"equals": false}}
    ]});
    assert_eq!(env.query_all_ids(f(and)).await, vec![p1.clone()]);
    let or = json!({"or": [
        {"property": "Checksum", "rich_text": {"equals": "sum1"}},
        {"property": "Decision", "title": {"equals": "Beta"}}
    ]});
    assert_eq!(env.query_all_ids(f(or)).await, vec![p1.clone(), p2.clone()]);
    // Two levels: and → or.
    let nested = json!({"and": [
        {"timestamp": "created_time", "created_time": {"on_or_after": "2000-01-01"}},
        {"or": [
            {"property": "Synced", "checkbox": {"equals": true}},
            {"property": "Checksum", "rich_text": {"is_empty": true}}
        ]}
    ]});
    assert_eq!(env.query_all_ids(f(nested)).await, vec![p2.clone(), p3.clone()]);
    // Three levels is more than Notion allows.
    let too_deep = json!({"and": [{"or": [{"and": [{"property": "Synced", "checkbox": {"equals": true}}]}]}]});
    let r = env.query(f(too_deep)).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
}

// ----- rate limiting and faults --------------------------------------------------------------

#[tokio::test]
async fn rate_limiter_answers_429_with_retry_after() {
    let cfg = EmulatorConfig { rate_limit: Some((0.5, 2)), ..Default::default() };
    let env = Env::with(cfg).await;
    let path = format!("/v1/databases/{}", env.db());
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    let r = env.api(Method::GET, &path, None).await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    assert_eq!(r.message(), "You have been rate limited. Please try again in a few minutes.");
    let retry: u64 = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("integer Retry-After");
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    // Admin endpoints are not rate limited.
    let counters = env.admin(Method::GET, "/counters", None).await;
    assert_eq!(counters.json["rate_limited"], 1);
    assert_eq!(counters.json["by_status"]["429"], 1);
    assert_eq!(counters.json["total"], 3);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);

    // Reconfigure at runtime: off, then very strict.
    let r = env.admin(Method::POST, "/rate_limit", Some(json!({"enabled": false}))).await;
    assert_eq!(r.json["enabled"], false);
    for _ in 0..20 {
        assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    }
    env.admin(Method::POST, "/rate_limit", Some(json!({"per_second": 0.2, "burst": 1}))).await;
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    let r = env.api(Method::GET, &path, None).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("5"));
}

#[tokio::test]
async fn default_config_rate_limits_a_burst() {
    let env = Env::with(EmulatorConfig::default()).await;
    let path = format!("/v1/databases/{}", env.db());
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(env.api(Method::GET, &path, None).await.status);
    }
    assert!(statuses.iter().take(10).all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn injected_status_faults() {
    let env = Env::new().await;
    let path = format!("/v1/databases/{}", env.db());
    let r = env
        .admin(
            Method::POST,
            "/faults",
            Some(json!({"faults": [
                {"kind": "status", "status": 500},
                {"kind": "status", "status": 502},
                {"kind": "status", "status": 503},
                {"kind": "status", "status": 529, "retry_after": 3}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["pending"].as_array().map(Vec::len), Some(4));

    let r = env.api(Method::GET, &path, None).await;
    assert_eq!((r.status, r.code()), (500, "internal_server_error"));
    assert_eq!(r.json["object"], "error");
    let r = env.api(Method::GET, &path, None).await;
    assert_eq!(r.status, 502);
    assert!(r.text.contains("502 Bad Gateway"), "edge-style HTML body: {}", r.text);
    let r = env.api(Method::GET, &path, None).await;
    assert_eq!((r.status, r.code()), (503, "service_unavailable"));
    let r = env.api(Method::GET, &path, None).await;
    assert_eq!((r.status, r.code()), (529, "service_overload"));
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("3"));
    // Faults are used up.
    assert_eq!(env.api(Method::GET, &path, None).await.status, 200);
    let c = env.admin(Method::GET, "/counters", None).await;
    assert_eq!(c.json["faults_injected"], 4);
    assert_eq!(c.json["total"], 5);
}

#[tokio::test]
async fn fault_count_and_route_targeting() {
    let env = Env::new().await;
    env.admin(
        Method::POST,
        "/faults",
        Some(json!({"kind": "status", "status": 503, "count": 2, "route": "POST /v1/pages"})),
    )
    .await;
    // Other routes are unaffected.
    assert_eq!(env.query(json!({})).await.status, 200);
    let body = json!({"parent": {"data_source_id": env.ds()}, "properties": {}});
    assert_eq!(env.api(Method::POST, "/v1/pages", Some(body.clone())).await.status, 503);
    assert_eq!(env.api(Method::POST, "/v1/pages", Some(body.clone())).await.status, 503);
    assert_eq!(env.api(Method::POST, "/v1/pages", Some(body)).await.status, 200);
    // Faults before commit changed nothing.
    assert_eq!(env.admin(Method::GET, "/pages", None).await.json["results"].as_array().map(Vec::len), Some(1));
    // Bad fault specs are refused.
    let r = env.admin(Method::POST, "/faults", Some(json!({"kind": "status", "status": 418}))).await;
    assert_eq!(r.status, 400);
    env.admin(Method::POST, "/faults", Some(json!({"kind": "status", "status": 500, "count": 3}))).await;
    let r = env.admin(Method::DELETE, "/faults", None).await;
    assert_eq!(r.json["pending"], json!([]));
    assert_eq!(env.query(json!({})).await.status, 200);
}

#[tokio::test]
async fn after_commit_fault_loses_the_response_but_keeps_the_write() {
    let env = Env::new().await;
    env.admin(
        Method::POST,
        "/faults",
        Some(json!({"kind": "status", "status": 500, "after_commit": true, "route": "POST /v1/pages"})),
    )
    .await;
    let r = env
        .api(Method::POST, "/v1/pages", Some(json!({"parent": {"data_source_id": env.ds()}, "properties": decision("lost", "Ops", "2024-01-01", "")})))
        .await;
    assert_eq!(r.status, 500);
    let pages = env.query_all_ids(json!({"filter": {"property": "Decision", "title": {"equals": "lost"}}})).await;
    assert_eq!(pages.len(), 1, "the page exists although the client saw a 500");
}

#[tokio::test]
async fn hang_fault_makes_the_client_time_out() {
    let env = Env::new().await;
    env.admin(Method::POST, "/faults", Some(json!({"kind": "hang", "seconds": 3}))).await;
    let started = std::time::Instant::now();
    let result = env
        .http
        .get(format!("{}/v1/databases/{}", env.emu.url(), env.db()))
        .header("authorization", format!("Bearer {}", env.emu.token()))
        .header("notion-version", NOTION_VERSION)
        .timeout(Duration::from_millis(400))
        .send()
        .await;
    assert!(result.as_ref().err().is_some_and(|e| e.is_timeout()), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Without a client timeout the hang ends in a 504.
    env.admin(Method::POST, "/faults", Some(json!({"kind": "hang", "millis": 200}))).await;
    let r = env.api(Method::GET, &format!("/v1/databases/{}", env.db()), None).await;
    assert_eq!((r.status, r.code()), (504, "gateway_timeout"));
    assert_eq!(env.api(Method::GET, &format!("/v1/databases/{}", env.db()), None).await.status, 200);
}

#[tokio::test]
async fn malformed_json_fault() {
    let env = Env::new().await;
    env.admin(Method::POST, "/faults", Some(json!({"kind": "malformed_json"}))).await;
    let r = env
        .api(Method::POST, "/v1/pages", Some(json!({"parent": {"data_source_id": env.ds()}, "properties": decision("garbled", "Ops", "2024-01-01", "")})))
        .await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.text).is_err(), "body must not parse: {}", r.text);
    assert!(!r.text.is_empty());
    // malformed_json applies after commit by default: the page exists.
    assert_eq!(env.query_all_ids(json!({})).await.len(), 1);
}

#[tokio::test]
async fn counters_by_route_template() {
    let env = Env::new().await;
    let page = env.create_decision("x").await;
    let id = id_of(&page);
    env.api(Method::GET, &format!("/v1/pages/{id}"), None).await;
    env.api(Method::GET, &format!("/v1/pages/{id}"), None).await;
    env.api(Method::PATCH, &format!("/v1/pages/{id}"), Some(json!({"properties": {}}))).await;
    env.query(json!({})).await;
    env.api(Method::GET, &format!("/v1/databases/{}", env.db()), None).await;
    env.api(Method::GET, &format!("/v1/data_sources/{}", env.ds()), None).await;
    env.api(Method::GET, "/v1/users", None).await;
    env.raw(Method::GET, &format!("/v1/pages/{id}"), &[], None).await; // 401, still counted
    let c = env.admin(Method::GET, "/counters", None).await.json;
    assert_eq!(c["by_route"]["POST /v1/pages"], 1);
    assert_eq!(c["by_route"]["GET /v1/pages/{page_id}"], 3);
    assert_eq!(c["by_route"]["PATCH /v1/pages/{page_id}"], 1);
    assert_eq!(c["by_route"]["POST /v1/data_sources/{data_source_id}/query"], 1);
    assert_eq!(c["by_route"]["GET /v1/databases/{database_id}"], 1);
    assert_eq!(c["by_route"]["GET /v1/data_sources/{data_source_id}"], 1);
    assert_eq!(c["by_route"]["GET (unmatched)"], 1);
    assert_eq!(c["total"], 9);
    assert_eq!(c["by_status"]["401"], 1);
    assert_eq!(c["by_status"]["400"], 1);
    env.admin(Method::DELETE, "/counters", None).await;
    assert_eq!(env.admin(Method::GET, "/counters", None).await.json["total"], 0);
}

// ----- admin -------------------------------------------------------------------------------

#[tokio::test]
async fn human_edits_through_admin() {
    let env = Env::new().await;
    let human = env.emu.handle().human_user_id();
    let r = env
        .admin(
            Method::POST,
            "/pages",
            Some(json!({"properties": {"Decision": "Written by a person", "Type": "UX", "Date": "2024-06-01"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = id_of(&r.json);
    assert_eq!(r.json["created_by"]["id"], json!(human));
    assert_eq!(r.json["properties"]["Type"]["multi_select"][0]["name"], "UX");
    assert_eq!(r.json["properties"]["Date"]["date"]["start"], "2024-06-01");

    // The bot edits, then the person edits later: last_edited_by becomes the person.
    env.api(Method::PATCH, &format!("/v1/pages/{id}"), Some(json!({"properties": {"Synced": {"checkbox": true}}})))
        .await;
    env.advance_clock(120).await;
    let before = env.api(Method::GET, &format!("/v1/pages/{id}"), None).await.json;
    assert_ne!(before["last_edited_by"]["id"], json!(human));
    env.advance_clock(120).await;
    let r = env
        .admin(Method::PATCH, &format!("/pages/{id}"), Some(json!({"properties": {"Decision": "Edited by a person"}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["last_edited_by"]["id"], json!(human));
    assert!(r.json["last_edited_time"].as_str() > before["last_edited_time"].as_str());
    assert_eq!(r.json["properties"]["Synced"]["checkbox"], true);

    // Long text typed by a person is stored as several 2,000-unit segments.
    let long = "w".repeat(4500);
    let r = env.admin(Method::PATCH, &format!("/pages/{id}"), Some(json!({"properties": {"Decision": long}}))).await;
    assert_eq!(r.json["properties"]["Decision"]["title"].as_array().map(Vec::len), Some(3));

    // Trash and restore as a person.
    let r = env.admin(Method::POST, &format!("/pages/{id}/trash"), None).await;
    assert_eq!((r.json["in_trash"].clone(), r.json["last_edited_by"]["id"].clone()), (json!(true), json!(human)));
    assert!(env.query_all_ids(json!({})).await.is_empty());
    let listed = env.admin(Method::GET, "/pages", None).await;
    assert_eq!(listed.json["results"][0]["in_trash"], true, "the admin list includes trashed pages");
    let r = env.admin(Method::POST, &format!("/pages/{id}/restore"), None).await;
    assert_eq!(r.json["in_trash"], false);
    assert_eq!(env.query_all_ids(json!({})).await, vec![id.clone()]);

    // Person edits are validated like API writes.
    let r = env.admin(Method::PATCH, &format!("/pages/{id}"), Some(json!({"properties": {"Type": "A, B"}}))).await;
    assert_eq!((r.status, r.code()), (400, "validation_error"));
    let r = env.admin(Method::POST, "/pages/0b0b0b0b-0000-4000-8000-000000000000/trash", None).await;
    assert_eq!(r.status, 404);

    // Permanent deletion: trashed pages answer 200 with in_trash, deleted ones 404.
    let r = env.admin(Method::DELETE, &format!("/pages/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = env.api(Method::GET, &format!("/v1/pages/{id}"), None).await;
    assert_eq!((r.status, r.code()), (404, "object_not_found"));
}

#[tokio::test]
async fn clock_offset_moves_time() {
    let env = Env::new().await;
    let r = env.admin(Method::POST, "/clock", Some(json!({"offset_seconds": -86400}))).await;
    assert_eq!(r.json["offset_seconds"], -86400);
    let page = env.create_decision("yesterday").await;
    let created =
        chrono::DateTime::parse_from_rfc3339(page["created_time"].as_str().unwrap_or_default()).expect("time");
    let age = chrono::Utc::now().signed_duration_since(created);
    assert!(age > chrono::Duration::hours(23) && age < chrono::Duration::hours(25), "{age}");
    let r = env.admin(Method::POST, "/clock", Some(json!({"advance_seconds": 3600}))).await;
    assert_eq!(r.json["offset_seconds"], -82800);
    assert_eq!(env.admin(Method::GET, "/clock", None).await.json["offset_seconds"], -82800);
}

#[tokio::test]
async fn reset_restores_the_start_state() {
    let env = Env::new().await;
    env.create_decision("x").await;
    env.create(json!({"Type": {"multi_select": [{"name": "NewOption"}]}})).await;
    env.admin(Method::POST, "/clock", Some(json!({"offset_seconds": 999}))).await;
    env.admin(Method::POST, "/faults", Some(json!({"kind": "status", "status": 500}))).await;
    let extra = env.admin(Method::POST, "/databases", Some(json!({"title": "extra"}))).await;
    let r = env.admin(Method::POST, "/reset", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(env.admin(Method::GET, "/pages", None).await.json["results"], json!([]));
    assert_eq!(env.admin(Method::GET, "/clock", None).await.json["offset_seconds"], 0);
    assert_eq!(env.admin(Method::GET, "/faults", None).await.json["pending"], json!([]));
    assert_eq!(env.admin(Method::GET, "/counters", None).await.json["total"], 0);
    let ds = env.api(Method::GET, &format!("/v1/data_sources/{}", env.ds()), None).await;
    assert_eq!(ds.json["properties"]["Type"]["multi_select"]["options"].as_array().map(Vec::len), Some(5));
    let gone = extra.json["database_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(env.api(Method::GET, &format!("/v1/databases/{gone}"), None).await.status, 404);
    // Same ids as before the reset.
    assert_eq!(env.api(Method::GET, &format!("/v1/databases/{}", env.db()), None).await.status, 200);
}

#[tokio::test]
async fn databases_with_other_schemas() {
    let mut cfg = EmulatorConfig::default().without_rate_limit();
    let wrong_id = "11111111-2222-4333-8444-555555555555".to_string();
    cfg.extra_databases.push(DatabaseSpec {
        id: Some(wrong_id.clone()),
        title: "Broken".into(),
        data_sources: vec![DataSourceSpec {
            id: None,
            name: "Broken".into(),
            properties: vec![
                PropertySpec::new("Decision", PropertyKind::Title),
                PropertySpec::new("Type", PropertyKind::Select(vec!["Ops".into()])),
                PropertySpec::new("Checksum", PropertyKind::Number),
            ],
        }],
    });
    let env = Env::with(cfg).await;
    let db = env.api(Method::GET, &format!("/v1/databases/{wrong_id}"), None).await;
    assert_eq!(db.status, 200);
    let ds_id = db.json["data_sources"][0]["id"].as_str().unwrap_or_default().to_string();
    let ds = env.api(Method::GET, &format!("/v1/data_sources/{ds_id}"), None).await;
    assert_eq!(ds.json["properties"]["Type"]["type"], "select");
    assert_eq!(ds.json["properties"]["Checksum"]["type"], "number");
    assert!(ds.json["properties"].get("Date").is_none());
    // Writing the Decision shape into it fails the way Notion would.
    let r = env
        .api(
            Method::POST,
            "/v1/pages",
            Some(json!({"parent": {"data_source_id": ds_id}, "properties": decision("x", "Ops", "2024-01-01", "abc")})),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.message(),
        "Checksum is expected to be number. Date is not a property that exists. Synced is not a property that exists. Type is expected to be select."
    );
    // Admin-created database from JSON, with a missing property.
    let r = env
        .admin(Method::POST, "/databases", Some(json!({"title": "No checksum", "data_sources": [{"name": "x", "properties": [
            {"name": "Decision", "type": "title"}, {"name": "Type", "type": "multi_select", "options": ["Ops"]}, {"name": "Date", "type": "date"}
        ]}]})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = env
        .admin(
            Method::POST,
            "/databases",
            Some(json!({"data_sources": [{"properties": [{"name": "F", "type": "formula"}]}]})),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn spawn_binds_only_to_loopback() {
    let err = spawn(EmulatorConfig::default(), "0.0.0.0:0".parse().expect("addr")).await.err();
    assert!(err.is_some_and(|e| e.to_string().contains("127.0.0.1")));
    let cfg = EmulatorConfig { database_id: "nope".into(), ..Default::default() };
    assert!(spawn(cfg, localhost(0)).await.is_err());
    // In-process handle.
    let env = Env::new().await;
    let h = env.emu.handle();
    h.advance_clock(60);
    assert_eq!(h.clock_offset(), 60);
    h.inject_fault(
        notion_emulator::Fault {
            kind: notion_emulator::FaultKind::Status { status: 503, retry_after: None },
            route: None,
            after_commit: false,
        },
        1,
    );
    assert_eq!(env.query(json!({})).await.status, 503);
    assert_eq!(h.counters()["faults_injected"], 1);
    env.create_decision("x").await;
    assert_eq!(h.all_pages().len(), 1);
    env.emu.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn binary_prints_its_address_and_serves() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_notion-emulator"))
        .args(["--port", "0", "--token", "tok_test", "--rate-limit", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("join")
    .expect("one line");
    let info: Value = serde_json::from_str(line.trim()).expect("JSON line");
    let url = info["url"].as_str().unwrap_or_default().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{info}");
    assert_eq!(info["token"], "tok_test");
    let db = info["database_id"].as_str().unwrap_or_default().to_string();
    assert!(info["data_source_id"].is_string());
    let r = reqwest::Client::new()
        .get(format!("{url}/v1/databases/{db}"))
        .header("authorization", "Bearer tok_test")
        .header("notion-version", NOTION_VERSION)
        .send()
        .await;
    let status = r.map(|r| r.status().as_u16());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status.ok(), Some(200));
}

#[tokio::test]
async fn odd_bodies_always_get_a_notion_answer() {
    let env = Env::new().await;
    let page = id_of(&env.create_decision("target").await);
    let odd = [
        json!(null),
        json!(1),
        json!("s"),
        json!([]),
        json!([[{}]]),
        json!({}),
        json!({"a": {"b": {"c": [1, 2, {"d": null}]}}}),
        json!(-1.5e300),
        json!(u64::MAX),
        json!("😀".repeat(3000)),
    ];
    let mut bodies = Vec::new();
    for o in &odd {
        bodies.push((Method::POST, "/v1/pages".to_string(), o.clone()));
        bodies.push((Method::POST, "/v1/pages".to_string(), json!({"parent": o, "properties": {}})));
        bodies.push((
            Method::POST,
            "/v1/pages".to_string(),
            json!({"parent": {"data_source_id": env.ds()}, "properties": o}),
        ));
        for prop in ["Decision", "Type", "Date", "Checksum", "Synced"] {
            for wrap in [
                json!({"title": o}),
                json!({"multi_select": o}),
                json!({"date": o}),
                json!({"rich_text": o}),
                json!({"checkbox": o}),
                o.clone(),
            ] {
                bodies.push((Method::PATCH, format!("/v1/pages/{page}"), json!({"properties": {prop: wrap}})));
            }
            bodies.push((
                Method::PATCH,
                format!("/v1/pages/{page}"),
                json!({"properties": {prop: {"rich_text": [o]}}}),
            ));
            bodies.push((
                Method::PATCH,
                format!("/v1/pages/{page}"),
                json!({"properties": {prop: {"multi_select": [o]}}}),
            ));
            bodies.push((
                Method::PATCH,
                format!("/v1/pages/{page}"),
                json!({"properties": {prop: {"rich_text": [{"type": "mention", "mention": o}]}}}),
            ));
        }
        bodies.push((Method::PATCH, format!("/v1/pages/{page}"), json!({"in_trash": o, "icon": o})));
        let q = format!("/v1/data_sources/{}/query", env.ds());
        bodies.push((Method::POST, q.clone(), o.clone()));
        for key in ["filter", "sorts", "start_cursor", "page_size", "in_trash"] {
            bodies.push((Method::POST, q.clone(), json!({key: o})));
        }
        bodies.push((Method::POST, q.clone(), json!({"filter": {"property": "Synced", "checkbox": o}})));
        bodies.push((Method::POST, q.clone(), json!({"filter": {"timestamp": "created_time", "created_time": o}})));
        bodies.push((Method::POST, q.clone(), json!({"filter": {"and": [o, {"or": [o]}]}})));
        bodies.push((Method::POST, q.clone(), json!({"sorts": [o]})));
    }
    for (method, path, body) in bodies {
        let r = env.api(method.clone(), &path, Some(body.clone())).await;
        assert!(matches!(r.status, 200 | 400 | 404), "{method} {path} {body}: {} {}", r.status, r.text);
        if r.status != 200 {
            assert_eq!(r.json["object"], "error", "{method} {path} {body}: {}", r.text);
            assert!(!r.message().is_empty());
        }
    }
    // The page is still readable and the server still answers.
    assert_eq!(env.api(Method::GET, &format!("/v1/pages/{page}"), None).await.status, 200);
}
