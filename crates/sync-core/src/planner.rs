//! `plan(snapshot) -> Plan`: a pure function from what was read to what to write.
use std::collections::BTreeSet;

use crate::content::Content;
use crate::matching::{match_by_checksum, oldest_pages_first, oldest_rows_first};
use crate::model::{Page, Row, Side};
use crate::pair::{self, PairDecision};
use crate::plan::{Deferred, NotionWrite, Op, OpKind, Order, Plan, SupabaseWrite};
use crate::ports::{CreateIntent, NewRow, PageWrite, RowWrite};
use crate::snapshot::Snapshot;
use crate::state::Orphan;
use crate::time::notion_overlap;

/// Plans one run. Pure: the same snapshot always gives the same plan.
pub fn plan(snapshot: &Snapshot) -> Plan {
    let mut plan = Plan { planned_at: Some(snapshot.now), ..Plan::default() };
    plan.issues.extend(snapshot.record_issues.values().cloned());
    plan_linked_rows(snapshot, &mut plan);
    plan_unlinked(snapshot, &mut plan);
    plan_pages_without_row(snapshot, &mut plan);
    plan.warnings.extend(several_types_warnings(snapshot));
    plan.warnings.extend(narrowed_date_warnings(snapshot, &plan.ops));
    plan
}

fn deferred(row_id: Option<&str>, page_id: Option<&str>, reason: &str) -> Deferred {
    Deferred { row_id: row_id.map(str::to_string), page_id: page_id.map(str::to_string), reason: reason.to_string() }
}

/// Every linked row read: three-way with its page, or orphan when the page is gone.
fn plan_linked_rows(snapshot: &Snapshot, plan: &mut Plan) {
    for row in snapshot.rows.values() {
        let Some(page_id) = row.notion_page_id.as_deref() else { continue };
        if snapshot.record_issues.contains_key(&row.id) {
            // Refused while reading (its page could not be read): reported, not waited for.
            continue;
        }
        if let Some(page) = snapshot.pages.get(page_id) {
            match pair::decide(row, page, snapshot.page_recently_edited(page), snapshot.now) {
                PairDecision::Nothing => {}
                PairDecision::Apply(op) => plan.ops.push(*op),
                PairDecision::Issue(issue) => plan.issues.push(issue),
            }
        } else if snapshot.missing_pages.contains(page_id) {
            if !row.is_deleted() {
                plan.orphans.push(Orphan {
                    side: Side::Supabase,
                    id: row.id.clone(),
                    reason: format!(
                        "its Notion page {page_id} no longer exists or is not shared with the integration; \
                         restore the page from Notion's trash, or clear notion_page_id to create a new page"
                    ),
                });
            }
        } else if row_needs_its_page(row) {
            plan.deferred.push(deferred(Some(&row.id), Some(page_id), "its Notion page was not read in this run"));
        }
    }
}

/// A row changed on the Supabase side, so its page must be compared before anything is written.
pub fn row_needs_its_page(row: &Row) -> bool {
    if !row.notion_synced {
        return true;
    }
    match pair::row_content(row) {
        Ok(content) => row.checksum.as_deref() != Some(content.checksum().as_str()),
        Err(_) => true,
    }
}

/// Pages with a base but no row are orphans (their row was deleted for real): never deleted.
/// Runs after [`plan_unlinked`]: a page this plan links (a create finished after a crash) is
/// not an orphan, and only the intents still waiting for their page keep other pages with the
/// same base from being reported (a page seen now may not be seen again before the next full pass).
fn plan_pages_without_row(snapshot: &Snapshot, plan: &mut Plan) {
    let links = snapshot.links();
    let linking: BTreeSet<&str> =
        plan.ops.iter().filter(|op| op.kind == OpKind::Link).filter_map(|op| op.page_id.as_deref()).collect();
    let adopting: BTreeSet<&str> =
        plan.ops.iter().filter(|op| op.kind == OpKind::Link).filter_map(|op| op.row_id.as_deref()).collect();
    let intent_bases: BTreeSet<&str> = snapshot
        .intents
        .iter()
        .filter(|intent| !adopting.contains(intent.row_id.as_str()))
        .map(|intent| intent.base.as_str())
        .collect();
    for page in snapshot.pages.values() {
        if links.contains_key(&page.id) || page.base.is_none() || linking.contains(page.id.as_str()) {
            continue;
        }
        if !snapshot.looked_up_pages.contains(&page.id) {
            plan.deferred.push(deferred(None, Some(&page.id), "its linked row was not looked up in this run"));
            continue;
        }
        let base = page.base.as_deref().unwrap_or_default();
        if intent_bases.contains(base) || page.in_trash {
            continue;
        }
        plan.orphans.push(Orphan {
            side: Side::Notion,
            id: page.id.clone(),
            reason: "it was synced once but no row links to it (the row was deleted for real in Supabase?); \
                     trash the page, or empty its Checksum property to import it as a new row"
                .to_string(),
        });
    }
}

/// Unlinked rows and never-synced pages: match, import, create.
fn plan_unlinked(snapshot: &Snapshot, plan: &mut Plan) {
    let links = snapshot.links();
    let mut rows = Vec::new();
    let mut used_pages: BTreeSet<String> = BTreeSet::new();
    for row in snapshot.row_pool.iter().filter_map(|id| snapshot.rows.get(id)) {
        if row.notion_page_id.is_some() || row.is_deleted() {
            continue;
        }
        // A page an earlier run created for this row comes first: matching the row to another
        // page by content would leave the created one behind as a duplicate.
        if let Some(intent) = snapshot.intents.iter().find(|intent| intent.row_id == row.id) {
            if !snapshot.intent_bases_searched.contains(&intent.base) {
                plan.deferred.push(deferred(Some(&row.id), None, "a page created for it earlier is being looked for"));
                continue;
            }
            if let Some((_, page)) = page_created_for(snapshot, row, &links, &used_pages) {
                used_pages.insert(page.id.clone());
                let unchanged = pair::row_content(row).is_ok_and(|content| content.checksum() == intent.base);
                let mut adopt = link(row, page, &intent.base, false);
                if let Some(SupabaseWrite::Update(write)) = adopt.supabase.as_mut() {
                    write.notion_synced = Some(unchanged || page.in_trash);
                    if page.in_trash {
                        // A user trashed the new page before it was linked: the row follows.
                        write.deleted_at = Some(Some(page.last_edited_time));
                    }
                }
                plan.ops.push(adopt);
                continue;
            }
            if page_with_base_not_looked_up(snapshot, &intent.base, &links) {
                plan.deferred.push(deferred(Some(&row.id), None, "a page created for it earlier is being looked for"));
                continue;
            }
        }
        match pair::row_content(row) {
            Ok(content) => rows.push((row, content.checksum())),
            Err(error) => plan.issues.push(pair::issue(Side::Supabase, &row.id, &error)),
        }
    }
    let mut pages = Vec::new();
    for page in snapshot.page_pool.iter().filter_map(|id| snapshot.pages.get(id)) {
        if links.contains_key(&page.id) || page.in_trash || page.base.is_some() {
            continue;
        }
        if !snapshot.looked_up_pages.contains(&page.id) {
            plan.deferred.push(deferred(None, Some(&page.id), "its linked row was not looked up in this run"));
            continue;
        }
        match pair::page_content(page) {
            Ok(content) => pages.push((page, content.checksum())),
            Err(error) => plan.issues.push(pair::issue(Side::Notion, &page.id, &error)),
        }
    }
    oldest_rows_first(&mut rows);
    oldest_pages_first(&mut pages);
    let matches = match_by_checksum(rows, pages);
    for (row, page, sum) in &matches.pairs {
        plan.ops.push(link(row, page, sum, true));
    }
    for (page, sum) in &matches.pages {
        if no_unlinked_row_has(snapshot, sum) {
            plan_import(page, sum, plan);
        } else {
            plan.deferred.push(deferred(None, Some(&page.id), "waiting until every unlinked row has been read"));
        }
    }
    for (row, sum) in &matches.rows {
        if snapshot.page_pool_complete {
            plan_create(row, sum, plan);
        } else {
            plan.deferred.push(deferred(Some(&row.id), None, "waiting until every unsynced page has been read"));
        }
    }
    // A row soft-deleted after its page was created but before it was linked: link it (marked
    // unsynced while the page is live, so the next run trashes the page), or a restore would
    // create a second page.
    for row in snapshot.rows.values().filter(|row| row.is_deleted() && row.notion_page_id.is_none()) {
        if let Some((intent, page)) = page_created_for(snapshot, row, &links, &used_pages) {
            used_pages.insert(page.id.clone());
            let mut adopt = link(row, page, &intent.base, false);
            if let Some(SupabaseWrite::Update(write)) = adopt.supabase.as_mut() {
                write.notion_synced = Some(page.in_trash);
            }
            plan.ops.push(adopt);
        }
    }
}

/// True when no unlinked row has this content, so a page with it may be imported: every unlinked
/// row was read in this run (and none matched), or the row-pool digest, current for this run,
/// holds no checksum with its prefix (see [`crate::pool_scan`]).
pub fn no_unlinked_row_has(snapshot: &Snapshot, sum: &str) -> bool {
    snapshot.row_pool_complete || snapshot.unlinked_row_sums.as_ref().is_some_and(|sums| !sums.contains_sum(sum))
}

/// True when a page carrying this base was read but whether a row links to it is not known
/// yet (its lookup failed or ran out of budget): it may be the page created for the row.
fn page_with_base_not_looked_up(
    snapshot: &Snapshot,
    base: &str,
    links: &std::collections::BTreeMap<String, String>,
) -> bool {
    snapshot.pages.values().any(|page| {
        page.base.as_deref() == Some(base)
            && !links.contains_key(&page.id)
            && !snapshot.looked_up_pages.contains(&page.id)
    })
}

/// The page an earlier run created for this row (journaled intent, page found by its base).
fn page_created_for<'s>(
    snapshot: &'s Snapshot,
    row: &Row,
    links: &std::collections::BTreeMap<String, String>,
    used_pages: &BTreeSet<String>,
) -> Option<(&'s CreateIntent, &'s Page)> {
    let intent = snapshot.intents.iter().find(|intent| intent.row_id == row.id)?;
    if !snapshot.intent_bases_searched.contains(&intent.base) {
        return None;
    }
    snapshot
        .pages
        .values()
        .filter(|page| page.base.as_deref() == Some(intent.base.as_str()))
        // Created after the intent was journaled (minus clock skew and Notion's minute rounding):
        // an older unlinked page with the same base (an orphan) is not the one created for the row.
        .filter(|page| page.created_time >= intent.at - notion_overlap())
        .filter(|page| !links.contains_key(&page.id) && !used_pages.contains(&page.id))
        .filter(|page| snapshot.looked_up_pages.contains(&page.id))
        .min_by(|a, b| (a.created_time, &a.id).cmp(&(b.created_time, &b.id)))
        .map(|page| (intent, page))
}

/// Links an unlinked row to a page: the row first (conditional), then the page's base.
fn link(row: &Row, page: &Page, sum: &str, write_page_base: bool) -> Op {
    Op {
        kind: OpKind::Link,
        row_id: Some(row.id.clone()),
        page_id: Some(page.id.clone()),
        order: Order::SupabaseFirst,
        supabase: Some(SupabaseWrite::Update(RowWrite {
            id: row.id.clone(),
            expected_updated_at: Some(row.updated_at),
            notion_page_id: Some(page.id.clone()),
            checksum: Some(sum.to_string()),
            notion_synced: Some(true),
            ..RowWrite::default()
        })),
        notion: write_page_base.then(|| NotionWrite::Update {
            page_id: page.id.clone(),
            write: PageWrite { content: None, base: Some(sum.to_string()), in_trash: None, ..PageWrite::default() },
        }),
        conflict: None,
    }
}

fn plan_import(page: &Page, sum: &str, plan: &mut Plan) {
    let content = match pair::page_content(page) {
        Ok(content) => content,
        Err(error) => return plan.issues.push(pair::issue(Side::Notion, &page.id, &error)),
    };
    plan.ops.push(Op {
        kind: OpKind::ImportPage,
        row_id: None,
        page_id: Some(page.id.clone()),
        order: Order::SupabaseFirst,
        supabase: Some(SupabaseWrite::Insert(NewRow {
            content,
            notion_page_id: page.id.clone(),
            checksum: sum.to_string(),
        })),
        notion: Some(NotionWrite::Update {
            page_id: page.id.clone(),
            write: PageWrite { content: None, base: Some(sum.to_string()), in_trash: None, ..PageWrite::default() },
        }),
        conflict: None,
    });
}

/// A row with no page (and none created for it earlier): create the page.
fn plan_create(row: &Row, sum: &str, plan: &mut Plan) {
    let content = match pair::row_content(row) {
        Ok(content) => content,
        Err(error) => return plan.issues.push(pair::issue(Side::Supabase, &row.id, &error)),
    };
    if let Err(error) = content.validate_for_notion() {
        return plan.issues.push(pair::issue(Side::Supabase, &row.id, &error));
    }
    plan.ops.push(create_op(row, content, sum));
}

fn create_op(row: &Row, content: Content, sum: &str) -> Op {
    Op {
        kind: OpKind::CreatePage,
        row_id: Some(row.id.clone()),
        page_id: None,
        order: Order::NotionFirst,
        notion: Some(NotionWrite::Create { content, base: sum.to_string() }),
        supabase: Some(SupabaseWrite::Update(RowWrite {
            id: row.id.clone(),
            expected_updated_at: Some(row.updated_at),
            checksum: Some(sum.to_string()),
            notion_synced: Some(true),
            ..RowWrite::default()
        })),
        conflict: None,
    }
}

/// Pages with several `Type` values sync their first one; say so.
fn several_types_warnings(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .pages
        .values()
        .filter(|page| page.types.len() > 1)
        .map(|page| {
            format!(
                "page {} has {} Type values; only the first ({}) is synced",
                page.id,
                page.types.len(),
                page.types.first().map(String::as_str).unwrap_or("")
            )
        })
        .collect()
}

/// Pushes that change a page's Date and cannot keep all of it (a time, a time zone, an end that
/// would come before the new start) say so, naming the page: nothing is narrowed silently.
fn narrowed_date_warnings(snapshot: &Snapshot, ops: &[Op]) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match &op.notion {
            Some(NotionWrite::Update { page_id, write }) if write.content.is_some() => {
                let before = snapshot.pages.get(page_id)?.date_value.as_ref()?;
                write.date.warning(page_id, before)
            }
            _ => None,
        })
        .collect()
}
