// The short human-readable table `npm run bench` prints (on stderr; the JSON goes to stdout).

export const KV_METHOD =
  'distinct new blob files under the persist dir\'s v3/kv/<namespace>/blobs/ during the run (wrangler\'s local KV ' +
  'writes one new immutable, randomly named blob per put; watched with inotify and listed every 20 ms); ' +
  'cross-checked with the keys whose blob_id changed in miniflare\'s _mf_entries sqlite table';

const pad = (s, n) => String(s ?? '—').padEnd(n);
const num = (x) => (x === null || x === undefined ? '—' : String(x));

function split(f) {
  if (!f) return '—';
  return `N ${f.notion.read}r+${f.notion.write}w  S ${f.supabase.read}r+${f.supabase.write}w`;
}

export function table(report) {
  const lines = [];
  const n = report.n;
  lines.push('');
  lines.push(`decision-sync benchmark, N = ${n} (counts measured outside the Worker; wall ${report.wall_seconds} s)`);
  lines.push('-'.repeat(100));
  const idle = report.idle_run ?? {};
  lines.push(`${pad('idle run, steady state', 44)}${pad(num(idle.steady?.subrequests), 8)}${split(idle.steady)}  (worker says ${num(idle.steady?.worker_reported_subrequests)})`);
  lines.push(`${pad('idle run right after the first sync', 44)}${pad(num(idle.right_after_first_sync?.subrequests), 8)}${split(idle.right_after_first_sync)}`);
  lines.push('');
  lines.push('per-run phases below: SYNC_DRAIN=off, every run driven by POST /sync-now (so per-run figures keep their meaning)');
  lines.push(`${pad('first sync', 30)}${pad('budget', 8)}${pad('runs', 6)}${pad('subreq', 8)}${pad('per rec', 9)}${pad('÷floor', 8)}${pad('worker', 8)}split`);
  for (const [dir, label] of [['rows_to_pages', `${n} rows → pages`], ['pages_to_rows', `${n} pages → rows`]]) {
    const d = report.first_sync[dir];
    for (const plan of [d.free_plan, d.paid_plan]) {
      if (!plan || plan.error || plan.skipped) {
        lines.push(`${pad(label, 30)}${plan?.skipped ? 'skipped (--only)' : `error: ${plan?.error ?? 'not run'}`}`);
        continue;
      }
      const split2 = `N ${plan.notion.read}r+${plan.notion.write}w  S ${plan.supabase.read}r+${plan.supabase.write}w`;
      lines.push(
        `${pad(label, 30)}${pad(plan.budget, 8)}${pad(plan.runs_to_drain + (plan.complete ? '' : '!'), 6)}${pad(plan.subrequests, 8)}` +
          `${pad(plan.per_record, 9)}${pad(plan.ratio_to_floor, 8)}${pad(plan.worker_reported_subrequests, 8)}${split2}`,
      );
    }
    lines.push(`${pad('', 30)}floor ${d.floor.subrequests}: ${d.floor.explained}`);
  }
  lines.push('');
  const r = report.notion_rate ?? {};
  if (r.skipped) lines.push('notion rate: skipped (--only)');
  else if (r.error) lines.push(`notion rate: error: ${r.error}`);
  else lines.push(`notion rate (limiter ${r.limiter?.per_second ?? 3}/s, ${r.records} rows): ${r.requests_per_second} req/s sustained, ${r.answered_429} of ${r.notion_requests} answered 429 (${(100 * (r.share_429 ?? 0)).toFixed(2)} %)`);
  const mx = report.mixed_first_sync ?? {};
  if (mx.skipped) lines.push('mixed first sync: skipped (--only)');
  else if (mx.error) lines.push(`mixed first sync: error: ${mx.error}`);
  else if (mx.runs) lines.push(`mixed first sync (${mx.records_per_side} rows + ${mx.records_per_side} pages, budget ${mx.budget}, ${mx.runs} runs): ${mx.records_synced} of ${2 * mx.records_per_side} rows linked (when done) for ${mx.subrequests} subrequests${mx.stalled ? '  <-- STALLED: no progress' : ''}`);
  const kv = report.kv_writes_per_run ?? {};
  lines.push(`KV writes per run: min ${num(kv.min)}, max ${num(kv.max)}, mean ${num(kv.mean)} over ${num(kv.runs_observed)} runs`);
  lines.push('');
  lines.push(...coordinatorLines(report));
  lines.push('');
  const b = report.bundle;
  const kb = (x) => (x === undefined ? '—' : `${(x / 1024).toFixed(1)} KiB`);
  lines.push(`bundle: wasm ${kb(b.wasm?.raw_bytes)} (gzip ${kb(b.wasm?.gzip_bytes)}), js ${kb(b.js?.raw_bytes)} (gzip ${kb(b.js?.gzip_bytes)}), total gzip ${kb(b.total?.gzip_bytes)}`);
  const nat = report.native_core ?? {};
  if (nat.available) lines.push(`native core: plan ${num(nat.plan_us_per_record)} µs/record, mapping ${num(nat.mapping_us_per_record)} µs/record (${nat.command})`);
  else lines.push(`native core: not available — ${nat.note}`);
  lines.push('-'.repeat(100));
  return lines.join('\n');
}

/** A phase that did not run or failed, as one line; null when it has figures. */
function notRun(name, r) {
  if (!r) return `${name}: not run`;
  if (r.skipped) return `${name}: skipped (--only)`;
  if (r.error) return `${name}: error: ${r.error}`;
  return null;
}

function drainLine(d) {
  const t = d.target ?? {};
  return [
    `drain (SYNC_DRAIN=on, NOTION_RATE=${d.notion_rate_setting}, limiter ${d.limiter?.per_second}/s, budget ${d.budget}): ONE POST /sync-now, ${d.records} rows → pages`,
    `  ${d.ended}${d.complete ? ', complete' : ', NOT complete'}: ${d.wall_seconds} s wall, ${d.runs} runs; Notion ${d.notion_requests_per_second} req/s ` +
      `(${d.notion_requests} requests, ${d.notion_429} answered 429), all subrequests ${d.subrequests_per_second}/s (${d.subrequests}: + ${d.supabase_requests} Supabase)`,
    `  KV writes: ${d.kv_writes} during the drain (≈ ${d.kv_writes_per_hour}/h at that pace); target ≥ ${t.requests_per_second} req/s: ${t.met ? 'met' : 'NOT met'} ` +
      `(cron-only: ${t.cron_only_requests_per_second} subrequests/s; ×${t.speedup_vs_cron_only})`,
    d.first_forecast
      ? `  /health's first forecast (at ${d.first_forecast.at_s} s): finish ${d.first_forecast.expected_finish}, off by ${d.first_forecast.error_seconds} s`
      : '  /health gave no forecast (coordinator.drain.expected_finish)',
  ];
}

function latencyLines(l) {
  const dir = (name, f) =>
    `  ${pad(name, 22)}p50 ${num(f.p50_ms)} ms, p95 ${num(f.p95_ms)} ms, max ${num(f.max_ms)} ms over ${f.edits} edits${f.not_seen ? ` (${f.not_seen} NOT seen)` : ''}; ` +
    `Notion requests/edit: ${f.notion_requests_per_edit_until_visible.mean} until visible, ${f.notion_requests_per_edit_until_quiet.mean} incl. echo runs`;
  return [
    `latency (both webhooks on, Notion aggregation_ms ${l.notion_webhook?.aggregation_ms}, ${l.pairs} pairs, polled every ${l.poll_ms} ms):`,
    dir('Notion → Supabase', l.notion_to_supabase),
    dir('Supabase → Notion', l.supabase_to_notion),
  ];
}

function cpuLines(c) {
  const out = [`CPU per request (workerd, /proc schedstat, median of ${c.samples}; Worker and DO share one workerd in wrangler dev):`];
  for (const [key, f] of Object.entries(c.per_request)) {
    const net = f.minus_baseline_ms === null ? '(baseline)' : `${f.minus_baseline_ms} ms over the 404`;
    out.push(`  ${pad(key, 18)}${pad(`${f.median_ms} ms`, 11)}${pad(net, 22)}${f.what}`);
  }
  return out;
}

/** The coordinator phases: drain, latency, cpu. */
function coordinatorLines(report) {
  const lines = [];
  lines.push(notRun('drain', report.drain) ?? drainLine(report.drain));
  lines.push(notRun('latency', report.latency) ?? latencyLines(report.latency));
  lines.push(notRun('cpu', report.cpu) ?? cpuLines(report.cpu));
  lines.push(notRun('scale', report.scale) ?? scaleLines(report.scale));
  return lines.flat();
}

function scaleLines(s) {
  const r = s.full_reconciliation;
  const c = r.checks ?? {};
  const yes = (b) => (b ? 'yes' : 'NO');
  const idle = s.idle_run ?? {};
  return [
    `scale (${s.records} linked records seeded without the Worker, limiter off):`,
    `  full reconciliation, budget ${r.budget}: ${r.runs} runs${r.complete ? '' : ' (NOT complete)'}, ${r.subrequests} subrequests (${split(r)}), ${r.per_1000_records} per 1,000 records; ${r.writes} writes`,
    `  drift found: row edit in Notion ${yes(c.row_edit_reached_notion)}, trashed page's row soft-deleted ${yes(c.trashed_page_soft_deleted_its_row)}, hard delete in /health orphans ${yes(c.hard_delete_in_health_orphans)}`,
    `  free plan (budget ${r.free_plan_projection.budget}, ${r.free_plan_projection.items_per_source_per_run} items per source per run): ≥ ${r.free_plan_projection.runs_at_least} runs (projection, not run)`,
    `  idle run: right after ${num(idle.right_after_reconciliation?.subrequests)} (${split(idle.right_after_reconciliation)}), steady ${num(idle.steady?.subrequests)}${idle.steady ? ` (${split(idle.steady)})` : ''}`,
  ];
}
