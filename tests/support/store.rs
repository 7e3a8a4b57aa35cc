//! The sync's own storage: KV state (+ kept conflicts) and the Durable Object lease + intents.
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use std::rc::Rc;

use chrono::{DateTime, Duration, Utc};
use decision_sync::core::error::PortError;
use decision_sync::core::lease::{LeaseRecord, LockStatus, Renewal};
use decision_sync::core::lock_store::{keys, Alive, Key, LockStorage, StoredLock};
use decision_sync::core::ports::{CreateIntent, Lease, RunLock, StateStore};
use decision_sync::core::state::{ConflictRecord, SyncState};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::block_on;

/// Workers KV: the state is kept as JSON (so it must survive a serde round trip).
#[derive(Default)]
pub struct FakeState {
    json: RefCell<Option<String>>,
    conflicts: RefCell<Vec<(String, ConflictRecord)>>,
    /// Writes (state saves + conflict saves) so far.
    pub writes: Cell<u64>,
    /// The largest state saved so far, in bytes of JSON.
    pub largest_save: Cell<usize>,
    /// Makes the next save fail (`Transient`), e.g. KV unavailable.
    pub fail_next_save: Cell<bool>,
}

impl FakeState {
    pub fn state(&self) -> SyncState {
        self.json
            .borrow()
            .as_deref()
            .map(|json| serde_json::from_str(json).expect("the saved state parses back"))
            .unwrap_or_default()
    }
    pub fn set_state(&self, state: &SyncState) {
        let json = serde_json::to_string(state).expect("the state serialises");
        self.largest_save.set(self.largest_save.get().max(json.len()));
        *self.json.borrow_mut() = Some(json);
    }
    pub fn kept_conflicts(&self) -> Vec<ConflictRecord> {
        self.conflicts.borrow().iter().map(|(_, record)| record.clone()).collect()
    }
}

impl StateStore for FakeState {
    async fn load(&self) -> Result<SyncState, PortError> {
        Ok(self.state())
    }
    async fn save(&self, state: &SyncState) -> Result<(), PortError> {
        self.writes.set(self.writes.get() + 1);
        if self.fail_next_save.replace(false) {
            return Err(PortError::transient("kv", "injected save failure"));
        }
        self.set_state(state);
        Ok(())
    }
    async fn save_conflicts(&self, run_id: &str, conflicts: &[ConflictRecord]) -> Result<(), PortError> {
        self.writes.set(self.writes.get() + 1);
        let mut kept = self.conflicts.borrow_mut();
        kept.extend(conflicts.iter().map(|record| (run_id.to_string(), record.clone())));
        Ok(())
    }
    async fn conflicts(&self) -> Result<Vec<ConflictRecord>, PortError> {
        Ok(self.kept_conflicts())
    }
}

fn millis(at: DateTime<Utc>) -> u64 {
    u64::try_from(at.timestamp_millis()).unwrap_or(0)
}

/// The Durable Object's storage: values kept as JSON (so they must survive a serde round trip),
/// every put and delete counted; a put under a chosen key can be made to fail (storage
/// unavailable).
#[derive(Clone, Default)]
pub struct FakeLockStorage {
    values: Rc<RefCell<BTreeMap<&'static str, String>>>,
    writes: Rc<Cell<u64>>,
    fail_puts_of: Rc<RefCell<Option<&'static str>>>,
}

impl LockStorage for FakeLockStorage {
    async fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Result<Option<T>, PortError> {
        let values = self.values.borrow();
        Ok(values.get(key.name()).map(|json| serde_json::from_str(json).expect("a stored value parses back")))
    }
    async fn put<T: Serialize>(&self, key: &Key<T>, value: &T) -> Result<(), PortError> {
        self.writes.set(self.writes.get() + 1);
        if *self.fail_puts_of.borrow() == Some(key.name()) {
            return Err(PortError::transient("the coordinator's Durable Object storage", "injected put failure"));
        }
        let json = serde_json::to_string(value).expect("a stored value serialises");
        self.values.borrow_mut().insert(key.name(), json);
        Ok(())
    }
    async fn delete<T>(&self, key: &Key<T>) -> Result<(), PortError> {
        self.writes.set(self.writes.get() + 1);
        self.values.borrow_mut().remove(key.name());
        Ok(())
    }
}

/// The coordinator Durable Object's lock: the Worker's own [`StoredLock`] (the same rules and
/// journal) over in-memory storage, with the object's alive mark. Each run gets its own
/// [`FakeLock::attempt`], dropped when the run ends, as the object's is (so a crashed run's lease
/// is dead at once). [`FakeLock::restart`] is the object being rebuilt (storage kept, memory lost).
pub struct FakeLock {
    storage: FakeLockStorage,
    alive: Alive,
    /// Another run takes the lease over at this time (whatever the rules say), e.g. a second
    /// request whose run started while this one was stalled.
    takeover: RefCell<Option<(String, DateTime<Utc>)>>,
    /// Successful renewals so far.
    pub renewals: Cell<u64>,
}

impl Default for FakeLock {
    fn default() -> Self {
        FakeLock::new()
    }
}

impl FakeLock {
    pub fn new() -> Self {
        FakeLock {
            storage: FakeLockStorage::default(),
            alive: Alive::default(),
            takeover: RefCell::new(None),
            renewals: Cell::new(0),
        }
    }

    /// The lock one run attempt uses (as the object builds one per run).
    pub fn attempt(&self) -> FakeRunLock<'_> {
        FakeRunLock { fake: self, lock: StoredLock::new(self.storage.clone(), self.alive.clone()) }
    }

    /// Writes (puts and deletes) to the object's storage so far.
    pub fn writes(&self) -> u64 {
        self.storage.writes.get()
    }
    fn get<T: DeserializeOwned>(&self, key: &Key<T>) -> Option<T> {
        block_on(self.storage.get(key)).expect("the fake storage answers")
    }
    pub fn intents(&self) -> Vec<CreateIntent> {
        self.get(&keys::INTENTS).unwrap_or_default().into_values().collect()
    }
    pub fn lease(&self) -> Option<LeaseRecord> {
        self.get(&keys::LEASE)
    }
    pub fn holder(&self) -> Option<String> {
        self.lease().map(|lease| lease.holder)
    }
    /// What `/health` reads of the lock (outside a run, as the object's report does).
    pub fn status(&self) -> LockStatus {
        block_on(self.attempt().status()).expect("the fake storage answers")
    }
    /// Another run alive in the object holds the lease from `since` until `until`.
    pub fn hold(&self, run_id: &str, since: DateTime<Utc>, until: DateTime<Utc>) {
        let lease = LeaseRecord {
            holder: run_id.to_string(),
            acquired_at_ms: millis(since),
            renewed_at_ms: millis(since),
            expires_at_ms: millis(until),
        };
        block_on(self.storage.put(&keys::LEASE, &lease)).expect("the fake storage answers");
        *self.alive.borrow_mut() = Some(run_id.to_string());
    }
    /// Every write of the create-intent journal fails until [`FakeLock::heal`].
    pub fn fail_journal_writes(&self) {
        *self.storage.fail_puts_of.borrow_mut() = Some(keys::INTENTS.name());
    }
    pub fn heal(&self) {
        *self.storage.fail_puts_of.borrow_mut() = None;
    }
    /// The object is rebuilt: storage kept, its memory (the alive mark) lost.
    pub fn restart(&self) {
        *self.alive.borrow_mut() = None;
    }
    /// Run `holder` takes the lease at `at` (checked on every later lock call).
    pub fn take_over_at(&self, holder: &str, at: DateTime<Utc>) {
        *self.takeover.borrow_mut() = Some((holder.to_string(), at));
    }
    fn apply_takeover(&self, now: DateTime<Utc>) {
        let due = self.takeover.borrow().as_ref().is_some_and(|(_, at)| now >= *at);
        if let Some((holder, at)) = due.then(|| self.takeover.borrow_mut().take()).flatten() {
            self.hold(&holder, at, at + Duration::minutes(5));
        }
    }
}

/// One run attempt's lock: the real [`StoredLock`], plus the fake's takeover and counters.
pub struct FakeRunLock<'a> {
    fake: &'a FakeLock,
    lock: StoredLock<FakeLockStorage>,
}

impl RunLock for FakeRunLock<'_> {
    async fn acquire(
        &self,
        run_id: &str,
        trigger: &str,
        now: DateTime<Utc>,
        ttl_seconds: i64,
    ) -> Result<Lease, PortError> {
        self.fake.apply_takeover(now);
        self.lock.acquire(run_id, trigger, now, ttl_seconds).await
    }
    async fn renew(&self, run_id: &str, now: DateTime<Utc>, ttl_seconds: i64) -> Result<Renewal, PortError> {
        self.fake.apply_takeover(now);
        let renewal = self.lock.renew(run_id, now, ttl_seconds).await?;
        if renewal == Renewal::Renewed {
            self.fake.renewals.set(self.fake.renewals.get() + 1);
        }
        Ok(renewal)
    }
    async fn release(&self, run_id: &str) -> Result<(), PortError> {
        self.lock.release(run_id).await
    }
    async fn status(&self) -> Result<LockStatus, PortError> {
        self.lock.status().await
    }
    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), PortError> {
        self.lock.record_intents(intents).await
    }
    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
        self.lock.pending_intents().await
    }
    async fn clear_intents(&self, row_ids: &[String]) -> Result<(), PortError> {
        self.lock.clear_intents(row_ids).await
    }
}
