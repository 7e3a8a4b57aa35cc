// Phases that measure the coordinator Durable Object (README_SYNC.md "Webhooks: edits cross in
// seconds"), with SYNC_DRAIN=on:
//
//   drain    ONE POST /sync-now starts a first sync of N rows that then drains by itself (the
//            object's alarm, paced at NOTION_RATE); measured: wall time, runs, request rates, KV
//            writes. Polls /health every 2 s; nothing else calls the Worker.
//   latency  both webhooks on (emulator subscription → /webhooks/notion, the sandbox database's
//            Database Webhook → /webhooks/supabase); edits one at a time on either side, and the
//            time until the other side shows them (polled every 100 ms).
//
// As in the other phases, every count is measured outside the Worker: Notion requests by the
// emulator's counters, Supabase requests by the counting proxy, KV writes in wrangler's persist dir.
import { randomBytes } from 'node:crypto';

import { notionWebhooks } from '../../tests/e2e/harness.mjs';
import { notionSplit, startStack } from './stack.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const LIMITER = { per_second: 3, burst: 10 };
/** Cron-only pace on the free plan: one run of 45 subrequests every 15 minutes. */
export const CRON_ONLY_RATE = 45 / 900;
export const DRAIN_TARGET_RATE = 2.5;

export function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** p-th percentile (nearest rank) of a list of numbers. */
export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

const sqlText = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** Notion requests (all routes, 429s included) and Supabase requests since the last reset. */
async function requestCounts(stack) {
  const raw = await stack.notionCounters();
  const notion = notionSplit(raw.by_route);
  const supabase = stack.proxy.snapshot();
  return { notion: notion.total, notion_429: raw.rate_limited ?? 0, notion_by_route: notion.by_route, supabase: supabase.total };
}

/** The part of /health the drain reports (and prints when something goes wrong). */
function coordinatorExcerpt(h) {
  return {
    status: h.status,
    summary: h.summary,
    last_run: h.last_run
      ? { trigger: h.last_run.trigger, outcome: h.last_run.outcome, subrequests: h.last_run.subrequests, pending: h.last_run.pending, finished_at: h.last_run.finished_at }
      : null,
    totals_runs: h.totals?.runs ?? null,
    coordinator: h.coordinator ?? null,
  };
}

const drainDone = (h) =>
  h.last_run?.outcome?.status === 'ok' && (h.coordinator?.next_run_at == null || h.coordinator?.drain == null);

/**
 * Polls /health every 2 s until the drain is done (last run ok and no run due or no drain), no
 * run has finished for `stallMs`, or `maxMs` passed. Returns the end state and a timeline.
 */
async function watchDrain(stack, { t0, stallMs, maxMs, log }) {
  const timeline = [];
  let lastRuns = -1;
  let lastProgress = Date.now();
  for (;;) {
    const h = await stack.health();
    const c = h.coordinator ?? {};
    const runs = h.totals?.runs ?? 0;
    timeline.push({
      t_s: round((Date.now() - t0) / 1000, 1),
      runs,
      items_left: c.drain?.items_left ?? null,
      requests_per_second: c.drain?.requests_per_second ?? null,
      expected_finish: c.drain?.expected_finish ?? null,
      next_run_at: c.next_run_at ?? null,
      last_outcome: h.last_run?.outcome?.status ?? null,
    });
    if (runs !== lastRuns) {
      if (timeline.length % 5 === 1 || drainDone(h)) log(`[${stack.label}] ${Math.round((Date.now() - t0) / 1000)} s: ${runs} runs, ${c.drain ? `${c.drain.items_left} items left, ${c.drain.requests_per_second} req/s` : 'no drain'}, last run ${h.last_run?.outcome?.status}`);
      lastRuns = runs;
      lastProgress = Date.now();
    }
    if (drainDone(h)) return { health: h, timeline, ended: 'done' };
    if (Date.now() - lastProgress > stallMs) return { health: h, timeline, ended: `stalled: no run finished for ${stallMs / 1000} s` };
    if (Date.now() - t0 > maxMs) return { health: h, timeline, ended: `timed out after ${maxMs / 1000} s` };
    await sleep(2_000);
  }
}

function itemsLeftRange(timeline) {
  const left = timeline.map((sample) => sample.items_left).filter((x) => x !== null);
  return left.length ? { first: left[0], min: Math.min(...left), max: Math.max(...left) } : null;
}

/**
 * Phase "drain": a first sync of `n` Supabase-only rows at the free-plan budget, the emulator's
 * limiter on (3 req/s, burst 10), SYNC_DRAIN=on, NOTION_RATE=`rate`, started by ONE POST /sync-now.
 */
export async function drainPhase({ n, budget, rate = 3, log }) {
  const label = `drain ${n} rows budget ${budget}`;
  const stack = await startStack({ label, budget, rateLimit: LIMITER, vars: { SYNC_DRAIN: 'on', NOTION_RATE: String(rate) }, log });
  try {
    stack.seedRows(n, 'Drain decision');
    await stack.resetCounters();
    const kvBefore = stack.kvWrites();
    const t0 = Date.now();
    const first = await stack.kick();
    if (!first.summary?.outcome) throw new Error(`[${label}] /sync-now answered ${first.status}: ${first.text.slice(0, 500)}`);
    log(`[${label}] first run (the POST /sync-now): ${first.summary.outcome.status}, ${first.summary.subrequests} subrequests, pending ${first.summary.pending}`);
    const watched = await watchDrain(stack, { t0, stallMs: 180_000, maxMs: Math.max(20 * 60_000, n * 3_000), log });
    // The end of the drain: when its last run finished (the Worker's clock is this machine's).
    const finishedAt = Date.parse(watched.health.last_run?.finished_at ?? '') || Date.now();
    const seconds = Math.max(0.001, (finishedAt - t0) / 1000);
    const counts = await requestCounts(stack);
    const kvWrites = stack.kvWrites() - kvBefore;
    const rows = stack.state();
    const pages = await stack.pages();
    const notionRate = counts.notion / seconds;
    // The first forecast /health gave (coordinator.drain.expected_finish), against the real end.
    const forecast = watched.timeline.find((sample) => sample.expected_finish);
    return {
      records: n,
      budget,
      notion_rate_setting: rate,
      limiter: LIMITER,
      ended: watched.ended,
      complete: rows.linked === n && rows.based === n && pages.pages === n && pages.with_base === n,
      wall_seconds: round(seconds, 1),
      runs: (watched.health.totals?.runs ?? 0),
      notion_requests: counts.notion,
      notion_429: counts.notion_429,
      supabase_requests: counts.supabase,
      subrequests: counts.notion + counts.supabase,
      notion_requests_per_second: round(notionRate, 2),
      subrequests_per_second: round((counts.notion + counts.supabase) / seconds, 2),
      kv_writes: kvWrites,
      kv_writes_per_hour: round((kvWrites * 3600) / seconds, 1),
      kv_note: 'KV writes during the drain (the coordinator copies its state to KV at most every 5 min); per hour = the same pace extrapolated',
      // What /health said was left while draining (coordinator.drain.items_left), against the N rows.
      items_left_seen: itemsLeftRange(watched.timeline),
      first_forecast: forecast
        ? { at_s: forecast.t_s, expected_finish: forecast.expected_finish, error_seconds: round((Date.parse(forecast.expected_finish) - finishedAt) / 1000, 1) }
        : null,
      target: {
        requests_per_second: DRAIN_TARGET_RATE,
        met: notionRate >= DRAIN_TARGET_RATE,
        cron_only_requests_per_second: round(CRON_ONLY_RATE, 3),
        cron_only_note: 'SYNC_DRAIN=off on the free plan: one run of 45 subrequests per 15-minute cron',
        speedup_vs_cron_only: round((counts.notion + counts.supabase) / seconds / CRON_ONLY_RATE, 1),
      },
      verified: { rows, pages },
      first_run: { outcome: first.summary.outcome?.status, subrequests: first.summary.subrequests, pending: first.summary.pending },
      health_at_end: coordinatorExcerpt(watched.health),
      timeline: watched.timeline,
    };
  } finally {
    await stack.stop();
  }
}

// ----------------------------------------------------------------------------------------------
// Latency

/**
 * Quiet = nothing on its way: the emulator has no webhook event pending, the sandbox's pg_net
 * queue is empty, and the coordinator has no run due or waiting, with no run in progress, for
 * 3 s in a row (a webhook kicks its run ~2 s after the delivery).
 */
async function quiet(stack, hooks, { maxMs = 120_000 } = {}) {
  const deadline = Date.now() + maxMs;
  let since = null;
  for (;;) {
    const stats = await hooks.stats();
    const queued = Number(stack.psql('select count(*) from net.http_request_queue'));
    const h = await stack.health();
    const c = h.coordinator ?? {};
    const due = c.next_run_at && Date.parse(c.next_run_at) < Date.now() + 60_000;
    const idle = stats.pending === 0 && queued === 0 && !c.waiting && !due && !h.interrupted_run;
    if (!idle) since = null;
    else if (since === null) since = Date.now();
    else if (Date.now() - since >= 3_000) return;
    if (Date.now() > deadline) throw new Error(`not quiet within ${maxMs} ms: ${JSON.stringify({ pending: stats.pending, queued, coordinator: c })}`);
    await sleep(250);
  }
}

/** Polls `read` every 100 ms until it returns `want`; the elapsed ms from `t0`, or null at `maxMs`. */
async function until(read, want, t0, maxMs) {
  for (;;) {
    if ((await read()) === want) return Date.now() - t0;
    if (Date.now() - t0 > maxMs) return null;
    await sleep(100);
  }
}

const pageDecision = (page) => (page.properties?.Decision?.title ?? []).map((t) => t.plain_text ?? t.text?.content ?? '').join('');

/** Both webhooks on, as README_SYNC.md tells an operator to; returns the emulator subscription. */
async function enableWebhooks(stack, secret) {
  const hooks = notionWebhooks(stack.admin);
  await hooks.subscribe({ url: `${stack.worker.url}/webhooks/notion` }); // aggregation_ms: the emulator's default
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await fetch(new URL('/webhooks/notion/token', stack.worker.url), { headers: { authorization: `Bearer ${stack.sandbox.env.SYNC_ADMIN_TOKEN}` } });
    const body = await res.json().catch(() => ({}));
    if (res.status === 200 && body.verification_token) break;
    if (Date.now() > deadline) throw new Error(`[${stack.label}] the verification token did not reach the Worker: ${res.status} ${JSON.stringify(body)}`);
    await sleep(200);
  }
  stack.psql(`select public.decision_vault_enable_webhook(${sqlText(stack.worker.url)}, ${sqlText(secret)})`);
  return hooks;
}

/** POST /sync-now until every seeded row is linked and based (with the drain on, usually one). */
async function syncPairs(stack, n, log) {
  for (let i = 1; i <= 20; i++) {
    const run = await stack.kick();
    const rows = stack.state();
    log(`[${stack.label}] sync ${i}: ${run.summary?.outcome?.status ?? run.status}, ${rows.linked}/${n} linked`);
    if (rows.linked === n && rows.based === n) return;
    await sleep(2_000);
  }
  throw new Error(`[${stack.label}] the ${n} pairs did not sync`);
}

/** One edit, measured: ms until the other side shows it, Notion requests until then and until quiet. */
async function measureEdit(stack, hooks, { edit, read, want, maxMs }) {
  await quiet(stack, hooks);
  await stack.resetCounters();
  const t0 = Date.now();
  await edit();
  const ms = await until(read, want, t0, maxMs);
  const atVisible = (await stack.notionCounters()).total;
  await quiet(stack, hooks);
  const total = (await stack.notionCounters()).total;
  return { ms, notion_until_visible: atVisible, notion_until_quiet: total };
}

function latencyFigures(list) {
  const ms = list.map((e) => e.ms).filter((x) => x !== null);
  const visible = list.map((e) => e.notion_until_visible);
  const quietN = list.map((e) => e.notion_until_quiet);
  const mean = (xs) => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 1) : null);
  return {
    edits: list.length,
    not_seen: list.length - ms.length,
    p50_ms: percentile(ms, 50),
    p95_ms: percentile(ms, 95),
    max_ms: ms.length ? Math.max(...ms) : null,
    min_ms: ms.length ? Math.min(...ms) : null,
    notion_requests_per_edit_until_visible: { mean: mean(visible), max: Math.max(...visible) },
    notion_requests_per_edit_until_quiet: { mean: mean(quietN), max: Math.max(...quietN) },
    samples_ms: list.map((e) => e.ms),
  };
}

/**
 * Phase "latency": `pairs` linked pairs, both webhooks on, then `edits` edits in each direction,
 * one at a time (each waits until everything is quiet, the echo runs included).
 */
export async function latencyPhase({ pairs = 20, edits = 20, budget, maxMs = 60_000, log }) {
  const label = `latency ${edits}+${edits} edits`;
  const secret = randomBytes(24).toString('hex');
  const stack = await startStack({ label, budget, rateLimit: LIMITER, vars: { SYNC_DRAIN: 'on', SUPABASE_WEBHOOK_SECRET: secret }, log });
  try {
    const hooks = await enableWebhooks(stack, secret);
    const subscription = (await hooks.get()).subscription;
    stack.seedRows(pairs, 'Latency decision');
    await syncPairs(stack, pairs, log);
    const ids = stack.psql('select id, notion_page_id from decision_vault where deleted_at is null order by id')
      .split('\n').map((line) => line.split('|'));
    const toSupabase = [];
    const toNotion = [];
    for (let i = 0; i < edits; i++) {
      const [rowId, pageId] = ids[i % ids.length];
      const fromNotion = `Latency decision ${i}: edited in Notion`;
      toSupabase.push(await measureEdit(stack, hooks, {
        edit: () => fetch(`${stack.admin}/pages/${pageId}`, { method: 'PATCH', body: JSON.stringify({ properties: { Decision: fromNotion } }) }).then((r) => r.text()),
        read: () => stack.psql(`select decision from decision_vault where id = ${sqlText(rowId)}`),
        want: fromNotion,
        maxMs,
      }));
      const fromSupabase = `Latency decision ${i}: edited in Supabase`;
      toNotion.push(await measureEdit(stack, hooks, {
        edit: async () => stack.psql(`update decision_vault set decision = ${sqlText(fromSupabase)} where id = ${sqlText(rowId)}`),
        read: async () => pageDecision(await fetch(`${stack.admin}/pages/${pageId}`).then((r) => r.json())),
        want: fromSupabase,
        maxMs,
      }));
      log(`[${label}] edit ${i + 1}: Notion → Supabase ${toSupabase.at(-1).ms} ms, Supabase → Notion ${toNotion.at(-1).ms} ms`);
    }
    const h = await stack.health();
    return {
      pairs,
      budget,
      limiter: LIMITER,
      notion_webhook: { aggregation_ms: subscription?.options?.aggregation_ms ?? 'emulator default' },
      poll_ms: 100,
      method: 'edit via the emulator admin API (PATCH /__admin/pages/{id}) or psql UPDATE, then poll the other side (psql / GET /__admin/pages/{id}) every 100 ms; each edit starts when nothing is pending (webhooks, pg_net queue, coordinator) and Notion requests are counted until the edit is visible and until quiet again (echo runs included)',
      notion_to_supabase: latencyFigures(toSupabase),
      supabase_to_notion: latencyFigures(toNotion),
      webhooks_at_end: h.coordinator?.webhooks ?? null,
      runs_total: h.totals?.runs ?? null,
    };
  } finally {
    await stack.stop();
  }
}
