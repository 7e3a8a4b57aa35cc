//! The run lease, as pure rules: who may take it, who may renew it, when it is dead. Used by the
//! `SyncLock` Durable Object (`src/edge/lock.rs`) and by the native tests' fake lock alike, so the
//! two cannot drift. Times are milliseconds since the epoch (what the Durable Object has).
//!
//! Why a lease dies, and how soon:
//! - **Heartbeat.** A run renews its lease while it works (see [`crate::heartbeat`]): before
//!   a write, once [`renew_every_ms`] (a quarter of the TTL) has passed since its last renewal. A
//!   lease not renewed for its TTL (`SYNC_LEASE_TTL_SECONDS`, 60 s by default) is dead, so a run
//!   that died (CPU limit, crash) blocks the next one for at most that long, not for a whole run's
//!   length as a lease sized to outlast any run did (15 minutes).
//! - **Restarted lock.** Each instance of the Durable Object draws a random id when it is built,
//!   and stamps it on the lease when it grants or renews it. A lease stamped by an earlier instance
//!   was last confirmed before the object restarted (`wrangler dev` restarted, a deploy, a host
//!   failure, or eviction from memory after idling). Its holder has then been silent for a while
//!   and, locally, died with the process: such a lease is dead once [`restart_grace_ms`] (half the
//!   TTL) has passed since its last renewal. Not at once: Cloudflare evicts an idle object from
//!   memory after about ten seconds, so a live run between two renewals would otherwise lose its
//!   lease to any cron tick or `/sync-now` that happened to come first after an eviction. Half the
//!   TTL is two renewal intervals: a live run that is making progress has renewed by then.
//! - **Renewal is by the holder, never a new grant.** A renewal succeeds while the stored lease
//!   still names the caller, whatever instance stamped it and even when it has expired (nobody
//!   took it in between, so nothing was done meanwhile that the caller could collide with). It
//!   fails once another run holds the lease or the lease is gone: the caller then stops before its
//!   next write ([`Renewal::Lost`]). A lease that merely expired is never re-granted to a run that
//!   lost it: a new grant goes through [`acquire`], which the engine does only at the start.
//!
//! A run is safe to write while less than [`renew_every_ms`] has passed since the start of its
//! last successful renewal: nobody can take the lease before [`restart_grace_ms`] of silence. The
//! remaining gap is one request in flight when another run takes over after a silence (a request
//! that hangs longer than the grace): keep the TTL above the longest single request with its retries.
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
    /// Id of the lock instance that granted or last renewed it (empty: written before ids existed).
    #[serde(default)]
    pub instance: String,
}

impl LeaseRecord {
    fn new(holder: &str, acquired_at_ms: u64, now_ms: u64, ttl_ms: u64, instance: &str) -> Self {
        LeaseRecord {
            holder: holder.to_string(),
            acquired_at_ms,
            renewed_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            instance: instance.to_string(),
        }
    }

    /// When it was last renewed (a record written before renewals existed: when it was granted).
    fn last_renewal_ms(&self) -> u64 {
        if self.renewed_at_ms == 0 {
            self.acquired_at_ms
        } else {
            self.renewed_at_ms
        }
    }

    /// The TTL it was last granted or renewed with.
    pub fn ttl_ms(&self) -> u64 {
        self.expires_at_ms.saturating_sub(self.last_renewal_ms())
    }

    /// Whether it still keeps other runs out, judged by lock instance `instance` at `now_ms`.
    pub fn is_live(&self, now_ms: u64, instance: &str) -> bool {
        if now_ms >= self.expires_at_ms {
            return false;
        }
        self.instance == instance || now_ms < self.last_renewal_ms().saturating_add(restart_grace_ms(self.ttl_ms()))
    }
}

/// How often a run renews its lease: a quarter of the TTL.
pub fn renew_every_ms(ttl_ms: u64) -> u64 {
    ttl_ms / 4
}

/// How long a lease stamped by an earlier lock instance outlives its last renewal: half the TTL.
pub fn restart_grace_ms(ttl_ms: u64) -> u64 {
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

/// Takes the lease for `holder` unless another run holds a live one.
pub fn acquire(current: Option<&LeaseRecord>, holder: &str, ttl_ms: u64, now_ms: u64, instance: &str) -> Acquire {
    match current {
        Some(lease) if lease.holder == holder => Acquire::Granted {
            lease: LeaseRecord::new(holder, lease.acquired_at_ms, now_ms, ttl_ms, instance),
            new_run: false,
        },
        Some(lease) if lease.is_live(now_ms, instance) => Acquire::Held(lease.clone()),
        _ => Acquire::Granted { lease: LeaseRecord::new(holder, now_ms, now_ms, ttl_ms, instance), new_run: true },
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
pub fn renew(
    current: Option<&LeaseRecord>,
    holder: &str,
    ttl_ms: u64,
    now_ms: u64,
    instance: &str,
) -> (Renewal, Option<LeaseRecord>) {
    match current {
        Some(lease) if lease.holder == holder => {
            (Renewal::Renewed, Some(LeaseRecord::new(holder, lease.acquired_at_ms, now_ms, ttl_ms, instance)))
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
    /// Holder of the live lease, if any (judged by the lock's rules above).
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
    use super::*;

    const TTL: u64 = 60_000;

    fn granted(decision: Acquire) -> (LeaseRecord, bool) {
        match decision {
            Acquire::Granted { lease, new_run } => (lease, new_run),
            Acquire::Held(lease) => panic!("held by {}", lease.holder),
        }
    }

    #[test]
    fn a_free_lock_grants_a_new_lease_stamped_with_the_instance() {
        let (lease, new_run) = granted(acquire(None, "a", TTL, 1_000, "i1"));
        assert!(new_run);
        assert_eq!(
            lease,
            LeaseRecord {
                holder: "a".into(),
                acquired_at_ms: 1_000,
                renewed_at_ms: 1_000,
                expires_at_ms: 61_000,
                instance: "i1".into()
            }
        );
    }

    #[test]
    fn a_live_lease_keeps_others_out_until_it_expires() {
        let (lease, _) = granted(acquire(None, "a", TTL, 0, "i1"));
        assert_eq!(acquire(Some(&lease), "b", TTL, 59_999, "i1"), Acquire::Held(lease.clone()));
        let (taken, new_run) = granted(acquire(Some(&lease), "b", TTL, 60_000, "i1"));
        assert!(new_run);
        assert_eq!((taken.holder.as_str(), taken.acquired_at_ms), ("b", 60_000));
    }

    #[test]
    fn renewal_moves_the_expiry_and_keeps_the_start() {
        let (lease, _) = granted(acquire(None, "a", TTL, 0, "i1"));
        let (renewal, renewed) = renew(Some(&lease), "a", TTL, 15_000, "i1");
        assert_eq!(renewal, Renewal::Renewed);
        let renewed = renewed.unwrap();
        assert_eq!((renewed.acquired_at_ms, renewed.renewed_at_ms, renewed.expires_at_ms), (0, 15_000, 75_000));
        assert_eq!(acquire(Some(&renewed), "b", TTL, 70_000, "i1"), Acquire::Held(renewed.clone()));
        // Acquiring again is a renewal too, not a new run.
        let (again, new_run) = granted(acquire(Some(&renewed), "a", TTL, 20_000, "i1"));
        assert!(!new_run);
        assert_eq!(again.acquired_at_ms, 0);
    }

    #[test]
    fn a_lease_confirmed_by_an_earlier_instance_dies_after_half_the_ttl() {
        let (lease, _) = granted(acquire(None, "a", TTL, 0, "before-restart"));
        assert!(lease.is_live(29_999, "after-restart"));
        assert_eq!(acquire(Some(&lease), "b", TTL, 29_999, "after-restart"), Acquire::Held(lease.clone()));
        assert!(!lease.is_live(30_000, "after-restart"));
        assert_eq!(granted(acquire(Some(&lease), "b", TTL, 30_000, "after-restart")).0.holder, "b");
        // The instance that stamped it keeps it for the whole TTL.
        assert!(lease.is_live(59_999, "before-restart"));
    }

    #[test]
    fn the_holder_renews_with_a_new_instance_and_even_after_expiry_if_nobody_took_it() {
        let (lease, _) = granted(acquire(None, "a", TTL, 0, "i1"));
        let (renewal, renewed) = renew(Some(&lease), "a", TTL, 20_000, "i2");
        assert_eq!(renewal, Renewal::Renewed);
        let renewed = renewed.unwrap();
        assert_eq!(renewed.instance, "i2");
        assert!(renewed.is_live(79_999, "i2"));
        assert_eq!(renew(Some(&lease), "a", TTL, 500_000, "i3").0, Renewal::Renewed);
    }

    #[test]
    fn a_renewal_fails_once_another_run_holds_the_lease_or_it_is_gone() {
        let (lease, _) = granted(acquire(None, "a", TTL, 0, "i1"));
        let (taken, _) = granted(acquire(Some(&lease), "b", TTL, 30_000, "i2"));
        assert_eq!(renew(Some(&taken), "a", TTL, 31_000, "i2"), (Renewal::Lost { holder: Some("b".into()) }, None));
        assert_eq!(renew(None, "a", TTL, 31_000, "i2"), (Renewal::Lost { holder: None }, None));
    }

    #[test]
    fn only_the_holder_releases() {
        let (lease, _) = granted(acquire(None, "a", TTL, 0, "i1"));
        assert!(releases(Some(&lease), "a"));
        assert!(!releases(Some(&lease), "b"));
        assert!(!releases(None, "a"));
    }

    #[test]
    fn a_lease_written_before_instance_ids_counts_as_one_from_an_earlier_instance() {
        let old = r#"{"holder":"a","acquired_at_ms":100000,"expires_at_ms":1000000}"#;
        let old: LeaseRecord = serde_json::from_str(old).unwrap();
        assert!(old.is_live(549_999, "i1"));
        assert!(!old.is_live(550_000, "i1"), "half its 900 s TTL after it was granted");
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
