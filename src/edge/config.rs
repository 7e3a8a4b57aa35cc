//! Which settings the sync needs, and which of them are missing. Only names ever leave this module:
//! a value is read to know whether it is set, and dropped.
use worker::Env;

/// Secrets and vars without which no sync can run (set with `wrangler secret put NAME`, or in
/// `.dev.vars` locally).
pub const REQUIRED_SETTINGS: [&str; 5] = [
    "SUPABASE_URL",
    "SUPABASE_SERVICE_ROLE_KEY",
    "NOTION_API_KEY",
    "NOTION_DATABASE_ID",
    "SYNC_ADMIN_TOKEN",
];

/// True when `name` is bound to a non-blank string (a secret or a plain var).
pub fn is_set(env: &Env, name: &str) -> bool {
    match env.var(name) {
        Ok(value) => !value.to_string().trim().is_empty(),
        Err(_) => false,
    }
}

/// The required settings that are not set, in the order of [`REQUIRED_SETTINGS`].
pub fn missing_settings(env: &Env) -> Vec<&'static str> {
    REQUIRED_SETTINGS
        .iter()
        .copied()
        .filter(|name| !is_set(env, name))
        .collect()
}

/// One sentence telling the user what to set (names only).
pub fn missing_message(missing: &[&str]) -> String {
    format!(
        "missing required settings: {}; set each with `wrangler secret put NAME` (or in .dev.vars when running locally)",
        missing.join(", ")
    )
}
