//! Configuration of the Notion client, built from the Worker's [`Settings`].
use crate::clients::notion::version::NotionVersion;
use crate::settings::Settings;

/// The default Notion API version (`NOTION_VERSION` unset): Notion's current version.
pub const NOTION_VERSION: &str = "2026-03-11";
/// Default `NOTION_API_BASE`.
pub const DEFAULT_API_BASE: &str = "https://api.notion.com";
/// Default request timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;
/// Default spacing between request starts: under Notion's average of 3 requests per second.
pub const DEFAULT_MIN_INTERVAL_MS: u64 = 340;
/// Longest `Retry-After` (429/529) waited for within a run; a longer one ends the run cleanly
/// (outcome `partial`, state saved) and the next run resumes. Waiting costs no CPU time, but a
/// run's wall time holds its lease (`SYNC_LEASE_TTL_SECONDS`, default 60 s, renewed every quarter
/// of it between requests) and keeps a `/sync-now` caller waiting; Cloudflare's limits
/// (https://developers.cloudflare.com/workers/platform/limits/#duration) give a Cron Trigger or
/// Durable Object alarm invocation 15 minutes of wall time, and the free plan's 50 subrequests
/// last about 15 s at Notion's 3 requests per second. 10 s stays under a lease quarter (15 s) and
/// well inside every plan; Notion's per-workspace limit can ask for more than 60 s
/// (https://developers.notion.com/reference/request-limits), which a later run waits out instead.
pub const DEFAULT_MAX_RETRY_AFTER_MS: u64 = 10_000;

/// Everything the Notion client needs. `Debug` never prints the token.
#[derive(Clone, PartialEq, Eq)]
pub struct NotionConfig {
    /// `NOTION_API_BASE` without a trailing slash.
    pub api_base: String,
    /// `NOTION_API_KEY` (secret).
    pub token: String,
    /// `NOTION_DATABASE_ID`.
    pub database_id: String,
    /// `NOTION_DATA_SOURCE_ID`: when set, no discovery and no check against the database.
    pub data_source_id: Option<String>,
    /// `SYNC_MAX_RETRIES` (default 3): retries per kind of failure.
    pub max_retries: u32,
    pub timeout_ms: u64,
    /// Minimum spacing between request starts.
    pub min_interval_ms: u64,
    /// Longest `Retry-After` waited for within a run; longer -> the run ends, the next resumes.
    pub max_retry_after_ms: u64,
    /// `NOTION_VERSION`: the API version sent and spoken (default 2026-03-11).
    pub version: NotionVersion,
}

impl std::fmt::Debug for NotionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotionConfig")
            .field("api_base", &self.api_base)
            .field("token", &"<redacted>")
            .field("database_id", &self.database_id)
            .field("data_source_id", &self.data_source_id)
            .field("max_retries", &self.max_retries)
            .field("timeout_ms", &self.timeout_ms)
            .field("min_interval_ms", &self.min_interval_ms)
            .field("max_retry_after_ms", &self.max_retry_after_ms)
            .field("version", &self.version)
            .finish()
    }
}

impl NotionConfig {
    /// A configuration with the defaults (ids used as given).
    pub fn new(token: impl Into<String>, database_id: impl Into<String>) -> Self {
        NotionConfig {
            api_base: DEFAULT_API_BASE.to_string(),
            token: token.into(),
            database_id: database_id.into(),
            data_source_id: None,
            max_retries: 3,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            min_interval_ms: DEFAULT_MIN_INTERVAL_MS,
            max_retry_after_ms: DEFAULT_MAX_RETRY_AFTER_MS,
            version: NotionVersion::default(),
        }
    }

    /// From the Worker's settings (parsed once, in [`Settings`]: ids already canonical).
    pub fn from_settings(settings: &Settings) -> Self {
        NotionConfig {
            api_base: settings.notion_api_base.clone(),
            data_source_id: settings.notion_data_source_id.clone(),
            max_retries: settings.max_retries,
            version: settings.notion_version,
            ..NotionConfig::new(settings.notion_token.clone(), settings.notion_database_id.clone())
        }
    }
}

/// A Notion id in canonical form (lowercase, dashed 8-4-4-4-12) from a bare or dashed id or a
/// Notion URL (`https://www.notion.so/ws/Title-<id>?v=…`). `None` when no id is found.
pub fn normalize_notion_id(raw: &str) -> Option<String> {
    let without_query = raw.trim().split(['?', '#']).next().unwrap_or("");
    let segment = without_query.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let is_hex32 = |s: &str| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit());
    let compact: String = segment.chars().filter(|c| *c != '-').collect();
    let hex = if is_hex32(&compact) {
        compact
    } else {
        let tail = segment.rsplit('-').next().unwrap_or("");
        if !is_hex32(tail) {
            return None;
        }
        tail.to_string()
    };
    let hex = hex.to_ascii_lowercase();
    Some(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// Two ids name the same object (dashes and case ignored).
pub fn same_id(a: &str, b: &str) -> bool {
    let compact = |s: &str| s.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
    compact(a) == compact(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_bare_dashed_or_url_forms() {
        let canonical = "248104cd-477e-80fd-b757-e945d38000bd";
        for raw in [
            "248104cd477e80fdb757e945d38000bd",
            "248104CD-477E-80FD-B757-E945D38000BD",
            " https://www.notion.so/acme/Decision-vault-248104cd477e80fdb757e945d38000bd?v=0f1e2d3c4b5a69788796a5b4c3d2e1f0 ",
            "https://www.notion.so/248104cd477e80fdb757e945d38000bd/",
        ] {
            assert_eq!(normalize_notion_id(raw).as_deref(), Some(canonical), "{raw}");
        }
        for bad in ["", "decision-vault", "248104cd477e80fdb757e945d38000b", "zz8104cd477e80fdb757e945d38000bd"] {
            assert_eq!(normalize_notion_id(bad), None, "{bad}");
        }
        assert!(same_id("248104cd477e80fdb757e945d38000bd", canonical));
        assert!(!same_id("148104cd477e80fdb757e945d38000bd", canonical));
    }

    #[test]
    fn from_settings_takes_the_parsed_values_and_debug_hides_the_token() {
        let settings = Settings::from_lookup(|name| {
            let value = match name {
                "SUPABASE_URL" => "https://abc.supabase.co",
                "SUPABASE_SERVICE_ROLE_KEY" => "sb_secret_abcdefghijkl",
                "NOTION_API_KEY" => "ntn_secret",
                "NOTION_DATABASE_ID" => "248104cd477e80fdb757e945d38000bd",
                "NOTION_API_BASE" => "http://127.0.0.1:8787/",
                "NOTION_DATA_SOURCE_ID" => "1e1f2a3b4c5d4e6f8a9b0c1d2e3f4a5b",
                "SYNC_MAX_RETRIES" => "5",
                "NOTION_VERSION" => "2025-09-03",
                _ => return None,
            };
            Some(value.to_string())
        })
        .unwrap();
        let config = NotionConfig::from_settings(&settings);
        assert_eq!(config.api_base, "http://127.0.0.1:8787");
        assert_eq!(config.database_id, "248104cd-477e-80fd-b757-e945d38000bd");
        assert_eq!(config.data_source_id.as_deref(), Some("1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"));
        assert_eq!((config.max_retries, config.version), (5, NotionVersion::V2025_09_03));
        assert_eq!(config.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(!format!("{config:?}").contains("ntn_secret"), "Debug must not print the token");
    }
}
