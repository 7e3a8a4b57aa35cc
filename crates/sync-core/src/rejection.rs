//! Records a service rejected (a 4xx validation error), remembered with a fingerprint of what was
//! sent: while a record would send exactly the same again it is not sent (no request), until it
//! changes or [`retry_rejected_after`] has passed. Its error stays until it syncs (DESIGN.md: "A
//! record Notion rejected is retried when it changes (or after a back-off), not every run").
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical;
use crate::executor::OpOutcome;
use crate::model::Side;
use crate::plan::{Op, Order, Plan};
use crate::state::RecordIssue;

/// How long an unchanged rejected record waits before it is sent again, so that a fix on the
/// service's side (a property changed in Notion, a constraint dropped) is picked up within a day.
pub fn retry_rejected_after() -> Duration {
    Duration::hours(24)
}

/// One rejected record: which, what was sent (fingerprint), and when.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Rejection {
    pub side: Side,
    pub id: String,
    /// [`fingerprint`] of the op whose write was rejected.
    pub fingerprint: String,
    pub at: DateTime<Utc>,
}

/// The record an op's errors are reported on: the row of a Notion-first op (a create or a push
/// sends the row's content), else the page, else the row.
pub fn op_record(op: &Op) -> (Side, String) {
    match (&op.row_id, &op.page_id, op.order) {
        (Some(row), _, Order::NotionFirst) => (Side::Supabase, row.clone()),
        (_, Some(page), _) => (Side::Notion, page.clone()),
        (Some(row), None, _) => (Side::Supabase, row.clone()),
        (None, None, _) => (Side::Supabase, String::new()),
    }
}

/// Fingerprint of what an op would send (both halves, conditions included): it changes when
/// either record changes in a way that changes the writes, e.g. the row's content or `updated_at`.
/// The text hashed is the writes' [`canonical`] text (the compact JSON earlier versions hashed, so
/// that saved fingerprints still match).
pub fn fingerprint(op: &Op) -> String {
    let writes = canonical::to_string(&(op.kind, &op.notion, &op.supabase)).unwrap_or_default();
    hex::encode(Sha256::digest(writes.as_bytes()))
}

/// The retry rule: an op is sent unless the same writes were rejected less than
/// [`retry_rejected_after`] ago.
pub fn may_send(rejection: Option<&Rejection>, fingerprint: &str, now: DateTime<Utc>) -> bool {
    match rejection {
        None => true,
        Some(rejection) => rejection.fingerprint != fingerprint || now - rejection.at >= retry_rejected_after(),
    }
}

/// Takes out of `plan` the ops that would send again what was rejected; their record errors are
/// kept as issues of the plan (so they stay reported, cost no request, and are not backlog).
pub fn hold_rejected(plan: &mut Plan, errors: &[RecordIssue], rejections: &[Rejection], now: DateTime<Utc>) {
    let mut held = Vec::new();
    plan.ops.retain(|op| {
        let (side, id) = op_record(op);
        let rejection = rejections.iter().find(|r| r.side == side && r.id == id);
        let issue = errors.iter().find(|issue| issue.side == side && issue.id == id);
        match issue {
            Some(issue) if !may_send(rejection, &fingerprint(op), now) => {
                held.push(issue.clone());
                false
            }
            _ => true,
        }
    });
    plan.issues.extend(held);
}

/// After a run: remembers the ops rejected now, and forgets rejections whose record error is gone
/// (the record synced, or its error changed to one found without a request).
pub fn update_rejections(
    rejections: &mut Vec<Rejection>,
    plan: &Plan,
    outcomes: &[OpOutcome],
    errors: &[RecordIssue],
    now: DateTime<Utc>,
) {
    for (op, outcome) in plan.ops.iter().zip(outcomes) {
        if let OpOutcome::Rejected(issue) = outcome {
            rejections.retain(|old| !(old.side == issue.side && old.id == issue.id));
            rejections.push(Rejection {
                side: issue.side,
                id: issue.id.clone(),
                fingerprint: fingerprint(op),
                at: now,
            });
        }
    }
    rejections.retain(|rejection| errors.iter().any(|issue| issue.side == rejection.side && issue.id == rejection.id));
    rejections.sort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Content;
    use crate::plan::{NotionWrite, OpKind};

    fn at(hour: u32) -> DateTime<Utc> {
        format!("2025-01-15T{hour:02}:00:00Z").parse().expect("timestamp")
    }

    fn create(kind: &str) -> Op {
        let content = Content::normalize("x", kind, "2025-01-15").expect("content");
        Op {
            kind: OpKind::CreatePage,
            row_id: Some("row-1".into()),
            page_id: None,
            order: Order::NotionFirst,
            notion: Some(NotionWrite::Create { base: content.checksum(), content }),
            supabase: None,
            conflict: None,
        }
    }

    fn issue() -> RecordIssue {
        RecordIssue { side: Side::Supabase, id: "row-1".into(), field: Some("type".into()), reason: "too long".into() }
    }

    #[test]
    fn an_unchanged_rejected_record_waits_for_a_change_or_a_day() {
        let op = create(&"a".repeat(150));
        let rejected = Rejection { side: Side::Supabase, id: "row-1".into(), fingerprint: fingerprint(&op), at: at(1) };
        assert!(may_send(None, &fingerprint(&op), at(1)), "never rejected: sent");
        assert!(!may_send(Some(&rejected), &fingerprint(&op), at(2)), "unchanged: not sent");
        assert!(may_send(Some(&rejected), &fingerprint(&create("Ops")), at(2)), "changed: sent");
        let next_day = at(1) + retry_rejected_after();
        assert!(may_send(Some(&rejected), &fingerprint(&op), next_day), "after the back-off: sent");
    }

    #[test]
    fn held_ops_leave_the_plan_and_keep_their_error() {
        let op = create(&"a".repeat(150));
        let rejections =
            vec![Rejection { side: Side::Supabase, id: "row-1".into(), fingerprint: fingerprint(&op), at: at(1) }];
        let mut plan = Plan { ops: vec![op.clone()], ..Plan::default() };
        hold_rejected(&mut plan, &[issue()], &rejections, at(2));
        assert!(plan.ops.is_empty());
        assert_eq!(plan.issues, vec![issue()]);
        // Without the error (cleared, or cut from the list), the record is sent again.
        let mut plan = Plan { ops: vec![op], ..Plan::default() };
        hold_rejected(&mut plan, &[], &rejections, at(2));
        assert_eq!(plan.ops.len(), 1);
    }

    #[test]
    fn a_state_saved_before_rejections_existed_still_loads() {
        let mut saved = serde_json::to_value(crate::state::SyncState::default()).expect("json");
        saved.as_object_mut().expect("object").remove("rejections");
        let state: crate::state::SyncState = serde_json::from_value(saved).expect("old state loads");
        assert!(state.rejections.is_empty());
    }

    #[test]
    fn rejections_are_remembered_and_forgotten_with_their_error() {
        let op = create(&"a".repeat(150));
        let plan = Plan { ops: vec![op.clone()], ..Plan::default() };
        let mut rejections = Vec::new();
        update_rejections(&mut rejections, &plan, &[OpOutcome::Rejected(issue())], &[issue()], at(3));
        assert_eq!(
            rejections,
            vec![Rejection { side: Side::Supabase, id: "row-1".into(), fingerprint: fingerprint(&op), at: at(3) }]
        );
        update_rejections(&mut rejections, &Plan::default(), &[], &[], at(4));
        assert!(rejections.is_empty(), "the error cleared: the rejection goes too");
    }

    /// Fingerprints saved by earlier versions (which hashed serde_json's text) still match: the
    /// canonical text of every kind of write is serde_json's.
    #[test]
    fn fingerprints_hash_the_same_text_as_before() {
        use crate::notion_date::{DateWrite, NotionDate};
        use crate::plan::SupabaseWrite;
        use crate::ports::{NewRow, PageWrite, RowWrite};

        let content = Content::normalize("Quote \" and \\ and\nnew line, é 😀", "Ops", "2025-01-15").expect("content");
        let row_write = RowWrite {
            id: "row-1".into(),
            expected_updated_at: Some(at(5)),
            content: Some(content.clone()),
            notion_page_id: Some("page-1".into()),
            checksum: Some(content.checksum()),
            notion_synced: Some(true),
            deleted_at: Some(None),
        };
        let page_write = PageWrite {
            content: Some(content.clone()),
            base: Some(content.checksum()),
            in_trash: Some(false),
            date: DateWrite::Value(NotionDate {
                start: "2025-01-15".into(),
                end: Some("2025-01-20".into()),
                time_zone: None,
            }),
        };
        let update = |write: PageWrite| NotionWrite::Update { page_id: "page-1".into(), write };
        let ops = [
            create("Ops"),
            Op {
                kind: OpKind::Push,
                page_id: Some("page-1".into()),
                order: Order::SupabaseFirst,
                notion: Some(update(page_write)),
                supabase: Some(SupabaseWrite::Update(row_write.clone())),
                ..create("")
            },
            Op {
                kind: OpKind::ImportPage,
                notion: Some(update(PageWrite { date: DateWrite::Keep, ..PageWrite::default() })),
                supabase: Some(SupabaseWrite::Insert(NewRow {
                    content: content.clone(),
                    notion_page_id: "page-2".into(),
                    checksum: content.checksum(),
                })),
                ..create("")
            },
            Op {
                kind: OpKind::DeleteRow,
                notion: None,
                supabase: Some(SupabaseWrite::Update(RowWrite { deleted_at: Some(Some(at(6))), ..row_write })),
                ..create("")
            },
        ];
        for op in ops {
            let before = serde_json::to_string(&(op.kind, &op.notion, &op.supabase)).expect("json");
            assert_eq!(canonical::to_string(&(op.kind, &op.notion, &op.supabase)).expect("text"), before);
            assert_eq!(fingerprint(&op), hex::encode(Sha256::digest(before.as_bytes())));
        }
    }
}
