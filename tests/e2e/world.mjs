// The world the end-to-end tests act on: one sandbox (PostgreSQL + postrust + the Notion emulator)
// per test file, real Workers in `wrangler dev` started per test, and helpers to act as a person on
// either side and to check that both sides agree.
//
//   const world = await openWorld();             // before(): starts the sandbox (rate limit off)
//   await world.reset();                         // beforeEach(): empty table, emulator back to start
//   const worker = await world.worker({ SYNC_SUBREQUEST_BUDGET: '12' }); // fresh state dir
//   const id = await world.insertRow({ decision: 'x', type: 'Ops', date: '2025-01-01' });
//   const runs = await world.syncUntilQuiet(worker);
//   await world.assertInSync();                  // every live row ⇄ exactly one live page
//   await world.cleanup();                       // afterEach(): stops workers, checks for leaks
//   await world.close();                         // after(): stops the sandbox
//
// Every check reads both sides directly: the table with psql (SANDBOX_PG_URI), Notion through the
// emulator's admin API (SANDBOX_NOTION_ADMIN), never through the Worker.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, afterEach, before, beforeEach } from 'node:test';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';

import { startSandbox } from '../../scripts/lib/sandbox.mjs';
import { startWorker } from './harness.mjs';

const run = promisify(execFile);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Names of the settings whose values must never leave the Worker. */
export const SECRET_NAMES = ['SUPABASE_SERVICE_ROLE_KEY', 'NOTION_API_KEY', 'SYNC_ADMIN_TOKEN', 'NOTION_WEBHOOK_SECRET', 'SUPABASE_WEBHOOK_SECRET'];

// ---------------------------------------------------------------------------------------------
// Normal form (DESIGN.md "Content, normal form, checksum"), written independently of the Rust core.

export const KNOWN_TYPES = ['Policy', 'Architecture', 'Ops', 'UX', 'Other'];

/**
 * The Notion API version under test: `E2E_NOTION_VERSION` (scripts/test.sh runs the core sync suite
 * again with 2025-09-03), else the Worker's default, 2026-03-11. The emulator is set to accept only
 * this version, so a Worker that sent another would get 400s; the Worker is given `NOTION_VERSION`
 * only when E2E_NOTION_VERSION is set (the default run tests the Worker's default).
 */
export const NOTION_VERSION = process.env.E2E_NOTION_VERSION || '2026-03-11';

export function normDecision(text) {
  return String(text).split(/\s+/).filter(Boolean).join(' ');
}

export function normType(text) {
  const trimmed = String(text).trim();
  return KNOWN_TYPES.find((known) => known.toLowerCase() === trimmed.toLowerCase()) ?? trimmed;
}

export function normDate(text) {
  return String(text).trim().slice(0, 10);
}

export function normalize({ decision, type, date }) {
  return { decision: normDecision(decision), type: normType(type), date: normDate(date) };
}

export function checksum(content) {
  const { decision, type, date } = normalize(content);
  return createHash('sha256').update(`${decision}|${type}|${date}`, 'utf8').digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Notion pages as the admin API shows them.

const plain = (items) => (items ?? []).map((item) => item.plain_text ?? item.text?.content ?? '').join('');

/** The fields of an emulator page object the sync cares about. */
export function pageView(page) {
  const p = page.properties ?? {};
  return {
    id: page.id,
    in_trash: Boolean(page.in_trash ?? page.archived),
    decision: plain(p.Decision?.title),
    segments: (p.Decision?.title ?? []).length,
    types: (p.Type?.multi_select ?? []).map((o) => o.name),
    date: p.Date?.date?.start ?? null,
    /** The whole Date value: `{ start, end, time_zone }` (null when empty). */
    date_value: p.Date?.date ?? null,
    checksum: plain(p.Checksum?.rich_text),
    synced: p.Synced?.checkbox ?? null,
    last_edited_time: page.last_edited_time,
    created_time: page.created_time,
  };
}

export function pageContent(view) {
  return normalize({ decision: view.decision, type: view.types[0] ?? '', date: view.date ?? '' });
}

// ---------------------------------------------------------------------------------------------

const ROW_COLUMNS = `id::text, decision, type, date::text as date, notion_page_id, notion_synced, checksum,
  deleted_at, updated_at, created_at`;

/** SQL string literal. */
export function lit(value) {
  if (value === null || value === undefined) return 'null';
  return `'${String(value).replace(/'/g, "''")}'`;
}

/**
 * Starts a sandbox for one test file. `rateLimit` is the emulator's limit ('off' unless a test
 * turns it on through `world.notion.rateLimit()`).
 */
export async function openWorld({ rateLimit = 'off' } = {}) {
  const sandbox = await startSandbox({ rateLimit });
  return new World(sandbox);
}

/**
 * One sandbox + World per `describe` block: opened before its tests, reset before each test,
 * cleaned up after each and closed at the end. Returns a stand-in that forwards to the World.
 */
export function useWorld(options) {
  let world = null;
  before(async () => { world = await openWorld(options); });
  after(async () => { await world?.close(); });
  beforeEach(async () => { await world.reset(); });
  afterEach(async () => { await world.cleanup(); });
  return new Proxy({}, {
    get(_, name) {
      if (!world) throw new Error(`the World is not open yet (asked for ${String(name)})`);
      const value = world[name];
      return typeof value === 'function' ? value.bind(world) : value;
    },
  });
}

export class World {
  constructor(sandbox) {
    this.sandbox = sandbox;
    this.env = sandbox.env;
    // Runs happen only when a test asks (its /sync-now, its cron): no drain alarm runs behind its
    // back. The coordinator's own tests (coordinator.test.mjs) turn SYNC_DRAIN on.
    const vars = { ...sandbox.workerVars, SYNC_DRAIN: 'off' };
    this.vars = process.env.E2E_NOTION_VERSION ? { ...vars, NOTION_VERSION } : vars;
    this.token = sandbox.env.SYNC_ADMIN_TOKEN;
    this.admin = sandbox.env.SANDBOX_NOTION_ADMIN;
    this.workers = [];
    /** Every response body the tests received from a Worker (checked for secrets). */
    this.bodies = [];
    this.notion = new NotionAdmin(this.admin);
  }

  /** Stops the sandbox (after()). */
  async close() {
    await this.cleanup({ check: false });
    await this.sandbox.stop();
  }

  // ----- SQL ---------------------------------------------------------------------------------

  /** Runs SQL with psql as the superuser; returns the raw (unaligned, tuples-only) output. */
  async sql(text) {
    try {
      const { stdout } = await run(
        'psql',
        ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', this.env.SANDBOX_PG_URI, '-c', text],
        { env: { ...process.env, PGCONNECT_TIMEOUT: '5' }, maxBuffer: 64 * 1024 * 1024 },
      );
      return stdout.trim();
    } catch (error) {
      throw new Error(`psql failed: ${error.stderr || error.message}\nSQL: ${text.slice(0, 500)}`);
    }
  }

  /** Rows of a SELECT as objects. */
  async query(select) {
    const out = await this.sql(`select coalesce(json_agg(q), '[]'::json) from (${select}) q`);
    return JSON.parse(out);
  }

  /** Every row of decision_vault (soft-deleted ones included), oldest first. */
  rows() {
    return this.query(`select ${ROW_COLUMNS} from public.decision_vault order by created_at, id`);
  }

  async row(id) {
    const [row] = await this.query(`select ${ROW_COLUMNS} from public.decision_vault where id = ${lit(id)}`);
    return row;
  }

  /** Inserts rows as a person would (only the content); returns their ids in order. */
  async insertRows(list) {
    if (list.length === 0) return [];
    const values = list.map((r) => `(${lit(r.decision)}, ${lit(r.type)}, ${lit(r.date)})`).join(', ');
    const out = await this.sql(`insert into public.decision_vault (decision, type, date) values ${values} returning id`);
    return out.split('\n').map((line) => line.trim()).filter(Boolean);
  }

  async insertRow(row) {
    const [id] = await this.insertRows([row]);
    return id;
  }

  /** Updates a row as a person would (`fields`: decision, type, date, deleted_at as SQL values). */
  async updateRow(id, fields) {
    const sets = Object.entries(fields).map(([column, value]) => {
      if (!/^[a-z_]+$/.test(column)) throw new Error(`bad column ${column}`);
      return `${column} = ${value === SQL_NOW ? 'now()' : lit(value)}`;
    });
    await this.sql(`update public.decision_vault set ${sets.join(', ')} where id = ${lit(id)}`);
  }

  softDelete(id) {
    return this.updateRow(id, { deleted_at: SQL_NOW });
  }

  restoreRow(id) {
    return this.updateRow(id, { deleted_at: null });
  }

  /** A fingerprint of the whole table (any write, the sync's included, changes it). */
  async tableFingerprint() {
    return this.sql(`select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from public.decision_vault t`);
  }

  // ----- reset, workers ----------------------------------------------------------------------

  /** Between tests: empty table, emulator back to its start (same database and data source). */
  async reset() {
    await this.cleanup({ check: false });
    // No webhook of an earlier test calls a Worker of this one.
    await this.sql('select public.decision_vault_disable_webhook()');
    await this.sql('truncate public.decision_vault');
    await this.notion.call('DELETE', '/webhooks');
    await this.notion.reset();
    await this.notion.call('POST', '/versions', { accepted: [NOTION_VERSION] });
    this.bodies = [];
  }

  /** A fresh Worker (own state dir) on this sandbox; stopped by cleanup(). */
  async worker(extraVars = {}, options = {}) {
    const worker = await startWorker({ ...options, vars: { ...this.vars, ...extraVars } });
    this.workers.push(worker);
    return worker;
  }

  /** A fresh Worker with exactly these vars (e.g. one setting left out). */
  async workerWith(vars, options = {}) {
    const worker = await startWorker({ ...options, vars });
    this.workers.push(worker);
    return worker;
  }

  /** Replaces `worker` by a restarted instance on the same state (tracked for cleanup). */
  async restartWorker(worker, overrides = {}) {
    const next = await worker.restart(overrides);
    this.workers.push(next);
    return next;
  }

  /**
   * Stops every Worker of the test and (unless `check` is false) asserts that no secret value
   * appears in their captured output nor in any response body the test received.
   */
  async cleanup({ check = true } = {}) {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.stop()));
    if (check) {
      const outputs = workers.map((w) => w.output());
      this.assertNoSecrets([...outputs, ...this.bodies], workers.map((w) => w.output()).join('\n'));
    }
  }

  secretValues() {
    return SECRET_NAMES.map((name) => [name, this.vars[name]]).filter(([, value]) => value && value.length >= 8);
  }

  assertNoSecrets(texts, context = '') {
    for (const [name, value] of this.secretValues()) {
      for (const text of texts) {
        assert.ok(!text.includes(value), `the value of ${name} leaked:\n${text.slice(0, 2000)}\n${context.slice(-4000)}`);
      }
    }
  }

  // ----- talking to the Worker ---------------------------------------------------------------

  auth(token = this.token) {
    return { authorization: `Bearer ${token}` };
  }

  /** worker.json() that keeps the body for the leak check. */
  async call(worker, path, init = {}) {
    const res = await worker.json(path, init);
    this.bodies.push(res.text);
    return res;
  }

  syncNow(worker) {
    return this.call(worker, '/sync-now', { method: 'POST', headers: this.auth() });
  }

  dryRun(worker, method = 'POST') {
    return this.call(worker, '/dry-run', { method, headers: this.auth() });
  }

  async health(worker) {
    const res = await this.call(worker, '/health');
    assert.equal(res.status, 200, res.text);
    return res.body;
  }

  async conflicts(worker) {
    const res = await this.call(worker, '/conflicts', { headers: this.auth() });
    assert.equal(res.status, 200, res.text);
    return res.body;
  }

  /**
   * Runs /sync-now until a run writes nothing on either side (emulator write counters, table
   * fingerprint and the run's counts unchanged) and ends `ok`. Returns every run's summary;
   * fails after `max` runs. `tolerate` lets failed/partial runs through on the way (faults).
   */
  async syncUntilQuiet(worker, { max = 6, pauseMs = 0 } = {}) {
    const runs = [];
    for (let i = 0; i < max; i++) {
      const before = { writes: await this.notion.writeCount(), table: await this.tableFingerprint() };
      const res = await this.syncNow(worker);
      if (res.status === 409) {
        // Another run holds the lease (one killed mid-run): wait for it to expire.
        runs.push({ status: 409, body: res.body });
        await sleep(1_000);
        continue;
      }
      assert.ok(res.body && res.body.run_id, `/sync-now answered ${res.status}: ${res.text}`);
      const summary = res.body;
      runs.push(summary);
      const after = { writes: await this.notion.writeCount(), table: await this.tableFingerprint() };
      const wrote = after.writes !== before.writes || after.table !== before.table || writesIn(summary.counts) > 0;
      if (summary.outcome.status === 'ok' && !wrote) return runs;
      if (pauseMs) await sleep(pauseMs);
    }
    const shown = runs.slice(0, 2).concat(runs.length > 4 ? ['…'] : [], runs.slice(Math.max(2, runs.length - 2)));
    assert.fail(`no quiet run after ${max} runs:\n${shown.map((r) => JSON.stringify(r)).join('\n')}\n--- worker output (tail) ---\n${worker.output().slice(-3000)}`);
  }

  // ----- the contract: both sides equal -------------------------------------------------------

  /**
   * Every live row is linked to exactly one live page with the same normalised content and the
   * same base (checksum column = Checksum property = checksum of the content, synced flags on),
   * every live page is linked by exactly one live row, and soft-deleted rows ⇄ trashed pages.
   * Returns what it read.
   */
  async assertInSync() {
    const rows = await this.rows();
    const pages = (await this.notion.pages()).map(pageView);
    const pagesById = new Map(pages.map((p) => [p.id, p]));
    const describe = () => `rows:\n${JSON.stringify(rows, null, 1).slice(0, 6000)}\npages:\n${JSON.stringify(pages, null, 1).slice(0, 6000)}`;
    const liveRows = rows.filter((r) => r.deleted_at === null);
    const livePages = pages.filter((p) => !p.in_trash);
    for (const row of liveRows) {
      assert.ok(row.notion_page_id, `live row ${row.id} has no page\n${describe()}`);
      const page = pagesById.get(row.notion_page_id);
      assert.ok(page, `row ${row.id} links to a page that does not exist\n${describe()}`);
      assert.equal(page.in_trash, false, `live row ${row.id} links to a trashed page\n${describe()}`);
      const content = normalize(row);
      assert.deepEqual(pageContent(page), content, `row ${row.id} and page ${page.id} differ`);
      assert.equal(page.types.length, 1, `page ${page.id} has one Type`);
      const sum = checksum(content);
      assert.equal(row.checksum, sum, `row ${row.id}: checksum column is the base of its content`);
      assert.equal(page.checksum, sum, `page ${page.id}: Checksum property is the base of its content`);
      assert.equal(row.notion_synced, true, `row ${row.id}: notion_synced`);
      assert.equal(page.synced, true, `page ${page.id}: Synced`);
    }
    for (const page of livePages) {
      const linked = rows.filter((r) => r.notion_page_id === page.id);
      assert.equal(linked.length, 1, `live page ${page.id} is linked by ${linked.length} rows\n${describe()}`);
      assert.equal(linked[0].deleted_at, null, `live page ${page.id} is linked by a deleted row\n${describe()}`);
    }
    for (const row of rows.filter((r) => r.deleted_at !== null && r.notion_page_id)) {
      const page = pagesById.get(row.notion_page_id);
      assert.ok(page && page.in_trash, `soft-deleted row ${row.id}: its page is not in the trash\n${describe()}`);
    }
    return { rows, pages, liveRows, livePages };
  }
}

/** Marker for `updateRow`: the SQL `now()`. */
export const SQL_NOW = Symbol('now()');

/** Writes a run reports (StoreBase writes are not counted there: the callers also diff both sides). */
export function writesIn(counts = {}) {
  const keys = ['pages_created', 'pages_updated', 'pages_trashed', 'pages_restored', 'rows_inserted', 'rows_updated',
    'rows_deleted', 'rows_restored', 'links'];
  return keys.reduce((sum, key) => sum + (counts[key] ?? 0), 0);
}

/** The emulator's admin API (`/__admin`): act as a person in Notion, inspect, inject faults. */
export class NotionAdmin {
  constructor(base) {
    this.base = base;
  }

  async call(method, path, body) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${path} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }

  reset() {
    return this.call('POST', '/reset');
  }

  /** Every page, trashed ones included (raw emulator objects). */
  async pages() {
    return (await this.call('GET', '/pages')).results;
  }

  async page(id) {
    return pageView(await this.call('GET', `/pages/${id}`));
  }

  /** Creates a page as a person: `{ decision, type, date }` (type may be a list). */
  async createPage({ decision, type, date }) {
    const properties = { Decision: decision };
    if (type !== undefined) properties.Type = type;
    if (date !== undefined) properties.Date = date;
    return pageView(await this.call('POST', '/pages', { properties }));
  }

  /** Edits a page as a person: `{ decision?, type?, date? }`. */
  async editPage(id, { decision, type, date }) {
    const properties = {};
    if (decision !== undefined) properties.Decision = decision;
    if (type !== undefined) properties.Type = type;
    if (date !== undefined) properties.Date = date;
    return pageView(await this.call('PATCH', `/pages/${id}`, { properties }));
  }

  trash(id) {
    return this.call('POST', `/pages/${id}/trash`);
  }

  restore(id) {
    return this.call('POST', `/pages/${id}/restore`);
  }

  counters() {
    return this.call('GET', '/counters');
  }

  resetCounters() {
    return this.call('DELETE', '/counters');
  }

  /** API writes so far: page creates and page updates (queries are POSTs too, but reads). */
  async writeCount() {
    const { by_route: routes = {} } = await this.counters();
    return (routes['POST /v1/pages'] ?? 0) + (routes['PATCH /v1/pages/{page_id}'] ?? 0);
  }

  /** Queues faults: a list of fault objects (see docs/NOTION_EMULATOR.md). */
  faults(list) {
    return this.call('POST', '/faults', { faults: list });
  }

  clearFaults() {
    return this.call('DELETE', '/faults');
  }

  pendingFaults() {
    return this.call('GET', '/faults');
  }

  clock(body) {
    return this.call('POST', '/clock', body);
  }

  rateLimit(body) {
    return this.call('POST', '/rate_limit', body);
  }

  /** What `in_trash` in a query body does: 'only_trashed' (default), 'ignored' or 'rejected'. */
  inTrashReading(reading) {
    return this.call('POST', '/in_trash_reading', { reading });
  }

  /** Caps every query at `maxResults` results, as Notion caps them at 10,000 (reset() restores it). */
  queryResultLimit(maxResults) {
    return this.call('POST', '/query_result_limit', { max_results: maxResults });
  }
}
