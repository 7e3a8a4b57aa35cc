//! The run lease, as pure rules: who may take it, who may renew it, when it is dead. The one
//! implementation of the lock ([`crate::lock_store::StoredLock`]) applies them over a small
//! key-value storage: the coordinator Durable Object's storage in production
//! (`src/edge/object_lock.rs`), an in-memory map in the native tests (`tests/support/store.rs`),
//! so the two cannot drift. Times are milliseconds since the epoch (what the Durable Object has).
//!
//! The rule (DESIGN: one run at a time; a lease is live only while its run is alive in the
//! coordinator):
//! - **Alive.** Runs happen only inside the coordinator, so it knows which run it is executing now:
//!   the *alive mark* ([`crate::lock_store::Alive`]), kept in the object's memory, set when it grants
//!   a lease and cleared when the run releases it or its future is dropped (a cancelled request).
//!   A lease whose holder is not the alive run is a dead run's (the run crashed, its invocation
//!   ended, the object restarted and lost its memory): recognised at once, not after a TTL.
//! - **Heartbeat.** A run renews its lease while it works (see [`crate::heartbeat`]): before a
//!   write, once [`renew_every_ms`] (a quarter of the TTL) has passed since its last renewal. An
//!   alive run that has not renewed for its TTL (`SYNC_LEASE_TTL_SECONDS`, 60 s by default) is
//!   stalled: another run may take the lease, and the stalled run stops at its next renewal.
//! - **Renewal is by the holder, never a new grant.** A renewal succeeds while the stored lease
//!   still names the caller, even when it has expired (nobody took it in between, so nothing was
//!   done meanwhile that the caller could collide with). It fails once another run holds the
//!   lease or the lease is gone: the caller then stops before its next write ([`Renewal::Lost`]).
//!
//! `/sync-now` answers 409 with the holder of a live lease ([`Acquire::Held`]).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The lease as the lock stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub holder: String,
    pub acquired_at_ms: u64,
    /// When the holder last renewed it (the grant counts as a renewal).
    #[serde(default)]
    pub renewed_at_ms: u64,
    pub expires_at_ms: u64,
}

impl LeaseRecord {
    fn new(holder: &str, acquired_at_ms: u64, now_ms: u64, ttl_ms: u64) -> Self {
        LeaseRecord {
            holder: holder.to_string(),
            acquired_at_ms,
            renewed_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        }
    }

    /// Whether its holder is the run alive in the coordinator (`alive`, the alive mark).
    pub fn is_alive(&self, alive: Option<&str>) -> bool {
        alive == Some(self.holder.as_str())
    }

    /// Whether it still keeps other runs out at `now_ms`: its run is alive and renewed it within
    /// its TTL.
    pub fn is_live(&self, now_ms: u64, alive: Option<&str>) -> bool {
        self.is_alive(alive) && now_ms < self.expires_at_ms
    }
}

/// How often a run renews its lease: a quarter of the TTL.
pub fn renew_every_ms(ttl_ms: u64) -> u64 {
    ttl_ms / 4
}

/// How long a run goes on writing while its renewals fail with a storage error (not a loss):
/// half the TTL, well before any other run may take its lease (its whole TTL of silence).
pub fn renewal_grace_ms(ttl_ms: u64) -> u64 {
    ttl_ms / 2
}

/// What an acquire gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Acquire {
    /// The caller holds `lease` now; `new_run` is false when it already held it (a renewal).
    Granted { lease: LeaseRecord, new_run: bool },
    /// Another run holds this live lease.
    Held(LeaseRecord),
}

/// Takes the lease for `holder` unless another run holds a live one; `alive` is the run alive in
/// the coordinator now.
pub fn acquire(current: Option<&LeaseRecord>, alive: Option<&str>, holder: &str, ttl_ms: u64, now_ms: u64) -> Acquire {
    match current.filter(|lease| lease.is_alive(alive)) {
        Some(lease) if lease.holder == holder => {
            Acquire::Granted { lease: LeaseRecord::new(holder, lease.acquired_at_ms, now_ms, ttl_ms), new_run: false }
        }
        Some(lease) if lease.is_live(now_ms, alive) => Acquire::Held(lease.clone()),
        _ => Acquire::Granted { lease: LeaseRecord::new(holder, now_ms, now_ms, ttl_ms), new_run: true },
    }
}

/// What a renewal gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Renewal {
    Renewed,
    /// The lease names another run (`holder`), or nobody: the caller must stop writing.
    Lost {
        holder: Option<String>,
    },
}

/// Renews `holder`'s lease; the new record to store when it is renewed.
pub fn renew(current: Option<&LeaseRecord>, holder: &str, ttl_ms: u64, now_ms: u64) -> (Renewal, Option<LeaseRecord>) {
    match current {
        Some(lease) if lease.holder == holder => {
            (Renewal::Renewed, Some(LeaseRecord::new(holder, lease.acquired_at_ms, now_ms, ttl_ms)))
        }
        Some(lease) => (Renewal::Lost { holder: Some(lease.holder.clone()) }, None),
        None => (Renewal::Lost { holder: None }, None),
    }
}

/// True when `holder` may release `current` (it names the caller): the lock then deletes it and
/// records the run as finished.
pub fn releases(current: Option<&LeaseRecord>, holder: &str) -> bool {
    current.is_some_and(|lease| lease.holder == holder)
}

/// The holder of `current` for `/health`: the run alive in the coordinator, when it holds it (a
/// stalled run is still running, not interrupted).
pub fn live_holder(current: Option<&LeaseRecord>, alive: Option<&str>) -> Option<String> {
    current.filter(|lease| lease.is_alive(alive)).map(|lease| lease.holder.clone())
}

/// The last run that took the lease (recorded by the lock when it grants a new lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStart {
    pub run_id: String,
    pub trigger: String,
    pub started_at: DateTime<Utc>,
}

/// What the lock knows about runs: one call, for `/health`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LockStatus {
    pub last_started: Option<RunStart>,
    /// Id of the last run that released its lease.
    pub last_finished: Option<String>,
    /// Holder of the live lease, if any (judged by [`live_holder`]).
    pub live_holder: Option<String>,
    /// Page creates journaled and not cleared (pages that may exist and are not linked yet).
    pub pending_intents: usize,
}

impl LockStatus {
    /// The last run started, when it neither finished nor holds a live lease: it was interrupted.
    pub fn interrupted(&self) -> Option<&RunStart> {
        let started = self.last_started.as_ref()?;
        let finished = self.last_finished.as_deref() == Some(started.run_id.as_str());
        let running = self.live_holder.as_deref() == Some(started.run_id.as_str());
        (!finished && !running).then_some(started)
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const TTL: u64 = 60_000;

    fn lease(holder: &str, acquired_at_ms: u64, renewed_at_ms: u64) -> LeaseRecord {
        LeaseRecord::new(holder, acquired_at_ms, renewed_at_ms, TTL)
    }

    fn granted(decision: Acquire) -> (LeaseRecord, bool) {
        match decision {
            Acquire::Granted { lease, new_run } => (lease, new_run),
            Acquire::Held(lease) => panic!("held by {}", lease.holder),
        }
    }

    /// Who gets the lease, as DESIGN says: one run at a time; a lease is live only while its run
    /// is alive in the coordinator (and has renewed within its TTL).
    #[rstest]
    //    stored lease              alive   caller now      → held by (None: granted to the caller)
    #[case(None, None, "b", 1_000, None)]
    #[case(None, Some("a"), "b", 1_000, None)]
    #[case(Some(("a", 0, 0)),       Some("a"), "b", 1_000,  Some("a"))] // alive and fresh: 409
    #[case(Some(("a", 0, 0)),       Some("a"), "b", 59_999, Some("a"))]
    #[case(Some(("a", 0, 0)),       Some("a"), "b", 60_000, None)] // alive, stalled a TTL
    #[case(Some(("a", 0, 30_000)),  Some("a"), "b", 89_999, Some("a"))] // renewed: TTL from then
    #[case(Some(("a", 0, 0)),       None,      "b", 1,      None)] // dead run: at once
    #[case(Some(("a", 0, 0)),       Some("c"), "b", 1,      None)] // another run is alive
    fn who_holds_the_lease(
        #[case] stored: Option<(&str, u64, u64)>,
        #[case] alive: Option<&str>,
        #[case] caller: &str,
        #[case] now_ms: u64,
        #[case] held_by: Option<&str>,
    ) {
        let stored = stored.map(|(holder, acquired, renewed)| lease(holder, acquired, renewed));
        match acquire(stored.as_ref(), alive, caller, TTL, now_ms) {
            Acquire::Held(lease) => assert_eq!(Some(lease.holder.as_str()), held_by),
            Acquire::Granted { lease, new_run } => {
                assert_eq!(held_by, None, "granted to {caller}");
                assert_eq!(lease, LeaseRecord::new(caller, now_ms, now_ms, TTL));
                assert!(new_run);
            }
        }
    }

    #[test]
    fn acquiring_again_while_alive_is_a_renewal_not_a_new_run() {
        let (again, new_run) = granted(acquire(Some(&lease("a", 0, 0)), Some("a"), "a", TTL, 20_000));
        assert!(!new_run);
        assert_eq!((again.acquired_at_ms, again.renewed_at_ms, again.expires_at_ms), (0, 20_000, 80_000));
    }

    #[rstest]
    //    stored lease         caller now      → renewal                  new (acquired, renewed, expires)
    #[case(Some(("a", 0, 0)),  "a", 15_000,  Renewal::Renewed,             Some((0, 15_000, 75_000)))]
    #[case(Some(("a", 0, 0)),  "a", 500_000, Renewal::Renewed,             Some((0, 500_000, 560_000)))] // expired, untaken
    #[case(Some(("b", 0, 0)),  "a", 15_000,  Renewal::Lost { holder: Some("b".into()) }, None)]
    #[case(None,               "a", 15_000,  Renewal::Lost { holder: None }, None)]
    fn only_the_holder_renews(
        #[case] stored: Option<(&str, u64, u64)>,
        #[case] caller: &str,
        #[case] now_ms: u64,
        #[case] expected: Renewal,
        #[case] record: Option<(u64, u64, u64)>,
    ) {
        let stored = stored.map(|(holder, acquired, renewed)| lease(holder, acquired, renewed));
        let (renewal, renewed) = renew(stored.as_ref(), caller, TTL, now_ms);
        assert_eq!(renewal, expected);
        assert_eq!(renewed.map(|r| (r.acquired_at_ms, r.renewed_at_ms, r.expires_at_ms)), record);
    }

    #[test]
    fn only_the_holder_releases() {
        assert!(releases(Some(&lease("a", 0, 0)), "a"));
        assert!(!releases(Some(&lease("a", 0, 0)), "b"));
        assert!(!releases(None, "a"));
    }

    /// A stalled run (not renewed for its TTL) is still running, not interrupted: no time here.
    #[rstest]
    #[case(Some("a"), Some("a"))]
    #[case(None, None)]
    #[case(Some("b"), None)]
    fn health_names_the_holder_only_while_its_run_is_alive(#[case] alive: Option<&str>, #[case] holder: Option<&str>) {
        assert_eq!(live_holder(Some(&lease("a", 0, 0)), alive).as_deref(), holder);
    }

    #[test]
    fn a_lease_stored_with_an_instance_stamp_still_reads() {
        let old =
            r#"{"holder":"a","acquired_at_ms":100000,"renewed_at_ms":100000,"expires_at_ms":160000,"instance":"i1"}"#;
        let old: LeaseRecord = serde_json::from_str(old).unwrap();
        assert_eq!(old, lease("a", 100_000, 100_000));
        let older = r#"{"holder":"a","acquired_at_ms":100000,"expires_at_ms":1000000}"#;
        let older: LeaseRecord = serde_json::from_str(older).unwrap();
        assert!(!older.is_live(1, None), "its run is not alive in this coordinator");
    }

    #[test]
    fn a_run_started_and_neither_finished_nor_holding_the_lease_was_interrupted() {
        let start = RunStart { run_id: "a".into(), trigger: "cron".into(), started_at: DateTime::<Utc>::UNIX_EPOCH };
        let mut status =
            LockStatus { last_started: Some(start.clone()), live_holder: Some("a".into()), ..LockStatus::default() };
        assert_eq!(status.interrupted(), None, "still running");
        status.live_holder = None;
        assert_eq!(status.interrupted(), Some(&start));
        status.last_finished = Some("a".into());
        assert_eq!(status.interrupted(), None, "finished");
        assert_eq!(LockStatus::default().interrupted(), None);
    }
}
