//! One run, wired to the ports (inside the coordinator Durable Object): settings from the
//! environment, `fetch`, the clock, and the state store and lock it passes. Logs each run at
//! `LOG_LEVEL` and records failures instead of losing them.
use worker::{console_error, console_log, console_warn, Env};

use super::clock::WorkerClock;
use super::env;
use super::kv_state::{KvStateStore, KV_BINDING};
use super::time;
use super::transport::FetchTransport;
use crate::core::engine::RunResult;
use crate::core::ports::{RunLock, StateStore};
use crate::core::report::RunSummary;
use crate::run_log::{run_log_lines, LogLevel, Severity};
use crate::service::{record_summary, RunFlags, Service};

/// The KV store behind the `SYNC_STATE` binding.
pub fn kv_store(env: &Env) -> Result<KvStateStore, String> {
    env.kv(KV_BINDING).map(KvStateStore::new).map_err(|e| {
        format!("the KV namespace binding `{KV_BINDING}` is not configured ({e}); declare it in wrangler.toml")
    })
}

/// One run now with `store` and `lock`. Never fails: a run that cannot start is recorded (unless
/// dry) and reported as its summary.
pub async fn run<St: StateStore, L: RunLock>(
    env: &Env,
    store: &St,
    lock: &L,
    trigger: &str,
    flags: RunFlags,
) -> RunResult {
    let run_id = time::new_run_id();
    let dry_run = flags.dry_run;
    let settings = match env::settings(env) {
        Ok(settings) => settings,
        Err(error) => {
            let summary = RunSummary::not_configured(&run_id, trigger, dry_run, time::now(), error.to_string());
            if !dry_run {
                record(store, &summary).await;
            }
            log(&summary, LogLevel::default());
            return RunResult { summary, plan: Default::default() };
        }
    };
    let clock = WorkerClock;
    let service = Service { settings: &settings, transport: FetchTransport, store, lock, clock: &clock };
    match service.run_with(&run_id, trigger, flags).await {
        Ok(result) => {
            log(&result.summary, settings.log_level);
            result
        }
        Err(error) => {
            let message = settings.redact(&error.to_string());
            let summary = RunSummary::failed(&run_id, trigger, dry_run, time::now(), message);
            if !dry_run {
                record(store, &summary).await;
            }
            log(&summary, settings.log_level);
            RunResult { summary, plan: Default::default() }
        }
    }
}

async fn record<St: StateStore>(store: &St, summary: &RunSummary) {
    if let Some(error) = record_summary(store, summary).await {
        console_error!("decision-sync run {}: could not record the run: {error}", summary.run_id);
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
