//! The Worker's settings, parsed from its environment (secrets and vars) into typed values: the
//! only place they are parsed (the clients are built from [`Settings`]:
//! `NotionConfig::from_settings`, `PostgrestConfig::from_settings`).
//! Pure: the Worker passes a lookup function; tests pass a map. Only names ever appear in
//! errors; values of secrets are kept out of every message (see [`Settings::redact`]).
use std::fmt;

use crate::clients::notion::{normalize_notion_id, NotionVersion};
use crate::core::mass_delete::DEFAULT_SHARE_PERCENT;
use crate::run_log::LogLevel;

/// Secrets the sync cannot run without.
pub const SYNC_SECRETS: [&str; 4] =
    ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "NOTION_API_KEY", "NOTION_DATABASE_ID"];
/// The secret protecting `/sync-now`, `/dry-run` and `/conflicts`.
pub const ADMIN_TOKEN: &str = "SYNC_ADMIN_TOKEN";
/// The webhook secrets (optional; see docs/setting-up-webhooks.md).
pub const NOTION_WEBHOOK_SECRET: &str = "NOTION_WEBHOOK_SECRET";
pub const SUPABASE_WEBHOOK_SECRET: &str = "SUPABASE_WEBHOOK_SECRET";
/// Default budget of external subrequests per run: the free plan allows 50 per invocation; a few
/// are kept for the Worker's own needs.
pub const DEFAULT_SUBREQUEST_BUDGET: u32 = 45;
/// Default lifetime of a run's lease without renewal (seconds). A run renews it every quarter of
/// this while it works (see `core::heartbeat`), so a run may last longer; an alive run that has
/// not renewed it for this long (stalled) may be taken over. A run that died holds no lease.
pub const DEFAULT_LEASE_TTL_SECONDS: u32 = 60;

/// A setting that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("missing required settings: {}; set each with `wrangler secret put NAME` (or in .dev.vars when running locally)", .0.join(", "))]
    Missing(Vec<String>),
    #[error("setting {name} is {problem}; {fix}")]
    Invalid { name: String, problem: String, fix: String },
}

/// Everything the sync needs to run.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    pub supabase_rest_url: String,
    pub supabase_key: String,
    pub notion_api_base: String,
    pub notion_token: String,
    /// `NOTION_DATABASE_ID`, canonical (dashed, lowercase) when it holds a Notion id or URL.
    pub notion_database_id: String,
    /// `NOTION_DATA_SOURCE_ID`, canonical likewise.
    pub notion_data_source_id: Option<String>,
    pub admin_token: Option<String>,
    pub batch_size: usize,
    pub max_retries: u32,
    pub subrequest_budget: u32,
    /// `SYNC_LEASE_TTL_SECONDS`: how long a run's lease lasts without renewal.
    pub lease_ttl_seconds: u32,
    /// `LOG_LEVEL`: what a run logs (see [`LogLevel`]).
    pub log_level: LogLevel,
    /// `SYNC_MASS_DELETE_SHARE`: percent of the linked records one run may delete before the
    /// safety halt holds the deletes (at least 10 records; 100 turns the halt off).
    pub mass_delete_share: u8,
    /// `NOTION_VERSION`: the Notion API version spoken (2026-03-11 by default, or 2025-09-03).
    pub notion_version: NotionVersion,
    /// `NOTION_WEBHOOK_SECRET`: the verification token of the Notion webhook subscription (the
    /// key of `X-Notion-Signature`); without it the token Notion sent to `/webhooks/notion` is used.
    pub notion_webhook_secret: Option<String>,
    /// `SUPABASE_WEBHOOK_SECRET`: the shared secret Supabase's Database Webhook sends in
    /// `x-sync-webhook-secret`; without it `/webhooks/supabase` answers 503.
    pub supabase_webhook_secret: Option<String>,
    /// `NOTION_RATE`: sustained subrequests per second a drain may spend (3 by default).
    pub notion_rate: Rate,
    /// `SYNC_DRAIN`: `on` (default): a run that leaves work is followed by the next as soon as
    /// the rate allows, and a failed run is retried with back-off; `off`: the next cron run continues.
    pub drain: bool,
}

/// A rate in thousandths of a request per second (settings compare exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(pub u32);

impl Rate {
    pub fn per_second(self) -> f64 {
        f64::from(self.0) / 1000.0
    }
}

/// Default `NOTION_RATE`: Notion documents an average of three requests per second per integration.
pub const DEFAULT_NOTION_RATE: Rate = Rate(3_000);

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("supabase_rest_url", &self.supabase_rest_url)
            .field("notion_api_base", &self.notion_api_base)
            .field("notion_database_id", &self.notion_database_id)
            .field("batch_size", &self.batch_size)
            .field("max_retries", &self.max_retries)
            .field("subrequest_budget", &self.subrequest_budget)
            .field("lease_ttl_seconds", &self.lease_ttl_seconds)
            .field("mass_delete_share", &self.mass_delete_share)
            .field("notion_version", &self.notion_version)
            .field("notion_rate", &self.notion_rate.per_second())
            .field("drain", &self.drain)
            .finish_non_exhaustive()
    }
}

/// Names of the required settings that `lookup` does not provide (blank counts as missing).
pub fn missing<F: Fn(&str) -> Option<String>>(lookup: &F, names: &[&str]) -> Vec<String> {
    names.iter().filter(|name| value(lookup, name).is_none()).map(|name| name.to_string()).collect()
}

fn value<F: Fn(&str) -> Option<String>>(lookup: &F, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn number<F: Fn(&str) -> Option<String>, T: std::str::FromStr + PartialOrd>(
    lookup: &F,
    name: &str,
    default: T,
    min: T,
    max: T,
    range: &str,
) -> Result<T, SettingsError> {
    let Some(raw) = value(lookup, name) else { return Ok(default) };
    match raw.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(SettingsError::Invalid {
            name: name.to_string(),
            problem: format!("{raw:?}, not a whole number from {range}"),
            fix: format!("set {name} to a whole number from {range}, or remove it to use the default"),
        }),
    }
}

fn log_level<F: Fn(&str) -> Option<String>>(lookup: &F) -> Result<LogLevel, SettingsError> {
    let Some(raw) = value(lookup, "LOG_LEVEL") else { return Ok(LogLevel::default()) };
    raw.parse().map_err(|()| SettingsError::Invalid {
        name: "LOG_LEVEL".to_string(),
        problem: format!("{raw:?}, not a log level"),
        fix: format!("set LOG_LEVEL to one of {}, or remove it to use info", LogLevel::NAMES),
    })
}

fn notion_version<F: Fn(&str) -> Option<String>>(lookup: &F) -> Result<NotionVersion, SettingsError> {
    let Some(raw) = value(lookup, "NOTION_VERSION") else { return Ok(NotionVersion::default()) };
    NotionVersion::parse(&raw).ok_or_else(|| SettingsError::Invalid {
        name: "NOTION_VERSION".to_string(),
        problem: format!("{raw:?}, not a Notion API version the sync supports"),
        fix: format!(
            "set NOTION_VERSION to one of {}, or remove it to use {}",
            NotionVersion::allowed(),
            NotionVersion::default()
        ),
    })
}

fn rate<F: Fn(&str) -> Option<String>>(lookup: &F) -> Result<Rate, SettingsError> {
    let Some(raw) = value(lookup, "NOTION_RATE") else { return Ok(DEFAULT_NOTION_RATE) };
    match raw.parse::<f64>() {
        Ok(rate) if (0.1..=100.0).contains(&rate) => Ok(Rate((rate * 1000.0).round() as u32)),
        _ => Err(SettingsError::Invalid {
            name: "NOTION_RATE".to_string(),
            problem: format!("{raw:?}, not a number of requests per second from 0.1 to 100"),
            fix: "set NOTION_RATE to requests per second (e.g. 3, Notion's documented average), or remove it to use 3"
                .to_string(),
        }),
    }
}

fn switch<F: Fn(&str) -> Option<String>>(lookup: &F, name: &str, default: bool) -> Result<bool, SettingsError> {
    let Some(raw) = value(lookup, name) else { return Ok(default) };
    match raw.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(SettingsError::Invalid {
            name: name.to_string(),
            problem: format!("{raw:?}, not on or off"),
            fix: format!("set {name} to on or off, or remove it to use {}", if default { "on" } else { "off" }),
        }),
    }
}

/// A webhook secret: absent is fine; present, at least 16 characters without spaces.
fn webhook_secret<F: Fn(&str) -> Option<String>>(lookup: &F, name: &str) -> Result<Option<String>, SettingsError> {
    let Some(raw) = value(lookup, name) else { return Ok(None) };
    if raw.len() < 16 || raw.contains(char::is_whitespace) {
        return Err(SettingsError::Invalid {
            name: name.to_string(),
            problem: "shorter than 16 characters or containing spaces".to_string(),
            fix: format!("set {name} to a random value of at least 16 characters (`openssl rand -hex 32`)"),
        });
    }
    Ok(Some(raw))
}

fn url<F: Fn(&str) -> Option<String>>(
    lookup: &F,
    name: &str,
    default: Option<String>,
) -> Result<String, SettingsError> {
    let raw = value(lookup, name).or(default).unwrap_or_default();
    if !(raw.starts_with("https://") || raw.starts_with("http://")) {
        return Err(SettingsError::Invalid {
            name: name.to_string(),
            problem: "not an http(s) URL".to_string(),
            fix: format!("set {name} to a URL such as https://<project>.supabase.co"),
        });
    }
    if raw.contains(['?', '#']) {
        return Err(SettingsError::Invalid {
            name: name.to_string(),
            problem: "a URL with a query string".to_string(),
            fix: format!("remove the `?…` / `#…` part from {name} (like https://<project>.supabase.co)"),
        });
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// A Notion id setting: canonical when it is a Notion id or URL; otherwise as given (Notion's
/// answer then names the problem, as it always has).
fn notion_id<F: Fn(&str) -> Option<String>>(lookup: &F, name: &str) -> Option<String> {
    value(lookup, name).map(|raw| normalize_notion_id(&raw).unwrap_or(raw))
}

impl Settings {
    /// Parses the settings; every missing secret is named at once.
    pub fn from_lookup<F: Fn(&str) -> Option<String>>(lookup: F) -> Result<Settings, SettingsError> {
        let absent = missing(&lookup, &SYNC_SECRETS);
        if !absent.is_empty() {
            return Err(SettingsError::Missing(absent));
        }
        let supabase_url = url(&lookup, "SUPABASE_URL", None)?;
        let default_rest = format!("{supabase_url}/rest/v1");
        Ok(Settings {
            supabase_rest_url: url(&lookup, "SUPABASE_REST_URL", Some(default_rest))?,
            supabase_key: value(&lookup, "SUPABASE_SERVICE_ROLE_KEY").unwrap_or_default(),
            notion_api_base: url(&lookup, "NOTION_API_BASE", Some("https://api.notion.com".into()))?,
            notion_token: value(&lookup, "NOTION_API_KEY").unwrap_or_default(),
            notion_database_id: notion_id(&lookup, "NOTION_DATABASE_ID").unwrap_or_default(),
            notion_data_source_id: notion_id(&lookup, "NOTION_DATA_SOURCE_ID"),
            admin_token: value(&lookup, ADMIN_TOKEN),
            batch_size: number(&lookup, "SYNC_BATCH_SIZE", 100, 1, 100, "1 to 100")?,
            max_retries: number(&lookup, "SYNC_MAX_RETRIES", 3, 0, 10, "0 to 10")?,
            subrequest_budget: number(
                &lookup,
                "SYNC_SUBREQUEST_BUDGET",
                DEFAULT_SUBREQUEST_BUDGET,
                10,
                10_000,
                "10 to 10000",
            )?,
            lease_ttl_seconds: number(
                &lookup,
                "SYNC_LEASE_TTL_SECONDS",
                DEFAULT_LEASE_TTL_SECONDS,
                10,
                3_600,
                "10 to 3600",
            )?,
            log_level: log_level(&lookup)?,
            mass_delete_share: number(&lookup, "SYNC_MASS_DELETE_SHARE", DEFAULT_SHARE_PERCENT, 1, 100, "1 to 100")?,
            notion_version: notion_version(&lookup)?,
            notion_webhook_secret: webhook_secret(&lookup, NOTION_WEBHOOK_SECRET)?,
            supabase_webhook_secret: webhook_secret(&lookup, SUPABASE_WEBHOOK_SECRET)?,
            notion_rate: rate(&lookup)?,
            drain: switch(&lookup, "SYNC_DRAIN", true)?,
        })
    }

    /// Replaces every secret value found in `text` with `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let secrets = [
            Some(&self.supabase_key),
            Some(&self.notion_token),
            self.admin_token.as_ref(),
            self.notion_webhook_secret.as_ref(),
            self.supabase_webhook_secret.as_ref(),
        ];
        for secret in secrets.into_iter().flatten() {
            if secret.len() >= 8 {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("SUPABASE_URL", "https://abc.supabase.co/"),
        ("SUPABASE_SERVICE_ROLE_KEY", "sb_secret_abcdefghijkl"),
        ("NOTION_API_KEY", "ntn_secret_token_value"),
        ("NOTION_DATABASE_ID", "db1"),
    ];

    #[test]
    fn defaults_apply_and_rest_url_derives_from_supabase_url() {
        let settings = Settings::from_lookup(env(&BASE)).unwrap();
        assert_eq!(settings.supabase_rest_url, "https://abc.supabase.co/rest/v1");
        assert_eq!(settings.notion_api_base, "https://api.notion.com");
        assert_eq!((settings.batch_size, settings.max_retries, settings.subrequest_budget), (100, 3, 45));
        assert_eq!(settings.lease_ttl_seconds, 60);
        assert_eq!(settings.admin_token, None);
    }

    #[test]
    fn lease_ttl_is_bounded() {
        let mut pairs = BASE.to_vec();
        pairs.push(("SYNC_LEASE_TTL_SECONDS", "30"));
        assert_eq!(Settings::from_lookup(env(&pairs)).unwrap().lease_ttl_seconds, 30);
        let mut pairs = BASE.to_vec();
        pairs.push(("SYNC_LEASE_TTL_SECONDS", "5"));
        let err = Settings::from_lookup(env(&pairs)).unwrap_err().to_string();
        assert!(err.contains("SYNC_LEASE_TTL_SECONDS") && err.contains("10 to 3600"), "{err}");
    }

    #[test]
    fn mass_delete_share_defaults_to_half_and_is_a_percentage() {
        assert_eq!(Settings::from_lookup(env(&BASE)).unwrap().mass_delete_share, 50);
        let mut pairs = BASE.to_vec();
        pairs.push(("SYNC_MASS_DELETE_SHARE", "100"));
        assert_eq!(Settings::from_lookup(env(&pairs)).unwrap().mass_delete_share, 100);
        for bad in ["0", "101", "50%"] {
            let mut pairs = BASE.to_vec();
            pairs.push(("SYNC_MASS_DELETE_SHARE", bad));
            let err = Settings::from_lookup(env(&pairs)).unwrap_err().to_string();
            assert!(err.contains("SYNC_MASS_DELETE_SHARE") && err.contains("1 to 100"), "{err}");
        }
    }

    #[test]
    fn log_level_defaults_to_info_and_a_bad_one_names_the_choices() {
        assert_eq!(Settings::from_lookup(env(&BASE)).unwrap().log_level, LogLevel::Info);
        let mut pairs = BASE.to_vec();
        pairs.push(("LOG_LEVEL", "Debug"));
        assert_eq!(Settings::from_lookup(env(&pairs)).unwrap().log_level, LogLevel::Debug);
        let mut pairs = BASE.to_vec();
        pairs.push(("LOG_LEVEL", "loud"));
        let err = Settings::from_lookup(env(&pairs)).unwrap_err().to_string();
        assert!(err.contains("LOG_LEVEL") && err.contains("error, warn, info, debug"), "{err}");
    }

    #[test]
    fn notion_version_defaults_to_the_current_one_and_a_bad_one_names_the_choices() {
        assert_eq!(Settings::from_lookup(env(&BASE)).unwrap().notion_version, NotionVersion::V2026_03_11);
        let mut pairs = BASE.to_vec();
        pairs.push(("NOTION_VERSION", "2025-09-03"));
        assert_eq!(Settings::from_lookup(env(&pairs)).unwrap().notion_version, NotionVersion::V2025_09_03);
        let mut pairs = BASE.to_vec();
        pairs.push(("NOTION_VERSION", "2022-06-28"));
        let err = Settings::from_lookup(env(&pairs)).unwrap_err().to_string();
        assert!(err.contains("NOTION_VERSION") && err.contains("2025-09-03, 2026-03-11"), "{err}");
    }

    #[test]
    fn every_missing_secret_is_named_and_blank_counts_as_missing() {
        let err = Settings::from_lookup(env(&[("SUPABASE_URL", "https://x"), ("NOTION_API_KEY", "  ")])).unwrap_err();
        assert_eq!(
            err,
            SettingsError::Missing(vec![
                "SUPABASE_SERVICE_ROLE_KEY".into(),
                "NOTION_API_KEY".into(),
                "NOTION_DATABASE_ID".into()
            ])
        );
        assert!(err.to_string().contains("wrangler secret put"));
    }

    #[test]
    fn bad_numbers_and_urls_name_the_setting() {
        let mut pairs = BASE.to_vec();
        pairs.push(("SYNC_BATCH_SIZE", "500"));
        let err = Settings::from_lookup(env(&pairs)).unwrap_err().to_string();
        assert!(err.contains("SYNC_BATCH_SIZE") && err.contains("1 to 100"), "{err}");
        let mut pairs = BASE.to_vec();
        pairs.push(("SUPABASE_REST_URL", "localhost:3000"));
        assert!(Settings::from_lookup(env(&pairs)).unwrap_err().to_string().contains("SUPABASE_REST_URL"));
        for (name, url) in
            [("SUPABASE_URL", "https://abc.supabase.co/?x=1"), ("SUPABASE_REST_URL", "http://x/rest#top")]
        {
            let mut pairs = BASE.to_vec();
            pairs.retain(|(n, _)| *n != name);
            pairs.push((name, url));
            let err = Settings::from_lookup(env(&pairs)).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains("query string"), "{err}");
        }
    }

    #[test]
    fn notion_ids_are_canonical_when_given_bare_or_as_a_url_and_kept_otherwise() {
        let mut pairs = BASE.to_vec();
        pairs.retain(|(name, _)| *name != "NOTION_DATABASE_ID");
        pairs.push(("NOTION_DATABASE_ID", "https://www.notion.so/acme/Vault-248104cd477e80fdb757e945d38000bd?v=1"));
        pairs.push(("NOTION_DATA_SOURCE_ID", "1E1F2A3B4C5D4E6F8A9B0C1D2E3F4A5B"));
        let settings = Settings::from_lookup(env(&pairs)).unwrap();
        assert_eq!(settings.notion_database_id, "248104cd-477e-80fd-b757-e945d38000bd");
        assert_eq!(settings.notion_data_source_id.as_deref(), Some("1e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"));
        assert_eq!(Settings::from_lookup(env(&BASE)).unwrap().notion_database_id, "db1", "not an id: as given");
    }

    #[test]
    fn secrets_are_redacted_and_never_in_debug() {
        let settings = Settings::from_lookup(env(&BASE)).unwrap();
        let text = settings.redact("failed with key sb_secret_abcdefghijkl and ntn_secret_token_value");
        assert_eq!(text, "failed with key [redacted] and [redacted]");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("sb_secret") && !debug.contains("ntn_secret"));
    }

    #[test]
    fn webhook_settings_default_to_off_rate_three_and_drain_on() {
        let settings = Settings::from_lookup(env(&BASE)).unwrap();
        assert_eq!(
            (settings.notion_webhook_secret.as_deref(), settings.supabase_webhook_secret.as_deref()),
            (None, None)
        );
        assert_eq!(settings.notion_rate, DEFAULT_NOTION_RATE);
        assert!((settings.notion_rate.per_second() - 3.0).abs() < f64::EPSILON);
        assert!(settings.drain);
    }

    #[test]
    fn webhook_secrets_rate_and_drain_are_checked_and_secrets_redacted() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("NOTION_WEBHOOK_SECRET", "secret_notion_verification_token_1"),
            ("SUPABASE_WEBHOOK_SECRET", "0123456789abcdef0123"),
            ("NOTION_RATE", "2.5"),
            ("SYNC_DRAIN", "off"),
        ]);
        let settings = Settings::from_lookup(env(&pairs)).unwrap();
        assert_eq!(settings.notion_rate, Rate(2_500));
        assert!(!settings.drain);
        let text = settings.redact("secret_notion_verification_token_1 / 0123456789abcdef0123");
        assert_eq!(text, "[redacted] / [redacted]");
        for (name, bad) in [
            ("SUPABASE_WEBHOOK_SECRET", "short"),
            ("NOTION_RATE", "0"),
            ("NOTION_RATE", "fast"),
            ("SYNC_DRAIN", "maybe"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((name, bad));
            let err = Settings::from_lookup(env(&pairs)).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        }
    }
}
