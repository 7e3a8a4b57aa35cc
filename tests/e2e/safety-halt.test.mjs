// End-to-end: the mass-delete safety halt (SYNC_MASS_DELETE_SHARE, default 50 %, at least 10
// records) in the real Worker against the sandbox. Both sides are checked directly (psql and the
// emulator's admin API), not only through the Worker's report.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { pageView, useWorld } from './world.mjs';

describe('the mass-delete safety halt', { timeout: 600_000 }, () => {
  const world = useWorld();

  const trashedPages = async () => (await world.notion.pages()).map(pageView).filter((page) => page.in_trash);

  test('deleted_at = now() on every row halts: no page trashed, /health says so; allow-mass-delete=1 trashes them', async () => {
    const ids = await world.insertRows(
      Array.from({ length: 12 }, (_, i) => ({ decision: `Mass delete ${i}`, type: 'Ops', date: '2025-06-01' })),
    );
    const worker = await world.worker();
    await world.syncUntilQuiet(worker);
    assert.equal((await world.assertInSync()).livePages.length, 12);

    // The mistake: an update without a where.
    await world.sql('update public.decision_vault set deleted_at = now()');
    const halted = await world.syncNow(worker);
    assert.equal(halted.status, 200, halted.text);
    const halt = halted.body.mass_delete_halt;
    assert.ok(halt, `the report names the halt: ${halted.text}`);
    assert.deepEqual([halt.deletes, halt.linked, halt.share_percent, halt.pages_to_trash, halt.rows_to_delete], [12, 12, 50, 12, 0], halted.text);
    assert.ok(halt.sample_rows.length > 0 && halt.sample_rows.every((id) => ids.includes(id)), halted.text);
    assert.equal(halted.body.counts.pages_trashed, 0, halted.text);
    assert.deepEqual(await trashedPages(), [], 'a halted run trashes no page');

    const health = await world.health(worker);
    assert.equal(health.status, 'halted', JSON.stringify(health));
    assert.equal(health.mass_delete_halt.deletes, 12);
    const line = health.fix.find((text) => text.includes('allow-mass-delete=1'));
    assert.ok(line && line.includes('restore them') && line.includes(halt.sample_rows[0]), JSON.stringify(health.fix));
    const dashboard = await world.call(worker, '/');
    assert.ok(dashboard.text.includes('data-status="halted"') && dashboard.text.includes('id="mass-delete"'), dashboard.text.slice(0, 3000));

    // The next run still holds, and the allow needs the admin token.
    const again = await world.syncNow(worker);
    assert.ok(again.body.mass_delete_halt, again.text);
    const anonymous = await world.call(worker, '/sync-now?allow-mass-delete=1', { method: 'POST' });
    assert.equal(anonymous.status, 401, anonymous.text);
    assert.deepEqual(await trashedPages(), []);

    const dry = await world.call(worker, '/dry-run', { method: 'POST', headers: world.auth() });
    assert.equal(dry.body.plan.held.length, 12, dry.text);

    const allowed = await world.call(worker, '/sync-now?allow-mass-delete=1', { method: 'POST', headers: world.auth() });
    assert.equal(allowed.status, 200, allowed.text);
    assert.equal(allowed.body.mass_delete_halt, null, allowed.text);
    await world.syncUntilQuiet(worker);
    assert.equal((await trashedPages()).length, 12, 'every page went to the trash');
    const state = await world.assertInSync();
    assert.equal(state.liveRows.length, 0);
    assert.equal(state.rows.length, 12, 'soft delete only');
    const after = await world.health(worker);
    assert.equal(after.status, 'ok', JSON.stringify(after));
    assert.equal(after.mass_delete_halt, null);
  });
});
