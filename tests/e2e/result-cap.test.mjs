// End-to-end: Notion's query result cap. A data-source query returns at most 10,000 results, then
// `has_more: false` with `request_status: {"type": "incomplete", "incomplete_reason":
// "query_result_limit_reached"}`. The emulator's cap is set small here (30) so that a window of
// more pages than the cap stays quick; the Worker must read every page of it, exactly once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { useWorld } from './world.mjs';

const CAP = 30;

describe("Notion's query result cap (10,000; 30 here)", { timeout: 600_000 }, () => {
  const world = useWorld();

  /** 90 pages created over 6 minutes (15 a minute), imported; the Worker that imported them. */
  async function importedPages() {
    const pages = [];
    for (let i = 0; i < 90; i++) {
      if (i > 0 && i % 15 === 0) await world.notion.clock({ advance_seconds: 60 });
      pages.push(await world.notion.createPage({ decision: `Capped ${i}`, type: 'Ops', date: '2025-05-01' }));
    }
    const worker = await world.worker();
    const imported = await world.syncUntilQuiet(worker, { max: 12 });
    assert.equal(imported.reduce((sum, run) => sum + run.counts.rows_inserted, 0), 90, JSON.stringify(imported.at(-1)));
    assert.equal((await world.assertInSync()).liveRows.length, 90);
    return { pages, worker };
  }

  test('a window of more pages than the cap is read in full: every page imported once, every later edit pulled once', async () => {
    await world.notion.queryResultLimit(CAP);
    // The import's own write-backs put the 90 pages in one or two last_edited_time minutes.
    const { pages, worker } = await importedPages();

    // A bulk edit in Notion: all 90 pages in the same minute, three times the cap.
    await world.notion.clock({ advance_seconds: 180 });
    for (const [i, page] of pages.entries()) {
      await world.notion.editPage(page.id, { decision: `Capped ${i} edited` });
    }
    const runs = await world.syncUntilQuiet(worker, { max: 12 });
    const pulled = runs.reduce((sum, run) => sum + run.counts.rows_updated, 0);
    assert.equal(pulled, 90, `each edit is pulled exactly once: ${JSON.stringify(runs.map((run) => run.counts))}`);
    const { liveRows } = await world.assertInSync();
    assert.equal(liveRows.length, 90);
    const decisions = new Set(liveRows.map((row) => row.decision));
    for (let i = 0; i < 90; i++) assert.ok(decisions.has(`Capped ${i} edited`), `row of page ${i} has its edit`);
    const health = await world.health(worker);
    assert.equal(health.status, 'ok', JSON.stringify(health));
  });

  test('more clean pages than the cap in one edited minute hide no edit: the minute is read by created_time windows', async () => {
    await world.notion.queryResultLimit(CAP);
    const { pages, worker } = await importedPages();
    // One bulk change in Notion touches all 90 pages in one minute without changing what the sync
    // reads (they stay in that minute); it changes the decision of the 20 listed last.
    await world.notion.clock({ advance_seconds: 180 });
    for (const [i, page] of pages.entries()) {
      const decision = i >= 70 ? `Capped ${i} edited` : `Capped ${i}`;
      const after = await world.notion.editPage(page.id, { decision });
      assert.notEqual(after.last_edited_time, page.last_edited_time, 'the bulk change touched the page');
    }
    const runs = await world.syncUntilQuiet(worker, { max: 12 });
    const pulled = runs.reduce((sum, run) => sum + run.counts.rows_updated, 0);
    assert.equal(pulled, 20, `each edit is pulled exactly once: ${JSON.stringify(runs.map((run) => run.counts))}`);
    const { liveRows } = await world.assertInSync();
    const decisions = new Set(liveRows.map((row) => row.decision));
    for (let i = 70; i < 90; i++) assert.ok(decisions.has(`Capped ${i} edited`), `row of page ${i} has its edit`);
  });
});
