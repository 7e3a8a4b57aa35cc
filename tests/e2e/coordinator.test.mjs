// The coordinator and the webhooks, end to end in wrangler dev + the sandbox: an edit on either side
// reaches the other with no /sync-now and no cron call; a storm of webhooks costs few requests; a
// lost webhook is caught by the next cron; a forged webhook changes nothing; a backlog drains by
// itself after one /sync-now.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';

import { notionWebhooks } from './harness.mjs';
import { sleep, useWorld } from './world.mjs';

const world = useWorld();
const SUPABASE_SECRET = 'e2e-supabase-webhook-secret-0123456789';

/** Polls `check` (async, truthy when done) every 200 ms for up to `ms`; returns its value. */
async function eventually(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(200);
  }
}

async function requestsSoFar() {
  const { by_route: routes = {} } = await world.notion.counters();
  return Object.values(routes).reduce((a, b) => a + b, 0);
}

/** Waits until the sync's own echoes (its writes' webhooks) have been delivered and run. */
async function quiet(hooks) {
  await hooks.settled();
  await sleep(4_000);
}

/** A Worker with both webhooks turned on, as docs/setting-up-webhooks.md tells an operator to. */
async function webhookWorker(extra = {}) {
  const worker = await world.worker({ SUPABASE_WEBHOOK_SECRET: SUPABASE_SECRET, SYNC_DRAIN: 'on', ...extra });
  const hooks = notionWebhooks(world);
  const { subscription } = await hooks.subscribe({ url: `${worker.url}/webhooks/notion`, aggregation_ms: 300, retry_base_ms: 200 });
  // Notion's first request carries the verification token: the Worker keeps it for the operator.
  const token = await eventually(async () => {
    const res = await world.call(worker, '/webhooks/notion/token', { headers: world.auth() });
    return res.status === 200 && res.body.verification_token;
  }, 10_000, 'the verification token reached the Worker');
  assert.equal(token, subscription.verification_token);
  await world.sql(`select public.decision_vault_enable_webhook('${worker.url}', '${SUPABASE_SECRET}')`);
  return { worker, hooks, token };
}

describe('webhooks and the coordinator', { timeout: 300_000 }, () => {
  test('an edit on either side reaches the other in seconds, with no /sync-now and no cron', async () => {
    const [rowId] = await world.insertRows([{ decision: 'Adopt webhooks', type: 'Ops', date: '2025-05-01' }]);
    const { worker, hooks } = await webhookWorker();
    await world.syncUntilQuiet(worker);
    await quiet(hooks);
    const pageId = (await world.row(rowId)).notion_page_id;
    assert.ok(pageId);
    const runsBefore = (await world.health(worker)).totals.runs;

    // Notion → Supabase.
    const notionEdit = Date.now();
    await world.notion.editPage(pageId, { decision: 'Adopt webhooks (edited in Notion)' });
    await eventually(async () => (await world.row(rowId)).decision === 'Adopt webhooks (edited in Notion)', 20_000, 'the Notion edit reached the row');
    const notionLatency = Date.now() - notionEdit;

    // Supabase → Notion.
    const rowEdit = Date.now();
    await world.updateRow(rowId, { decision: 'Adopt webhooks (edited in Supabase)' });
    await eventually(async () => (await world.notion.page(pageId)).decision === 'Adopt webhooks (edited in Supabase)', 20_000, 'the row edit reached Notion');
    const rowLatency = Date.now() - rowEdit;

    const health = await world.health(worker);
    assert.ok(health.totals.runs > runsBefore, 'runs happened without /sync-now');
    assert.match(health.last_run.trigger, /webhook/, JSON.stringify(health.last_run));
    assert.ok(health.coordinator.webhooks.notion.ready && health.coordinator.webhooks.supabase.ready, JSON.stringify(health.coordinator));
    assert.ok(health.coordinator.webhooks.events_total >= 2);
    await world.assertInSync();
    console.log(`edit latency: Notion → Supabase ${notionLatency} ms, Supabase → Notion ${rowLatency} ms`);
  });

  test('a storm of webhooks for the same pages costs a few runs, not one per event', async () => {
    const ids = await world.insertRows([1, 2, 3].map((i) => ({ decision: `Storm ${i}`, type: 'Ops', date: '2025-05-02' })));
    const { worker, token, hooks } = await webhookWorker();
    await world.syncUntilQuiet(worker);
    await quiet(hooks);
    const pages = await Promise.all(ids.map(async (id) => (await world.row(id)).notion_page_id));
    const runsBefore = (await world.health(worker)).totals.runs;
    const requestsBefore = await requestsSoFar();
    // 300 deliveries (duplicates, out of order) naming the three pages, signed as Notion signs them.
    const deliveries = [];
    for (let i = 0; i < 300; i++) {
      const body = JSON.stringify({
        id: `evt-storm-${i % 120}`, timestamp: new Date(Date.now() - (i % 7) * 1000).toISOString(),
        workspace_id: 'ws', subscription_id: 'sub', integration_id: 'int', type: 'page.properties_updated',
        authors: [{ id: 'u1', type: 'person' }], attempt_number: 1, api_version: '2025-09-03',
        entity: { id: pages[i % 3], type: 'page' }, data: { updated_properties: ['title'] },
      });
      const signature = `sha256=${createHmac('sha256', token).update(body).digest('hex')}`;
      deliveries.push(world.call(worker, '/webhooks/notion', { method: 'POST', headers: { 'content-type': 'application/json', 'x-notion-signature': signature }, body }));
    }
    const answers = await Promise.all(deliveries);
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], answers.find((a) => a.status !== 200)?.text);
    await sleep(6_000);
    const health = await world.health(worker);
    const runs = health.totals.runs - runsBefore;
    const requests = (await requestsSoFar()) - requestsBefore;
    assert.ok(runs >= 1 && runs <= 3, `runs for 300 deliveries: ${runs}`);
    assert.ok(requests <= 30, `Notion requests for 300 deliveries: ${requests}`);
    console.log(`storm: 300 deliveries → ${runs} run(s), ${requests} Notion requests`);
  });

  test('a forged webhook gets 401 and changes nothing', async () => {
    const [rowId] = await world.insertRows([{ decision: 'Not forged', type: 'Ops', date: '2025-05-03' }]);
    const { worker, hooks } = await webhookWorker();
    await world.syncUntilQuiet(worker);
    await quiet(hooks);
    const runsBefore = (await world.health(worker)).totals.runs;
    const pageId = (await world.row(rowId)).notion_page_id;
    const body = JSON.stringify({ id: 'evt-forged', timestamp: new Date().toISOString(), type: 'page.properties_updated', entity: { id: pageId, type: 'page' }, data: {} });
    const wrongKey = `sha256=${createHmac('sha256', 'secret_not_the_token').update(body).digest('hex')}`;
    for (const headers of [{}, { 'x-notion-signature': wrongKey }, { 'x-notion-signature': 'sha256=zz' }]) {
      const res = await world.call(worker, '/webhooks/notion', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      assert.equal(res.status, 401, res.text);
    }
    const change = JSON.stringify({ type: 'UPDATE', table: 'decision_vault', schema: 'public', record: { id: rowId }, old_record: { id: rowId } });
    for (const secret of [undefined, 'wrong-secret-0123456789']) {
      const headers = { 'content-type': 'application/json', ...(secret ? { 'x-sync-webhook-secret': secret } : {}) };
      const res = await world.call(worker, '/webhooks/supabase', { method: 'POST', headers, body: change });
      assert.equal(res.status, 401, res.text);
    }
    await sleep(3_000);
    const health = await world.health(worker);
    assert.equal(health.totals.runs, runsBefore, 'no run was kicked');
    assert.equal(health.coordinator.next_run_at, null);
  });

  test('a lost webhook is caught by the next cron', async () => {
    const [rowId] = await world.insertRows([{ decision: 'Lost webhook', type: 'Ops', date: '2025-05-04' }]);
    const { worker, hooks } = await webhookWorker();
    await world.syncUntilQuiet(worker);
    await quiet(hooks);
    const pageId = (await world.row(rowId)).notion_page_id;
    await hooks.update({ drop_next: 1 });
    await world.notion.editPage(pageId, { decision: 'Lost webhook, caught by cron' });
    await hooks.settled();
    await sleep(4_000);
    assert.equal((await world.row(rowId)).decision, 'Lost webhook', 'no webhook arrived: nothing ran yet');
    await worker.fireCron();
    assert.equal((await world.row(rowId)).decision, 'Lost webhook, caught by cron');
  });

  for (const reading of ['rejected', 'ignored']) {
    test(`in_trash ${reading}: a page trashed in Notion soft-deletes its row in seconds (page.deleted is read by id)`, async () => {
      await world.notion.inTrashReading(reading);
      const [rowId] = await world.insertRows([{ decision: `Trashed in Notion (${reading})`, type: 'Ops', date: '2025-05-06' }]);
      const { worker, hooks } = await webhookWorker();
      await world.syncUntilQuiet(worker);
      await quiet(hooks);
      const pageId = (await world.row(rowId)).notion_page_id;
      await world.notion.trash(pageId);
      // Without the webhook the next run finds it too, by the presence sweep (trash-readings.test.mjs).
      await eventually(async () => (await world.row(rowId)).deleted_at !== null, 20_000, 'the trash reached the row');
      const health = await world.health(worker);
      assert.match(health.last_run.trigger, /notion webhook/, JSON.stringify(health.last_run));
    });
  }

  test('one /sync-now starts a backlog that drains by itself, paced, and /health shows it draining', async () => {
    await world.insertRows(Array.from({ length: 60 }, (_, i) => ({ decision: `Backlog ${i}`, type: 'Ops', date: '2025-05-05' })));
    const worker = await world.worker({ SYNC_DRAIN: 'on', SYNC_SUBREQUEST_BUDGET: '12', NOTION_RATE: '6' });
    const first = await world.syncNow(worker);
    assert.equal(first.body.outcome.status, 'partial', first.text);
    const draining = await world.health(worker);
    assert.ok(draining.coordinator.next_run_at || draining.coordinator.running, JSON.stringify(draining.coordinator));
    assert.ok(draining.coordinator.drain, JSON.stringify(draining.coordinator));
    await eventually(async () => (await world.health(worker)).last_run?.outcome.status === 'ok', 120_000, 'the backlog drained');
    const done = await world.health(worker);
    assert.equal(done.coordinator.drain, null);
    assert.equal(done.coordinator.next_run_at === null || Date.parse(done.coordinator.next_run_at) > Date.now(), true);
    await world.assertInSync();
  });
});
