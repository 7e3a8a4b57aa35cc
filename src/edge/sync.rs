//! One run, wired to the ports (inside the coordinator Durable Object) by the request's [`App`]:
//! its settings, `fetch`, the clock, the state store and the lock. Logs each run at
//! `LOG_LEVEL` and records failures instead of losing them.
use worker::{console_error, console_log, console_warn, Env};

use super::app::App;
use super::kv_state::{KvStateStore, KV_BINDING};
use super::time;
use crate::core::engine::RunResult;
use crate::core::ports::StateStore;
use crate::core::report::RunSummary;
use crate::run_log::{run_log_lines, LogLevel, Severity};
use crate::service::{record_summary, RunFlags};

/// The KV store behind the `SYNC_STATE` binding.
pub fn kv_store(env: &Env) -> Result<KvStateStore, String> {
    env.kv(KV_BINDING).map(KvStateStore::new).map_err(|e| {
        format!("the KV namespace binding `{KV_BINDING}` is not configured ({e}); declare it in wrangler.toml")
    })
}

/// One run now with the app's settings, store and lock. Never fails: a run that cannot start is
/// recorded (unless dry) and reported as its summary.
pub async fn run(app: &App, trigger: &str, flags: RunFlags) -> RunResult {
    let run_id = time::new_run_id();
    let dry_run = flags.dry_run;
    let store = match app.store() {
        Ok(store) => store,
        Err(message) => {
            let summary = RunSummary::failed(&run_id, trigger, dry_run, time::now(), message);
            log(&summary, LogLevel::default());
            return RunResult { summary, plan: Default::default() };
        }
    };
    let settings = match app.settings_result() {
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
    match app.wire(settings, store).run_with(&run_id, trigger, flags).await {
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
