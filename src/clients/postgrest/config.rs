//! Where PostgREST is and how to reach it: base URL, key, retries, timeout.
use crate::clients::postgrest::auth::ApiKey;
use crate::clients::retry::RetryPolicy;
use crate::core::error::PortError;

/// The table the sync keeps in step with Notion.
pub const TABLE: &str = "decision_vault";
/// The bulk write-back function shipped in the migration.
pub const WRITE_BACK_FUNCTION: &str = "decision_vault_sync_write_back";
/// The migration that creates both (named in configuration errors).
pub const MIGRATION_PATH: &str = "supabase/migrations/20251123000000_decision_vault_sync.sql";
/// Every column the sync reads, in the order of [`crate::core::model::Row`].
pub const COLUMNS: [&str; 10] = [
    "id",
    "decision",
    "type",
    "date",
    "created_at",
    "updated_at",
    "notion_page_id",
    "notion_synced",
    "checksum",
    "deleted_at",
];
/// The service name used in errors.
pub const SERVICE: &str = "supabase";

/// Settings of the PostgREST client. `Debug` never shows the key.
#[derive(Clone, PartialEq)]
pub struct PostgrestConfig {
    /// PostgREST base without a trailing slash (`https://x.supabase.co/rest/v1`).
    pub base_url: String,
    pub key: ApiKey,
    /// Retries of 5xx / network failures (`SYNC_MAX_RETRIES`).
    pub retry: RetryPolicy,
    /// Timeout of one HTTP attempt.
    pub timeout_ms: u64,
}

impl std::fmt::Debug for PostgrestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgrestConfig")
            .field("base_url", &self.base_url)
            .field("key", &self.key)
            .field("retry", &self.retry)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl PostgrestConfig {
    /// From the Worker's settings: `SUPABASE_REST_URL` when set (any PostgREST base), else
    /// `SUPABASE_URL` + `/rest/v1`; `SUPABASE_SERVICE_ROLE_KEY`; `SYNC_MAX_RETRIES`.
    pub fn from_settings(
        supabase_url: Option<&str>,
        rest_url: Option<&str>,
        service_role_key: Option<&str>,
        max_retries: u32,
    ) -> Result<PostgrestConfig, PortError> {
        let base_url = resolve_base_url(supabase_url, rest_url)?;
        let key = ApiKey::parse(service_role_key.unwrap_or(""))?;
        Ok(PostgrestConfig { base_url, key, retry: RetryPolicy::with_max_retries(max_retries), timeout_ms: 20_000 })
    }

    /// `{base}/decision_vault`.
    pub fn table_url(&self) -> String {
        format!("{}/{}", self.base_url, TABLE)
    }

    /// `{base}/rpc/decision_vault_sync_write_back`.
    pub fn write_back_url(&self) -> String {
        format!("{}/rpc/{}", self.base_url, WRITE_BACK_FUNCTION)
    }
}

/// The PostgREST base URL, without trailing slashes.
pub fn resolve_base_url(supabase_url: Option<&str>, rest_url: Option<&str>) -> Result<String, PortError> {
    let non_blank = |value: Option<&str>| value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let (name, base) = match (non_blank(rest_url), non_blank(supabase_url)) {
        (Some(rest), _) => ("SUPABASE_REST_URL", rest.trim_end_matches('/').to_string()),
        (None, Some(url)) => ("SUPABASE_URL", format!("{}/rest/v1", url.trim_end_matches('/'))),
        (None, None) => {
            return Err(PortError::config(
                "SUPABASE_URL is not set: set it to your project's URL (https://<ref>.supabase.co), \
                 or set SUPABASE_REST_URL to a PostgREST base URL",
            ))
        }
    };
    if !(base.starts_with("https://") || base.starts_with("http://")) || base.contains('?') || base.contains('#') {
        return Err(PortError::config(format!(
            "{name} must be an http(s) URL without a query string (like https://<ref>.supabase.co)"
        )));
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_url_wins_and_supabase_url_gets_rest_v1() {
        assert_eq!(
            resolve_base_url(Some("https://abc.supabase.co/"), None).as_deref(),
            Ok("https://abc.supabase.co/rest/v1")
        );
        assert_eq!(
            resolve_base_url(Some("https://abc.supabase.co"), Some(" http://127.0.0.1:3000/ ")).as_deref(),
            Ok("http://127.0.0.1:3000")
        );
        assert_eq!(
            resolve_base_url(Some("https://abc.supabase.co"), Some("  ")).as_deref(),
            Ok("https://abc.supabase.co/rest/v1")
        );
    }

    #[test]
    fn missing_or_odd_urls_are_config_errors_naming_the_setting() {
        let missing = resolve_base_url(None, Some("")).unwrap_err();
        assert!(missing.to_string().contains("SUPABASE_URL is not set"), "{missing}");
        let odd = resolve_base_url(Some("abc.supabase.co"), None).unwrap_err();
        assert!(odd.to_string().contains("SUPABASE_URL must be an http(s) URL"), "{odd}");
        let query = resolve_base_url(None, Some("http://x/rest?x=1")).unwrap_err();
        assert!(query.to_string().contains("SUPABASE_REST_URL"), "{query}");
    }

    #[test]
    fn debug_hides_the_key_and_urls_are_built_from_the_base() {
        let config =
            PostgrestConfig::from_settings(Some("https://abc.supabase.co"), None, Some("sb_secret_TOPSECRET"), 3)
                .unwrap();
        assert!(!format!("{config:?}").contains("TOPSECRET"));
        assert_eq!(config.table_url(), "https://abc.supabase.co/rest/v1/decision_vault");
        assert_eq!(config.write_back_url(), "https://abc.supabase.co/rest/v1/rpc/decision_vault_sync_write_back");
        assert_eq!(config.retry.max_retries, 3);
    }
}
