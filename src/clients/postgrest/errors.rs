//! PostgREST's error bodies, and what each failure means for the sync.
//!
//! PostgREST answers errors with `{"code","message","details","hint"}`: `PGRSTxxx` codes for its
//! own errors, SQLSTATEs for PostgreSQL's. The text the sync keeps has the message, the code and
//! the hint; never `details` (PostgreSQL may put a failing row's content there).
use serde::Deserialize;

use crate::clients::http::HttpResponse;
use crate::clients::postgrest::config::{MIGRATION_PATH, SERVICE, TABLE};
use crate::core::error::PortError;

/// A PostgREST error body (all fields optional: a proxy in front may answer anything).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ApiError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub hint: Option<String>,
}

impl ApiError {
    /// Parses an error body; anything that is not PostgREST's JSON becomes a message made of the
    /// body's first line (bounded).
    pub fn parse(body: &str) -> ApiError {
        match serde_json::from_str::<ApiError>(body) {
            Ok(error) if error.code.is_some() || error.message.is_some() => error,
            _ => {
                let first = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
                let text: String = first.chars().take(200).collect();
                ApiError { code: None, message: (!text.is_empty()).then_some(text), hint: None }
            }
        }
    }

    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }

    /// `message (code X; hint: Y)`.
    pub fn describe(&self) -> String {
        let mut text = self.message.clone().unwrap_or_else(|| "no error message".to_string());
        let mut extra = Vec::new();
        if let Some(code) = self.code.as_deref().filter(|c| !c.is_empty()) {
            extra.push(format!("code {code}"));
        }
        if let Some(hint) = self.hint.as_deref().filter(|h| !h.is_empty()) {
            extra.push(format!("hint: {hint}"));
        }
        if !extra.is_empty() {
            text.push_str(&format!(" ({})", extra.join("; ")));
        }
        text
    }

    /// The column a message names (`column "x"`, `column decision_vault.x`, `'x' column`).
    pub fn column(&self) -> Option<String> {
        let message = self.message.as_deref()?;
        let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
        if let Some(rest) = message.split("column \"").nth(1) {
            let name = ident(rest);
            return (!name.is_empty()).then_some(name);
        }
        if let Some(rest) = message.split("column ").nth(1) {
            let rest = rest.trim_start_matches('\'');
            let rest = rest.strip_prefix(&format!("{TABLE}.")).unwrap_or(rest);
            let name = ident(rest);
            if !name.is_empty() && name != "of" {
                return Some(name);
            }
        }
        if let Some(before) = message.split("' column").next().filter(|_| message.contains("' column")) {
            let name = before.rsplit('\'').next().map(ident).unwrap_or_default();
            return (!name.is_empty()).then_some(name);
        }
        None
    }
}

/// The table is missing: PGRST205 (schema cache), 42P01 (undefined_table), or a bare 404 on it.
pub fn is_missing_table(status: u16, error: &ApiError) -> bool {
    matches!(error.code(), "PGRST205" | "42P01" | "PGRST106") || (status == 404 && error.code.is_none())
}

/// A column is missing: 42703 (undefined_column) or PGRST204 (not in the schema cache).
pub fn is_missing_column(error: &ApiError) -> bool {
    matches!(error.code(), "42703" | "PGRST204")
}

/// The write-back function is missing: PGRST202 (or 42883 undefined_function, or a bare 404).
pub fn is_missing_function(status: u16, error: &ApiError) -> bool {
    matches!(error.code(), "PGRST202" | "42883") || (status == 404 && error.code.is_none())
}

pub fn missing_table_message(error: &ApiError) -> String {
    format!(
        "the table public.{TABLE} was not found through the Supabase REST API: run the migration \
         {MIGRATION_PATH} (supabase db push, or psql -f), then reload PostgREST's schema cache \
         (PostgREST said: {})",
        error.describe()
    )
}

pub fn missing_column_message(error: &ApiError) -> String {
    let column = error.column().map(|c| format!("the column `{c}`")).unwrap_or_else(|| "a column".to_string());
    format!(
        "{column} is missing from public.{TABLE}: run the migration {MIGRATION_PATH}, which adds it \
         (PostgREST said: {})",
        error.describe()
    )
}

pub fn access_message(status: u16, error: &ApiError) -> String {
    format!(
        "SUPABASE_SERVICE_ROLE_KEY is wrong or lacks access to public.{TABLE} (HTTP {status}): use the \
         project's service_role / secret key, and check the migration's grants to service_role \
         (PostgREST said: {})",
        error.describe()
    )
}

/// Maps a final (non-retried) error response of a data request to the port's error kinds:
/// 401/403 and a missing table or column stop the run (`Config`); other 4xx are about the
/// record(s) sent (`Record`); anything else that reaches here is `Transient`.
pub fn classify(request: &str, response: &HttpResponse) -> PortError {
    let error = ApiError::parse(&response.body);
    let status = response.status;
    if status == 401 || status == 403 || matches!(error.code(), "42501" | "PGRST301" | "PGRST302" | "PGRST303") {
        return PortError::config(access_message(status, &error));
    }
    if is_missing_table(status, &error) {
        return PortError::config(missing_table_message(&error));
    }
    if is_missing_column(&error) {
        return PortError::config(missing_column_message(&error));
    }
    if (400..500).contains(&status) {
        let field = error.column().or_else(|| field_of_sqlstate(error.code()).map(str::to_string));
        return PortError::record(SERVICE, field.as_deref(), format!("{request}: HTTP {status}: {}", error.describe()));
    }
    PortError::transient(SERVICE, format!("{request}: HTTP {status}: {}", error.describe()))
}

/// The field a SQLSTATE usually concerns in this table.
fn field_of_sqlstate(code: &str) -> Option<&'static str> {
    match code {
        // invalid_datetime_format, datetime_field_overflow
        "22007" | "22008" => Some("date"),
        // unique_violation: the only unique column besides the key
        "23505" => Some("notion_page_id"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![], body: body.to_string() }
    }

    #[test]
    fn parses_postgrest_bodies_and_keeps_message_code_hint_not_details() {
        let error = ApiError::parse(
            r#"{"code":"PGRST205","details":"secret row content","hint":"Perhaps you meant the table 'public.decisions'","message":"Could not find the table 'public.decision_vault' in the schema cache"}"#,
        );
        let text = error.describe();
        assert_eq!(
            text,
            "Could not find the table 'public.decision_vault' in the schema cache (code PGRST205; hint: Perhaps you meant the table 'public.decisions')"
        );
        assert!(!text.contains("secret row content"));
        assert_eq!(ApiError::parse("<html>\nBad gateway</html>").describe(), "<html>");
        assert_eq!(ApiError::parse("").describe(), "no error message");
    }

    #[test]
    fn finds_the_column_named_by_postgres_and_postgrest() {
        let named = |m: &str| ApiError { message: Some(m.into()), ..ApiError::default() }.column();
        assert_eq!(named("column decision_vault.deleted_at does not exist").as_deref(), Some("deleted_at"));
        assert_eq!(named("column \"checksum\" does not exist").as_deref(), Some("checksum"));
        assert_eq!(
            named("Could not find the 'notion_synced' column of 'decision_vault' in the schema cache").as_deref(),
            Some("notion_synced")
        );
        assert_eq!(
            named("null value in column \"decision\" of relation \"decision_vault\"").as_deref(),
            Some("decision")
        );
        assert_eq!(named("permission denied for table decision_vault"), None);
    }

    #[test]
    fn classifies_final_errors() {
        let table = classify(
            "GET /decision_vault",
            &response(
                404,
                r#"{"code":"PGRST205","message":"Could not find the table 'public.decision_vault' in the schema cache"}"#,
            ),
        );
        assert!(matches!(&table, PortError::Config { message } if message.contains(MIGRATION_PATH)), "{table}");
        let table42 = classify(
            "GET",
            &response(404, r#"{"code":"42P01","message":"relation \"public.decision_vault\" does not exist"}"#),
        );
        assert!(matches!(table42, PortError::Config { .. }));
        let column = classify(
            "GET",
            &response(400, r#"{"code":"42703","message":"column decision_vault.checksum does not exist"}"#),
        );
        assert!(matches!(&column, PortError::Config { message } if message.contains("`checksum`")), "{column}");
        for status in [401, 403] {
            let access = classify(
                "GET",
                &response(status, r#"{"code":"42501","message":"permission denied for table decision_vault"}"#),
            );
            assert!(
                matches!(&access, PortError::Config { message } if message.starts_with("SUPABASE_SERVICE_ROLE_KEY is wrong or lacks access")),
                "{access}"
            );
        }
        let record = classify(
            "POST /decision_vault",
            &response(400, r#"{"code":"22007","message":"invalid input syntax for type date: \"2025-13-01\""}"#),
        );
        assert_eq!(
            record,
            PortError::record(
                "supabase",
                Some("date"),
                "POST /decision_vault: HTTP 400: invalid input syntax for type date: \"2025-13-01\" (code 22007)"
            )
        );
        let conflict = classify(
            "POST",
            &response(
                409,
                r#"{"code":"23505","message":"duplicate key value violates unique constraint \"decision_vault_notion_page_id_key\""}"#,
            ),
        );
        assert!(matches!(conflict, PortError::Record { field: Some(ref f), .. } if f == "notion_page_id"));
        assert!(matches!(classify("GET", &response(500, "boom")), PortError::Transient { .. }));
    }

    #[test]
    fn missing_function_detection() {
        assert!(is_missing_function(
            404,
            &ApiError::parse(r#"{"code":"PGRST202","message":"Could not find the function"}"#)
        ));
        assert!(is_missing_function(404, &ApiError::parse("Not Found")));
        assert!(!is_missing_function(400, &ApiError::parse(r#"{"code":"22023","message":"bad"}"#)));
    }
}
