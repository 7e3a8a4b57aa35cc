//! Notion's error bodies (`{"object":"error","status","code","message"}`) as a typed error, and
//! how each one becomes a [`PortError`] depending on what the request was about.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clients::http::HttpResponse;
use crate::clients::notion::data_source::{list_refs, DataSourceRef};
use crate::clients::notion::schema::{ui_type_name, SCHEMA};
use crate::core::error::PortError;

/// The service name used in [`PortError`]s.
pub const SERVICE: &str = "notion";

/// Why Notion JSON could not be read. Every variant is a configuration problem (the data source
/// does not have the shape the sync needs, or the API answering is not Notion `2025-09-03`);
/// [`From<MappingError> for PortError`] makes it a `PortError::Config`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("Notion page {page_id} has no property `{property}`: the data source needs a {ui} property named exactly `{property}` (names are case-sensitive); add or rename it in Notion", ui = ui_type_name(.expected))]
    MissingProperty { page_id: String, property: String, expected: String },
    #[error("property `{property}` of Notion page {page_id} is a {found_ui} property but the sync needs {expected_ui}: in Notion, change the type of `{property}` to {expected_ui}", found_ui = ui_type_name(.found), expected_ui = ui_type_name(.expected))]
    WrongType { page_id: String, property: String, expected: String, found: String },
    #[error("Notion returned {what} the sync cannot read ({detail}): check that NOTION_API_BASE points at the Notion API (https://api.notion.com)")]
    Malformed { what: String, detail: String },
    #[error("Notion database {database_id} has no data source: check that NOTION_DATABASE_ID is the id of a database (not of a page or a linked view) and that the database is shared with the integration")]
    NoDataSource { database_id: String },
    #[error("Notion database {database_id} has {count} data sources: {list}. Set NOTION_DATA_SOURCE_ID to the id of the one to sync", count = .data_sources.len(), list = list_refs(.data_sources))]
    SeveralDataSources { database_id: String, data_sources: Vec<DataSourceRef> },
}

impl From<MappingError> for PortError {
    /// A malformed answer from a Notion that otherwise answers is transient (the next run
    /// retries); the others name what to fix in the data source.
    fn from(error: MappingError) -> Self {
        match error {
            MappingError::Malformed { .. } => PortError::transient("notion", error.to_string()),
            _ => PortError::config(error.to_string()),
        }
    }
}

pub(crate) fn malformed(what: &str, detail: impl Into<String>) -> MappingError {
    MappingError::Malformed { what: what.to_string(), detail: detail.into() }
}

/// An error answer from Notion, with Notion's own message kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("Notion answered {status} {code}: {message}")]
pub struct NotionApiError {
    pub status: u16,
    /// Notion's error code (`validation_error`, `object_not_found`...); `http_<status>` when the
    /// body is not a Notion error object.
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl NotionApiError {
    /// Reads an error response; a body that is not a Notion error object is summarised.
    pub fn from_response(response: &HttpResponse) -> Self {
        let parsed: Option<Value> = serde_json::from_str(&response.body).ok();
        let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_string);
        let is_error_object = field("object").as_deref() == Some("error");
        let code = field("code").filter(|_| is_error_object).unwrap_or_else(|| format!("http_{}", response.status));
        let message = field("message").filter(|_| is_error_object).unwrap_or_else(|| {
            let body: String = response.body.chars().take(200).collect();
            let body = body.trim();
            if body.is_empty() {
                "(empty body)".to_string()
            } else {
                format!("unexpected body: {body}")
            }
        });
        NotionApiError { status: response.status, code, message, request_id: field("request_id") }
    }

    /// The property the message is about: one of the sync's properties when the message names
    /// it (`body.properties.Type…`, "Type is expected to be…", "`Date`"), else any
    /// `body.properties.<name>` it mentions.
    pub fn property(&self) -> Option<String> {
        let message = self.message.as_str();
        for spec in SCHEMA {
            let name = spec.name;
            let named = message.contains(&format!("properties.{name}."))
                || message.contains(&format!("properties.{name} "))
                || message.ends_with(&format!("properties.{name}"))
                || message.contains(&format!("{name} is expected to be"))
                || message.contains(&format!("{name} is not a property"))
                || message.contains(&format!("`{name}`"))
                || message.contains(&format!("\"{name}\""));
            if named {
                return Some(name.to_string());
            }
        }
        let rest = message.split("properties.").nth(1)?;
        let name: String = rest.chars().take_while(|c| *c != '.' && *c != ' ' && *c != '[').collect();
        (!name.is_empty()).then_some(name)
    }
}

/// What a request was about: decides how an error maps to a [`PortError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `GET /v1/databases/{id}`.
    Database { id: String },
    /// `GET /v1/data_sources/{id}` or a query of it.
    DataSource { id: String },
    /// `POST /v1/pages` into this data source.
    CreatePage { data_source_id: String },
    /// `GET /v1/pages/{id}`.
    ReadPage { id: String },
    /// `PATCH /v1/pages/{id}`.
    UpdatePage { id: String },
}

const SHARE_HINT: &str =
    "share the database with the integration (open the database in Notion, ⋯ → Connections → add the integration)";
const CAPABILITY_HINT: &str = "give the integration the Read content, Update content and Insert content capabilities at https://www.notion.so/profile/integrations";

impl NotionApiError {
    /// The [`PortError`] for this answer to a request about `target` (an answer that was not
    /// retried, or the last one after retries: 409, 429 and 5xx end as `Transient`).
    pub fn to_port_error(&self, target: &Target) -> PortError {
        let notion = format!("Notion: {} {}: {}", self.status, self.code, self.message);
        match (self.status, target) {
            (401, _) => PortError::config(format!(
                "NOTION_API_KEY is invalid or was revoked ({notion}): copy the integration's secret from \
                 https://www.notion.so/profile/integrations and set it again with `wrangler secret put NOTION_API_KEY`"
            )),
            (403 | 404, Target::Database { id }) => PortError::config(format!(
                "The Notion database {id} (NOTION_DATABASE_ID) cannot be reached ({notion}): {SHARE_HINT}, or correct NOTION_DATABASE_ID"
            )),
            (403 | 404, Target::DataSource { id }) => PortError::config(format!(
                "The Notion data source {id} cannot be reached ({notion}): {SHARE_HINT}, or correct NOTION_DATA_SOURCE_ID / NOTION_DATABASE_ID"
            )),
            (404, Target::CreatePage { data_source_id }) => PortError::config(format!(
                "Pages cannot be created in the Notion data source {data_source_id} ({notion}): {SHARE_HINT}"
            )),
            (403, Target::CreatePage { .. }) => PortError::config(format!(
                "The integration may not create pages ({notion}): {CAPABILITY_HINT}"
            )),
            (403, Target::ReadPage { id } | Target::UpdatePage { id }) => PortError::config(format!(
                "The integration may not read or update the Notion page {id} ({notion}): {CAPABILITY_HINT}"
            )),
            (404, Target::ReadPage { id } | Target::UpdatePage { id }) => PortError::record(
                SERVICE,
                None,
                format!("the Notion page {id} no longer exists or is not shared with the integration ({notion})"),
            ),
            (400 | 413, Target::CreatePage { .. } | Target::ReadPage { .. } | Target::UpdatePage { .. })
                if self.status == 413 || self.code == "validation_error" =>
            {
                PortError::record(SERVICE, self.property().as_deref(), self.message.clone())
            }
            (400, Target::Database { .. } | Target::DataSource { .. }) => PortError::config(format!(
                "Notion rejected a request on the data source ({notion}): check that the data source has the properties \
                 Decision (Title), Type (Multi-select), Date (Date) and Checksum (Text), and that NOTION_API_BASE points at the Notion API"
            )),
            (409 | 429 | 529 | 500..=599, _) => PortError::transient(SERVICE, format!("{notion}; the next run retries")),
            _ => PortError::config(format!(
                "Notion refused the request ({notion}): check NOTION_API_BASE, NOTION_DATABASE_ID and NOTION_DATA_SOURCE_ID"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![], body: body.to_string() }
    }

    fn api(status: u16, code: &str, message: &str) -> NotionApiError {
        NotionApiError { status, code: code.into(), message: message.into(), request_id: None }
    }

    #[test]
    fn parses_notion_error_objects_and_other_bodies() {
        let err = NotionApiError::from_response(&response(
            400,
            include_str!("../../../tests/fixtures/notion/error_validation.json"),
        ));
        assert_eq!(err.status, 400);
        assert_eq!(err.code, "validation_error");
        assert!(err.message.starts_with("body failed validation: body.properties.Type"));
        assert_eq!(err.request_id.as_deref(), Some("6e1c3f2a-8b7d-4e9f-a0b1-c2d3e4f5a6b7"));

        let html = NotionApiError::from_response(&response(502, "<html>Bad gateway</html>"));
        assert_eq!(
            (html.code.as_str(), html.message.as_str()),
            ("http_502", "unexpected body: <html>Bad gateway</html>")
        );
        assert_eq!(NotionApiError::from_response(&response(500, "")).message, "(empty body)");
    }

    #[test]
    fn finds_the_property_a_message_names() {
        let cases = [
            ("body failed validation: body.properties.Type.multi_select[0].name should be defined", Some("Type")),
            ("Date is expected to be date.", Some("Date")),
            ("Synced is not a property that exists.", Some("Synced")),
            ("Invalid property `Checksum`", Some("Checksum")),
            ("body failed validation: body.properties.Decision.title[0].text.content.length should be ≤ `2000`, instead was `2001`.", Some("Decision")),
            ("body failed validation: body.properties.Owner.people should be defined", Some("Owner")),
            ("Can't edit block that is archived. You must unarchive the block before editing.", None),
        ];
        for (message, expected) in cases {
            assert_eq!(api(400, "validation_error", message).property().as_deref(), expected, "{message}");
        }
    }

    #[test]
    fn maps_by_status_and_target() {
        let page = Target::UpdatePage { id: "p1".into() };
        let ds = Target::DataSource { id: "ds1".into() };
        let record = api(400, "validation_error", "Date is expected to be date.").to_port_error(&page);
        assert_eq!(record, PortError::record("notion", Some("Date"), "Date is expected to be date."));

        let PortError::Config { message } = api(401, "unauthorized", "API token is invalid.").to_port_error(&page)
        else {
            panic!()
        };
        assert!(message.contains("NOTION_API_KEY is invalid") && message.contains("API token is invalid."));

        for status in [403, 404] {
            let PortError::Config { message } = api(status, "object_not_found", "Could not find").to_port_error(&ds)
            else {
                panic!()
            };
            assert!(message.contains("share the database with the integration"), "{message}");
        }
        assert!(matches!(api(404, "object_not_found", "gone").to_port_error(&page), PortError::Record { .. }));
        assert!(matches!(api(400, "validation_error", "bad filter").to_port_error(&ds), PortError::Config { .. }));
        assert!(matches!(api(400, "invalid_json", "x").to_port_error(&page), PortError::Config { .. }));
        assert!(matches!(api(413, "http_413", "too big").to_port_error(&page), PortError::Record { .. }));
        assert!(matches!(api(503, "service_unavailable", "x").to_port_error(&page), PortError::Transient { .. }));
        assert!(matches!(api(409, "conflict_error", "x").to_port_error(&ds), PortError::Transient { .. }));
    }
}
