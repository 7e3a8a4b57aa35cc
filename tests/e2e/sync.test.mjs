// End-to-end: the real Worker (wrangler dev) syncing the sandbox's PostgreSQL (through postrust)
// with the Notion emulator. Every scenario is checked on both sides, directly (psql and the
// emulator's admin API), never through the Worker's own report alone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { checksum, pageContent, normalize, useWorld } from './world.mjs';

describe('sync against the sandbox', { timeout: 600_000 }, () => {
  const world = useWorld();

  test('first sync, rows only: one page per row, a second run writes nothing', async () => {
    const ids = await world.insertRows([
      { decision: 'Adopt   Rust\tfor the worker ', type: ' architecture', date: '2025-11-03' },
      { decision: 'Weekly on-call handover', type: 'ops', date: '2025-11-10' },
      { decision: 'Keep a custom type', type: 'Research', date: '2025-11-17' },
    ]);
    const worker = await world.worker();
    const runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.pages_created, 3, JSON.stringify(runs[0]));
    assert.equal(runs[0].outcome.status, 'ok');
    assert.equal(runs.length, 2, 'the second run is quiet (our own echo costs no write)');
    const { liveRows, livePages } = await world.assertInSync();
    assert.deepEqual(liveRows.map((r) => r.id).sort(), [...ids].sort());
    assert.equal(livePages.length, 3);
    const byRow = new Map(liveRows.map((r) => [r.id, livePages.find((p) => p.id === r.notion_page_id)]));
    assert.deepEqual(pageContent(byRow.get(ids[0])), { decision: 'Adopt Rust for the worker', type: 'Architecture', date: '2025-11-03' });
    assert.deepEqual(byRow.get(ids[1]).types, ['Ops'], 'a known type is written in its option spelling');
    assert.deepEqual(byRow.get(ids[2]).types, ['Research'], 'an unknown type is kept as written');
    const health = await world.health(worker);
    assert.equal(health.status, 'ok', JSON.stringify(health));
    assert.deepEqual(health.errors, []);
  });

  test('first sync, pages only: one row per page', async () => {
    const a = await world.notion.createPage({ decision: 'Security reviews before every release', type: 'Policy', date: '2025-11-05' });
    const b = await world.notion.createPage({ decision: 'Keep meeting notes in Notion', type: 'Other', date: '2025-11-12' });
    const worker = await world.worker();
    const runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.rows_inserted, 2, JSON.stringify(runs[0]));
    const { liveRows, livePages } = await world.assertInSync();
    assert.equal(liveRows.length, 2);
    assert.deepEqual(livePages.map((p) => p.id).sort(), [a.id, b.id].sort(), 'no page was created');
    const row = liveRows.find((r) => r.notion_page_id === a.id);
    assert.deepEqual(normalize(row), { decision: 'Security reviews before every release', type: 'Policy', date: '2025-11-05' });
  });

  test('first sync, both sides: equal content is linked, not duplicated; the rest is created', async () => {
    const [same, rowOnly] = await world.insertRows([
      { decision: 'Use  PostgreSQL 15 ', type: 'OPS', date: '2025-10-01' },
      { decision: 'Only in Supabase', type: 'UX', date: '2025-10-02' },
    ]);
    const twin = await world.notion.createPage({ decision: 'Use PostgreSQL 15', type: 'Ops', date: '2025-10-01' });
    const pageOnly = await world.notion.createPage({ decision: 'Only in Notion', type: 'Policy', date: '2025-10-03' });
    // Same decision and date, different type: not the same content, so not linked.
    const near = await world.notion.createPage({ decision: 'Use PostgreSQL 15', type: 'Architecture', date: '2025-10-01' });
    const worker = await world.worker();
    const runs = await world.syncUntilQuiet(worker);
    const first = runs[0].counts;
    assert.deepEqual([first.links, first.pages_created, first.rows_inserted], [1, 1, 2], JSON.stringify(runs[0]));
    const { liveRows, livePages } = await world.assertInSync();
    assert.equal(liveRows.length, 4);
    assert.equal(livePages.length, 4, 'one new page (for the row only in Supabase), none for the linked pair');
    assert.equal((await world.row(same)).notion_page_id, twin.id, 'linked by content');
    assert.ok(!livePages.some((p) => p.id !== twin.id && p.decision === 'Use PostgreSQL 15' && p.types[0] === 'Ops'));
    assert.ok(liveRows.some((r) => r.notion_page_id === pageOnly.id));
    assert.ok(liveRows.some((r) => r.notion_page_id === near.id));
    assert.ok((await world.row(rowOnly)).notion_page_id);
  });

  test('edits on each side reach the other; a case-only edit is an edit', async () => {
    const [r1, r2, r3] = await world.insertRows([
      { decision: 'Edited in Supabase', type: 'Ops', date: '2025-09-01' },
      { decision: 'Edited in Notion', type: 'Ops', date: '2025-09-02' },
      { decision: 'adopt rust', type: 'Architecture', date: '2025-09-03' },
    ]);
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    const pageOf = async (id) => (await world.row(id)).notion_page_id;
    const [p1, p2, p3] = [await pageOf(r1), await pageOf(r2), await pageOf(r3)];

    await world.updateRow(r1, { decision: 'Edited in Supabase, again', type: 'UX', date: '2025-09-11' });
    await world.notion.editPage(p2, { decision: 'Edited in Notion, again', type: 'Policy', date: '2025-09-12' });
    await world.updateRow(r3, { decision: 'Adopt Rust' }); // case only
    let runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.pages_updated, 2, JSON.stringify(runs[0]));
    assert.equal(runs[0].counts.rows_updated, 1, JSON.stringify(runs[0]));
    assert.equal(runs[0].counts.conflicts, 0);
    await world.assertInSync();
    assert.deepEqual(pageContent(await world.notion.page(p1)), { decision: 'Edited in Supabase, again', type: 'UX', date: '2025-09-11' });
    assert.deepEqual(normalize(await world.row(r2)), { decision: 'Edited in Notion, again', type: 'Policy', date: '2025-09-12' });
    assert.equal((await world.notion.page(p3)).decision, 'Adopt Rust');

    // Case-only edit in Notion, and a date written with a time and an offset (date part as written).
    await world.notion.editPage(p3, { decision: 'ADOPT RUST' });
    await world.notion.editPage(p1, { date: { start: '2025-09-30T23:30:00-05:00' } });
    runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.rows_updated, 2, JSON.stringify(runs[0]));
    assert.equal((await world.row(r3)).decision, 'ADOPT RUST');
    assert.equal((await world.row(r1)).date, '2025-09-30', 'the date part as written, not converted to UTC');
    await world.assertInSync();
  });

  test('a Date range or a time in Notion survives a row edit; a new row date moves the start, keeps the end, warns for a time', async () => {
    const range = await world.notion.createPage({ decision: 'Freeze deploys', type: 'Ops', date: { start: '2025-03-01', end: '2025-03-05' } });
    const timed = await world.notion.createPage({ decision: 'Cut over at night', type: 'Ops', date: { start: '2025-08-07T23:30:00-05:00' } });
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    const rowOf = async (pageId) => (await world.rows()).find((r) => r.notion_page_id === pageId);
    const [rangeRow, timedRow] = [await rowOf(range.id), await rowOf(timed.id)];
    assert.equal(rangeRow.date, '2025-03-01', 'the row gets the start');
    assert.equal(timedRow.date, '2025-08-07', 'the date part as written');

    // Only the decision / type change: the page's Date is not rewritten.
    await world.updateRow(rangeRow.id, { decision: 'Freeze all deploys' });
    await world.updateRow(timedRow.id, { type: 'Architecture' });
    let runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.pages_updated, 2, JSON.stringify(runs[0]));
    assert.deepEqual(runs[0].warnings, [], JSON.stringify(runs[0]));
    let page = await world.notion.page(range.id);
    assert.equal(page.decision, 'Freeze all deploys');
    assert.deepEqual(page.date_value, { start: '2025-03-01', end: '2025-03-05', time_zone: null }, 'the range is kept');
    page = await world.notion.page(timed.id);
    assert.deepEqual(page.types, ['Architecture']);
    assert.deepEqual(page.date_value, { start: '2025-08-07T23:30:00.000-05:00', end: null, time_zone: null }, 'the time is kept');
    await world.assertInSync();

    // The row's date changes: the start moves, the end stays; a time cannot stay, and a warning says so.
    await world.updateRow(rangeRow.id, { date: '2025-03-03' });
    await world.updateRow(timedRow.id, { date: '2025-08-10' });
    const pushed = await world.syncNow(worker);
    assert.equal(pushed.status, 200, pushed.text);
    assert.equal(pushed.body.counts.pages_updated, 2, pushed.text);
    assert.deepEqual((await world.notion.page(range.id)).date_value, { start: '2025-03-03', end: '2025-03-05', time_zone: null });
    assert.deepEqual((await world.notion.page(timed.id)).date_value, { start: '2025-08-10', end: null, time_zone: null });
    const { warnings } = pushed.body;
    assert.ok(warnings.some((w) => w.includes(timed.id) && w.includes('the time of its start')), JSON.stringify(warnings));
    assert.ok(!warnings.some((w) => w.includes(range.id)), 'nothing of the range was lost');
    assert.deepEqual((await world.health(worker)).last_run.warnings, warnings, '/health shows the warning');
    runs = await world.syncUntilQuiet(worker);
    assert.equal(runs.length, 1, 'then quiet');
    await world.assertInSync();
  });

  test('concurrent edit of the same record: the later side wins, the loser is kept in /conflicts', async () => {
    const [notionWins, supabaseWins] = await world.insertRows([
      { decision: 'Conflict A', type: 'Ops', date: '2025-08-01' },
      { decision: 'Conflict B', type: 'Ops', date: '2025-08-02' },
    ]);
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    const pageA = (await world.row(notionWins)).notion_page_id;
    const pageB = (await world.row(supabaseWins)).notion_page_id;

    // A: Supabase first, Notion two minutes later (emulator clock ahead) → Notion wins.
    // B: Notion two minutes earlier (emulator clock behind), then Supabase → Supabase wins.
    await world.notion.clock({ offset_seconds: -120 });
    await world.notion.editPage(pageB, { decision: 'Conflict B from Notion' });
    await world.updateRow(notionWins, { decision: 'Conflict A from Supabase' });
    await world.updateRow(supabaseWins, { decision: 'Conflict B from Supabase', type: 'UX' });
    await world.notion.clock({ offset_seconds: 120 });
    await world.notion.editPage(pageA, { decision: 'Conflict A from Notion', date: '2025-08-11' });

    const runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.conflicts, 2, JSON.stringify(runs[0]));
    await world.assertInSync();
    assert.deepEqual(normalize(await world.row(notionWins)), { decision: 'Conflict A from Notion', type: 'Ops', date: '2025-08-11' });
    assert.deepEqual(pageContent(await world.notion.page(pageB)), { decision: 'Conflict B from Supabase', type: 'UX', date: '2025-08-02' });

    const { count, conflicts } = await world.conflicts(worker);
    assert.equal(count, 2, JSON.stringify(conflicts));
    const a = conflicts.find((c) => c.row_id === notionWins);
    const b = conflicts.find((c) => c.row_id === supabaseWins);
    assert.equal(a.page_id, pageA);
    assert.equal(a.winner, 'notion');
    assert.deepEqual(a.lost, { decision: 'Conflict A from Supabase', type: 'Ops', date: '2025-08-01' });
    assert.deepEqual(a.kept, { decision: 'Conflict A from Notion', type: 'Ops', date: '2025-08-11' });
    assert.equal(b.winner, 'supabase');
    assert.deepEqual(b.lost, { decision: 'Conflict B from Notion', type: 'Ops', date: '2025-08-02' });
    assert.equal((await world.health(worker)).totals.conflicts, 2);
  });

  test('trash and restore in Notion ⇄ deleted_at, both ways', async () => {
    const [fromNotion, fromSupabase, keep] = await world.insertRows([
      { decision: 'Trashed in Notion', type: 'Ops', date: '2025-07-01' },
      { decision: 'Deleted in Supabase', type: 'Ops', date: '2025-07-02' },
      { decision: 'Untouched', type: 'Ops', date: '2025-07-03' },
    ]);
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    const pageN = (await world.row(fromNotion)).notion_page_id;
    const pageS = (await world.row(fromSupabase)).notion_page_id;

    await world.notion.trash(pageN);
    await world.softDelete(fromSupabase);
    let runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.rows_deleted, 1, JSON.stringify(runs[0]));
    assert.equal(runs[0].counts.pages_trashed, 1, JSON.stringify(runs[0]));
    assert.notEqual((await world.row(fromNotion)).deleted_at, null, 'trash in Notion sets deleted_at');
    assert.equal((await world.notion.page(pageS)).in_trash, true, 'deleted_at moves the page to the trash');
    assert.equal((await world.row(keep)).deleted_at, null);
    let state = await world.assertInSync();
    assert.equal(state.liveRows.length, 1);
    assert.equal(state.rows.length, 3, 'soft delete only: no row is removed');
    assert.equal(state.pages.length, 3, 'no page is removed');

    await world.notion.restore(pageN);
    await world.restoreRow(fromSupabase);
    runs = await world.syncUntilQuiet(worker);
    assert.equal(runs[0].counts.rows_restored, 1, JSON.stringify(runs[0]));
    assert.equal(runs[0].counts.pages_restored, 1, JSON.stringify(runs[0]));
    assert.equal((await world.row(fromNotion)).deleted_at, null, 'restore in Notion clears deleted_at');
    assert.equal((await world.notion.page(pageS)).in_trash, false, 'clearing deleted_at restores the page');
    state = await world.assertInSync();
    assert.equal(state.liveRows.length, 3);
    assert.equal(state.livePages.length, 3);
  });

  test('a 5,000-character decision goes to Notion in several segments and comes back equal', async () => {
    // Words, punctuation and astral characters (surrogate pairs) spread over the segment borders.
    const word = (i) => `word${i}${i % 7 === 0 ? ' 🚀' : ''}${i % 11 === 0 ? ' ünïcödé,' : ''}`;
    let long = '';
    for (let i = 0; long.length < 5000; i++) long += (long ? ' ' : '') + word(i);
    long = long.slice(0, 5000).trimEnd();
    const id = await world.insertRow({ decision: long, type: 'Other', date: '2025-06-01' });
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    const pageId = (await world.row(id)).notion_page_id;
    const page = await world.notion.page(pageId);
    assert.ok(page.segments >= 3, `Notion got ${page.segments} rich-text segments`);
    assert.equal(page.decision, long, 'the segments concatenate to the decision');
    assert.equal(page.checksum, checksum({ decision: long, type: 'Other', date: '2025-06-01' }));

    // Back from Notion: an edit at the end of the long text, and a long page created in Notion.
    const edited = `${long.slice(0, -10)} EDITED in Notion`;
    await world.notion.editPage(pageId, { decision: edited });
    const longer = `${'Notion side '.repeat(500)}end`.trim();
    const created = await world.notion.createPage({ decision: longer, type: 'Ops', date: '2025-06-02' });
    assert.ok(created.segments >= 3);
    await world.syncUntilQuiet(worker);
    assert.equal((await world.row(id)).decision, edited);
    const imported = (await world.rows()).find((r) => r.notion_page_id === created.id);
    assert.equal(imported.decision, longer);
    await world.assertInSync();
  });

  test('a comma in Type is a per-record error in /health (id and field); the other records sync', async () => {
    const [bad, good] = await world.insertRows([
      { decision: 'Two types at once', type: 'Ops, UX', date: '2025-05-01' },
      { decision: 'A fine record', type: 'Ops', date: '2025-05-02' },
    ]);
    await world.notion.createPage({ decision: 'A fine page', type: 'Policy', date: '2025-05-03' });
    const worker = await world.worker();
    const first = await world.syncNow(worker);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.counts.pages_created, 1, first.text);
    assert.equal(first.body.counts.rows_inserted, 1, first.text);
    const health = await world.health(worker);
    assert.equal(health.status, 'attention', JSON.stringify(health));
    const issue = health.errors.find((e) => e.id === bad);
    assert.ok(issue, JSON.stringify(health.errors));
    assert.equal(issue.side, 'supabase');
    assert.equal(issue.field, 'type');
    assert.match(issue.reason, /comma/);
    assert.ok(health.fix.some((line) => line.includes(bad)), 'the fix list names the record');
    assert.ok(!JSON.stringify(health).includes('Two types at once'), 'no content in /health');

    // The other records are in sync; the bad one has no page.
    const rows = await world.rows();
    assert.equal(rows.find((r) => r.id === bad).notion_page_id, null);
    assert.ok(rows.find((r) => r.id === good).notion_page_id);
    const pages = (await world.notion.pages()).length;
    assert.equal(pages, 2);

    // Fixed by the user → synced, error gone.
    await world.updateRow(bad, { type: 'UX' });
    await world.syncUntilQuiet(worker);
    await world.assertInSync();
    const healed = await world.health(worker);
    assert.deepEqual(healed.errors, []);
    assert.equal(healed.status, 'ok', JSON.stringify(healed));
  });

  test('a row whose notion_page_id is not a Notion id is a per-record error; the run is ok and the rest syncs', async () => {
    // The issue's exact repro.
    await world.sql("insert into decision_vault (decision, type, date, notion_page_id) values ('x','Ops','2025-01-15','not-a-page-id')");
    const bad = (await world.query("select id from decision_vault where notion_page_id = 'not-a-page-id'"))[0].id;
    const [good] = await world.insertRows([{ decision: 'A fine record', type: 'UX', date: '2025-01-16' }]);
    const page = await world.notion.createPage({ decision: 'A fine page', type: 'Policy', date: '2025-01-17' });
    const worker = await world.worker();
    const res = await world.syncNow(worker);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.outcome.status, 'ok', res.text);
    const issue = res.body.errors.find((e) => e.id === bad);
    assert.ok(issue, res.text);
    assert.equal(issue.side, 'supabase');
    assert.equal(issue.field, 'notion_page_id');
    assert.match(issue.reason, /not a Notion page id/);
    assert.ok((await world.row(good)).notion_page_id, 'the other row got its page');
    assert.ok((await world.rows()).some((r) => r.notion_page_id === page.id), 'the page got its row');
    assert.equal((await world.notion.pages()).length, 2, 'no page for the bad row');
    const health = await world.health(worker);
    assert.equal(health.status, 'attention', JSON.stringify(health));
    assert.equal(health.last_success, health.last_run.finished_at);
    assert.ok(health.errors.some((e) => e.id === bad && e.field === 'notion_page_id'), JSON.stringify(health.errors));
    // The fix the message gives: null creates a page.
    await world.sql(`update decision_vault set notion_page_id = null where id = '${bad}'`);
    await world.syncUntilQuiet(worker);
    await world.assertInSync();
    assert.deepEqual((await world.health(worker)).errors, []);
  });

  test('a record Notion rejects (a 150-character Type) is not sent again until it changes', async () => {
    const [bad] = await world.insertRows([
      { decision: 'Type too long for Notion', type: 'T'.repeat(150), date: '2025-05-01' },
      { decision: 'A fine record', type: 'Ops', date: '2025-05-02' },
    ]);
    const worker = await world.worker();
    const first = await world.syncNow(worker);
    assert.equal(first.status, 200, first.text);
    const issue = first.body.errors.find((e) => e.id === bad);
    // Named by Notion's property (`Type`).
    assert.ok(issue && issue.field?.toLowerCase() === 'type', first.text);
    assert.match(issue.reason, /100/);
    await world.notion.resetCounters();
    const again = await world.syncNow(worker);
    assert.equal(again.body.outcome.status, 'ok', again.text);
    assert.equal(again.body.pending, 0, again.text);
    assert.ok(again.body.errors.some((e) => e.id === bad), 'still reported');
    assert.equal(await world.notion.writeCount(), 0, 'the unchanged record was not sent again');
    // Fixed → synced at the next run, error gone.
    await world.updateRow(bad, { type: 'Ops' });
    const fixed = await world.syncNow(worker);
    assert.equal(fixed.body.counts.pages_created, 1, fixed.text);
    await world.syncUntilQuiet(worker);
    await world.assertInSync();
    assert.deepEqual((await world.health(worker)).errors, []);
  });

  test('the cron trigger (/__scheduled) performs a sync', async () => {
    await world.insertRows([{ decision: 'Synced by cron', type: 'Ops', date: '2025-04-01' }]);
    await world.notion.createPage({ decision: 'Imported by cron', type: 'UX', date: '2025-04-02' });
    const worker = await world.worker();
    await worker.fireCron();
    const health = await world.health(worker);
    assert.equal(health.last_run.trigger, 'cron */15 * * * *');
    assert.equal(health.last_run.outcome.status, 'ok', JSON.stringify(health.last_run));
    assert.equal(health.last_run.counts.pages_created, 1);
    assert.equal(health.last_run.counts.rows_inserted, 1);
    assert.equal(health.last_success, health.last_run.finished_at);
    const { liveRows } = await world.assertInSync();
    assert.equal(liveRows.length, 2);
    await worker.waitForOutput(/decision-sync run \S+ \(cron \*\/15 \* \* \* \*\): \{"status":"ok"\}/);
  });

  test('/dry-run returns the plan and writes nothing: Notion, the table, the sync state', async () => {
    const [rowId] = await world.insertRows([{ decision: 'Planned, not created', type: 'Ops', date: '2025-03-01' }]);
    const page = await world.notion.createPage({ decision: 'Planned, not imported', type: 'UX', date: '2025-03-02' });
    const worker = await world.worker();
    // A real run first, so that the state has a last_run to compare with; then new work.
    await world.syncUntilQuiet(worker);
    const linked = (await world.row(rowId)).notion_page_id;
    await world.updateRow(rowId, { decision: 'Planned push' });
    const [fresh] = await world.insertRows([{ decision: 'Planned create', type: 'Policy', date: '2025-03-03' }]);
    const newPage = await world.notion.createPage({ decision: 'Planned import', type: 'Other', date: '2025-03-04' });
    await world.notion.trash(page.id);

    const healthBefore = await world.health(worker);
    const tableBefore = await world.tableFingerprint();
    const pagesBefore = JSON.stringify(await world.notion.pages());
    await world.notion.resetCounters();

    for (const method of ['POST', 'GET']) {
      const res = await world.dryRun(worker, method);
      assert.equal(res.status, 200, res.text);
      const { summary, plan } = res.body;
      assert.equal(summary.dry_run, true);
      const kinds = plan.ops.map((op) => op.kind).sort();
      assert.deepEqual(kinds, ['create_page', 'delete_row', 'import_page', 'push'], res.text);
      assert.ok(plan.ops.some((op) => op.kind === 'create_page' && op.row_id === fresh));
      assert.ok(plan.ops.some((op) => op.kind === 'import_page' && op.page_id === newPage.id));
      assert.ok(plan.ops.some((op) => op.kind === 'push' && op.row_id === rowId && op.page_id === linked));
      assert.equal(summary.counts.pages_created, 1);
      assert.equal(summary.counts.rows_inserted, 1);
    }

    const counters = await world.notion.counters();
    assert.equal(counters.by_route['POST /v1/pages'] ?? 0, 0, JSON.stringify(counters));
    assert.equal(counters.by_route['PATCH /v1/pages/{page_id}'] ?? 0, 0, JSON.stringify(counters));
    assert.equal(await world.tableFingerprint(), tableBefore, 'the table is unchanged');
    assert.equal(JSON.stringify(await world.notion.pages()), pagesBefore, 'Notion is unchanged');
    const healthAfter = await world.health(worker);
    assert.deepEqual(healthAfter.last_run, healthBefore.last_run, 'the sync state (KV) is unchanged');
    assert.deepEqual(healthAfter.totals, healthBefore.totals);

    // The plan is what a real run then does.
    const runs = await world.syncUntilQuiet(worker);
    const c = runs[0].counts;
    assert.deepEqual([c.pages_created, c.rows_inserted, c.pages_updated, c.rows_deleted], [1, 1, 1, 1], JSON.stringify(runs[0]));
    await world.assertInSync();
  });

  test('no ping-pong: after an edit, exactly one write per side, then quiet', async () => {
    const [id] = await world.insertRows([{ decision: 'Echo test', type: 'Ops', date: '2025-02-01' }]);
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    await world.updateRow(id, { decision: 'Echo test 2' });
    await world.updateRow(id, { decision: 'Echo test 3', deleted_at: null });
    await world.notion.resetCounters();
    const runs = await world.syncUntilQuiet(worker);
    assert.equal(runs.length, 2, JSON.stringify(runs));
    assert.equal(await world.notion.writeCount(), 1, 'one PATCH of the page, no echo back');
    const row = await world.row(id);
    assert.equal(row.decision, 'Echo test 3');
    await world.assertInSync();
  });

  // About 8 minutes (1,050 page creates at 45 subrequests a run): opt-in with E2E_LARGE=1.
  const large = process.env.E2E_LARGE === '1' ? {} : { skip: 'set E2E_LARGE=1 (about 8 minutes)' };
  test('a first sync larger than one run on both sides finishes on the free budget, each pair linked once', large, async () => {
    // 1,050 unlinked rows: more than one request of 1,000 (PostgREST's exact count says more
    // follow), so pages are imported from the digest of a scan that spans runs; 60 pages, 10 of
    // them equal to a row.
    const rows = [];
    for (let i = 0; i < 1050; i++) {
      rows.push({ decision: i % 105 === 7 ? `Pair ${(i - 7) / 105}` : `Row ${i}`, type: 'Ops', date: '2025-09-01' });
    }
    await world.insertRows(rows);
    for (let i = 0; i < 60; i++) {
      const decision = i % 6 === 0 ? `Pair ${i / 6}` : `Page ${i}`;
      await world.notion.createPage({ decision, type: 'Ops', date: '2025-09-01' });
    }
    const worker = await world.worker({ SYNC_SUBREQUEST_BUDGET: '45' });
    const runs = await world.syncUntilQuiet(worker, { max: 150 });
    assert.ok(runs.every((run) => run.subrequests <= 45), 'every run within the budget');
    const { liveRows, livePages } = await world.assertInSync();
    assert.equal(liveRows.length, 1100, 'no row inserted twice');
    assert.equal(livePages.length, 1100, 'no page created twice');
    for (let pair = 0; pair < 10; pair++) {
      assert.equal(livePages.filter((page) => page.decision === `Pair ${pair}`).length, 1, `pair ${pair}: one page`);
      assert.equal(liveRows.filter((row) => row.decision === `Pair ${pair}`).length, 1, `pair ${pair}: one row`);
    }
    const total = runs.reduce((sum, run) => sum + run.subrequests, 0);
    console.log(`1,050 rows + 60 pages (10 pairs), budget 45: ${runs.length} runs, ${total} subrequests`);
  });
});
