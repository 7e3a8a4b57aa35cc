//! The safety halt against mass deletes: a run that would soft-delete rows or trash pages for more
//! than `SYNC_MASS_DELETE_SHARE` of the linked records (and at least [`MIN_MASS_DELETE`]) applies
//! none of those deletes until an authenticated `POST /sync-now?allow-mass-delete=1`.
//!
//! A run sees only part of the data (budget, incremental windows), so the rule does not count
//! only what one plan holds:
//! - **linked records** = live linked rows + linked rows whose soft delete is not propagated yet
//!   (both counted by PostgREST, `Prefer: count=exact`) + the deletes already applied in this
//!   episode (so the base does not shrink while a delete drains);
//! - **deletes** = the deletes already applied in this episode + the rows soft-deleted in
//!   Supabase and not propagated (the count, or what the plan holds when that is more) + the
//!   rows the plan would soft-delete because their pages were trashed.
//!
//! An **episode** is the runs from the first delete until a run that reads everything and leaves
//! nothing pending: a mass delete drained over several budgeted runs is judged as one. An allow
//! covers the deletes counted when it was given (however many runs they take), not more.
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::{Deferred, OpKind, Plan};
use crate::snapshot::Snapshot;

/// Fewer deletes than this never halt, whatever the share.
pub const MIN_MASS_DELETE: u32 = 10;
/// Default `SYNC_MASS_DELETE_SHARE`, in percent of the linked records.
pub const DEFAULT_SHARE_PERCENT: u8 = 50;
/// Ids of each side kept as a sample in the halt report.
pub const SAMPLE_SIZE: usize = 5;
/// The query parameter of `POST /sync-now` (and `/dry-run`) that allows a mass delete once.
pub const ALLOW_PARAM: &str = "allow-mass-delete";

/// True when a URL query holds `allow-mass-delete=1` (or `=true`).
pub fn allows_mass_delete(query: Option<&str>) -> bool {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .any(|(name, value)| name == ALLOW_PARAM && (value == "1" || value.eq_ignore_ascii_case("true")))
}

/// Why a held item waits (shown in `/dry-run`'s plan).
pub const HELD_REASON: &str = "held by the mass-delete safety halt";

/// Linked rows as PostgREST counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkedCounts {
    /// `notion_page_id=not.is.null&deleted_at=is.null`.
    pub live: u32,
    /// `notion_page_id=not.is.null&deleted_at=not.is.null&notion_synced=is.false`: soft deletes
    /// (or edits of deleted rows) not propagated to Notion yet.
    pub deleted_unsynced: u32,
}

/// The pure rule: `deletes` of `linked` records is a mass delete.
pub fn is_mass_delete(deletes: u32, linked: u32, share_percent: u8) -> bool {
    let linked = u64::from(linked.max(deletes));
    deletes >= MIN_MASS_DELETE && u64::from(deletes) * 100 > u64::from(share_percent) * linked
}

/// An active halt, as `/health` and the dashboard show it (ids and counts only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MassDeleteHalt {
    /// When the halt was first found.
    pub since: DateTime<Utc>,
    /// Deletes held (with those already applied in the same episode).
    pub deletes: u32,
    /// Linked records they are a share of.
    pub linked: u32,
    pub share_percent: u8,
    /// Rows soft-deleted in Supabase whose pages would go to the trash.
    pub pages_to_trash: u32,
    /// Pages trashed in Notion whose rows would be soft-deleted.
    pub rows_to_delete: u32,
    /// A sample of those rows (Supabase ids) and pages (Notion ids).
    pub sample_rows: Vec<String>,
    pub sample_pages: Vec<String>,
}

impl MassDeleteHalt {
    /// One line for a person: what is held.
    pub fn summary(&self) -> String {
        format!(
            "safety halt: {} of {} linked records would be deleted (more than SYNC_MASS_DELETE_SHARE={}%); no delete is applied, everything else syncs",
            self.deletes, self.linked, self.share_percent
        )
    }

    /// What to do, exactly: restore (the halt clears by itself), or allow once.
    pub fn fix(&self) -> String {
        let mut what = Vec::new();
        if self.pages_to_trash > 0 {
            what.push(format!(
                "{} rows soft-deleted in Supabase (e.g. {}) would trash their Notion pages: if that was a mistake, restore them \
                 (`update decision_vault set deleted_at = null where deleted_at is not null and notion_synced = false and notion_page_id is not null`)",
                self.pages_to_trash,
                self.sample_rows.join(", ")
            ));
        }
        if self.rows_to_delete > 0 {
            what.push(format!(
                "{} pages moved to Notion's trash (e.g. {}) would soft-delete their rows: if that was a mistake, restore them from Notion's trash",
                self.rows_to_delete,
                self.sample_pages.join(", ")
            ));
        }
        format!(
            "{}. {}; the halt clears by itself once they are restored. If the deletes are intended, \
             POST /sync-now?allow-mass-delete=1 with the admin token (once: the runs after it finish these deletes)",
            self.summary(),
            what.join("; ")
        )
    }
}

/// What the guard remembers between runs (in the saved state; every field defaults).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MassDeleteGuard {
    /// Deletes applied since the episode began.
    #[serde(default)]
    pub applied: u32,
    /// Deletes (applied + pending) an authenticated allow lets through in this episode.
    #[serde(default)]
    pub allowed_up_to: Option<u32>,
    /// The active halt, if any.
    #[serde(default)]
    pub halt: Option<MassDeleteHalt>,
}

/// The deletes one plan holds: ops, and rows soft-deleted whose page was not read (a halted run
/// does not spend requests on them: they wait with the halt).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    /// Rows soft-deleted in Supabase whose page would be trashed (planned, or waiting for their page).
    pub trash_rows: BTreeSet<String>,
    /// Pages trashed in Notion whose row would be soft-deleted.
    pub delete_pages: BTreeSet<String>,
}

impl Candidates {
    pub fn of(plan: &Plan, snapshot: &Snapshot) -> Self {
        let mut found = Candidates::default();
        for op in &plan.ops {
            match (op.kind, &op.row_id, &op.page_id) {
                (OpKind::TrashPage, Some(row), _) => {
                    found.trash_rows.insert(row.clone());
                }
                (OpKind::DeleteRow, _, Some(page)) => {
                    found.delete_pages.insert(page.clone());
                }
                _ => {}
            }
        }
        for deferred in &plan.deferred {
            if is_unpropagated_delete(deferred, snapshot) {
                found.trash_rows.extend(deferred.row_id.iter().cloned());
            }
        }
        // Pages a presence sweep saw leave the live results: trashed until read.
        found.delete_pages.extend(snapshot.pages_left_unread.iter().cloned());
        found
    }

    pub fn is_empty(&self) -> bool {
        self.trash_rows.is_empty() && self.delete_pages.is_empty()
    }
}

/// A deferred linked row that is soft-deleted and not synced: a delete waiting for its page.
fn is_unpropagated_delete(deferred: &Deferred, snapshot: &Snapshot) -> bool {
    deferred
        .row_id
        .as_ref()
        .and_then(|id| snapshot.rows.get(id))
        .is_some_and(|row| row.is_deleted() && !row.notion_synced && row.notion_page_id.is_some())
}

/// What the guard decided for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The deletes (if any) go ahead.
    Proceed,
    /// The deletes are held: a mass delete without an allow.
    Halt(MassDeleteHalt),
}

/// Judges one run's deletes. `allow` is an authenticated allow given with this run.
pub fn judge(
    guard: &mut MassDeleteGuard,
    candidates: &Candidates,
    counts: LinkedCounts,
    share_percent: u8,
    allow: bool,
    now: DateTime<Utc>,
) -> Verdict {
    let trash = counts.deleted_unsynced.max(count(candidates.trash_rows.len()));
    let delete_rows = count(candidates.delete_pages.len());
    let deletes = guard.applied.saturating_add(trash).saturating_add(delete_rows);
    let linked = counts.live.saturating_add(counts.deleted_unsynced).saturating_add(guard.applied);
    if allow && deletes > 0 {
        guard.allowed_up_to = Some(guard.allowed_up_to.unwrap_or(0).max(deletes));
    }
    let allowed = guard.allowed_up_to.is_some_and(|limit| deletes <= limit);
    if !is_mass_delete(deletes, linked, share_percent) || allowed {
        guard.halt = None;
        return Verdict::Proceed;
    }
    let halt = MassDeleteHalt {
        since: guard.halt.as_ref().map_or(now, |halt| halt.since),
        deletes,
        linked: linked.max(deletes),
        share_percent,
        pages_to_trash: trash,
        rows_to_delete: delete_rows,
        sample_rows: candidates.trash_rows.iter().take(SAMPLE_SIZE).cloned().collect(),
        sample_pages: candidates.delete_pages.iter().take(SAMPLE_SIZE).cloned().collect(),
    };
    guard.halt = Some(halt.clone());
    Verdict::Halt(halt)
}

/// Takes the delete ops (and the deletes waiting for their page) out of the plan into
/// `plan.held`: they stay pending, so the cursors do not pass them.
pub fn hold_deletes(plan: &mut Plan, snapshot: &Snapshot) {
    let (held, ops): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.ops)
        .into_iter()
        .partition(|op| matches!(op.kind, OpKind::TrashPage | OpKind::DeleteRow));
    plan.ops = ops;
    plan.held.extend(held.into_iter().map(|op| Deferred {
        row_id: op.row_id,
        page_id: op.page_id,
        reason: HELD_REASON.to_string(),
    }));
    let (waiting, deferred): (Vec<_>, Vec<_>) =
        std::mem::take(&mut plan.deferred).into_iter().partition(|item| is_unpropagated_delete(item, snapshot));
    plan.deferred = deferred;
    plan.held.extend(waiting.into_iter().map(|item| Deferred { reason: HELD_REASON.to_string(), ..item }));
}

/// After a run: counts what it applied, and ends the episode when the run read everything and
/// left nothing (no delete, no backlog) behind.
pub fn after_run(guard: &mut MassDeleteGuard, applied: u32, episode_over: bool) {
    guard.applied = guard.applied.saturating_add(applied);
    if episode_over && guard.halt.is_none() {
        guard.applied = 0;
        guard.allowed_up_to = None;
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allow_mass_delete_1_or_true_allows() {
        for (query, allows) in [
            (None, false),
            (Some(""), false),
            (Some("allow-mass-delete=1"), true),
            (Some("x=2&allow-mass-delete=true"), true),
            (Some("allow-mass-delete=0"), false),
            (Some("allow-mass-delete"), false),
            (Some("allow-mass-deletes=1"), false),
        ] {
            assert_eq!(allows_mass_delete(query), allows, "{query:?}");
        }
    }

    #[test]
    fn the_rule_needs_more_than_the_share_and_at_least_ten() {
        // (deletes, linked, share %, halts)
        let table: [(u32, u32, u8, bool); 12] = [
            (20, 20, 50, true),
            (12, 12, 50, true),
            (11, 20, 50, true),
            (10, 20, 50, false), // exactly half is not more than half
            (3, 20, 50, false),
            (9, 9, 50, false), // below the floor
            (9, 10, 1, false),
            (10, 10, 99, true),
            (10, 10, 100, false), // 100 % never halts
            (10, 1_000, 1, false),
            (11, 1_000, 1, true),
            (15, 0, 50, true), // an unknown base is at least the deletes
        ];
        for (deletes, linked, share, halts) in table {
            assert_eq!(is_mass_delete(deletes, linked, share), halts, "{deletes} of {linked} at {share}%");
        }
    }

    #[test]
    fn state_and_plans_saved_before_the_halt_existed_still_load() {
        let mut state = serde_json::to_value(crate::state::SyncState::default()).unwrap();
        state.as_object_mut().unwrap().remove("mass_delete");
        let state: crate::state::SyncState = serde_json::from_value(state).unwrap();
        assert_eq!(state.mass_delete, MassDeleteGuard::default());
        let mut plan = serde_json::to_value(Plan::default()).unwrap();
        plan.as_object_mut().unwrap().remove("held");
        assert!(serde_json::from_value::<Plan>(plan).unwrap().held.is_empty());
        let old_guard: MassDeleteGuard = serde_json::from_str("{}").unwrap();
        assert_eq!(old_guard, MassDeleteGuard::default());
    }

    fn candidates(rows: usize, pages: usize) -> Candidates {
        Candidates {
            trash_rows: (0..rows).map(|i| format!("row-{i:02}")).collect(),
            delete_pages: (0..pages).map(|i| format!("page-{i:02}")).collect(),
        }
    }

    fn now() -> DateTime<Utc> {
        "2025-08-07T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_halt_reports_counts_and_a_sample_and_an_allow_lets_the_same_set_through() {
        let mut guard = MassDeleteGuard::default();
        let counts = LinkedCounts { live: 0, deleted_unsynced: 20 };
        let Verdict::Halt(halt) = judge(&mut guard, &candidates(20, 0), counts, 50, false, now()) else {
            panic!("20 of 20 must halt")
        };
        assert_eq!((halt.deletes, halt.linked, halt.pages_to_trash, halt.rows_to_delete), (20, 20, 20, 0));
        assert_eq!(halt.sample_rows.len(), SAMPLE_SIZE);
        assert!(
            halt.fix().contains("POST /sync-now?allow-mass-delete=1") && halt.fix().contains("row-00"),
            "{}",
            halt.fix()
        );
        assert_eq!(judge(&mut guard, &candidates(20, 0), counts, 50, true, now()), Verdict::Proceed);
        assert_eq!(guard.halt, None);
        // Half applied by the allowed run; the rest drains without a new allow.
        after_run(&mut guard, 10, false);
        let rest = LinkedCounts { live: 0, deleted_unsynced: 10 };
        assert_eq!(judge(&mut guard, &candidates(10, 0), rest, 50, false, now()), Verdict::Proceed);
        after_run(&mut guard, 10, true);
        assert_eq!(guard, MassDeleteGuard::default(), "the episode ends with the drain");
    }

    #[test]
    fn deletes_drained_over_several_runs_are_judged_together() {
        let mut guard = MassDeleteGuard::default();
        // 200 linked; a budget that reads 100 trashed pages a run: 100 of 200 is not more than half.
        let counts = LinkedCounts { live: 200, deleted_unsynced: 0 };
        assert_eq!(judge(&mut guard, &candidates(0, 100), counts, 50, false, now()), Verdict::Proceed);
        after_run(&mut guard, 100, false);
        let counts = LinkedCounts { live: 100, deleted_unsynced: 0 };
        let verdict = judge(&mut guard, &candidates(0, 50), counts, 50, false, now());
        assert!(matches!(verdict, Verdict::Halt(MassDeleteHalt { deletes: 150, linked: 200, .. })), "{verdict:?}");
    }

    #[test]
    fn a_restore_clears_the_halt_and_a_new_mass_delete_after_an_allow_halts_again() {
        let mut guard = MassDeleteGuard::default();
        let counts = LinkedCounts { live: 0, deleted_unsynced: 12 };
        assert!(matches!(judge(&mut guard, &candidates(12, 0), counts, 50, false, now()), Verdict::Halt(_)));
        let restored = LinkedCounts { live: 12, deleted_unsynced: 0 };
        assert_eq!(judge(&mut guard, &candidates(0, 0), restored, 50, false, now()), Verdict::Proceed);
        assert_eq!(guard.halt, None);
        // An allow covers what was counted when it was given, not a larger delete after it.
        assert_eq!(judge(&mut guard, &candidates(12, 0), counts, 50, true, now()), Verdict::Proceed);
        let more = LinkedCounts { live: 0, deleted_unsynced: 30 };
        assert!(matches!(judge(&mut guard, &candidates(30, 0), more, 50, false, now()), Verdict::Halt(_)));
    }
}
