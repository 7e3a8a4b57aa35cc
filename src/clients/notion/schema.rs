//! The data source's schema: the properties the sync maps ([`SCHEMA`]), and the check of a data
//! source object (`GET /v1/data_sources/{id}`) against them, each problem saying what to change
//! in Notion. Pure: no I/O.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::error::PortError;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clients::notion::fixtures::fixture;

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
}
