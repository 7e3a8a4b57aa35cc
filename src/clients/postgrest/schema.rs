//! The schema check: the table, every column, the key's access; and the write-back function.
use crate::clients::http::{HttpRequest, HttpResponse, Method};
use crate::clients::postgrest::config::{PostgrestConfig, MIGRATION_PATH, TABLE, WRITE_BACK_FUNCTION};
use crate::clients::postgrest::errors::{self, ApiError};
use crate::clients::postgrest::query;
use crate::core::error::PortError;

/// `GET {base}/decision_vault?select=<every column>&limit=1`.
pub fn check_request(config: &PostgrestConfig) -> HttpRequest {
    let url = format!("{}?{}&limit=1", config.table_url(), query::select_all());
    let mut request = HttpRequest::new(Method::Get, url).header("Accept", "application/json");
    for (name, value) in config.key.headers() {
        request = request.header(&name, value);
    }
    request.timeout_ms = config.timeout_ms;
    request
}

/// `GET {base}/decision_vault?select=<column>&limit=0`: asked column by column only when a
/// missing-column error does not name the column (postrust answers `PGRST204 Column not found`
/// where PostgREST says `42703 column decision_vault.x does not exist`).
pub fn column_probe_request(config: &PostgrestConfig, column: &str) -> HttpRequest {
    let url = format!("{}?select={}&limit=0", config.table_url(), query::encode(column));
    let mut request = HttpRequest::new(Method::Get, url).header("Accept", "application/json");
    for (name, value) in config.key.headers() {
        request = request.header(&name, value);
    }
    request.timeout_ms = config.timeout_ms;
    request
}

/// True when `response` says a column is missing without naming it.
pub fn needs_column_probe(response: &HttpResponse) -> bool {
    if response.is_success() {
        return false;
    }
    let error = ApiError::parse(&response.body);
    errors::is_missing_column(&error) && error.column().is_none()
}

/// The missing-column error, naming `column` found by probing.
pub fn missing_column_error(column: &str, response: &HttpResponse) -> PortError {
    let mut error = ApiError::parse(&response.body);
    let said = error.describe();
    error.message = Some(format!("column {TABLE}.{column} does not exist"));
    let mut message = errors::missing_column_message(&error);
    if let Some(start) = message.find("(PostgREST said: ") {
        message.truncate(start);
        message.push_str(&format!("(PostgREST said: {said})"));
    }
    PortError::config(message)
}

/// What a (non-retried) answer to [`check_request`] says: `Ok` when the table and all columns
/// are readable; otherwise a `Config` error naming what to fix.
pub fn interpret_check(response: &HttpResponse) -> Result<(), PortError> {
    if response.is_success() {
        return match serde_json::from_str::<Vec<serde_json::Value>>(&response.body) {
            Ok(_) => Ok(()),
            Err(_) => Err(PortError::config(
                "SUPABASE_URL / SUPABASE_REST_URL does not answer like PostgREST (no JSON array for a \
                 table read): check the URL (https://<ref>.supabase.co, or a PostgREST base)",
            )),
        };
    }
    let error = ApiError::parse(&response.body);
    let status = response.status;
    if status == 401 || status == 403 || matches!(error.code(), "42501" | "PGRST301" | "PGRST302" | "PGRST303") {
        return Err(PortError::config(errors::access_message(status, &error)));
    }
    if errors::is_missing_table(status, &error) {
        return Err(PortError::config(errors::missing_table_message(&error)));
    }
    if errors::is_missing_column(&error) {
        return Err(PortError::config(errors::missing_column_message(&error)));
    }
    Err(PortError::config(format!(
        "reading public.{TABLE} through the Supabase REST API failed with HTTP {status}: {} \
         (check SUPABASE_URL and that the migration {MIGRATION_PATH} was applied)",
        error.describe()
    )))
}

/// What an answer to the write-back probe says: `Ok(true)` when the function exists,
/// `Ok(false)` when it is missing (the sync then writes row by row with `PATCH`).
pub fn interpret_probe(response: &HttpResponse) -> Result<bool, PortError> {
    if response.is_success() {
        return Ok(true);
    }
    let error = ApiError::parse(&response.body);
    if errors::is_missing_function(response.status, &error) {
        return Ok(false);
    }
    if response.status == 401 || response.status == 403 || error.code() == "42501" {
        return Err(PortError::config(format!(
            "SUPABASE_SERVICE_ROLE_KEY may not call public.{WRITE_BACK_FUNCTION}: apply the migration \
             {MIGRATION_PATH}, which grants it to service_role (PostgREST said: {})",
            error.describe()
        )));
    }
    Err(PortError::config(format!(
        "public.{WRITE_BACK_FUNCTION} answered HTTP {} to an empty call: {} (apply the migration \
         {MIGRATION_PATH} again to replace it)",
        response.status,
        error.describe()
    )))
}

/// A one-line note for the health report.
pub fn write_back_note(function_exists: bool) -> String {
    if function_exists {
        format!("write-back: bulk, through public.{WRITE_BACK_FUNCTION}")
    } else {
        format!(
            "write-back: public.{WRITE_BACK_FUNCTION} is missing, so rows are written one PATCH at a \
             time (slower, more subrequests): apply the migration {MIGRATION_PATH}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![], body: body.to_string() }
    }

    fn config_message(result: Result<(), PortError>) -> String {
        match result {
            Err(PortError::Config { message }) => message,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn request_asks_for_every_column_once() {
        let config = PostgrestConfig::new("https://abc.supabase.co/rest/v1", "sb_secret_k", 3).unwrap();
        let request = check_request(&config);
        assert_eq!(
            request.url,
            "https://abc.supabase.co/rest/v1/decision_vault?select=id,decision,type,date,created_at,updated_at,notion_page_id,notion_synced,checksum,deleted_at&limit=1"
        );
        assert_eq!(request.method, Method::Get);
    }

    #[test]
    fn messages_name_what_to_fix() {
        assert_eq!(interpret_check(&response(200, "[]")), Ok(()));
        let table = config_message(interpret_check(&response(
            404,
            r#"{"code":"PGRST205","message":"Could not find the table 'public.decision_vault' in the schema cache"}"#,
        )));
        assert!(
            table.contains("run the migration supabase/migrations/20251123000000_decision_vault_sync.sql"),
            "{table}"
        );
        let column = config_message(interpret_check(&response(
            400,
            r#"{"code":"42703","message":"column decision_vault.deleted_at does not exist"}"#,
        )));
        assert!(column.starts_with("the column `deleted_at` is missing"), "{column}");
        let denied = config_message(interpret_check(&response(401, r#"{"code":"PGRST301","message":"JWSError"}"#)));
        assert!(denied.starts_with("SUPABASE_SERVICE_ROLE_KEY is wrong or lacks access"), "{denied}");
        let html = config_message(interpret_check(&response(200, "<!doctype html>")));
        assert!(html.contains("does not answer like PostgREST"), "{html}");
    }

    #[test]
    fn unnamed_missing_columns_are_probed_and_named() {
        let config = PostgrestConfig::new("http://h", "sb_secret_k", 3).unwrap();
        assert_eq!(
            column_probe_request(&config, "deleted_at").url,
            "http://h/decision_vault?select=deleted_at&limit=0"
        );
        let unnamed = response(400, r#"{"code":"PGRST204","message":"Column not found"}"#);
        assert!(needs_column_probe(&unnamed));
        assert!(!needs_column_probe(&response(
            400,
            r#"{"code":"42703","message":"column decision_vault.x does not exist"}"#
        )));
        assert!(!needs_column_probe(&response(200, "[]")));
        let message = config_message(Err(missing_column_error("checksum", &unnamed)));
        assert!(message.starts_with("the column `checksum` is missing from public.decision_vault"), "{message}");
        assert!(message.ends_with("(PostgREST said: Column not found (code PGRST204))"), "{message}");
    }

    #[test]
    fn probe_tells_whether_the_function_exists() {
        assert_eq!(interpret_probe(&response(200, "[]")), Ok(true));
        assert_eq!(
            interpret_probe(&response(
                404,
                r#"{"code":"PGRST202","message":"Could not find the function public.decision_vault_sync_write_back(updates) in the schema cache"}"#
            )),
            Ok(false)
        );
        assert!(
            interpret_probe(&response(403, r#"{"code":"42501","message":"permission denied for function"}"#)).is_err()
        );
        assert!(write_back_note(false).contains("PATCH"));
    }
}
