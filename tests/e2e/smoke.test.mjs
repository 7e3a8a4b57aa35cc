// Smoke test of the skeleton in real workerd (wrangler dev --local): /health, the cron handler's
// record in KV, the 404 answer, and a clean stop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DUMMY_CONFIG, groupAlive, startWorker } from './harness.mjs';

const REQUIRED = ['SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY', 'NOTION_API_KEY', 'NOTION_DATABASE_ID', 'SYNC_ADMIN_TOKEN'];

describe('unconfigured worker', () => {
  let worker;
  // One setting given, four missing.
  const vars = { SUPABASE_URL: 'http://127.0.0.1:9' };
  before(async () => {
    worker = await startWorker({ vars });
  });
  after(async () => {
    await worker?.stop();
  });

  test('GET /health before any run: never_run, missing settings named', async () => {
    const { status, headers, body } = await worker.json('/health');
    assert.equal(status, 200);
    assert.match(headers.get('content-type'), /application\/json/);
    assert.equal(body.status, 'never_run');
    assert.equal(body.last_run, null);
    assert.equal(body.last_success, null);
    assert.deepEqual(body.config.missing, REQUIRED.filter((n) => !(n in vars)));
    assert.equal(body.config.complete, false);
  });

  test('cron run is recorded in KV as not_configured and shown by /health', async () => {
    await worker.fireCron();
    const { status, body } = await worker.json('/health');
    assert.equal(status, 200);
    assert.equal(body.status, 'not_configured');
    const run = body.last_run;
    assert.ok(run, 'last_run is set');
    assert.equal(run.outcome, 'not_configured');
    assert.equal(run.trigger, 'cron */15 * * * *');
    assert.deepEqual(run.missing, REQUIRED.filter((n) => !(n in vars)));
    for (const name of run.missing) assert.match(run.message, new RegExp(name));
    assert.ok(!Number.isNaN(Date.parse(run.started_at)) && !Number.isNaN(Date.parse(run.finished_at)));
    assert.ok(Date.parse(run.finished_at) >= Date.parse(run.started_at));
    assert.equal(body.last_success, null, 'a not_configured run is no success');
    await worker.waitForOutput(/decision-sync run .*not_configured/);
  });

  test('the recorded run survives a restart (it is in persisted KV)', async () => {
    const before = (await worker.json('/health')).body.last_run;
    worker = await worker.restart();
    const { body } = await worker.json('/health');
    assert.deepEqual(body.last_run, before);
  });

  test('unknown route: 404 JSON', async () => {
    const { status, headers, body } = await worker.json('/no/such/route');
    assert.equal(status, 404);
    assert.match(headers.get('content-type'), /application\/json/);
    assert.equal(typeof body.error, 'string');
    assert.match(body.error, /not found/);
  });

  test('wrong method on a known route: 405 JSON with Allow', async () => {
    const { status, headers, body } = await worker.json('/health', { method: 'DELETE' });
    assert.equal(status, 405);
    assert.equal(headers.get('allow'), 'GET');
    assert.equal(typeof body.error, 'string');
  });

  test('no secret value appears in /health', async () => {
    const { text } = await worker.json('/health');
    for (const value of Object.values(vars)) assert.ok(!text.includes(value), 'value leaked');
  });

  test('stop() ends wrangler and every workerd it started', async () => {
    const pid = worker.pid;
    await worker.stop();
    assert.equal(groupAlive(pid), false, 'process group still alive');
    worker = null;
  });
});

describe('configured worker', () => {
  let worker;
  before(async () => {
    worker = await startWorker({ vars: DUMMY_CONFIG });
  });
  after(async () => {
    await worker?.stop();
  });

  test('/health reports nothing missing, and never leaks a value', async () => {
    const { body, text } = await worker.json('/health');
    assert.equal(body.status, 'never_run');
    assert.deepEqual(body.config.missing, []);
    assert.equal(body.config.complete, true);
    for (const value of Object.values(DUMMY_CONFIG)) assert.ok(!text.includes(value), 'value leaked');
  });

  test('cron run takes and releases the lease, records ok and last_success', async () => {
    await worker.fireCron();
    const first = (await worker.json('/health')).body;
    assert.equal(first.status, 'ok', JSON.stringify(first));
    assert.equal(first.last_run.outcome, 'ok');
    assert.deepEqual(first.last_run.missing, []);
    assert.equal(first.last_success, first.last_run.finished_at);

    // The lease was released: a second run is not skipped.
    await worker.fireCron();
    const second = (await worker.json('/health')).body;
    assert.equal(second.last_run.outcome, 'ok', JSON.stringify(second));
    assert.notEqual(second.last_run.run_id, first.last_run.run_id);
  });
});
