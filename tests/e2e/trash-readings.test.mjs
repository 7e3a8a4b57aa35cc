// End-to-end: whether `in_trash: true` in a query body lists trashed pages is disputed (the SDK's
// reference says it does; notion-sdk-js #524 / notion-sdk-py #272 say trashed pages cannot be
// queried; reports say 2026-03-11 rejects the parameter). Under each reading of the emulator,
// runs do not fail, a live page is never taken for a trashed one, and a trashed page reaches
// Supabase by the next run of the same Worker: where Notion refuses the parameter, the presence
// sweep (core::trash_sweep) reads the live pages' ids, checks the linked rows against them and
// reads by id only the page that left the live results.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { useWorld } from './world.mjs';

const QUERY = 'POST /v1/data_sources/{data_source_id}/query';
const GET_PAGE = 'GET /v1/pages/{page_id}';

describe('the readings of in_trash in a query body', { timeout: 600_000 }, () => {
  const world = useWorld();

  test('in_trash lists only trashed pages (the default): the trashed-pages query finds the page, no sweep request', async () => {
    const [trashed, kept] = await world.insertRows([
      { decision: 'Trashed, listed', type: 'Ops', date: '2025-04-03' },
      { decision: 'Kept, listed', type: 'Ops', date: '2025-04-04' },
    ]);
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    const page = (await world.row(trashed)).notion_page_id;
    await world.notion.trash(page);
    await world.notion.resetCounters();
    const next = await world.syncNow(worker);
    assert.equal(next.body.outcome.status, 'ok', next.text);
    const { by_route: routes = {} } = await world.notion.counters();
    // The unsynced pool, the live window and the trashed window: no presence sweep, no read by id.
    assert.equal(routes[QUERY] ?? 0, 3, JSON.stringify(routes));
    assert.equal(routes[GET_PAGE] ?? 0, 0, JSON.stringify(routes));
    assert.ok((await world.row(trashed)).deleted_at, 'the trashed page soft-deleted its row in the next run');
    assert.equal((await world.row(kept)).deleted_at, null);
    await world.assertInSync();
  });

  for (const reading of ['rejected', 'ignored']) {
    test(`in_trash ${reading}: runs stay ok, the query is not sent again, a trashed page soft-deletes its row by the next run`, async () => {
      await world.notion.inTrashReading(reading);
      const [trashed, kept] = await world.insertRows([
        { decision: `Trashed under ${reading}`, type: 'Ops', date: '2025-04-01' },
        { decision: `Kept under ${reading}`, type: 'Ops', date: '2025-04-02' },
      ]);
      const worker = await world.worker();
      const runs = await world.syncUntilQuiet(worker);
      assert.ok(runs.every((run) => run.outcome.status === 'ok'), JSON.stringify(runs));
      const page = (await world.row(trashed)).notion_page_id;
      await world.notion.trash(page);
      await world.notion.resetCounters();
      const next = await world.syncNow(worker);
      assert.equal(next.body.outcome.status, 'ok', next.text);
      const { by_route: routes = {} } = await world.notion.counters();
      // The unsynced pool, the live window and the sweep's ids query; no trashed-pages query.
      assert.equal(routes[QUERY] ?? 0, 3, `pool, live window, presence sweep: ${JSON.stringify(routes)}`);
      assert.equal(routes[GET_PAGE] ?? 0, 1, `only the page that left the live results is read by id: ${JSON.stringify(routes)}`);
      assert.ok((await world.row(trashed)).deleted_at, 'the trashed page soft-deleted its row in the next run');
      assert.equal((await world.row(kept)).deleted_at, null, 'a live page is never taken for a trashed one');
      assert.equal(next.body.counts.rows_deleted, 1, next.text);
      // An idle run: the same three queries (the sweep starts over), nothing read by id.
      await world.notion.resetCounters();
      const idle = await world.syncNow(worker);
      assert.equal(idle.body.outcome.status, 'ok', idle.text);
      const { by_route: idleRoutes = {} } = await world.notion.counters();
      assert.equal(idleRoutes[QUERY] ?? 0, 3, JSON.stringify(idleRoutes));
      assert.equal(idleRoutes[GET_PAGE] ?? 0, 0, JSON.stringify(idleRoutes));
      assert.ok(idle.body.subrequests <= next.body.subrequests, `idle ${idle.body.subrequests}, with the trash ${next.body.subrequests}`);
      // Restored from Notion's trash, the page brings its row back by the next run.
      await world.notion.restore(page);
      const restored = await world.syncNow(worker);
      assert.equal(restored.body.outcome.status, 'ok', restored.text);
      assert.equal((await world.row(trashed)).deleted_at, null, 'the restore reached the row');
      await world.assertInSync();
      assert.equal((await world.health(worker)).status, 'ok');
    });
  }
});
