//! Reads the Worker's settings from its environment (secrets and vars). Names only ever leave
//! this module in errors; values go into [`Settings`], whose `Debug` hides secrets.
use worker::Env;

use crate::health::ConfigStatus;
use crate::service::config_status;
use crate::settings::{Settings, SettingsError, ADMIN_TOKEN};

/// A setting by name: a secret (`wrangler secret put`) or a plain var (`[vars]`, `.dev.vars`).
pub fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name).map(|value| value.to_string()).or_else(|_| env.var(name).map(|value| value.to_string())).ok()
}

pub fn settings(env: &Env) -> Result<Settings, SettingsError> {
    Settings::from_lookup(|name| lookup(env, name))
}

/// The admin token, when set and not blank.
pub fn admin_token(env: &Env) -> Option<String> {
    lookup(env, ADMIN_TOKEN).filter(|token| !token.trim().is_empty())
}

/// Which settings are missing or invalid (names only), for `/health`.
pub fn status(env: &Env) -> (Result<Settings, SettingsError>, ConfigStatus) {
    let settings = settings(env);
    let status = config_status(&settings, admin_token(env).is_some());
    (settings, status)
}
