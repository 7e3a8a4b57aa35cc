// End-to-end: the token-protected routes (/sync-now, /dry-run, /conflicts), one run at a time,
// and secrets kept out of everything the Worker says, against the real Worker and the sandbox.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';

import { sleep, useWorld } from './world.mjs';

const ADMIN_ROUTES = [
  ['POST', '/sync-now'],
  ['POST', '/dry-run'],
  ['GET', '/dry-run'],
  ['GET', '/conflicts'],
  ['POST', '/health/check'],
];

/**
 * A counting HTTP proxy in front of PostgREST (postrust has no request counter): the Worker is
 * pointed at it, every request it forwards is counted in `count`.
 */
async function countingProxy(target) {
  const base = new URL(target);
  const proxy = { count: 0, requests: [] };
  const server = createServer((req, res) => {
    proxy.count += 1;
    proxy.requests.push(`${req.method} ${req.url}`);
    const upstream = httpRequest(
      { host: base.hostname, port: base.port, method: req.method, path: req.url, headers: { ...req.headers, host: base.host } },
      (answer) => { res.writeHead(answer.statusCode, answer.headers); answer.pipe(res); },
    );
    upstream.on('error', (error) => { res.writeHead(502); res.end(String(error)); });
    req.pipe(upstream);
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  proxy.url = `http://127.0.0.1:${server.address().port}${base.pathname.replace(/\/$/, '')}`;
  proxy.close = () => new Promise((done) => { server.closeAllConnections(); server.close(done); });
  return proxy;
}

describe('admin routes and secrets', { timeout: 300_000 }, () => {
  const world = useWorld();

  test('without the token, or with a wrong one: 401, and nothing runs', async () => {
    await world.insertRows([{ decision: 'Must not sync', type: 'Ops', date: '2025-01-01' }]);
    const worker = await world.worker();
    const wrong = [
      {},
      { authorization: 'Bearer wrong-token' },
      { authorization: `Bearer ${world.token}x` },
      { authorization: `Bearer ${world.token.slice(0, -1)}` },
      { authorization: `Basic ${world.token}` },
      { authorization: world.token },
    ];
    for (const [method, path] of ADMIN_ROUTES) {
      for (const headers of wrong) {
        const res = await world.call(worker, path, { method, headers });
        assert.equal(res.status, 401, `${method} ${path} with ${JSON.stringify(Object.keys(headers))}: ${res.text}`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
        assert.equal(typeof res.body.error, 'string');
      }
    }
    assert.equal(await world.notion.writeCount(), 0);
    assert.equal((await world.notion.counters()).total, 0, 'not even a read reached Notion');
    assert.equal((await world.rows())[0].notion_page_id, null);
    assert.equal((await world.health(worker)).last_run, null, 'no run was recorded');

    // The right token passes on every route, whatever the case of the scheme (RFC 7235).
    for (const [method, path] of ADMIN_ROUTES) {
      const res = await world.call(worker, path, { method, headers: world.auth() });
      assert.equal(res.status, 200, `${method} ${path}: ${res.text}`);
    }
    for (const scheme of ['bearer', 'BEARER']) {
      const res = await world.call(worker, '/conflicts', { headers: { authorization: `${scheme} ${world.token}` } });
      assert.equal(res.status, 200, `${scheme}: ${res.text}`);
    }
  });

  test('anonymous /health and / make no request to Notion or PostgREST; the live check is admin-only, once a minute', async () => {
    await world.insertRows([{ decision: 'Budget kept', type: 'Ops', date: '2025-01-07' }]);
    const proxy = await countingProxy(world.vars.SUPABASE_REST_URL);
    try {
      const worker = await world.worker({ SUPABASE_URL: proxy.url, SUPABASE_REST_URL: proxy.url });
      const requests = async () => ({ notion: (await world.notion.counters()).total, postgrest: proxy.count });
      const anonymousBurst = async () => {
        const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => world.call(worker, i % 2 ? '/' : '/health')));
        for (const res of answers) assert.equal(res.status, 200, res.text);
        return answers;
      };
      await anonymousBurst();
      assert.deepEqual(await requests(), { notion: 0, postgrest: 0 }, 'a public page spends no request');
      const before = await world.health(worker);
      assert.equal(before.schema.notion.status, 'not_checked', JSON.stringify(before.schema));
      assert.equal(before.schema_checked.notion.at, null);

      // Without the token, no live check.
      const refused = await world.call(worker, '/health/check', { method: 'POST' });
      assert.equal(refused.status, 401, refused.text);
      assert.deepEqual(await requests(), { notion: 0, postgrest: 0 });

      // The first admin check is live; a second one within the minute answers the stored result.
      const first = await world.call(worker, '/health/check', { method: 'POST', headers: world.auth() });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.body.live, true, first.text);
      assert.equal(first.body.schema.supabase.status, 'ok', first.text);
      assert.equal(first.body.schema.notion.status, 'ok', first.text);
      const afterLive = await requests();
      assert.ok(afterLive.notion > 0 && afterLive.postgrest > 0, JSON.stringify(afterLive));
      const again = await world.call(worker, '/health/check', { method: 'POST', headers: world.auth() });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.body.live, false, again.text);
      assert.equal(again.body.schema_checked.notion.at, first.body.schema_checked.notion.at);
      assert.ok(Date.parse(again.body.next_live_check_after) - Date.parse(first.body.schema_checked.notion.at) === 60_000, again.text);
      assert.deepEqual(await requests(), afterLive, 'no request within the minute');

      // /health shows the stored check and its age, still without a request.
      await anonymousBurst();
      const shown = await world.health(worker);
      assert.equal(shown.schema.notion.status, 'ok');
      assert.equal(shown.schema_checked.notion.at, first.body.schema_checked.notion.at);
      assert.equal(typeof shown.schema_checked.notion.age_seconds, 'number');
      assert.deepEqual(await requests(), afterLive, 'a public page spends no request');

      // After a run, too.
      const run = await world.syncNow(worker);
      assert.equal(run.status, 200, run.text);
      const afterRun = await requests();
      const pages = await anonymousBurst();
      assert.match(pages.find((res) => res.headers.get('content-type').includes('html')).text, /Notion: ok \(checked \d+ s ago\)/);
      assert.deepEqual(await requests(), afterRun, 'a public page spends no request');
    } finally {
      await proxy.close();
    }
  });

  test('no token configured: 403 naming SYNC_ADMIN_TOKEN; the cron still syncs', async () => {
    await world.insertRows([{ decision: 'Synced by cron only', type: 'Ops', date: '2025-01-02' }]);
    const { SYNC_ADMIN_TOKEN, ...withoutToken } = world.vars;
    for (const vars of [withoutToken, { ...withoutToken, SYNC_ADMIN_TOKEN: '   ' }]) {
      const configured = await world.workerWith(vars);
      for (const [method, path] of ADMIN_ROUTES) {
        for (const headers of [{}, { authorization: `Bearer ${SYNC_ADMIN_TOKEN}` }, { authorization: 'Bearer    ' }]) {
          const res = await world.call(configured, path, { method, headers });
          assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
          assert.match(res.body.error, /SYNC_ADMIN_TOKEN/);
        }
      }
      const health = await world.health(configured);
      assert.equal(health.config.admin_routes_enabled, false);
      assert.ok(health.config.missing.includes('SYNC_ADMIN_TOKEN'));
    }
    const configured = world.workers.at(-1);
    await configured.fireCron();
    const health = await world.health(configured);
    assert.equal(health.last_run.outcome.status, 'ok', JSON.stringify(health.last_run));
    await world.assertInSync();
  });

  test('a second /sync-now while one runs: 409 with the running run\'s id', async () => {
    await world.insertRows(Array.from({ length: 12 }, (_, i) => ({ decision: `Long run ${i}`, type: 'Ops', date: '2025-01-03' })));
    const worker = await world.worker();
    const first = world.syncNow(worker);
    // The first run holds the lease once it talks to Notion.
    for (let i = 0; i < 200 && ((await world.notion.counters()).by_route['POST /v1/pages'] ?? 0) < 1; i++) await sleep(50);
    const [second, third] = await Promise.all([world.syncNow(worker), world.dryRun(worker)]);
    const done = await first;
    assert.equal(done.status, 200, done.text);
    assert.equal(second.status, 409, second.text);
    assert.equal(second.body.outcome.status, 'skipped');
    assert.equal(second.body.outcome.running_run_id, done.body.run_id, 'the 409 names the running run');
    assert.notEqual(second.body.run_id, done.body.run_id);
    assert.equal(third.status, 200, 'a dry run takes no lease and may run alongside');
    assert.equal(done.body.counts.pages_created, 12);
    // The skipped run did not overwrite the running run's record.
    const health = await world.health(worker);
    assert.equal(health.last_run.run_id, done.body.run_id);
    // And the lease is free again.
    const next = await world.syncNow(worker);
    assert.equal(next.status, 200, next.text);
    await world.assertInSync();
  });

  test('no secret value appears in the Worker\'s output or in any answer, failures included', async () => {
    await world.insertRows([
      { decision: 'Fine', type: 'Ops', date: '2025-01-04' },
      { decision: 'Bad type', type: 'Ops, UX', date: '2025-01-05' },
    ]);
    await world.notion.createPage({ decision: 'From Notion', type: 'UX', date: '2025-01-06' });
    const good = await world.worker({ LOG_LEVEL: 'debug' });
    const texts = [];
    const keep = (res) => { texts.push(res.text); return res; };
    keep(await world.syncNow(good));
    keep(await world.dryRun(good));
    keep(await world.call(good, '/conflicts', { headers: world.auth() }));
    keep(await world.call(good, '/health'));
    keep(await world.call(good, '/'));
    keep(await world.call(good, '/sync-now', { method: 'POST', headers: { authorization: `Bearer ${world.token}0` } }));
    await world.notion.faults([{ kind: 'status', status: 500, count: 1 }, { kind: 'malformed_json' }]);
    keep(await world.syncNow(good));
    world.assertNoSecrets([...texts, good.output()]);

    // Wrong keys: the services refuse them; messages name the setting, never its value.
    const wrongKeys = {
      SUPABASE_SERVICE_ROLE_KEY: `${world.vars.SUPABASE_SERVICE_ROLE_KEY.slice(0, -4)}AAAA`,
      NOTION_API_KEY: 'ntn_wrong_0123456789abcdef',
      SYNC_ADMIN_TOKEN: 'another-admin-token-0123456789',
    };
    const bad = await world.worker(wrongKeys);
    const auth = { authorization: `Bearer ${wrongKeys.SYNC_ADMIN_TOKEN}` };
    const run = await world.call(bad, '/sync-now', { method: 'POST', headers: auth });
    assert.notEqual(run.status, 200, run.text);
    const health = await world.call(bad, '/health');
    assert.equal(health.body.status, 'not_configured', health.text);
    assert.ok(health.body.fix.some((line) => /SUPABASE_SERVICE_ROLE_KEY|NOTION_API_KEY/.test(line)), health.text);
    const plan = await world.call(bad, '/dry-run', { method: 'POST', headers: auth });
    const page = await world.call(bad, '/');
    await bad.fireCron();
    const all = [run.text, health.text, plan.text, page.text, bad.output()];
    for (const [name, value] of Object.entries(wrongKeys)) {
      for (const text of all) assert.ok(!text.includes(value), `${name}'s value leaked:\n${text.slice(0, 3000)}`);
    }
    world.assertNoSecrets(all);
  });
});
