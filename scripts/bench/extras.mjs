// Figures that need no sandbox: bundle size and the native core benchmark.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { ROOT } from '../lib/sandbox.mjs';

/** Raw and gzip sizes of build/index_bg.wasm and build/index.js (what `wrangler deploy` uploads). */
export function bundleSize() {
  const files = { wasm: 'build/index_bg.wasm', js: 'build/index.js' };
  const out = {};
  let raw = 0;
  let gzip = 0;
  for (const [key, path] of Object.entries(files)) {
    const full = join(ROOT, path);
    if (!existsSync(full)) {
      out[key] = { path, missing: true };
      continue;
    }
    const bytes = readFileSync(full);
    const gz = gzipSync(bytes, { level: 9 }).length;
    out[key] = { path, raw_bytes: bytes.length, gzip_bytes: gz };
    raw += bytes.length;
    gzip += gz;
  }
  out.total = { raw_bytes: raw, gzip_bytes: gzip };
  out.limits = { free_plan_gzip_bytes: 3 * 1024 * 1024, paid_plan_gzip_bytes: 10 * 1024 * 1024 };
  out.method = 'sizes of the built files; gzip with Node zlib level 9 (Cloudflare limits apply to the compressed upload)';
  return out;
}

function run(command, args, { timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    child.on('error', (error) => { stderr += error.message; });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

export const NATIVE_COMMAND = ['cargo', 'bench', '-p', 'decision-sync', '--bench', 'core'];

/** Compiles the native benchmark (so the later timed run does not compile), when it exists. */
export function compileNative() {
  if (!existsSync(join(ROOT, 'benches', 'core.rs'))) return Promise.resolve(null);
  return run(NATIVE_COMMAND[0], [...NATIVE_COMMAND.slice(1), '--no-run'], { timeoutMs: 15 * 60_000 });
}

/**
 * Parses lines such as
 *   `planner::plan    10000 records: best 12.3 ms, median 13.0 ms  =  1.23 µs/record (median 1.30)`
 * and, failing that, keeps every line that mentions a per-record figure.
 */
export function parseNative(stdout) {
  const figures = [];
  const pattern = /^(.+?)\s+(\d+) records: best\s+([\d.]+) ms, median\s+([\d.]+) ms\s+=\s+([\d.]+) µs\/record \(median\s+([\d.]+)\)/;
  for (const line of stdout.split('\n')) {
    const m = pattern.exec(line.trim());
    if (m) {
      figures.push({
        what: m[1].trim(),
        records: Number(m[2]),
        best_ms: Number(m[3]),
        median_ms: Number(m[4]),
        best_us_per_record: Number(m[5]),
        median_us_per_record: Number(m[6]),
      });
    }
  }
  const other = stdout.split('\n').filter((l) => /record/i.test(l) && !pattern.test(l.trim())).map((l) => l.trim());
  return { figures, other_lines: other };
}

export async function nativeBench(compiling) {
  const command = NATIVE_COMMAND.join(' ');
  if (!existsSync(join(ROOT, 'benches', 'core.rs'))) {
    return { available: false, command, note: 'benches/core.rs does not exist yet: no native figure (none invented)' };
  }
  const compiled = await compiling;
  if (compiled && compiled.code !== 0) {
    return { available: false, command, note: `compiling it failed (exit ${compiled.code}${compiled.timedOut ? ', timed out' : ''})`, output_tail: (compiled.stderr + compiled.stdout).slice(-1500) };
  }
  const result = await run(NATIVE_COMMAND[0], NATIVE_COMMAND.slice(1), { timeoutMs: 10 * 60_000 });
  if (result.code !== 0) {
    return { available: false, command, note: `it failed (exit ${result.code}${result.timedOut ? ', timed out' : ''})`, output_tail: (result.stderr + result.stdout).slice(-1500) };
  }
  const parsed = parseNative(result.stdout);
  const plan = parsed.figures.find((f) => /plan/.test(f.what));
  const mapping = parsed.figures.filter((f) => /mapping|page_from_json|properties_json/.test(f.what));
  const sum = (list) => Math.round(list.reduce((a, f) => a + f.median_us_per_record, 0) * 100) / 100;
  return {
    available: true,
    command,
    plan_us_per_record: plan ? plan.median_us_per_record : null,
    mapping_us_per_record: mapping.length ? sum(mapping) : null,
    mapping_note: mapping.length ? `sum of the medians of ${mapping.map((f) => f.what).join(' + ')} (one page read + one page write)` : 'no mapping figure found in the output',
    plan_plus_mapping_us_per_record: plan && mapping.length ? sum([plan, ...mapping]) : null,
    figures: parsed.figures,
    other_lines: parsed.other_lines,
    note: parsed.figures.length ? 'native (x86_64, release) medians on this shared machine; the Worker runs the same code as wasm, typically slower by a small factor' : 'output not in the expected format; see other_lines',
  };
}
