//! The sync's own storage: KV state (+ kept conflicts) and the Durable Object lease + intents.
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use decision_sync::core::error::PortError;
use decision_sync::core::ports::{CreateIntent, Lease, RunLock, StateStore};
use decision_sync::core::state::{ConflictRecord, SyncState};

/// Workers KV: the state is kept as JSON (so it must survive a serde round trip).
#[derive(Default)]
pub struct FakeState {
    json: RefCell<Option<String>>,
    conflicts: RefCell<Vec<(String, ConflictRecord)>>,
    /// Writes (state saves + conflict saves) so far.
    pub writes: Cell<u64>,
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
        *self.json.borrow_mut() = Some(serde_json::to_string(state).expect("the state serialises"));
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

/// A lease: holder, since, until.
type Held = (String, DateTime<Utc>, DateTime<Utc>);

/// The Durable Object: one lease with a TTL, and the create-intent journal (by row id).
#[derive(Default)]
pub struct FakeLock {
    lease: RefCell<Option<Held>>,
    intents: RefCell<BTreeMap<String, CreateIntent>>,
    /// Writes (acquire, release, record/clear intents) so far.
    pub writes: Cell<u64>,
    /// Intents ever recorded.
    pub intents_recorded: Cell<u64>,
}

impl FakeLock {
    pub fn intents(&self) -> Vec<CreateIntent> {
        self.intents.borrow().values().cloned().collect()
    }
    pub fn holder(&self) -> Option<String> {
        self.lease.borrow().as_ref().map(|(holder, _, _)| holder.clone())
    }
    /// Another invocation holds the lease until `until`.
    pub fn hold(&self, run_id: &str, since: DateTime<Utc>, until: DateTime<Utc>) {
        *self.lease.borrow_mut() = Some((run_id.to_string(), since, until));
    }
}

impl RunLock for FakeLock {
    async fn acquire(&self, run_id: &str, now: DateTime<Utc>, ttl_seconds: i64) -> Result<Lease, PortError> {
        let mut lease = self.lease.borrow_mut();
        if let Some((holder, since, until)) = lease.as_ref() {
            if now < *until && holder != run_id {
                return Ok(Lease::Busy { run_id: holder.clone(), since: *since });
            }
        }
        self.writes.set(self.writes.get() + 1);
        *lease = Some((run_id.to_string(), now, now + Duration::seconds(ttl_seconds)));
        Ok(Lease::Acquired)
    }
    async fn release(&self, run_id: &str) -> Result<(), PortError> {
        let mut lease = self.lease.borrow_mut();
        if lease.as_ref().is_some_and(|(holder, _, _)| holder == run_id) {
            self.writes.set(self.writes.get() + 1);
            *lease = None;
        }
        Ok(())
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
