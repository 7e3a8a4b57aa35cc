//! Where PostgREST is and how to reach it: base URL, key, retries, timeout (from [`Settings`]).
use crate::clients::postgrest::auth::ApiKey;
use crate::clients::retry::RetryPolicy;
use crate::core::error::PortError;
use crate::settings::Settings;

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
    /// From the Worker's settings (parsed once, in [`Settings`]): the PostgREST base
    /// (`SUPABASE_REST_URL`, or `SUPABASE_URL` + `/rest/v1`), `SUPABASE_SERVICE_ROLE_KEY`,
    /// `SYNC_MAX_RETRIES`. `Err` (naming the setting) when the key cannot reach the table.
    pub fn from_settings(settings: &Settings) -> Result<PostgrestConfig, PortError> {
        PostgrestConfig::new(&settings.supabase_rest_url, &settings.supabase_key, settings.max_retries)
    }

    /// For any PostgREST base (the sandbox's, a test's) and key.
    pub fn new(base_url: &str, key: &str, max_retries: u32) -> Result<PostgrestConfig, PortError> {
        Ok(PostgrestConfig {
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            key: ApiKey::parse(key)?,
            retry: RetryPolicy::with_max_retries(max_retries),
            timeout_ms: 20_000,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key_and_urls_are_built_from_the_base() {
        let config = PostgrestConfig::new("https://abc.supabase.co/rest/v1/", "sb_secret_TOPSECRET", 3).unwrap();
        assert!(!format!("{config:?}").contains("TOPSECRET"));
        assert_eq!(config.table_url(), "https://abc.supabase.co/rest/v1/decision_vault");
        assert_eq!(config.write_back_url(), "https://abc.supabase.co/rest/v1/rpc/decision_vault_sync_write_back");
        assert_eq!(config.retry.max_retries, 3);
    }

    #[test]
    fn from_settings_takes_the_parsed_base_key_and_retries() {
        let settings = Settings::from_lookup(|name| {
            let value = match name {
                "SUPABASE_URL" => "https://abc.supabase.co/",
                "SUPABASE_SERVICE_ROLE_KEY" => "sb_secret_abcdefghijkl",
                "NOTION_API_KEY" => "ntn_x",
                "NOTION_DATABASE_ID" => "db",
                "SYNC_MAX_RETRIES" => "5",
                _ => return None,
            };
            Some(value.to_string())
        })
        .unwrap();
        let config = PostgrestConfig::from_settings(&settings).unwrap();
        assert_eq!((config.base_url.as_str(), config.retry.max_retries), ("https://abc.supabase.co/rest/v1", 5));
        let publishable = Settings { supabase_key: "sb_publishable_abc".into(), ..settings };
        let error = PostgrestConfig::from_settings(&publishable).unwrap_err().to_string();
        assert!(error.contains("SUPABASE_SERVICE_ROLE_KEY"), "{error}");
    }
}
