//! The one [`RunLock`]: the lease rules of [`crate::lease`] and the create-intent journal over a
//! small key-value storage ([`LockStorage`], typed keys in [`keys`]). The coordinator Durable
//! Object implements the storage on its own storage (`src/edge/object_lock.rs`), the native tests
//! on an in-memory map (`tests/support/store.rs`): both are thin adapters, so the fake cannot
//! drift from the real rule.
//!
//! The journal: a page create is journaled (row id → [`CreateIntent`]) before the create and
//! cleared after the link, so the next run finds the page a crashed run created instead of
//! creating another. It is one value, so each write replaces it whole (atomic).
#![allow(async_fn_in_trait)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::PortError;
use crate::lease::{self, Acquire, LeaseRecord, LockStatus, Renewal, RunStart};
use crate::ports::{CreateIntent, Lease, RunLock};

/// A storage key and the type of the value stored under it.
pub struct Key<T> {
    name: &'static str,
    value: PhantomData<fn() -> T>,
}

impl<T> Key<T> {
    pub const fn new(name: &'static str) -> Self {
        Key { name, value: PhantomData }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The lock's keys (the names the Durable Object has always used).
pub mod keys {
    use std::collections::BTreeMap;

    use super::Key;
    use crate::lease::{LeaseRecord, RunStart};
    use crate::ports::CreateIntent;

    /// The lease.
    pub const LEASE: Key<LeaseRecord> = Key::new("lease");
    /// The last run that took a new lease.
    pub const LAST_STARTED: Key<RunStart> = Key::new("last_started");
    /// Id of the last run that released its lease.
    pub const LAST_FINISHED: Key<String> = Key::new("last_finished");
    /// The create-intent journal (row id → intent).
    pub const INTENTS: Key<BTreeMap<String, CreateIntent>> = Key::new("intents");
}

/// Where the lock keeps its values (a Durable Object's storage in production).
pub trait LockStorage {
    async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<Option<T>, PortError>;
    async fn put<T: Serialize>(&self, key: &Key<T>, value: &T) -> Result<(), PortError>;
    async fn delete<T>(&self, key: &Key<T>) -> Result<(), PortError>;
}

/// The alive mark: the run the coordinator is executing now, if any (kept in its memory, so an
/// object that restarted has none). Shared by every [`StoredLock`] of one coordinator instance.
pub type Alive = Rc<RefCell<Option<String>>>;

/// [`RunLock`] over a [`LockStorage`]. One per run attempt: when it is dropped while the run it
/// granted is still marked alive (the request was cancelled mid-run and its future dropped, or
/// the run ended with an error before releasing), it clears the mark, so the next run is not
/// refused by a run that no longer exists.
pub struct StoredLock<S: LockStorage> {
    storage: S,
    alive: Alive,
    granted: RefCell<Option<String>>,
}

impl<S: LockStorage> Drop for StoredLock<S> {
    fn drop(&mut self) {
        let granted = self.granted.borrow().clone();
        let mut alive = self.alive.borrow_mut();
        if granted.is_some() && *alive == granted {
            *alive = None;
        }
    }
}

fn ttl_ms(ttl_seconds: i64) -> u64 {
    u64::try_from(ttl_seconds).unwrap_or(0).saturating_mul(1000).max(1)
}

fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

fn from_millis(millis: u64) -> DateTime<Utc> {
    i64::try_from(millis).ok().and_then(DateTime::<Utc>::from_timestamp_millis).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

impl<S: LockStorage> StoredLock<S> {
    pub fn new(storage: S, alive: Alive) -> Self {
        StoredLock { storage, alive, granted: RefCell::new(None) }
    }

    fn alive_now(&self) -> Option<String> {
        self.alive.borrow().clone()
    }

    async fn lease(&self) -> Result<Option<LeaseRecord>, PortError> {
        self.storage.get(&keys::LEASE).await
    }

    async fn intents(&self) -> Result<BTreeMap<String, CreateIntent>, PortError> {
        Ok(self.storage.get(&keys::INTENTS).await?.unwrap_or_default())
    }
}

impl<S: LockStorage> RunLock for StoredLock<S> {
    async fn acquire(
        &self,
        run_id: &str,
        trigger: &str,
        now: DateTime<Utc>,
        ttl_seconds: i64,
    ) -> Result<Lease, PortError> {
        let current = self.lease().await?;
        let alive = self.alive_now();
        match lease::acquire(current.as_ref(), alive.as_deref(), run_id, ttl_ms(ttl_seconds), millis(now)) {
            Acquire::Granted { lease, new_run } => {
                self.storage.put(&keys::LEASE, &lease).await?;
                if new_run {
                    let start = RunStart { run_id: run_id.to_string(), trigger: trigger.to_string(), started_at: now };
                    self.storage.put(&keys::LAST_STARTED, &start).await?;
                }
                *self.alive.borrow_mut() = Some(run_id.to_string());
                *self.granted.borrow_mut() = Some(run_id.to_string());
                Ok(Lease::Acquired)
            }
            Acquire::Held(lease) => Ok(Lease::Busy { run_id: lease.holder, since: from_millis(lease.acquired_at_ms) }),
        }
    }

    async fn renew(&self, run_id: &str, now: DateTime<Utc>, ttl_seconds: i64) -> Result<Renewal, PortError> {
        let current = self.lease().await?;
        let (renewal, renewed) = lease::renew(current.as_ref(), run_id, ttl_ms(ttl_seconds), millis(now));
        if let Some(renewed) = renewed {
            self.storage.put(&keys::LEASE, &renewed).await?;
        }
        Ok(renewal)
    }

    async fn release(&self, run_id: &str) -> Result<(), PortError> {
        if self.alive_now().as_deref() == Some(run_id) {
            *self.alive.borrow_mut() = None;
        }
        let current = self.lease().await?;
        if lease::releases(current.as_ref(), run_id) {
            self.storage.delete(&keys::LEASE).await?;
            self.storage.put(&keys::LAST_FINISHED, &run_id.to_string()).await?;
        }
        Ok(())
    }

    async fn status(&self) -> Result<LockStatus, PortError> {
        let current = self.lease().await?;
        Ok(LockStatus {
            last_started: self.storage.get(&keys::LAST_STARTED).await?,
            last_finished: self.storage.get(&keys::LAST_FINISHED).await?,
            live_holder: lease::live_holder(current.as_ref(), self.alive_now().as_deref()),
            pending_intents: self.intents().await?.len(),
        })
    }

    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), PortError> {
        let mut journal = self.intents().await?;
        for intent in intents {
            journal.insert(intent.row_id.clone(), intent.clone());
        }
        self.storage.put(&keys::INTENTS, &journal).await
    }

    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
        Ok(self.intents().await?.into_values().collect())
    }

    async fn clear_intents(&self, row_ids: &[String]) -> Result<(), PortError> {
        let mut journal = self.intents().await?;
        for row_id in row_ids {
            journal.remove(row_id);
        }
        self.storage.put(&keys::INTENTS, &journal).await
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// In memory, as JSON (as a real storage serializes), with an injectable failure.
    #[derive(Default)]
    struct Memory {
        values: RefCell<BTreeMap<&'static str, String>>,
        fail_next: Cell<bool>,
    }

    impl Memory {
        fn failure(&self) -> Result<(), PortError> {
            if self.fail_next.replace(false) {
                return Err(PortError::transient("the lock's storage", "injected failure"));
            }
            Ok(())
        }
    }

    impl LockStorage for &Memory {
        async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<Option<T>, PortError> {
            self.failure()?;
            Ok(self.values.borrow().get(key.name()).map(|json| serde_json::from_str(json).unwrap()))
        }
        async fn put<T: Serialize>(&self, key: &Key<T>, value: &T) -> Result<(), PortError> {
            self.failure()?;
            self.values.borrow_mut().insert(key.name(), serde_json::to_string(value).unwrap());
            Ok(())
        }
        async fn delete<T>(&self, key: &Key<T>) -> Result<(), PortError> {
            self.failure()?;
            self.values.borrow_mut().remove(key.name());
            Ok(())
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the memory storage never waits"),
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(1_000 + seconds)
    }

    fn intent(row_id: &str) -> CreateIntent {
        CreateIntent { row_id: row_id.into(), base: format!("base-{row_id}"), at: at(0) }
    }

    #[test]
    fn one_run_at_a_time_and_the_busy_answer_names_the_running_run() {
        let memory = Memory::default();
        let alive = Alive::default();
        let a = StoredLock::new(&memory, alive.clone());
        assert_eq!(block_on(a.acquire("a", "cron", at(0), 60)).unwrap(), Lease::Acquired);
        let b = StoredLock::new(&memory, alive.clone());
        let busy = block_on(b.acquire("b", "sync-now", at(1), 60)).unwrap();
        assert_eq!(busy, Lease::Busy { run_id: "a".into(), since: at(0) });
        block_on(a.release("a")).unwrap();
        assert_eq!(block_on(b.acquire("b", "sync-now", at(2), 60)).unwrap(), Lease::Acquired);
        let status = block_on(b.status()).unwrap();
        assert_eq!(status.last_finished.as_deref(), Some("a"));
        assert_eq!(
            status.last_started.map(|start| (start.run_id, start.trigger)),
            Some(("b".into(), "sync-now".into()))
        );
        assert_eq!(status.live_holder.as_deref(), Some("b"));
    }

    #[test]
    fn a_run_whose_lock_was_dropped_is_dead_at_once_and_health_calls_it_interrupted() {
        let memory = Memory::default();
        let alive = Alive::default();
        let a = StoredLock::new(&memory, alive.clone());
        block_on(a.acquire("a", "cron", at(0), 60)).unwrap();
        drop(a); // the run's future was dropped (a cancelled request) or it crashed
        assert_eq!(*alive.borrow(), None);
        let b = StoredLock::new(&memory, alive.clone());
        let status = block_on(b.status()).unwrap();
        assert_eq!(status.live_holder, None);
        assert_eq!(status.interrupted().map(|start| start.run_id.as_str()), Some("a"));
        assert_eq!(block_on(b.acquire("b", "cron", at(1), 60)).unwrap(), Lease::Acquired);
    }

    #[test]
    fn a_restarted_coordinator_has_no_alive_run_so_the_stored_lease_is_dead() {
        let memory = Memory::default();
        let before = StoredLock::new(&memory, Alive::default());
        block_on(before.acquire("a", "cron", at(0), 60)).unwrap();
        let after = StoredLock::new(&memory, Alive::default()); // a new instance: empty memory
        assert_eq!(block_on(after.acquire("b", "cron", at(1), 60)).unwrap(), Lease::Acquired);
        assert_eq!(block_on(before.renew("a", at(2), 60)).unwrap(), Renewal::Lost { holder: Some("b".into()) });
    }

    #[test]
    fn a_stalled_run_loses_its_lease_after_its_ttl_and_its_release_leaves_the_new_one() {
        let memory = Memory::default();
        let alive = Alive::default();
        let a = StoredLock::new(&memory, alive.clone());
        block_on(a.acquire("a", "cron", at(0), 60)).unwrap();
        assert_eq!(block_on(a.renew("a", at(30), 60)).unwrap(), Renewal::Renewed);
        let b = StoredLock::new(&memory, alive.clone());
        assert!(matches!(block_on(b.acquire("b", "cron", at(89), 60)).unwrap(), Lease::Busy { .. }));
        assert_eq!(block_on(b.acquire("b", "cron", at(90), 60)).unwrap(), Lease::Acquired);
        assert_eq!(block_on(a.renew("a", at(91), 60)).unwrap(), Renewal::Lost { holder: Some("b".into()) });
        block_on(a.release("a")).unwrap();
        drop(a);
        let status = block_on(b.status()).unwrap();
        assert_eq!((status.live_holder.as_deref(), status.last_finished), (Some("b"), None));
    }

    #[test]
    fn the_journal_is_written_before_and_cleared_after_by_row() {
        let memory = Memory::default();
        let lock = StoredLock::new(&memory, Alive::default());
        block_on(lock.record_intents(&[intent("r1"), intent("r2")])).unwrap();
        block_on(lock.record_intents(&[intent("r2")])).unwrap();
        assert_eq!(block_on(lock.pending_intents()).unwrap(), vec![intent("r1"), intent("r2")]);
        block_on(lock.clear_intents(&["r1".into()])).unwrap();
        assert_eq!(block_on(lock.pending_intents()).unwrap(), vec![intent("r2")]);
        assert_eq!(block_on(lock.status()).unwrap().pending_intents, 1);
    }

    #[test]
    fn a_storage_failure_is_the_callers_error_and_grants_nothing() {
        let memory = Memory::default();
        let alive = Alive::default();
        let lock = StoredLock::new(&memory, alive.clone());
        memory.fail_next.set(true);
        assert!(matches!(block_on(lock.acquire("a", "cron", at(0), 60)), Err(PortError::Transient { .. })));
        assert_eq!(*alive.borrow(), None, "no run marked alive");
        memory.fail_next.set(true);
        assert!(block_on(lock.record_intents(&[intent("r1")])).is_err());
        assert!(block_on(lock.pending_intents()).unwrap().is_empty(), "a failed journal write is not half done");
    }
}
