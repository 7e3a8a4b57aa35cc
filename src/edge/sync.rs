//! Runs the sync from the Worker: wires KV, the Durable Object lock, `fetch` and the clock into
//! the [`Service`], logs each run at `LOG_LEVEL` and records failures instead of losing them.
use worker::{console_error, console_log, console_warn, Env};

use super::clock::WorkerClock;
use super::env;
use super::kv_state::{KvStateStore, KV_BINDING};
use super::lock::SyncLockClient;
use super::time;
use super::transport::FetchTransport;
use crate::core::engine::RunResult;
use crate::core::report::{RunOutcome, RunSummary};
use crate::run_log::{run_log_lines, LogLevel, Severity};
use crate::service::{record_summary, unconfigured_summary, Service};

/// The state store behind the `SYNC_STATE` binding.
pub fn store(env: &Env) -> Result<KvStateStore, String> {
    env.kv(KV_BINDING).map(KvStateStore::new).map_err(|e| {
        format!("the KV namespace binding `{KV_BINDING}` is not configured ({e}); declare it in wrangler.toml")
    })
}

/// One run now. `Err` only when the Worker's own bindings are missing (nothing can be recorded).
/// `allow_mass_delete`: an authenticated `allow-mass-delete=1` (never from the cron).
pub async fn run(env: &Env, trigger: &str, dry_run: bool, allow_mass_delete: bool) -> Result<RunResult, String> {
    let store = store(env)?;
    let run_id = time::new_run_id();
    let settings = match env::settings(env) {
        Ok(settings) => settings,
        Err(error) => {
            let summary = unconfigured_summary(&run_id, trigger, dry_run, time::now(), error.to_string());
            if !dry_run {
                record(&store, &summary).await;
            }
            log(&summary, LogLevel::default());
            return Ok(RunResult { summary, plan: Default::default() });
        }
    };
    let lock = SyncLockClient::from_env(env).map_err(|e| e.to_string())?;
    let clock = WorkerClock;
    let service = Service { settings: &settings, transport: FetchTransport, store: &store, lock: &lock, clock: &clock };
    match service.run_allowing(&run_id, trigger, dry_run, allow_mass_delete).await {
        Ok(result) => {
            log(&result.summary, settings.log_level);
            Ok(result)
        }
        Err(error) => {
            let mut summary = unconfigured_summary(&run_id, trigger, dry_run, time::now(), String::new());
            summary.outcome = RunOutcome::Failed { message: settings.redact(&error.to_string()) };
            if !dry_run {
                record(&store, &summary).await;
            }
            log(&summary, settings.log_level);
            Ok(RunResult { summary, plan: Default::default() })
        }
    }
}

async fn record(store: &KvStateStore, summary: &RunSummary) {
    if let Some(error) = record_summary(store, summary).await {
        console_error!("decision-sync run {}: could not record the run in KV: {error}", summary.run_id);
    }
}

/// The run's lines at the configured `LOG_LEVEL` (see [`run_log_lines`]).
fn log(summary: &RunSummary, level: LogLevel) {
    for (severity, line) in run_log_lines(summary, level) {
        match severity {
            Severity::Error => console_error!("{line}"),
            Severity::Warn => console_warn!("{line}"),
            Severity::Info => console_log!("{line}"),
        }
    }
}
