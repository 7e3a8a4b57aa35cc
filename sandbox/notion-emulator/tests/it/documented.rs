//! JSON Schemas for the object shapes Notion DOCUMENTS (developers.notion.com: Page,
//! Database, Data source, Rich text, Page property values, Pagination, Status codes), used
//! where the OpenAPI document only says `{"type": "object"}`.

use serde_json::{json, Value};

/// One document so `$ref`s resolve: `#/defs/<name>`.
pub fn doc() -> Value {
    let uuid = json!({"type": "string", "format": "uuid"});
    let minute = json!({"type": "string", "format": "notion-minute"});
    let user = json!({
        "type": "object", "required": ["object", "id"], "additionalProperties": false,
        "properties": {"object": {"const": "user"}, "id": uuid}
    });
    let annotations = json!({
        "type": "object", "additionalProperties": false,
        "required": ["bold", "italic", "strikethrough", "underline", "code", "color"],
        "properties": {
            "bold": {"type": "boolean"}, "italic": {"type": "boolean"},
            "strikethrough": {"type": "boolean"}, "underline": {"type": "boolean"},
            "code": {"type": "boolean"}, "color": {"type": "string"}
        }
    });
    let rich_text = json!({
        "type": "object", "additionalProperties": false,
        "required": ["type", "annotations", "plain_text", "href"],
        "properties": {
            "type": {"enum": ["text", "mention", "equation"]},
            "text": {
                "type": "object", "required": ["content", "link"], "additionalProperties": false,
                "properties": {
                    "content": {"type": "string", "maxLength": 2000},
                    "link": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}]}
                }
            },
            "mention": {"type": "object", "required": ["type"]},
            "equation": {"type": "object", "required": ["expression"]},
            "annotations": {"$ref": "#/defs/annotations"},
            "plain_text": {"type": "string"},
            "href": {"type": ["string", "null"]}
        },
        "oneOf": [
            {"properties": {"type": {"const": "text"}}, "required": ["text"]},
            {"properties": {"type": {"const": "mention"}}, "required": ["mention"]},
            {"properties": {"type": {"const": "equation"}}, "required": ["equation"]}
        ]
    });
    let rich_text_array = json!({"type": "array", "items": {"$ref": "#/defs/rich_text"}});
    let option = json!({
        "type": "object", "required": ["id", "name", "color"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "color": {"type": "string"}}
    });
    let date_value = json!({
        "type": "object", "required": ["start", "end", "time_zone"], "additionalProperties": false,
        "properties": {"start": {"type": "string"}, "end": {"type": ["string", "null"]}, "time_zone": {"type": ["string", "null"]}}
    });
    let typed = |t: &str, value: Value| {
        json!({
            "type": "object", "required": ["id", "type", t], "additionalProperties": false,
            "properties": {"id": {"type": "string"}, "type": {"const": t}, t: value}
        })
    };
    let property_value = json!({"oneOf": [
        typed("title", json!({"$ref": "#/defs/rich_text_array"})),
        typed("rich_text", json!({"$ref": "#/defs/rich_text_array"})),
        typed("multi_select", json!({"type": "array", "items": {"$ref": "#/defs/option"}})),
        typed("select", json!({"oneOf": [{"type": "null"}, {"$ref": "#/defs/option"}]})),
        typed("date", json!({"oneOf": [{"type": "null"}, {"$ref": "#/defs/date_value"}]})),
        typed("checkbox", json!({"type": "boolean"})),
        typed("number", json!({"type": ["number", "null"]})),
        typed("url", json!({"type": ["string", "null"]}))
    ]});
    let page = json!({
        "type": "object",
        "required": ["object", "id", "created_time", "last_edited_time", "created_by", "last_edited_by",
                     "cover", "icon", "parent", "archived", "in_trash", "properties", "url"],
        "properties": {
            "object": {"const": "page"},
            "id": uuid,
            "created_time": minute, "last_edited_time": minute,
            "created_by": {"$ref": "#/defs/user"}, "last_edited_by": {"$ref": "#/defs/user"},
            "cover": {"type": ["object", "null"]}, "icon": {"type": ["object", "null"]},
            "parent": {
                "type": "object", "required": ["type", "data_source_id"],
                "properties": {"type": {"const": "data_source_id"}, "data_source_id": uuid, "database_id": uuid}
            },
            "archived": {"type": "boolean"}, "in_trash": {"type": "boolean"},
            "properties": {"type": "object", "additionalProperties": {"$ref": "#/defs/property_value"}},
            "url": {"type": "string", "format": "uri"},
            "public_url": {"type": ["string", "null"]},
            "request_id": {"type": "string"}
        }
    });
    let database = json!({
        "type": "object",
        "required": ["object", "id", "data_sources", "created_time", "last_edited_time", "title", "parent", "in_trash", "is_inline"],
        "properties": {
            "object": {"const": "database"},
            "id": uuid,
            "data_sources": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["id", "name"], "additionalProperties": false,
                "properties": {"id": uuid, "name": {"type": "string"}}
            }},
            "created_time": {"type": "string", "format": "date-time"},
            "last_edited_time": {"type": "string", "format": "date-time"},
            "title": {"$ref": "#/defs/rich_text_array"},
            "description": {"$ref": "#/defs/rich_text_array"},
            "parent": {"type": "object", "required": ["type"]},
            "in_trash": {"type": "boolean"},
            "is_inline": {"type": "boolean"},
            "url": {"type": "string", "format": "uri"}
        }
    });
    let property_schema = json!({
        "type": "object", "required": ["id", "name", "type"],
        "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                       "type": {"enum": ["title", "rich_text", "multi_select", "select", "date", "checkbox", "number", "url"]}}
    });
    let data_source = json!({
        "type": "object",
        "required": ["object", "id", "properties", "parent", "title"],
        "properties": {
            "object": {"const": "data_source"},
            "id": uuid,
            "properties": {"type": "object", "additionalProperties": {"$ref": "#/defs/property_schema"}},
            "parent": {"type": "object", "required": ["type", "database_id"],
                       "properties": {"type": {"const": "database_id"}, "database_id": uuid}},
            "database_parent": {"type": "object", "required": ["type"]},
            "title": {"$ref": "#/defs/rich_text_array"},
            "created_time": {"type": "string", "format": "date-time"},
            "last_edited_time": {"type": "string", "format": "date-time"}
        }
    });
    let list = json!({
        "type": "object",
        "required": ["object", "results", "next_cursor", "has_more", "type", "page_or_data_source"],
        "properties": {
            "object": {"const": "list"},
            "results": {"type": "array", "maxItems": 100, "items": {"$ref": "#/defs/page"}},
            "next_cursor": {"type": ["string", "null"]},
            "has_more": {"type": "boolean"},
            "type": {"const": "page_or_data_source"},
            "page_or_data_source": {"type": "object"},
            "request_status": {
                "type": "object", "required": ["type"], "additionalProperties": false,
                "properties": {
                    "type": {"enum": ["complete", "incomplete"]},
                    "incomplete_reason": {"const": "query_result_limit_reached"}
                }
            }
        }
    });
    let error = json!({
        "type": "object", "required": ["object", "status", "code", "message", "request_id"],
        "properties": {
            "object": {"const": "error"},
            "status": {"type": "integer"},
            "code": {"enum": [
                "invalid_json", "invalid_request_url", "invalid_request", "validation_error",
                "missing_version", "unauthorized", "restricted_resource", "object_not_found",
                "conflict_error", "rate_limited", "internal_server_error", "bad_gateway",
                "service_unavailable", "database_connection_unavailable", "gateway_timeout",
                "service_overload"
            ]},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
            "additional_data": {
                "type": "object",
                "properties": {
                    "rate_limit_reason": {"type": "string"},
                    "retry_after": {"type": "string"}
                }
            }
        }
    });
    json!({"defs": {
        "user": user, "annotations": annotations, "rich_text": rich_text,
        "rich_text_array": rich_text_array, "option": option, "date_value": date_value,
        "property_value": property_value, "page": page, "database": database,
        "property_schema": property_schema, "data_source": data_source, "list": list, "error": error
    }})
}

pub fn r(name: &str) -> Value {
    json!({"$ref": format!("#/defs/{name}")})
}
