#!/usr/bin/env node
// `npm run bench [-- --n 1000]`: what the sync costs, measured against the local sandbox.
//
// Builds the Worker, then runs these phases, each on its own sandbox + `wrangler dev`:
//   rows-free   first sync of N Supabase-only rows, free-plan budget, then idle runs over the N pairs
//   rows-paid   the same first sync with a paid-plan budget, then the run right after it
//   pages-free  first sync of N Notion-only pages, free-plan budget
//   pages-paid  the same with a paid-plan budget
//   rate        Notion request rate with the emulator's limiter on (3 req/s, burst 10), R rows
//   mixed       a progress probe: M unmatched rows AND M unmatched pages, free-plan budget, 3 runs
//   drain       the coordinator: ONE POST /sync-now starts a first sync of D rows (free-plan
//               budget, limiter on, SYNC_DRAIN=on, NOTION_RATE=3) that drains by itself
//   latency     both webhooks on, 20 linked pairs; edits one at a time in each direction
//   cpu         workerd CPU time per request (health, webhooks, cron, idle run) minus a 404
//   scale       S records already synced (seeded without the Worker, limiter off): a full
//               reconciliation at the paid budget that must find a planted drift, then idle runs
//               (scripts/bench/scale.mjs; alone, after the others; only with --only …,scale)
//   native      the native core benchmark (`cargo bench --bench core`)
// The first seven run side by side (see --parallel); latency and cpu measure time, so they run
// afterwards, alone. The six per-run phases (rows-*, pages-*, rate, mixed) start their Worker with
// SYNC_DRAIN=off: they drive every run with /sync-now, and the coordinator's own drain runs would
// interleave with them and blur the per-run figures. The bundle size is always reported.
//
// Every count is measured outside the Worker: Notion requests by the emulator's counters
// (`GET /__admin/counters`, by method + route), Supabase requests by a counting proxy in front of
// postrust (the Worker's SUPABASE_REST_URL points at it), KV writes in wrangler's local KV
// persistence, CPU time in /proc for the workerd processes. The Worker's own `subrequests` figure
// is printed next to them as a cross-check.
//
// Output: a short table on stderr, ONE JSON object on stdout, and the same JSON in
// target/bench/latest.json.
//
// Options (or environment):
//   --only P,Q,...      run only these phases (names above; default all)
//   --n N               records per first sync (BENCH_N, default 1000)
//   --rate-n R          rows for the rate phase (BENCH_RATE_N, default min(N, 300))
//   --drain-n D         rows for the drain phase (BENCH_DRAIN_N, default N)
//   --scale-n S         linked records for the scale phase (BENCH_SCALE_N, default 100000)
//   --edits E           edits per direction in the latency phase (default 20)
//   --free-budget B     SYNC_SUBREQUEST_BUDGET of the free-plan phases (default 45)
//   --paid-budget B     SYNC_SUBREQUEST_BUDGET of the paid-plan phases (default 1000)
//   --mixed-n M         records per side for the mixed probe (BENCH_MIXED_N, default 600 at budget 45:
//                       just above the 450 items a free-plan run reads per source)
//   --parallel K        side-by-side phases at once (BENCH_PARALLEL, default 7 = all)
//   --no-idle-wait      skip the ~3-minute wait for the steady-state idle run
//   --no-native         skip `cargo bench --bench core` (same as leaving `native` out of --only)
//   --out PATH          where to write the JSON (default target/bench/latest.json)
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';

import { ROOT } from './lib/sandbox.mjs';
import { buildWorker } from '../tests/e2e/harness.mjs';
import { bundleSize, compileNative, nativeBench } from './bench/extras.mjs';
import { echoAfter, firstSync, floorOf, idleAfter, mixedProgress, notionRate, round } from './bench/phases.mjs';
import { drainPhase, latencyPhase } from './bench/coordinator.mjs';
import { cpuPhase } from './bench/cpu.mjs';
import { scalePhase } from './bench/scale.mjs';
import { KV_METHOD, table } from './bench/table.mjs';

export const PHASES = ['rows-free', 'rows-paid', 'pages-free', 'pages-paid', 'rate', 'mixed', 'drain', 'latency', 'cpu', 'scale', 'native'];

function parseArgs(argv) {
  const opts = {
    n: Number(process.env.BENCH_N ?? 1000),
    rateN: process.env.BENCH_RATE_N ? Number(process.env.BENCH_RATE_N) : null,
    freeBudget: 45,
    paidBudget: 1000,
    mixedN: process.env.BENCH_MIXED_N ? Number(process.env.BENCH_MIXED_N) : null,
    drainN: process.env.BENCH_DRAIN_N ? Number(process.env.BENCH_DRAIN_N) : null,
    edits: 20,
    scaleN: Number(process.env.BENCH_SCALE_N ?? 100_000),
    // `scale` (about 20 minutes at 100,000 records) runs only when asked: --only scale.
    only: new Set(PHASES.filter((phase) => phase !== 'scale')),
    parallel: Number(process.env.BENCH_PARALLEL ?? 7),
    idleWait: true,
    native: true,
    out: join(ROOT, 'target', 'bench', 'latest.json'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--n') opts.n = Number(value());
    else if (arg.startsWith('--n=')) opts.n = Number(arg.slice(4));
    else if (arg === '--rate-n') opts.rateN = Number(value());
    else if (arg === '--free-budget') opts.freeBudget = Number(value());
    else if (arg === '--paid-budget') opts.paidBudget = Number(value());
    else if (arg === '--parallel') opts.parallel = Number(value());
    else if (arg === '--mixed-n') opts.mixedN = Number(value());
    else if (arg === '--drain-n') opts.drainN = Number(value());
    else if (arg === '--scale-n') opts.scaleN = Number(value());
    else if (arg === '--edits') opts.edits = Number(value());
    else if (arg === '--only') opts.only = parseOnly(value());
    else if (arg.startsWith('--only=')) opts.only = parseOnly(arg.slice(7));
    else if (arg === '--no-idle-wait') opts.idleWait = false;
    else if (arg === '--no-native') opts.native = false;
    else if (arg === '--out') opts.out = resolve(value());
    else if (arg === '--help' || arg === '-h') {
      process.stderr.write(`usage: npm run bench -- [--only ${PHASES.join(',')}] [--n N] [--rate-n R] [--drain-n D] [--edits E] [--scale-n S] [--mixed-n M] [--free-budget B] [--paid-budget B] [--parallel K] [--no-idle-wait] [--no-native] [--out PATH]\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (see --help)`);
  }
  for (const [name, v] of [['--n', opts.n], ['--mixed-n', opts.mixedN ?? 1], ['--drain-n', opts.drainN ?? 1], ['--edits', opts.edits], ['--scale-n', opts.scaleN], ['--free-budget', opts.freeBudget], ['--paid-budget', opts.paidBudget], ['--parallel', opts.parallel]]) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive whole number`);
  }
  if (opts.freeBudget < 10 || opts.paidBudget > 10_000) throw new Error('budgets must be within 10..10000 (the Worker refuses others)');
  opts.rateN ??= Math.min(opts.n, 300);
  opts.drainN ??= opts.n;
  // Just above what one free-plan run reads per source (budget × 10 items, in pages of 100).
  opts.mixedN ??= Math.ceil((opts.freeBudget * 10) / 100) * 100 + 100;
  return opts;
}

function parseOnly(list) {
  const names = list.split(',').map((x) => x.trim()).filter(Boolean);
  const unknown = names.filter((x) => !PHASES.includes(x));
  if (unknown.length || !names.length) throw new Error(`--only: unknown phase(s) ${unknown.join(', ') || '(none given)'}; phases: ${PHASES.join(', ')}`);
  return new Set(names);
}

const log = (msg) => process.stderr.write(`bench: ${msg}\n`);

async function pool(tasks, limit) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= tasks.length) return;
      try {
        results[i] = { ok: true, value: await tasks[i]() };
      } catch (error) {
        log(`phase failed: ${error.stack ?? error}`);
        results[i] = { ok: false, error: String(error.message ?? error).slice(0, 2000) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

const SKIPPED = { ok: true, value: null, skipped: true };

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const wanted = (name) => opts.only.has(name);
  log(`phases: ${[...opts.only].join(', ')}; N=${opts.n}, rate phase R=${opts.rateN}, drain D=${opts.drainN}, budgets free=${opts.freeBudget} paid=${opts.paidBudget}, ${opts.parallel} phase(s) at once`);
  log('building the Worker (scripts/build.sh)');
  await buildWorker();
  const bundle = bundleSize();
  const native = opts.native && wanted('native');
  const compiling = native ? compileNative() : null;

  const { n } = opts;
  // Longest first, so that --parallel 1 still ends as soon as possible. SYNC_DRAIN=off in all but
  // the drain phase (stack.mjs default).
  const tasks = {
    'rows-free': () => firstSync({ direction: 'rows_to_pages', n, budget: opts.freeBudget, log, after: idleAfter({ wait: opts.idleWait }) }),
    'pages-free': () => firstSync({ direction: 'pages_to_rows', n, budget: opts.freeBudget, log }),
    drain: () => drainPhase({ n: opts.drainN, budget: opts.freeBudget, rate: 3, log }),
    'rows-paid': () => firstSync({ direction: 'rows_to_pages', n, budget: opts.paidBudget, log, after: echoAfter() }),
    'pages-paid': () => firstSync({ direction: 'pages_to_rows', n, budget: opts.paidBudget, log, after: echoAfter() }),
    rate: () => notionRate({ n: opts.rateN, budget: opts.paidBudget, limiter: { per_second: 3, burst: 10 }, log }),
    mixed: () => mixedProgress({ m: opts.mixedN, budget: opts.freeBudget, runs: 3, log }),
  };
  const names = Object.keys(tasks).filter(wanted);
  // Staggered starts: several sandboxes compiling/initialising at once only slow each other down.
  let starts = 0;
  const staggered = names.map((name) => async () => {
    await new Promise((r) => setTimeout(r, starts++ * 4_000));
    return tasks[name]();
  });
  const ran = await pool(staggered, opts.parallel);
  const results = {};
  for (const name of Object.keys(tasks)) results[name] = wanted(name) ? ran[names.indexOf(name)] : SKIPPED;

  // Timing phases, alone (nothing else running on this machine's cores from this benchmark).
  const [latency] = wanted('latency') ? await pool([() => latencyPhase({ pairs: 20, edits: opts.edits, budget: opts.freeBudget, log })], 1) : [SKIPPED];
  const [cpu] = wanted('cpu') ? await pool([() => cpuPhase({ samples: 10, log })], 1) : [SKIPPED];
  // Counts, but heavy on the machine (N pages in the emulator, N rows): alone, last.
  const [scale] = wanted('scale')
    ? await pool([() => scalePhase({ n: opts.scaleN, budget: opts.paidBudget, freeBudget: opts.freeBudget, idleWait: opts.idleWait, log })], 1)
    : [SKIPPED];

  const nativeResult = native ? await nativeBench(compiling) : { available: false, note: 'skipped (--no-native or --only)' };
  const report = buildReport({ opts, started, results, latency, cpu, scale, bundle, native: nativeResult });
  // Per-run details are long: keep them in the file, not on the terminal.
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
  const printed = structuredClone(report);
  for (const dir of Object.values(printed.first_sync)) {
    for (const plan of [dir.free_plan, dir.paid_plan]) if (plan && plan.per_run) plan.per_run = `${plan.per_run.length} runs: see ${opts.out}`;
  }
  if (printed.scale?.full_reconciliation?.per_run) printed.scale.full_reconciliation.per_run = `${printed.scale.full_reconciliation.per_run.length} runs: see ${opts.out}`;
  if (printed.drain?.timeline) printed.drain.timeline = `${printed.drain.timeline.length} /health samples: see ${opts.out}`;
  process.stderr.write(table(report) + '\n');
  process.stdout.write(JSON.stringify(printed, null, 2) + '\n');
  log(`done in ${report.wall_seconds} s; full JSON (per-run figures too) in ${opts.out}`);
  const failed = [...Object.values(results), latency, cpu, scale].filter((r) => !r.ok).length;
  process.exitCode = failed ? 1 : 0;
}

/** A phase's JSON: its value, `{ error }`, or `{ skipped }`. */
const value = (r) => (r.skipped ? { skipped: 'not in --only' } : r.ok ? r.value : { error: r.error });

function buildReport({ opts, started, results, latency, cpu, scale, bundle, native }) {
  const { n } = opts;
  const { 'rows-free': rowsFree, 'pages-free': pagesFree, 'rows-paid': rowsPaid, 'pages-paid': pagesPaid, rate, mixed, drain } = results;
  const idle = rowsFree.ok && rowsFree.value ? rowsFree.value.after : null;
  const strip = (r) => {
    if (r.skipped || !r.ok) return value(r);
    const { after, ...rest } = r.value;
    return rest;
  };
  const after = (r) => (r.ok && r.value ? r.value.after?.right_after_first_sync ?? null : null);
  return {
    bench: 'decision-sync',
    n,
    phases: [...opts.only],
    finished_at: new Date().toISOString(),
    wall_seconds: Math.round((Date.now() - started) / 1000),
    machine: { cpus: availableParallelism(), node: process.version, note: 'shared machine: timings vary; counts are the primary figures' },
    method: {
      notion: 'emulator counters (GET /__admin/counters, reset before each run), by method + route; GET and POST .../query are reads, POST /v1/pages and PATCH /v1/pages/{id} writes',
      supabase: 'counting HTTP proxy in front of postrust (the Worker\'s SUPABASE_REST_URL); GET = read, POST/PATCH = write, POST /rpc/<fn> counted as write',
      kv: KV_METHOD,
      worker_reported: 'the run summary\'s own `subrequests`, shown only as a cross-check',
      limiter: 'emulator rate limiter off for the counting phases, on (3 req/s, burst 10) for the rate, drain and latency phases',
      phases: 'each phase has its own sandbox and wrangler dev. Per-run phases (first_sync, idle_run, notion_rate, mixed_first_sync) run with SYNC_DRAIN=off and call /sync-now back to back until a run ends ok with nothing pending and both sides are verified complete; drain, latency and cpu run with SYNC_DRAIN=on',
    },
    idle_run: idle
      ? {
          records: n,
          steady: idle.steady,
          steady_note: idle.steady_note ?? 'third idle run: the previous idle run already moved the Notion cursor past the last writes (2-minute overlap passed)',
          right_after_first_sync: idle.right_after_first_sync,
          after_overlap: idle.after_overlap ?? null,
        }
      : rowsFree.skipped ? value(rowsFree) : { error: rowsFree.ok ? 'no idle figures' : rowsFree.error },
    first_sync: {
      rows_to_pages: {
        records: n,
        floor: floorOf('rows_to_pages', n),
        free_plan: strip(rowsFree),
        paid_plan: strip(rowsPaid),
        run_right_after_paid: after(rowsPaid),
      },
      pages_to_rows: {
        records: n,
        floor: floorOf('pages_to_rows', n),
        free_plan: strip(pagesFree),
        paid_plan: strip(pagesPaid),
        run_right_after_paid: after(pagesPaid),
      },
    },
    notion_rate: value(rate),
    mixed_first_sync: value(mixed),
    kv_writes_per_run: kvSummary([rowsFree, rowsPaid, pagesFree, pagesPaid], idle),
    drain: value(drain),
    latency: value(latency),
    cpu: value(cpu),
    scale: value(scale),
    bundle,
    native_core: native,
  };
}

function kvSummary(results, idle) {
  const perRun = [];
  for (const r of results) {
    if (!r.ok || !r.value) continue;
    for (const run of r.value.per_run) perRun.push(run.kv_writes);
  }
  if (idle?.idle_runs) for (const run of idle.idle_runs) perRun.push(run.kv_writes);
  if (!perRun.length) return { method: KV_METHOD, note: 'no run measured' };
  const total = perRun.reduce((a, b) => a + b, 0);
  const histogram = {};
  for (const k of perRun) histogram[k] = (histogram[k] ?? 0) + 1;
  return {
    method: KV_METHOD,
    runs_observed: perRun.length,
    min: Math.min(...perRun),
    max: Math.max(...perRun),
    mean: round(total / perRun.length, 2),
    histogram,
  };
}

main().catch((error) => {
  log(`failed: ${error.stack ?? error}`);
  process.exitCode = 1;
});
