// Phase "cpu": CPU time per invocation, measured outside the Worker.
//
// Method: the workerd process(es) of this `wrangler dev` (descendants of the wrangler process
// whose name is workerd) are read before and after each request: /proc/<pid>/task/*/schedstat,
// first field = nanoseconds on CPU, summed over every thread. The difference is what workerd
// spent on that request (plus whatever it did in the background meanwhile: timers, the inspector;
// hence medians of ~10, and the figure minus a baseline: the median of GET /nope, a 404 that runs
// the Worker's router and nothing else).
//
// In `wrangler dev` the Worker and the coordinator Durable Object run in the same workerd, so a
// request that goes on to run a sync in the object (the cron, POST /sync-now) is measured with its
// run. Requests that only kick the object (/health, the webhooks) show what the Worker costs when
// it does not run a sync. The sync a webhook kicks starts ~2 s after the answer: it is not in the
// webhook's figure (each sample waits until that run is over before the next one).
import { createHmac, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

import { startStack } from './stack.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Pids of every workerd below `rootPid` (wrangler), from `ps`. */
export function workerdPids(rootPid) {
  const out = spawnSync('ps', ['-eo', 'pid=,ppid=,comm='], { encoding: 'utf8' }).stdout ?? '';
  const procs = out.split('\n').filter(Boolean).map((line) => {
    const [pid, ppid, comm] = line.trim().split(/\s+/);
    return { pid: Number(pid), ppid: Number(ppid), comm };
  });
  const below = new Set([rootPid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (below.has(p.ppid) && !below.has(p.pid)) { below.add(p.pid); grew = true; }
  }
  return procs.filter((p) => below.has(p.pid) && p.comm.startsWith('workerd')).map((p) => p.pid);
}

/** Nanoseconds on CPU so far, summed over every thread of the given processes. */
export function cpuNs(pids) {
  let total = 0;
  for (const pid of pids) {
    let tids = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return total;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (ns) => Math.round(ns / 10_000) / 100; // ns → ms, 2 decimals

/** Waits until the coordinator has no run due, waiting or in progress (checked twice, 500 ms apart). */
async function objectIdle(stack, maxMs = 60_000) {
  const deadline = Date.now() + maxMs;
  let calm = 0;
  while (calm < 2) {
    const h = await stack.health();
    const c = h.coordinator ?? {};
    const due = c.next_run_at && Date.parse(c.next_run_at) < Date.now() + 60_000;
    calm = !c.waiting && !due && !h.interrupted_run ? calm + 1 : 0;
    if (Date.now() > deadline) throw new Error(`[${stack.label}] the coordinator did not go idle: ${JSON.stringify(c)}`);
    await sleep(500);
  }
}

/**
 * `samples` measurements of `send` (an async request): CPU ns of workerd around it. `settle` runs
 * before each sample and is not measured.
 */
async function sample(pids, send, { samples, settle }) {
  const ns = [];
  const status = {};
  for (let i = 0; i < samples; i++) {
    await settle();
    await sleep(150); // let the previous request's tail (logging, I/O) finish
    const before = cpuNs(pids);
    const res = await send();
    const after = cpuNs(pids);
    status[res.status] = (status[res.status] ?? 0) + 1;
    ns.push(after - before);
  }
  return { ns, status };
}

export async function cpuPhase({ samples = 10, pairs = 20, log }) {
  const label = 'cpu';
  const notionSecret = `secret_${randomBytes(24).toString('hex')}`;
  const supabaseSecret = randomBytes(24).toString('hex');
  // NOTION_WEBHOOK_SECRET pinned (no emulator subscription) and no Database Webhook: the only
  // requests the Worker gets are ours.
  const stack = await startStack({
    label, budget: 45, rateLimit: null, log,
    vars: { SYNC_DRAIN: 'on', NOTION_WEBHOOK_SECRET: notionSecret, SUPABASE_WEBHOOK_SECRET: supabaseSecret },
  });
  try {
    stack.seedRows(pairs, 'Cpu decision');
    for (let i = 0; i < 10 && stack.state().linked < pairs; i++) await stack.kick();
    const [rowId, pageId] = stack.psql('select id, notion_page_id from decision_vault order by id limit 1').split('|');
    await objectIdle(stack);
    const pids = workerdPids(stack.worker.pid);
    if (!pids.length) throw new Error(`[${label}] no workerd process below wrangler (pid ${stack.worker.pid})`);
    const url = (path) => new URL(path, stack.worker.url);
    const nothing = async () => {};
    const afterKick = async () => { await sleep(2_500); await objectIdle(stack); };
    const supabaseBody = JSON.stringify({ type: 'UPDATE', table: 'decision_vault', schema: 'public', record: { id: rowId }, old_record: { id: rowId } });
    const notionBody = (i) => JSON.stringify({
      id: `evt-bench-${i}-${Date.now()}`, timestamp: new Date().toISOString(), workspace_id: 'ws', subscription_id: 'sub',
      integration_id: 'int', type: 'page.properties_updated', authors: [{ id: 'u1', type: 'person' }], attempt_number: 1,
      api_version: '2025-09-03', entity: { id: pageId, type: 'page' }, data: { updated_properties: ['title'] },
    });
    let n = 0;
    const measures = [
      ['baseline_404', 'GET /nope (404: the router only)', () => fetch(url('/nope')).then(drainBody), nothing],
      ['health', 'GET /health (reads the coordinator\'s state)', () => fetch(url('/health')).then(drainBody), nothing],
      ['webhook_supabase', 'POST /webhooks/supabase (one delivery, valid secret; kicks a run 2 s later, not counted)', () => fetch(url('/webhooks/supabase'), {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-sync-webhook-secret': supabaseSecret }, body: supabaseBody,
      }).then(drainBody), afterKick],
      ['webhook_notion', 'POST /webhooks/notion (signed delivery; kicks a run 2 s later, not counted)', () => {
        const body = notionBody(n++);
        const signature = `sha256=${createHmac('sha256', notionSecret).update(body).digest('hex')}`;
        return fetch(url('/webhooks/notion'), { method: 'POST', headers: { 'content-type': 'application/json', 'x-notion-signature': signature }, body }).then(drainBody);
      }, afterKick],
      ['cron_with_run', 'GET /__scheduled (cron incl. its run in the DO, nothing to do)', () => fetch(url('/__scheduled?cron=*/15+*+*+*+*')).then(drainBody), () => objectIdle(stack)],
      ['idle_run', 'POST /sync-now, nothing to do (an idle run in the DO)', () => fetch(url('/sync-now'), {
        method: 'POST', headers: { authorization: `Bearer ${stack.sandbox.env.SYNC_ADMIN_TOKEN}` },
      }).then(drainBody), () => objectIdle(stack)],
    ];
    const raw = {};
    for (const [key, what, send, settle] of measures) {
      const { ns, status } = await sample(pids, send, { samples, settle });
      raw[key] = { what, ns, status };
      log(`[${label}] ${key}: median ${ms(median(ns))} ms CPU over ${samples} (status ${JSON.stringify(status)})`);
    }
    const base = median(raw.baseline_404.ns);
    const per = {};
    for (const [key, r] of Object.entries(raw)) {
      per[key] = {
        what: r.what,
        median_ms: ms(median(r.ns)),
        minus_baseline_ms: key === 'baseline_404' ? null : ms(median(r.ns) - base),
        min_ms: ms(Math.min(...r.ns)),
        max_ms: ms(Math.max(...r.ns)),
        status: r.status,
      };
    }
    return {
      samples,
      workerd_processes: pids.length,
      method: 'workerd CPU time (sum over its threads of /proc/<pid>/task/*/schedstat field 1) read before and after each request; medians; minus_baseline = median minus the median of GET /nope (404)',
      processes_note: 'the sum covers every workerd below this wrangler dev (wrangler\'s own proxy workerd included: the 404 baseline takes out its share)',
      note: 'wrangler dev runs the Worker and the coordinator Durable Object in one workerd: the cron and /sync-now figures include the run in the DO; /health and the webhooks are what a request costs that does not run a sync (their kicked run comes 2 s later and is not counted). Local workerd, not Cloudflare\'s: indicative only',
      per_request: per,
    };
  } finally {
    await stack.stop();
  }
}

async function drainBody(res) {
  await res.arrayBuffer();
  return res;
}
