//! The scheduled (cron) run. For now it checks the configuration, takes the lease and records what
//! happened; the sync engine is wired in by a later issue. Whatever happens is recorded in KV and
//! logged: an error is never dropped.
use worker::{console_error, console_log, Env, ScheduledEvent};

use super::config;
use super::lock::{Acquired, SyncLockClient};
use super::run::{Outcome, RunRecord};
use super::state::KvStateStore;
use super::time;

/// How long a run may hold the lease (a run lasts far less; the lease outlives a crashed run only
/// this long).
pub const LEASE_TTL_MS: u64 = 10 * 60 * 1000;

/// Entry point of the `scheduled` event.
pub async fn on_schedule(event: ScheduledEvent, env: Env) {
    let trigger = format!("cron {}", event.cron());
    let scheduled_time = if event.schedule() > 0.0 {
        Some(time::from_millis(event.schedule() as u64))
    } else {
        None
    };
    let record = run(&env, trigger, scheduled_time).await;
    save(&env, &record).await;
}

/// One run: decides the outcome and returns its record (never fails: failures become `Failed`).
pub async fn run(
    env: &Env,
    trigger: String,
    scheduled_time: Option<chrono::DateTime<chrono::Utc>>,
) -> RunRecord {
    let run_id = time::new_run_id();
    let started_at = time::now();
    let missing = config::missing_settings(env);

    let (outcome, message) = if !missing.is_empty() {
        (Outcome::NotConfigured, config::missing_message(&missing))
    } else {
        match locked_run(env, &run_id).await {
            Ok(result) => result,
            Err(message) => (Outcome::Failed, message),
        }
    };

    RunRecord {
        run_id,
        trigger,
        scheduled_time,
        started_at,
        finished_at: time::now(),
        outcome,
        missing: missing.iter().map(|name| name.to_string()).collect(),
        message,
    }
}

/// The part of a run done under the lease.
async fn locked_run(env: &Env, run_id: &str) -> Result<(Outcome, String), String> {
    let lock = SyncLockClient::from_env(env).map_err(|e| e.to_string())?;
    match lock
        .acquire(run_id, LEASE_TTL_MS)
        .await
        .map_err(|e| e.to_string())?
    {
        Acquired::Held(lease) => Ok((
            Outcome::Skipped,
            format!(
                "skipped: run {} holds the lease until {}",
                lease.holder,
                time::from_millis(lease.expires_at_ms).to_rfc3339()
            ),
        )),
        Acquired::Granted(_) => {
            // The sync engine runs here (later issue). Until then an honest "nothing to do yet".
            let result = (
                Outcome::Ok,
                "configuration complete; the sync engine is not wired in yet, nothing was synced"
                    .to_string(),
            );
            match lock.release(run_id).await {
                Ok(_) => Ok(result),
                // The lease expires by itself; the run's work stands, but say so.
                Err(e) => Err(format!(
                    "the run finished but releasing the lease failed: {e}"
                )),
            }
        }
    }
}

/// Stores the record in KV and logs it; a failure to store is logged with the record itself.
async fn save(env: &Env, record: &RunRecord) {
    let summary = format!(
        "decision-sync run {} ({}): {} - {}",
        record.run_id,
        record.trigger,
        record.outcome.as_str(),
        record.message
    );
    if record.outcome == Outcome::Failed {
        console_error!("{summary}");
    } else {
        console_log!("{summary}");
    }
    let stored = match KvStateStore::from_env(env) {
        Ok(store) => store.record_run(record).await,
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        let json = serde_json::to_string(record).unwrap_or_else(|_| summary.clone());
        console_error!(
            "decision-sync run {}: could not record the run in KV: {e}; record: {json}",
            record.run_id
        );
    }
}
