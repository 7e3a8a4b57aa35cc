//! `Notion-Version`: the versions the emulator models and what differs between them.
//!
//! - 2025-09-03: data sources; `archived` is the deprecated twin of `in_trash`.
//! - 2026-03-11 (developers.notion.com → Upgrade guide 2026-03-11): "The `archived` field has
//!   been renamed to `in_trash` across all API responses and request parameters" — responses
//!   carry only `in_trash`, and `archived` in a request body is refused.
//! - 2026-12-01 (Upgrade guide 2026-12-01): as 2026-03-11, and "Search and Query a data source
//!   return only the title in each page's properties unless you pass `filter_properties`".

use crate::error::ApiError;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ApiVersion {
    V2025_09_03,
    V2026_03_11,
    V2026_12_01,
}

impl ApiVersion {
    /// Every version the emulator models, oldest first.
    pub const ALL: [ApiVersion; 3] = [ApiVersion::V2025_09_03, ApiVersion::V2026_03_11, ApiVersion::V2026_12_01];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2025_09_03 => "2025-09-03",
            ApiVersion::V2026_03_11 => "2026-03-11",
            ApiVersion::V2026_12_01 => "2026-12-01",
        }
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        ApiVersion::ALL.into_iter().find(|v| v.as_str() == s.trim())
    }

    /// 2026-03-11 and later: no `archived` in requests or responses.
    pub fn without_archived(self) -> bool {
        self >= ApiVersion::V2026_03_11
    }

    /// 2026-12-01 and later: query results hold only the title unless `filter_properties`.
    pub fn title_only_lists(self) -> bool {
        self >= ApiVersion::V2026_12_01
    }
}

/// Checks an accepted-versions list (admin API, CLI, config); returns it normalised.
pub fn parse_list(items: &[String]) -> Result<Vec<ApiVersion>, String> {
    if items.is_empty() {
        return Err("at least one Notion-Version must be accepted".into());
    }
    let mut out = Vec::new();
    for s in items {
        let v = ApiVersion::parse(s).ok_or_else(|| {
            format!(
                "Notion-Version {s:?} is not modelled (choose from {})",
                ApiVersion::ALL.map(ApiVersion::as_str).join(", ")
            )
        })?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out.sort();
    Ok(out)
}

/// The 400 for a version that is not accepted, in the wording reported from the live API
/// ("Notion-Version header should be "2021-05-11", ..., or "2026-03-11"").
pub fn unsupported(accepted: &[ApiVersion], given: &str) -> ApiError {
    let quoted: Vec<String> = accepted.iter().map(|v| format!("\"{}\"", v.as_str())).collect();
    let list = match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] if init.len() == 1 => format!("{} or {last}", init[0]),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    };
    ApiError::validation(format!(
        "Notion-Version header failed validation: Notion-Version header should be {list}, instead was `{}`.",
        crate::error::show(&json!(given))
    ))
}

/// 2026-03-11 and later refuse `archived` in a request body (it was renamed `in_trash`).
pub fn check_body(version: ApiVersion, body: &Value) -> Result<(), ApiError> {
    if !version.without_archived() {
        return Ok(());
    }
    match body.get("archived") {
        Some(v) => Err(ApiError::body("body.archived", "not present", v)),
        None => Ok(()),
    }
}

/// Adapts a response to the version: from 2026-03-11 on, page, database and data source
/// objects (also inside a list) carry `in_trash` only.
pub fn adapt_response(version: ApiVersion, v: &mut Value) {
    if !version.without_archived() {
        return;
    }
    let Some(o) = v.as_object_mut() else {
        return;
    };
    match o.get("object").and_then(Value::as_str) {
        Some("page" | "database" | "data_source") => {
            o.remove("archived");
        }
        Some("list") => {
            if let Some(Value::Array(items)) = o.get_mut("results") {
                for item in items {
                    adapt_response(version, item);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_versions() {
        assert_eq!(ApiVersion::parse(" 2026-03-11 "), Some(ApiVersion::V2026_03_11));
        assert_eq!(ApiVersion::parse("2022-06-28"), None);
        let list = parse_list(&["2026-03-11".into(), "2025-09-03".into(), "2026-03-11".into()]);
        assert_eq!(list, Ok(vec![ApiVersion::V2025_09_03, ApiVersion::V2026_03_11]));
        assert!(parse_list(&[]).is_err());
        assert!(parse_list(&["2022-06-28".into()]).is_err());
    }

    #[test]
    fn unsupported_lists_the_accepted_versions() {
        let e = unsupported(&ApiVersion::ALL, "2022-06-28");
        assert_eq!(
            e.message,
            "Notion-Version header failed validation: Notion-Version header should be \"2025-09-03\", \"2026-03-11\", or \"2026-12-01\", instead was `\"2022-06-28\"`."
        );
        let two = unsupported(&ApiVersion::ALL[..2], "x");
        assert!(two.message.contains("\"2025-09-03\" or \"2026-03-11\","));
    }

    #[test]
    fn strips_archived_from_2026_03_11_on() {
        let mut list = json!({"object": "list", "results": [{"object": "page", "archived": false, "in_trash": false}]});
        adapt_response(ApiVersion::V2025_09_03, &mut list);
        assert_eq!(list["results"][0]["archived"], false);
        adapt_response(ApiVersion::V2026_03_11, &mut list);
        assert!(list["results"][0].get("archived").is_none());
        assert_eq!(list["results"][0]["in_trash"], false);
    }
}
