// Smoke test in real workerd (wrangler dev --local), without the sandbox: /health, the cron
// handler's record in KV (not configured; services unreachable), the 404/405 answers, and a
// clean stop.
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

  test('GET /health before any run: not_configured, missing settings named', async () => {
    const { status, headers, body } = await worker.json('/health');
    assert.equal(status, 200);
    assert.match(headers.get('content-type'), /application\/json/);
    assert.equal(body.status, 'not_configured');
    assert.equal(body.last_run, null);
    assert.equal(body.last_success, null);
    assert.deepEqual(body.config.missing, REQUIRED.filter((n) => !(n in vars)));
    assert.equal(body.config.admin_routes_enabled, false);
    for (const name of body.config.missing) assert.ok(body.fix.some((line) => line.includes(name)), `fix names ${name}`);
  });

  test('cron run is recorded in KV as not_configured and shown by /health', async () => {
    await worker.fireCron();
    const { status, body } = await worker.json('/health');
    assert.equal(status, 200);
    assert.equal(body.status, 'not_configured');
    const run = body.last_run;
    assert.ok(run, 'last_run is set');
    assert.equal(run.outcome.status, 'not_configured');
    assert.equal(run.trigger, 'cron */15 * * * *');
    // The run needs the sync's settings; the admin token only guards the admin routes.
    for (const name of REQUIRED.filter((n) => !(n in vars) && n !== 'SYNC_ADMIN_TOKEN')) {
      assert.match(run.outcome.message, new RegExp(name));
    }
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

describe('configured worker, services unreachable', () => {
  // DUMMY_CONFIG points both services at 127.0.0.1:9 (nothing listens): every run fails, fast
  // (no retries), and says which service it could not reach.
  const vars = { ...DUMMY_CONFIG, SYNC_MAX_RETRIES: '0' };
  const SECRETS = ['SUPABASE_SERVICE_ROLE_KEY', 'NOTION_API_KEY', 'SYNC_ADMIN_TOKEN'];
  let worker;
  before(async () => {
    worker = await startWorker({ vars });
  });
  after(async () => {
    await worker?.stop();
  });

  test('/health reports nothing missing, checks nothing itself, and never leaks a secret', async () => {
    const { body, text } = await worker.json('/health');
    assert.deepEqual(body.config.missing, []);
    assert.equal(body.config.admin_routes_enabled, true);
    assert.equal(body.last_run, null);
    // Served from the saved state only: no run has checked the schema yet.
    assert.equal(body.schema.supabase.status, 'not_checked', JSON.stringify(body.schema));
    assert.equal(body.schema_checked.supabase.at, null);
    assert.equal(body.status, 'never_run', JSON.stringify(body));
    for (const name of SECRETS) assert.ok(!text.includes(vars[name]), `${name} leaked`);
  });

  test('a cron run fails with a message naming Supabase, records it, and releases the lease', async () => {
    await worker.fireCron();
    const first = (await worker.json('/health')).body;
    assert.equal(first.last_run.outcome.status, 'failed', JSON.stringify(first.last_run));
    assert.match(first.last_run.outcome.message, /supabase is unavailable/i);
    assert.equal(first.schema.supabase.status, 'unreachable', 'the run recorded its schema check');
    // Anonymous visitors do not see the internal URL; the admin's live check shows it.
    const anonymous = JSON.stringify(first);
    assert.ok(!/https?:\/\/127\.0\.0\.1/.test(anonymous), anonymous);
    assert.match(first.last_run.outcome.message, /\[URL hidden\]/);
    const checked = await worker.json('/health/check', { method: 'POST', headers: { authorization: `Bearer ${vars.SYNC_ADMIN_TOKEN}` } });
    assert.equal(checked.status, 200, checked.text);
    assert.match(checked.body.last_run.outcome.message, /127\.0\.0\.1:9/, 'the message says what was tried');
    for (const name of SECRETS) assert.ok(!checked.text.includes(vars[name]), `${name} leaked`);
    assert.equal(first.last_run.trigger, 'cron */15 * * * *');
    assert.equal(first.status, 'failing');
    assert.equal(first.last_success, null, 'a failed run is no success');
    assert.ok(first.fix.some((line) => /supabase/i.test(line)), JSON.stringify(first.fix));
    await worker.waitForOutput(/decision-sync run \S+ \(cron [^)]*\): \{"status":"failed"/);

    // The lease was released: a second run is not skipped.
    await worker.fireCron();
    const second = (await worker.json('/health')).body;
    assert.equal(second.last_run.outcome.status, 'failed', JSON.stringify(second.last_run));
    assert.notEqual(second.last_run.run_id, first.last_run.run_id);
    assert.equal(second.totals.runs, 2);
    for (const name of SECRETS) assert.ok(!worker.output().includes(vars[name]), `${name} in the Worker's output`);
  });
});
