//! `GET /health`: the state of the sync as JSON, read from KV. Names of missing settings, never
//! their values; does not touch the lock, so it answers even while a run holds it.
use serde::Serialize;
use worker::{Env, Response, Result};

use super::config;
use super::json;
use super::run::RunRecord;
use super::state::{KvStateStore, StateError};
use super::time;

#[derive(Serialize)]
struct ConfigReport {
    /// Required settings that are not set (names only).
    missing: Vec<&'static str>,
    /// True when nothing required is missing.
    complete: bool,
}

#[derive(Serialize)]
struct Health {
    /// `never_run` before the first run, else the outcome of the latest run
    /// (`ok`, `not_configured`, `skipped`, `failed`); `error` when the state cannot be read.
    status: &'static str,
    last_run: Option<RunRecord>,
    last_success: Option<chrono::DateTime<chrono::Utc>>,
    config: ConfigReport,
    service: &'static str,
    version: &'static str,
    now: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

async fn read_state(
    env: &Env,
) -> std::result::Result<(Option<RunRecord>, Option<chrono::DateTime<chrono::Utc>>), StateError> {
    let store = KvStateStore::from_env(env)?;
    Ok((store.last_run().await?, store.last_success().await?))
}

pub async fn get(env: &Env) -> Result<Response> {
    let missing = config::missing_settings(env);
    let config = ConfigReport {
        complete: missing.is_empty(),
        missing,
    };
    let mut health = Health {
        status: "never_run",
        last_run: None,
        last_success: None,
        config,
        service: "decision-sync",
        version: env!("CARGO_PKG_VERSION"),
        now: time::now(),
        error: None,
    };
    match read_state(env).await {
        Ok((last_run, last_success)) => {
            health.status = last_run
                .as_ref()
                .map_or("never_run", |run| run.outcome.as_str());
            health.last_run = last_run;
            health.last_success = last_success;
            json::json(200, &health)
        }
        Err(e) => {
            health.status = "error";
            health.error = Some(e.to_string());
            json::json(503, &health)
        }
    }
}
