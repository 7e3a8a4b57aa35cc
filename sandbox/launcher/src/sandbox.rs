//! The whole sandbox: Supabase stand-in (PostgreSQL 15 + postrust) and the Notion emulator, with
//! the settings the Worker needs.
use notion_emulator::{EmulatorConfig, RunningEmulator};
use serde_json::json;

use crate::supabase::{SupabaseOptions, SupabaseSandbox};
use crate::util;
use crate::SandboxError;

/// How to start the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub supabase: SupabaseOptions,
    /// Notion emulator rate limit: `Some((average requests per second, burst))`, `None` = off.
    pub notion_rate_limit: Option<(f64, u32)>,
    /// Insert a few example decisions on each side (unlinked, so a first sync has work to do).
    pub seed: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            supabase: SupabaseOptions::default(),
            notion_rate_limit: Some(notion_emulator::DEFAULT_RATE_LIMIT),
            seed: false,
        }
    }
}

/// Parses `--notion-rate-limit`: `off`, `N` (requests per second, emulator's default burst) or
/// `N/B` (requests per second / burst).
pub fn parse_rate_limit(value: &str) -> Result<Option<(f64, u32)>, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("off") || value == "0" {
        return Ok(None);
    }
    let (rate, burst) = match value.split_once('/') {
        Some((rate, burst)) => (rate, Some(burst)),
        None => (value, None),
    };
    let rate: f64 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| format!("--notion-rate-limit {value:?}: expected `off`, N or N/BURST (N > 0)"))?;
    let burst = match burst {
        Some(b) => b
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|b| *b > 0)
            .ok_or_else(|| format!("--notion-rate-limit {value:?}: the burst must be a positive integer"))?,
        None => notion_emulator::DEFAULT_RATE_LIMIT.1,
    };
    Ok(Some((rate, burst)))
}

/// Example decisions inserted by `--seed` in Supabase.
pub const SEED_ROWS_SQL: &str = "insert into public.decision_vault (decision, type, date) values \
    ('Adopt Rust for the sync worker', 'Architecture', '2025-11-03'), \
    ('Weekly on-call handover on Mondays', 'Ops', '2025-11-10'), \
    ('Dark mode follows the system setting', 'UX', '2025-11-17');";

/// Example decisions created by `--seed` in Notion (as a person would, through `/__admin`).
pub fn seed_pages() -> Vec<serde_json::Value> {
    vec![
        json!({"properties": {"Decision": "Security reviews before every release", "Type": "Policy", "Date": "2025-11-05"}}),
        json!({"properties": {"Decision": "Keep meeting notes in Notion", "Type": "Other", "Date": "2025-11-12"}}),
    ]
}

/// A running sandbox. Dropping it stops everything (PostgreSQL, postrust, the emulator) and
/// removes the temp dirs; [`Sandbox::shutdown`] also waits for the emulator.
pub struct Sandbox {
    notion: Option<RunningEmulator>,
    supabase: SupabaseSandbox,
    admin_token: String,
}

impl Sandbox {
    /// Starts PostgreSQL + postrust (blocking the calling thread for a few seconds: call it from
    /// the runtime's main thread, which outlives the sandbox), then the emulator in this runtime.
    pub async fn start(options: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let supabase = SupabaseSandbox::start(options.supabase.clone())?;
        let config = EmulatorConfig {
            token: format!("ntn_sandbox_{}", util::random_hex(16)?),
            rate_limit: options.notion_rate_limit,
            ..EmulatorConfig::default()
        };
        let notion = notion_emulator::spawn(config, notion_emulator::localhost(0))
            .await
            .map_err(|e| SandboxError::Setup(format!("cannot start the Notion emulator: {e}")))?;
        let sandbox = Sandbox { notion: Some(notion), supabase, admin_token: util::random_hex(24)? };
        if options.seed {
            sandbox.seed().await?;
        }
        Ok(sandbox)
    }

    async fn seed(&self) -> Result<(), SandboxError> {
        self.supabase.sql(SEED_ROWS_SQL)?;
        let admin = self.notion_admin_url();
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
            for page in seed_pages() {
                let response = agent
                    .post(&format!("{admin}/pages"))
                    .header("Content-Type", "application/json")
                    .send(page.to_string().as_bytes())
                    .map_err(|e| SandboxError::Setup(format!("seeding Notion: {e}")))?;
                if !response.status().is_success() {
                    return Err(SandboxError::Setup(format!("seeding Notion: HTTP {}", response.status())));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| SandboxError::Setup(format!("seeding Notion: {e}")))?
    }

    pub fn supabase(&self) -> &SupabaseSandbox {
        &self.supabase
    }

    pub fn supabase_mut(&mut self) -> &mut SupabaseSandbox {
        &mut self.supabase
    }

    pub fn notion(&self) -> Option<&RunningEmulator> {
        self.notion.as_ref()
    }

    /// `{emulator}/__admin`.
    pub fn notion_admin_url(&self) -> String {
        format!("{}/__admin", self.notion.as_ref().map(|n| n.url()).unwrap_or_default())
    }

    /// The settings, in `.dev.vars` order.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let (notion_url, notion_token, database_id) = match &self.notion {
            Some(n) => (n.url(), n.token().to_string(), n.database_id().to_string()),
            None => (String::new(), String::new(), String::new()),
        };
        vec![
            ("SUPABASE_URL", self.supabase.rest_url()),
            ("SUPABASE_REST_URL", self.supabase.rest_url()),
            ("SUPABASE_SERVICE_ROLE_KEY", self.supabase.service_role_key().to_string()),
            ("NOTION_API_KEY", notion_token),
            ("NOTION_DATABASE_ID", database_id),
            ("NOTION_API_BASE", notion_url),
            ("SYNC_ADMIN_TOKEN", self.admin_token.clone()),
            ("SANDBOX_PG_URI", self.supabase.pg_uri()),
            ("SANDBOX_NOTION_ADMIN", self.notion_admin_url()),
        ]
    }

    /// `KEY=VALUE` lines (values never need quoting: URLs, ids, tokens).
    pub fn env_lines(&self) -> String {
        self.env().iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    /// Stops the emulator (waiting for it), postrust and PostgreSQL.
    pub async fn shutdown(mut self) {
        if let Some(notion) = self.notion.take() {
            let _ = notion.shutdown().await;
        }
        self.supabase.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_forms() {
        assert_eq!(parse_rate_limit("off"), Ok(None));
        assert_eq!(parse_rate_limit("OFF"), Ok(None));
        assert_eq!(parse_rate_limit("0"), Ok(None));
        assert_eq!(parse_rate_limit("3"), Ok(Some((3.0, notion_emulator::DEFAULT_RATE_LIMIT.1))));
        assert_eq!(parse_rate_limit("2.5/4"), Ok(Some((2.5, 4))));
        assert!(parse_rate_limit("fast").is_err());
        assert!(parse_rate_limit("3/0").is_err());
        assert!(parse_rate_limit("-1").is_err());
    }
}
