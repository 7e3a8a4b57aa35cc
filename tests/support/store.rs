//! The sync's own storage: KV state (+ kept conflicts) and the Durable Object lease + intents.
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use decision_sync::core::error::PortError;
use decision_sync::core::lease::{self, Acquire, LeaseRecord, LockStatus, Renewal, RunStart};
use decision_sync::core::ports::{CreateIntent, Lease, RunLock, StateStore};
use decision_sync::core::state::{ConflictRecord, SyncState};

use super::sim::SimTime;

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

fn ttl_ms(ttl_seconds: i64) -> u64 {
    u64::try_from(ttl_seconds).unwrap_or(0) * 1000
}

/// The Durable Object: one lease under the same rules as the real one ([`lease`]), the runs it
/// saw start and finish, and the create-intent journal (by row id). [`FakeLock::restart`] is the
/// object being rebuilt (a new instance id), as after `wrangler dev` restarts.
pub struct FakeLock {
    time: SimTime,
    lease: RefCell<Option<LeaseRecord>>,
    instance: RefCell<String>,
    restarts: Cell<u32>,
    last_started: RefCell<Option<RunStart>>,
    last_finished: RefCell<Option<String>>,
    intents: RefCell<BTreeMap<String, CreateIntent>>,
    /// Another run takes the lease over at this time (whatever the rules say), e.g. a second
    /// invocation that started while this one was stalled.
    takeover: RefCell<Option<(String, DateTime<Utc>)>>,
    /// Writes (acquire, renew, release, record/clear intents) so far.
    pub writes: Cell<u64>,
    /// Successful renewals so far.
    pub renewals: Cell<u64>,
    /// Intents ever recorded.
    pub intents_recorded: Cell<u64>,
}

impl FakeLock {
    /// The lock's own clock is the simulated time.
    pub fn new(time: SimTime) -> Self {
        FakeLock {
            time,
            lease: RefCell::new(None),
            instance: RefCell::new("instance-0".into()),
            restarts: Cell::new(0),
            last_started: RefCell::new(None),
            last_finished: RefCell::new(None),
            intents: RefCell::new(BTreeMap::new()),
            takeover: RefCell::new(None),
            writes: Cell::new(0),
            renewals: Cell::new(0),
            intents_recorded: Cell::new(0),
        }
    }
}

impl FakeLock {
    pub fn intents(&self) -> Vec<CreateIntent> {
        self.intents.borrow().values().cloned().collect()
    }
    pub fn holder(&self) -> Option<String> {
        self.lease.borrow().as_ref().map(|lease| lease.holder.clone())
    }
    pub fn lease(&self) -> Option<LeaseRecord> {
        self.lease.borrow().clone()
    }
    /// Another invocation holds the lease until `until` (granted by this instance at `since`).
    pub fn hold(&self, run_id: &str, since: DateTime<Utc>, until: DateTime<Utc>) {
        *self.lease.borrow_mut() = Some(LeaseRecord {
            holder: run_id.to_string(),
            acquired_at_ms: millis(since),
            renewed_at_ms: millis(since),
            expires_at_ms: millis(until),
            instance: self.instance.borrow().clone(),
        });
    }
    /// The object is rebuilt (storage kept, in-memory instance id new).
    pub fn restart(&self) {
        self.restarts.set(self.restarts.get() + 1);
        *self.instance.borrow_mut() = format!("instance-{}", self.restarts.get());
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

impl RunLock for FakeLock {
    async fn acquire(
        &self,
        run_id: &str,
        trigger: &str,
        now: DateTime<Utc>,
        ttl_seconds: i64,
    ) -> Result<Lease, PortError> {
        self.apply_takeover(now);
        let decision = lease::acquire(
            self.lease.borrow().as_ref(),
            run_id,
            ttl_ms(ttl_seconds),
            millis(now),
            &self.instance.borrow(),
        );
        match decision {
            Acquire::Held(held) => Ok(Lease::Busy {
                run_id: held.holder,
                since: DateTime::from_timestamp_millis(held.acquired_at_ms as i64).unwrap_or(now),
            }),
            Acquire::Granted { lease, new_run } => {
                self.writes.set(self.writes.get() + 1);
                *self.lease.borrow_mut() = Some(lease);
                if new_run {
                    *self.last_started.borrow_mut() =
                        Some(RunStart { run_id: run_id.to_string(), trigger: trigger.to_string(), started_at: now });
                }
                Ok(Lease::Acquired)
            }
        }
    }
    async fn renew(&self, run_id: &str, now: DateTime<Utc>, ttl_seconds: i64) -> Result<Renewal, PortError> {
        self.apply_takeover(now);
        let (renewal, renewed) = lease::renew(
            self.lease.borrow().as_ref(),
            run_id,
            ttl_ms(ttl_seconds),
            millis(now),
            &self.instance.borrow(),
        );
        if let Some(renewed) = renewed {
            self.writes.set(self.writes.get() + 1);
            self.renewals.set(self.renewals.get() + 1);
            *self.lease.borrow_mut() = Some(renewed);
        }
        Ok(renewal)
    }
    async fn release(&self, run_id: &str) -> Result<(), PortError> {
        if lease::releases(self.lease.borrow().as_ref(), run_id) {
            self.writes.set(self.writes.get() + 1);
            *self.lease.borrow_mut() = None;
            *self.last_finished.borrow_mut() = Some(run_id.to_string());
        }
        Ok(())
    }
    async fn status(&self) -> Result<LockStatus, PortError> {
        let now = millis(self.time.now());
        let instance = self.instance.borrow().clone();
        let live_holder = self
            .lease
            .borrow()
            .as_ref()
            .filter(|lease| lease.is_live(now, &instance))
            .map(|lease| lease.holder.clone());
        Ok(LockStatus {
            last_started: self.last_started.borrow().clone(),
            last_finished: self.last_finished.borrow().clone(),
            live_holder,
            pending_intents: self.intents.borrow().len(),
        })
    }
    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), PortError> {
        self.writes.set(self.writes.get() + 1);
        self.intents_recorded.set(self.intents_recorded.get() + intents.len() as u64);
        let mut journal = self.intents.borrow_mut();
        for intent in intents {
            journal.insert(intent.row_id.clone(), intent.clone());
        }
        Ok(())
    }
    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, PortError> {
        Ok(self.intents())
    }
    async fn clear_intents(&self, row_ids: &[String]) -> Result<(), PortError> {
        self.writes.set(self.writes.get() + 1);
        let mut journal = self.intents.borrow_mut();
        for id in row_ids {
            journal.remove(id);
        }
        Ok(())
    }
}
