// One benchmark "stack": a sandbox (PostgreSQL + postrust + Notion emulator), the counting proxy
// for Supabase, and the Worker in `wrangler dev`, plus measured runs and fast seeding.
//
//   const stack = await startStack({ label: 'rows@45', budget: 45, rateLimit: null });
//   await stack.seedRows(1000);
//   const run = await stack.syncNow();   // summary + counts measured outside the Worker
//   await stack.stop();
import { spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';

import { startSandbox } from '../lib/sandbox.mjs';
import { startWorker } from '../../tests/e2e/harness.mjs';
import { startCountingProxy } from './supabase-proxy.mjs';
import { changedKeys, startKvWriteCounter } from './kv-writes.mjs';

export const TYPES = ['Policy', 'Architecture', 'Ops', 'UX', 'Other'];

/** Notion request class by route template: queries and GETs read, page creates/PATCHes write. */
export function notionKind(route) {
  if (route.startsWith('GET ') || route.endsWith('/query')) return 'read';
  return 'write';
}

/** Sums `{ route: n }` maps into `{ total, read, write, by_route }` for Notion. */
export function notionSplit(byRoute) {
  const out = { total: 0, read: 0, write: 0, by_route: {} };
  for (const [route, n] of Object.entries(byRoute ?? {})) {
    out.total += n;
    out[notionKind(route)] += n;
    out.by_route[route] = n;
  }
  return out;
}

export function addCounts(a, b) {
  const out = { total: a.total + b.total, read: a.read + b.read, write: a.write + b.write, by_route: { ...a.by_route } };
  for (const [route, n] of Object.entries(b.by_route)) out.by_route[route] = (out.by_route[route] ?? 0) + n;
  return out;
}

export const emptyCounts = () => ({ total: 0, read: 0, write: 0, by_route: {} });

/** POST without any client timeout (a paid-budget run can take minutes). */
function post(url, headers) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, text: body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function adminJson(admin, path, init) {
  const res = await fetch(`${admin}${path}`, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`emulator admin ${init?.method ?? 'GET'} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * @param {object} o
 * @param {string} o.label
 * @param {number} o.budget            SYNC_SUBREQUEST_BUDGET for this Worker
 * @param {{per_second:number,burst:number}|null} o.rateLimit  emulator limiter (null = off)
 * @param {Record<string,string>} [o.vars]  extra Worker vars. SYNC_DRAIN defaults to `off` here: the
 *                                      per-run phases drive every run with /sync-now, and background
 *                                      drain runs (the coordinator's alarm) would interleave with them
 * @param {(msg:string)=>void} [o.log]
 */
export async function startStack({ label, budget, rateLimit = null, vars = {}, log = () => {} }) {
  const started = Date.now();
  const sandbox = await startSandbox({ rateLimit: rateLimit ? `${rateLimit.per_second}/${rateLimit.burst}` : 'off' });
  let proxy = null;
  let worker = null;
  let kv = null;
  try {
    const admin = sandbox.env.SANDBOX_NOTION_ADMIN;
    await adminJson(admin, '/rate_limit', {
      method: 'POST',
      body: JSON.stringify(rateLimit ? { enabled: true, ...rateLimit } : { enabled: false }),
    });
    proxy = await startCountingProxy(sandbox.env.SUPABASE_REST_URL);
    worker = await startWorker({
      vars: { ...sandbox.workerVars, SUPABASE_REST_URL: proxy.url, SYNC_SUBREQUEST_BUDGET: String(budget), SYNC_DRAIN: 'off', ...vars },
    });
    kv = startKvWriteCounter(worker.persistDir);
    log(`[${label}] stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (budget ${budget}, limiter ${rateLimit ? `${rateLimit.per_second}/s burst ${rateLimit.burst}` : 'off'}, SYNC_DRAIN=${vars.SYNC_DRAIN ?? 'off'})`);
  } catch (error) {
    await worker?.stop();
    await proxy?.stop();
    await sandbox.stop();
    throw error;
  }
  const admin = sandbox.env.SANDBOX_NOTION_ADMIN;
  const pg = sandbox.env.SANDBOX_PG_URI;
  const token = sandbox.env.SYNC_ADMIN_TOKEN;

  function psql(sql) {
    const out = spawnSync('psql', [pg, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql], { encoding: 'utf8', timeout: 120_000 });
    if (out.status !== 0) throw new Error(`psql failed: ${out.stderr || out.error}`);
    return out.stdout.trim();
  }

  const stack = {
    label,
    budget,
    sandbox,
    proxy,
    worker,
    admin,
    psql,
    rateLimitSetting: () => adminJson(admin, '/rate_limit'),
    /** The emulator's raw request counters (`{ total, rate_limited, by_route, by_status }`). */
    notionCounters: () => adminJson(admin, '/counters'),
    /** KV puts seen so far in the Worker's persist dir (see kv-writes.mjs). */
    kvWrites: () => kv.count(),

    /** GET /health (no auth needed; served from the coordinator's stored state). */
    async health() {
      const res = await fetch(new URL('/health', worker.url));
      return res.json();
    },

    /** One POST /sync-now, not measured: `{ status, summary }` (summary null when not JSON). */
    async kick() {
      const res = await post(new URL('/sync-now', worker.url), { authorization: `Bearer ${token}` });
      let summary = null;
      try {
        summary = JSON.parse(res.text);
      } catch {
        summary = null;
      }
      return { status: res.status, summary, text: res.text };
    },

    /** N rows in Supabase in one statement (unlinked, never synced). */
    seedRows(n, prefix = 'Decision') {
      psql(
        `insert into decision_vault (decision, type, date)
         select '${prefix} ' || g || ': review the ' || (array['${TYPES.join("','")}'])[1 + g % 5] || ' log every week',
                (array['${TYPES.join("','")}'])[1 + g % 5],
                date '2024-01-01' + (g % 700)
         from generate_series(1, ${Number(n)}) g`,
      );
    },

    /** N pages in Notion through the emulator's admin API (not rate limited), 16 at a time. */
    async seedPages(n, prefix = 'Page decision') {
      let next = 1;
      const one = async () => {
        for (;;) {
          const i = next++;
          if (i > n) return;
          await adminJson(admin, '/pages', {
            method: 'POST',
            body: JSON.stringify({
              properties: {
                Decision: `${prefix} ${i}: review the ${TYPES[i % 5]} log every week`,
                Type: TYPES[i % 5],
                Date: new Date(Date.UTC(2024, 0, 1 + (i % 700))).toISOString().slice(0, 10),
              },
            }),
          });
        }
      };
      await Promise.all(Array.from({ length: 16 }, one));
    },

    async resetCounters() {
      await adminJson(admin, '/counters', { method: 'DELETE' });
      proxy.reset();
    },

    /**
     * One POST /sync-now, measured: Notion from the emulator's counters, Supabase from the proxy,
     * KV puts from the persist dir. Counters are reset before the run.
     */
    async syncNow() {
      await stack.resetCounters();
      const kvBefore = kv.count();
      const entriesBefore = kv.entries();
      const t0 = Date.now();
      const res = await post(new URL('/sync-now', worker.url), { authorization: `Bearer ${token}` });
      const wallMs = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 60)); // let the last blob show up in the directory
      const kvWrites = kv.count() - kvBefore;
      const keys = changedKeys(entriesBefore, kv.entries());
      const notionRaw = await adminJson(admin, '/counters');
      const supa = proxy.snapshot();
      let summary = null;
      try {
        summary = JSON.parse(res.text);
      } catch {
        summary = null;
      }
      if (!summary || !summary.outcome) {
        throw new Error(`[${label}] /sync-now answered ${res.status}: ${res.text.slice(0, 1000)}\n${worker.output().slice(-3000)}`);
      }
      const notion = notionSplit(notionRaw.by_route);
      const supabase = { total: supa.total, read: supa.read, write: supa.write, by_route: supa.by_route };
      const supabasePurpose = supa.by_purpose;
      return {
        status: res.status,
        summary,
        wall_ms: wallMs,
        notion,
        notion_429: notionRaw.rate_limited ?? notionRaw.by_status?.['429'] ?? 0,
        notion_by_status: notionRaw.by_status ?? {},
        supabase,
        supabase_by_purpose: supabasePurpose,
        supabase_by_status: supa.by_status,
        measured_subrequests: notion.total + supabase.total,
        kv_writes: kvWrites,
        kv_keys_changed: keys ? keys.length : null,
      };
    },

    /** Counts that tell whether a first sync is complete. */
    state() {
      const [rows, linked, based] = psql(
        `select count(*), count(notion_page_id), count(*) filter (where checksum is not null and notion_synced)
         from decision_vault where deleted_at is null`,
      ).split('|').map(Number);
      return { rows, linked, based };
    },

    async pages() {
      const list = await adminJson(admin, '/pages');
      const live = list.results.filter((p) => !p.in_trash && !p.archived);
      const withBase = live.filter((p) => {
        const rt = p.properties?.Checksum?.rich_text ?? [];
        return rt.map((t) => t.plain_text ?? t.text?.content ?? '').join('').length === 64;
      });
      return { pages: live.length, with_base: withBase.length };
    },

    async stop() {
      kv?.stop();
      await worker?.stop().catch(() => {});
      await proxy?.stop().catch(() => {});
      await sandbox.stop().catch(() => {});
    },
  };
  return stack;
}
