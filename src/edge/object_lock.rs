//! The run lock inside the coordinator Durable Object: the core's [`RunLock`] on the object's own
//! storage. Runs happen only inside the object (its alarm, or `/sync-now` and the cron through its
//! fetch), so the object knows whether the run named by a lease is alive: it is alive exactly when
//! this instance is running it now ([`Running`]). A lease left by a run that died (its invocation
//! ended, the object restarted) is recognised at once, not after its TTL.
//!
//! The lease record, renewals and the create-intent journal keep [`crate::core::lease`]'s shape,
//! so `/health` can still name a run that was interrupted (started, neither finished nor running).
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use worker::Storage;

use crate::core::error::PortError;
use crate::core::lease::{self, Acquire, LeaseRecord, LockStatus, Renewal, RunStart};
use crate::core::ports::{CreateIntent, Lease as RunLease, RunLock};

use super::time::{from_millis, now_millis};

/// Storage key of the lease.
const LEASE_KEY: &str = "lease";
/// Storage keys of the last run started (`RunStart`) and of the last run finished (its id).
const LAST_STARTED_KEY: &str = "last_started";
const LAST_FINISHED_KEY: &str = "last_finished";
/// Storage key of the create-intent journal (row id → intent), one value so writes are atomic.
const INTENTS_KEY: &str = "intents";

/// The run this instance of the object is executing now, if any.
pub type Running = Rc<RefCell<Option<String>>>;

/// [`RunLock`] on the object's storage. One per run attempt: when it is dropped while the run it
/// granted is still marked running (the request was cancelled mid-run and its future dropped), it
/// clears the mark, so the next run is not refused by a run that no longer exists.
pub struct ObjectLock {
    storage: Storage,
    running: Running,
    instance: String,
    granted: RefCell<Option<String>>,
}

impl Drop for ObjectLock {
    fn drop(&mut self) {
        let granted = self.granted.borrow().clone();
        let mut running = self.running.borrow_mut();
        if granted.is_some() && *running == granted {
            *running = None;
        }
    }
}

fn storage_error(error: worker::Error) -> PortError {
    PortError::transient("the coordinator's Durable Object storage", error.to_string())
}

fn ttl_ms(ttl_seconds: i64) -> u64 {
    u64::try_from(ttl_seconds).unwrap_or(0).saturating_mul(1000).max(1)
}

impl ObjectLock {
    pub fn new(storage: Storage, running: Running, instance: &str) -> Self {
        ObjectLock { storage, running, instance: instance.to_string(), granted: RefCell::new(None) }
    }

    fn running_now(&self) -> Option<String> {
        self.running.borrow().clone()
    }

    async fn lease(&self) -> Result<Option<LeaseRecord>, PortError> {
        self.storage.get(LEASE_KEY).await.map_err(storage_error)
    }

    /// The stored lease, when the run it names is alive in this instance.
    async fn live_lease(&self) -> Result<Option<LeaseRecord>, PortError> {
        let running = self.running_now();
        Ok(self.lease().await?.filter(|lease| running.as_deref() == Some(lease.holder.as_str())))
    }

    async fn intents(&self) -> Result<BTreeMap<String, CreateIntent>, PortError> {
        Ok(self.storage.get(INTENTS_KEY).await.map_err(storage_error)?.unwrap_or_default())
    }
}

impl RunLock for ObjectLock {
    async fn acquire(
        &self,
        run_id: &str,
        trigger: &str,
        _now: DateTime<Utc>,
        ttl_seconds: i64,
    ) -> Result<RunLease, PortError> {
        let now = now_millis();
        // Only a run alive in this instance keeps others out; any other lease is a dead run's.
        let live = self.live_lease().await?;
        match lease::acquire(live.as_ref(), run_id, ttl_ms(ttl_seconds), now, &self.instance) {
            Acquire::Granted { lease, new_run } => {
                self.storage.put(LEASE_KEY, &lease).await.map_err(storage_error)?;
                if new_run {
                    let start = RunStart {
                        run_id: run_id.to_string(),
                        trigger: trigger.to_string(),
                        started_at: from_millis(now),
                    };
                    self.storage.put(LAST_STARTED_KEY, &start).await.map_err(storage_error)?;
                }
                *self.running.borrow_mut() = Some(run_id.to_string());
                *self.granted.borrow_mut() = Some(run_id.to_string());
                Ok(RunLease::Acquired)
            }
            Acquire::Held(lease) => {
                Ok(RunLease::Busy { run_id: lease.holder, since: from_millis(lease.acquired_at_ms) })
            }
        }
    }

    async fn renew(&self, run_id: &str, _now: DateTime<Utc>, ttl_seconds: i64) -> Result<Renewal, PortError> {
        let current = self.lease().await?;
        let (renewal, renewed) =
            lease::renew(current.as_ref(), run_id, ttl_ms(ttl_seconds), now_millis(), &self.instance);
        if let Some(renewed) = renewed {
            self.storage.put(LEASE_KEY, &renewed).await.map_err(storage_error)?;
        }
        Ok(renewal)
    }

    async fn release(&self, run_id: &str) -> Result<(), PortError> {
        if self.running_now().as_deref() == Some(run_id) {
            *self.running.borrow_mut() = None;
        }
        let current = self.lease().await?;
        if lease::releases(current.as_ref(), run_id) {
            self.storage.delete(LEASE_KEY).await.map_err(storage_error)?;
            self.storage.put(LAST_FINISHED_KEY, &run_id).await.map_err(storage_error)?;
        }
        Ok(())
    }

    async fn status(&self) -> Result<LockStatus, PortError> {
        Ok(LockStatus {
            last_started: self.storage.get(LAST_STARTED_KEY).await.map_err(storage_error)?,
            last_finished: self.storage.get(LAST_FINISHED_KEY).await.map_err(storage_error)?,
            live_holder: self.live_lease().await?.map(|lease| lease.holder),
            pending_intents: self.intents().await?.len(),
        })
    }

    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), PortError> {
        let mut journal = self.intents().await?;
        for intent in intents {
            journal.insert(intent.row_id.clone(), intent.clone());
        }
        self.storage.put(INTENTS_KEY, &journal).await.map_err(storage_error)
    }

    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
        Ok(self.intents().await?.into_values().collect())
    }

    async fn clear_intents(&self, row_ids: &[String]) -> Result<(), PortError> {
        let mut journal = self.intents().await?;
        for row_id in row_ids {
            journal.remove(row_id);
        }
        self.storage.put(INTENTS_KEY, &journal).await.map_err(storage_error)
    }
}
