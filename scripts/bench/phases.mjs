// The benchmark's phases. Each runs on its own stack (sandbox + proxy + Worker), so phases can run
// side by side: the Worker paces its Notion requests (~3/s), so a first sync of N records takes
// about N/3 seconds whatever the machine, and running phases in parallel is what keeps
// `npm run bench` at N=1000 under ~15 minutes.
import { addCounts, emptyCounts, startStack } from './stack.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Physical floor of a first sync of n records (see docs/performance.md). */
export function floorOf(direction, n) {
  const batches = Math.ceil(n / 100);
  return direction === 'rows_to_pages'
    ? { subrequests: n + batches, explained: `${n} page creates + ${batches} row reads (100 per page)` }
    : { subrequests: n + batches, explained: `${n} page PATCHes (store the base) + ${batches} bulk row inserts (100 per request)` };
}

function brief(run) {
  const s = run.summary;
  const outcome = s.outcome?.status ?? JSON.stringify(s.outcome);
  return `${outcome} worker=${s.subrequests} measured=${run.measured_subrequests} (notion ${run.notion.read}r/${run.notion.write}w, supabase ${run.supabase.read}r/${run.supabase.write}w) pending=${s.pending} kv=${run.kv_writes} ${(run.wall_ms / 1000).toFixed(1)}s`;
}

const WRITE_COUNTS = ['pages_created', 'pages_updated', 'pages_trashed', 'pages_restored', 'rows_inserted', 'rows_updated', 'rows_deleted', 'rows_restored', 'links'];

/** The Worker's own counts of records written (non-zero entries only). */
function workerWrites(summaries) {
  const out = {};
  for (const s of summaries) {
    for (const key of WRITE_COUNTS) {
      const n = s.counts?.[key] ?? 0;
      if (n) out[key] = (out[key] ?? 0) + n;
    }
  }
  return out;
}

function addMap(into, from) {
  for (const [k, n] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + n;
  return into;
}

/** Sum of a list of measured runs. */
export function totals(runs) {
  let notion = emptyCounts();
  let supabase = emptyCounts();
  const purposes = {};
  let worker = 0;
  let wall = 0;
  let kv = 0;
  let limited = 0;
  for (const run of runs) {
    notion = addCounts(notion, run.notion);
    supabase = addCounts(supabase, run.supabase);
    addMap(purposes, run.supabase_by_purpose);
    worker += run.summary.subrequests ?? 0;
    wall += run.wall_ms;
    kv += run.kv_writes;
    limited += run.notion_429;
  }
  return {
    runs: runs.length,
    subrequests: notion.total + supabase.total,
    notion,
    supabase: { ...supabase, by_purpose: purposes },
    notion_429: limited,
    worker_reported_subrequests: worker,
    worker_reported_writes: workerWrites(runs.map((r) => r.summary)),
    kv_writes: kv,
    run_seconds: Math.round(wall / 100) / 10,
  };
}

/** One run's figures for the report. */
export function runFigures(run) {
  return {
    outcome: run.summary.outcome?.status ?? run.summary.outcome,
    subrequests: run.measured_subrequests,
    notion: run.notion,
    supabase: { ...run.supabase, by_purpose: run.supabase_by_purpose },
    worker_reported_subrequests: run.summary.subrequests,
    worker_reported_writes: workerWrites([run.summary]),
    worker_reported_pending: run.summary.pending,
    pages_read: run.summary.counts?.pages_read,
    rows_read: run.summary.counts?.rows_read,
    kv_writes: run.kv_writes,
    kv_keys_changed: run.kv_keys_changed,
    seconds: Math.round(run.wall_ms / 100) / 10,
  };
}

/** Runs /sync-now until a run ends `ok` with nothing pending and the data says it is done. */
async function drain(stack, done, { maxRuns, log }) {
  const runs = [];
  let failures = 0;
  for (let i = 1; i <= maxRuns; i++) {
    const run = await stack.syncNow();
    runs.push(run);
    log(`[${stack.label}] run ${i}: ${brief(run)}`);
    const status = run.summary.outcome?.status;
    if (status === 'failed' || status === 'not_configured' || status === 'skipped') {
      failures += 1;
      if (failures >= 3) throw new Error(`[${stack.label}] three failed runs; last: ${JSON.stringify(run.summary.outcome)}`);
      continue;
    }
    if (status === 'ok' && run.summary.pending === 0 && (await done())) return { runs, complete: true };
  }
  return { runs, complete: false };
}

/** A first sync of n records in one direction, with one budget. */
export async function firstSync({ direction, n, budget, log, after }) {
  const label = `${direction === 'rows_to_pages' ? 'rows→pages' : 'pages→rows'} budget ${budget}`;
  const stack = await startStack({ label, budget, rateLimit: null, log });
  try {
    const t0 = Date.now();
    if (direction === 'rows_to_pages') stack.seedRows(n);
    else await stack.seedPages(n);
    log(`[${label}] seeded ${n} ${direction === 'rows_to_pages' ? 'rows' : 'pages'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const done = async () => {
      const rows = stack.state();
      const pages = await stack.pages();
      return rows.rows === n && rows.linked === n && rows.based === n && pages.pages === n && pages.with_base === n;
    };
    const maxRuns = Math.ceil(n / 10) + 20;
    const { runs, complete } = await drain(stack, done, { maxRuns, log });
    const rows = stack.state();
    const pages = await stack.pages();
    const sum = totals(runs);
    const floor = floorOf(direction, n);
    const result = {
      budget,
      complete,
      runs_to_drain: runs.length,
      ...sum,
      per_record: round(sum.subrequests / n, 3),
      ratio_to_floor: round(sum.subrequests / floor.subrequests, 3),
      reads_per_run: round((sum.notion.read + sum.supabase.read) / runs.length, 1),
      writes_per_run: round((sum.notion.write + sum.supabase.write) / runs.length, 1),
      reads: { notion: sum.notion.read, supabase: sum.supabase.read },
      verified: { rows, pages },
      per_run: runs.map(runFigures),
    };
    if (after) result.after = await after(stack, runs, log);
    return result;
  } finally {
    await stack.stop();
  }
}

/**
 * Idle runs over the n records a first sync just linked: one right away (it still reads the echo
 * of the last run's writes, which fall inside the Notion cursor's 2-minute overlap), then, once
 * that overlap has passed, two more; the second is the steady state (what a cron run costs when
 * nothing changed since the previous run).
 */
export function idleAfter({ wait }) {
  return async (stack, drainRuns, log) => {
    const lastWrite = Date.now();
    const echo = await stack.syncNow();
    log(`[${stack.label}] idle right after: ${brief(echo)}`);
    const out = { right_after_first_sync: runFigures(echo) };
    if (!wait) {
      out.steady = null;
      out.steady_note = 'skipped (--no-idle-wait): the steady state needs the Notion cursor overlap (2 min + minute rounding) to pass';
      return out;
    }
    // Past the 2-minute overlap plus the minute rounding of the previous run's cursor.
    const until = lastWrite + 185_000;
    log(`[${stack.label}] waiting ${Math.round((until - Date.now()) / 1000)} s for the Notion cursor overlap to pass`);
    while (Date.now() < until) await sleep(Math.min(5_000, until - Date.now()));
    const first = await stack.syncNow();
    log(`[${stack.label}] idle after overlap (1): ${brief(first)}`);
    const steady = await stack.syncNow();
    log(`[${stack.label}] idle steady (2): ${brief(steady)}`);
    out.after_overlap = runFigures(first);
    out.steady = runFigures(steady);
    out.idle_runs = [echo, first, steady].map((r) => ({ kv_writes: r.kv_writes, kv_keys_changed: r.kv_keys_changed }));
    return out;
  };
}

/** One run right after the first sync (reads the echo of every page it just wrote). */
export function echoAfter() {
  return async (stack, _runs, log) => {
    const echo = await stack.syncNow();
    log(`[${stack.label}] run right after: ${brief(echo)}`);
    return { right_after_first_sync: runFigures(echo) };
  };
}

/** Sustained Notion request rate with the emulator's limiter on, during a first sync of `n` rows. */
export async function notionRate({ n, budget, limiter, log }) {
  const label = `rate ${limiter.per_second}/s`;
  const stack = await startStack({ label, budget, rateLimit: limiter, log });
  try {
    stack.seedRows(n, 'Rate decision');
    const setting = await stack.rateLimitSetting();
    const done = async () => {
      const rows = stack.state();
      return rows.linked === n && rows.based === n;
    };
    const { runs, complete } = await drain(stack, done, { maxRuns: Math.ceil(n / 10) + 10, log });
    const sum = totals(runs);
    const seconds = runs.reduce((a, r) => a + r.wall_ms, 0) / 1000;
    const rates = runs.filter((r) => r.wall_ms > 5_000).map((r) => r.notion.total / (r.wall_ms / 1000));
    return {
      records: n,
      budget,
      complete,
      limiter: setting,
      runs: runs.length,
      notion_requests: sum.notion.total,
      answered_429: sum.notion_429,
      share_429: round(sum.notion_429 / Math.max(1, sum.notion.total), 4),
      seconds: round(seconds, 1),
      requests_per_second: round(sum.notion.total / seconds, 2),
      peak_run_requests_per_second: rates.length ? round(Math.max(...rates), 2) : null,
      worker_reported_subrequests: sum.worker_reported_subrequests,
      kv_writes: sum.kv_writes,
      per_run_kv_writes: runs.map((r) => r.kv_writes),
    };
  } finally {
    await stack.stop();
  }
}

export function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * A first sync where BOTH sides start with `m` unmatched records (rows nobody has in Notion and
 * pages nobody has in Supabase), a few runs only: does every run make progress? (Creates and
 * imports wait until the other side's pool has been read completely; with a small budget the
 * reader may never read a large pool completely.)
 */
export async function mixedProgress({ m, budget, runs: runCount, log }) {
  const label = `mixed ${m}+${m} budget ${budget}`;
  const stack = await startStack({ label, budget, rateLimit: null, log });
  try {
    stack.seedRows(m, 'Row-side decision');
    await stack.seedPages(m, 'Page-side decision');
    const runs = [];
    for (let i = 1; i <= runCount; i++) {
      const run = await stack.syncNow();
      runs.push(run);
      log(`[${label}] run ${i}: ${brief(run)}`);
    }
    const sum = totals(runs);
    const rows = stack.state();
    const pages = await stack.pages();
    const res = await fetch(new URL('/dry-run', stack.worker.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.sandbox.env.SYNC_ADMIN_TOKEN}` },
    });
    const dry = await res.json().catch(() => null);
    const deferred = {};
    for (const d of dry?.plan?.deferred ?? []) deferred[d.reason] = (deferred[d.reason] ?? 0) + 1;
    const written = sum.notion.write + sum.supabase.write;
    return {
      records_per_side: m,
      budget,
      runs: runs.length,
      subrequests: sum.subrequests,
      writes: written,
      writes_note: 'includes the write-back function probe of the first run (POST /rpc/..., counted as a write)',
      records_synced: rows.linked,
      records_synced_note: 'linked rows; a complete first sync links 2 × records_per_side (every row, and one imported row per page)',
      notion: sum.notion,
      supabase: sum.supabase,
      state_after: { rows, pages },
      stalled: rows.linked === 0 && pages.with_base === 0,
      next_plan: dry?.plan ? { ops: dry.plan.ops.length, deferred } : null,
    };
  } finally {
    await stack.stop();
  }
}
