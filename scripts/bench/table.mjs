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
  lines.push(`${pad('first sync', 30)}${pad('budget', 8)}${pad('runs', 6)}${pad('subreq', 8)}${pad('per rec', 9)}${pad('÷floor', 8)}${pad('worker', 8)}split`);
  for (const [dir, label] of [['rows_to_pages', `${n} rows → pages`], ['pages_to_rows', `${n} pages → rows`]]) {
    const d = report.first_sync[dir];
    for (const plan of [d.free_plan, d.paid_plan]) {
      if (!plan || plan.error) {
        lines.push(`${pad(label, 30)}error: ${plan?.error ?? 'not run'}`);
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
  if (r.error) lines.push(`notion rate: error: ${r.error}`);
  else lines.push(`notion rate (limiter ${r.limiter?.per_second ?? 3}/s, ${r.records} rows): ${r.requests_per_second} req/s sustained, ${r.answered_429} of ${r.notion_requests} answered 429 (${(100 * (r.share_429 ?? 0)).toFixed(2)} %)`);
  const mx = report.mixed_first_sync ?? {};
  if (mx.error) lines.push(`mixed first sync: error: ${mx.error}`);
  else if (mx.runs) lines.push(`mixed first sync (${mx.records_per_side} rows + ${mx.records_per_side} pages, budget ${mx.budget}, ${mx.runs} runs): ${mx.records_synced} of ${2 * mx.records_per_side} rows linked (when done) for ${mx.subrequests} subrequests${mx.stalled ? '  <-- STALLED: no progress' : ''}`);
  const kv = report.kv_writes_per_run ?? {};
  lines.push(`KV writes per run: min ${num(kv.min)}, max ${num(kv.max)}, mean ${num(kv.mean)} over ${num(kv.runs_observed)} runs`);
  const b = report.bundle;
  const kb = (x) => (x === undefined ? '—' : `${(x / 1024).toFixed(1)} KiB`);
  lines.push(`bundle: wasm ${kb(b.wasm?.raw_bytes)} (gzip ${kb(b.wasm?.gzip_bytes)}), js ${kb(b.js?.raw_bytes)} (gzip ${kb(b.js?.gzip_bytes)}), total gzip ${kb(b.total?.gzip_bytes)}`);
  const nat = report.native_core ?? {};
  if (nat.available) lines.push(`native core: plan ${num(nat.plan_us_per_record)} µs/record, mapping ${num(nat.mapping_us_per_record)} µs/record (${nat.command})`);
  else lines.push(`native core: not available — ${nat.note}`);
  lines.push('-'.repeat(100));
  return lines.join('\n');
}
