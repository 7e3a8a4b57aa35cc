// The dashboard at `/` as a person sees it: headless Chromium (Debian's `chromium`, installed by
// scripts/setup.sh) loads the page from the real Worker (wrangler dev) synced against the sandbox
// (PostgreSQL + postrust + the Notion emulator), and the test reads the DOM Chromium built.
//
// CHROMIUM_BIN overrides /usr/bin/chromium. DASHBOARD_SCREENSHOT=/path/to.png keeps a screenshot
// of the page with a record error (1200x900) for a human to look at; otherwise it goes to a temp
// dir and is removed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startSandbox } from '../../scripts/lib/sandbox.mjs';
import { processesMatching, startWorker } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const PSQL = join(process.env.SANDBOX_PG_BIN || '/usr/lib/postgresql/15/bin', 'psql');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs headless Chromium once with a fresh profile; returns its stdout. Leaves no process. */
async function chromium(args, { timeoutMs = 60_000 } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run \`npm run setup\` (apt-get install chromium) or set CHROMIUM_BIN`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'decision-sync-chromium-'));
  const child = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`,
    ...args,
  ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const killGroup = (signal) => { try { process.kill(-child.pid, signal); } catch { /* gone */ } };
  const timer = setTimeout(() => killGroup('SIGKILL'), timeoutMs);
  const [code, signal] = await new Promise((r) => child.on('close', (c, s) => r([c, s])));
  clearTimeout(timer);
  killGroup('SIGKILL'); // helpers (zygote, GPU/network services) that outlived the browser
  for (let i = 0; i < 50 && processesMatching(profile).length > 0; i++) await sleep(100);
  const left = processesMatching(profile);
  rmSync(profile, { recursive: true, force: true });
  assert.deepEqual(left, [], 'Chromium processes left behind');
  if (code !== 0) throw new Error(`chromium exited with ${code ?? signal}:\n${stderr.slice(-3000)}`);
  return stdout;
}

const dumpDom = (url) => chromium(['--dump-dom', url]);

/** Text a person reads in an HTML fragment: tags dropped, entities decoded, spaces collapsed. */
function visible(html) {
  return html
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The element with `id` (up to its closing tag of the same name; no nesting of that tag). */
function element(html, id) {
  const start = new RegExp(`<(\\w+)[^>]*\\bid="${id}"[^>]*>`).exec(html);
  if (!start) return null;
  const end = html.indexOf(`</${start[1]}>`, start.index);
  return html.slice(start.index, end + start[1].length + 3);
}

function textOf(html, id) {
  const found = element(html, id);
  assert.ok(found, `no element #${id} in the page:\n${visible(html).slice(0, 2000)}`);
  return visible(found);
}

/** Value cell of a facts row (`<tr id=…><th>label</th><td>value</td></tr>`). */
function fact(html, id) {
  const row = element(html, id);
  assert.ok(row, `no row #${id}`);
  return visible(row.replace(/<th[\s\S]*?<\/th>/, ''));
}

function psql(uri, sql) {
  const res = spawnSync(PSQL, [uri, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`psql failed: ${res.stderr}`);
  return res.stdout.trim();
}

describe('dashboard in a real browser, against the sandbox', () => {
  let sandbox;
  let worker;
  let token;

  before(async () => {
    sandbox = await startSandbox({ seed: true, rateLimit: 'off' });
    worker = await startWorker({ vars: sandbox.workerVars });
    token = sandbox.env.SYNC_ADMIN_TOKEN;
  });
  after(async () => {
    await worker?.stop();
    await sandbox?.stop();
  });

  async function syncNow() {
    const res = await worker.json('/sync-now', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, res.text);
    return res.body;
  }

  test('before the first sync: "never run", and how to start one', async () => {
    const html = await dumpDom(`${worker.url}/`);
    assert.match(html, /<title>Decision sync: never run<\/title>/);
    assert.equal(textOf(html, 'status'), 'never run');
    assert.match(html, /data-status="never_run"/);
    assert.match(textOf(html, 'summary'), /no sync has run yet.*POST \/sync-now/);
    assert.equal(fact(html, 'last-run'), 'never');
    assert.equal(fact(html, 'last-success'), 'never');
    // The page makes no request to either side: the schema is shown as the runs checked it.
    assert.equal(fact(html, 'schema'), 'Supabase: not checked (no run has checked it yet) · Notion: not checked (no run has checked it yet)');
  });

  test('after a sync: in sync, the last run, what it did, totals, nothing to fix', async () => {
    const run = await syncNow();
    assert.equal(run.outcome.status, 'ok', JSON.stringify(run));
    const html = await dumpDom(`${worker.url}/`);
    assert.equal(textOf(html, 'status'), 'in sync');
    assert.match(textOf(html, 'summary'), /both sides agree/);
    const finished = new Date(run.finished_at).toISOString().replace('T', ' ').slice(0, 19);
    assert.match(fact(html, 'last-run'), new RegExp(`^${finished} UTC \\(sync-now, full reconciliation\\): finished in \\d+\\.\\d s$`));
    assert.equal(fact(html, 'last-success'), `${finished} UTC`);
    // The seed: 3 rows only in Supabase, 2 pages only in Notion.
    assert.match(fact(html, 'last-run-did'), /^3 pages created, 2 rows inserted · read \d+ rows and \d+ pages · \d+ subrequests$/);
    assert.match(fact(html, 'totals'), /^1 run, 3 pages created, 2 rows inserted, 0 pages updated, 0 rows updated, 0 conflicts$/);
    assert.equal(fact(html, 'record-errors'), '0');
    assert.equal(fact(html, 'orphans'), '0');
    assert.equal(fact(html, 'pending'), 'nothing left for the next run');
    assert.match(fact(html, 'schema'), /^Supabase: ok \(checked \d+ s ago\) · Notion: ok \(checked \d+ s ago\)$/);
    assert.equal(textOf(html, 'nothing-to-fix'), 'Nothing to fix.');
    assert.match(html, /<a href="\/health">\/health<\/a>/);
    assert.match(html, /http-equiv="refresh" content="30"/);
  });

  test('a row with a comma in its type: needs attention, the record and its fix', async () => {
    const id = psql(
      sandbox.env.SANDBOX_PG_URI,
      "insert into decision_vault (decision, type, date) values ('Pick a logo', 'UX, Branding', '2025-11-20') returning id",
    );
    assert.match(id, /^[0-9a-f-]{36}$/);
    await syncNow();
    const html = await dumpDom(`${worker.url}/`);
    assert.equal(textOf(html, 'status'), 'needs attention');
    assert.equal(textOf(html, 'summary'), '1 record error needs a look: see What to fix below');
    assert.equal(fact(html, 'record-errors'), '1');
    const errors = textOf(html, 'errors');
    assert.match(errors, /Side Record Field Problem and fix/);
    assert.ok(errors.includes(`supabase ${id} type`), errors);
    assert.match(errors, /cannot contain a comma; use one value without commas/);
    assert.ok(!html.includes('Nothing to fix'), 'no "Nothing to fix" next to an error');
    // The other records still synced: nothing else is wrong.
    assert.match(fact(html, 'schema'), /^Supabase: ok \(checked \d+ (s|min) ago\) · Notion: ok \(checked \d+ s ago\)$/);
    assert.equal(element(html, 'fix'), null, 'no general fix item besides the record');
  });

  test('no secret reaches the page', async () => {
    const html = await dumpDom(`${worker.url}/`);
    for (const name of ['SUPABASE_SERVICE_ROLE_KEY', 'NOTION_API_KEY', 'SYNC_ADMIN_TOKEN']) {
      assert.ok(!html.includes(sandbox.env[name]), `${name} leaked into the dashboard`);
    }
  });

  test('a screenshot can be taken (1200x900)', async () => {
    const dir = process.env.DASHBOARD_SCREENSHOT ? null : mkdtempSync(join(tmpdir(), 'decision-sync-shot-'));
    const file = process.env.DASHBOARD_SCREENSHOT || join(dir, 'dashboard.png');
    try {
      await chromium([`--screenshot=${file}`, '--window-size=1200,900', '--hide-scrollbars', `${worker.url}/`]);
      const png = readFileSync(file);
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG file');
      assert.equal(png.readUInt32BE(16), 1200, 'width');
      assert.equal(png.readUInt32BE(20), 900, 'height');
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
});
