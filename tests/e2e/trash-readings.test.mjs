// End-to-end: whether `in_trash: true` in a query body lists trashed pages is disputed (the SDK's
// reference says it does; notion-sdk-js #524 / notion-sdk-py #272 say trashed pages cannot be
// queried; reports say 2026-03-11 rejects the parameter). Under each reading of the emulator,
// runs do not fail, a live page is never taken for a trashed one, and a trashed page reaches
// Supabase (here by the full pass of a fresh Worker, which checks linked pages it did not see).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { useWorld } from './world.mjs';

describe('the readings of in_trash in a query body', { timeout: 600_000 }, () => {
  const world = useWorld();

  for (const reading of ['rejected', 'ignored']) {
    test(`in_trash ${reading}: runs stay ok, the query is not sent again, a trashed page soft-deletes its row by the full pass`, async () => {
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
      const queries = routes['POST /v1/data_sources/{data_source_id}/query'] ?? 0;
      assert.equal(queries, 2, `the unsynced pool and the live window only, no trashed-pages query: ${JSON.stringify(routes)}`);
      assert.equal((await world.row(kept)).deleted_at, null, 'a live page is never taken for a trashed one');
      // A fresh Worker starts with a full pass: the linked page it did not see is read by id.
      const fresh = await world.worker();
      await world.syncUntilQuiet(fresh);
      assert.ok((await world.row(trashed)).deleted_at, 'the trashed page soft-deleted its row');
      assert.equal((await world.row(kept)).deleted_at, null);
      await world.assertInSync();
      assert.equal((await world.health(fresh)).status, 'ok');
    });
  }
});
