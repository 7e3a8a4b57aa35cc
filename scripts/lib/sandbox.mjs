// Starts the local sandbox (PostgreSQL 15 + postrust-server + the Notion emulator) from Node, for
// `npm start`, the end-to-end tests and the benchmark.
//
//   import { startSandbox } from '../../scripts/lib/sandbox.mjs';
//   const sandbox = await startSandbox({ seed: true, rateLimit: 'off' });
//   sandbox.env            // { SUPABASE_URL, ..., SANDBOX_PG_URI, SANDBOX_NOTION_ADMIN }
//   sandbox.workerVars     // the same without the SANDBOX_* entries (what the Worker needs)
//   await sandbox.stop();  // SIGTERM: the launcher stops every process and removes its temp dirs
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Parses KEY=VALUE lines. */
export function parseEnv(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2];
  }
  return env;
}

/**
 * @param {object} [options]
 * @param {boolean} [options.seed]          insert a few example decisions on each side
 * @param {string} [options.rateLimit]      emulator rate limit: 'off', 'N' or 'N/BURST' (default 3/10)
 * @param {number} [options.timeoutMs]      how long to wait for it to come up
 * @param {boolean} [options.inheritStderr] show the launcher's messages
 */
export async function startSandbox(options = {}) {
  const { seed = false, rateLimit, timeoutMs = 180_000, inheritStderr = false } = options;
  const dir = mkdtempSync(join(tmpdir(), 'decision-sync-sandbox-'));
  const envFile = join(dir, 'sandbox.env');
  const args = ['--env-file', envFile];
  if (seed) args.push('--seed');
  if (rateLimit) args.push('--notion-rate-limit', rateLimit);
  const child = spawn('bash', [join(ROOT, 'scripts', 'sandbox.sh'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', inheritStderr ? 'inherit' : 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += d; });
  let exited = null;
  const closed = new Promise((done) => child.on('close', (code, signal) => { exited = { code, signal }; done(); }));

  const deadline = Date.now() + timeoutMs;
  while (!existsSync(envFile)) {
    if (exited) throw new Error(`the sandbox exited (${JSON.stringify(exited)}) before it was ready:\n${stderr.slice(-4000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the sandbox was not ready after ${timeoutMs} ms:\n${stderr.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const env = parseEnv(readFileSync(envFile, 'utf8'));
  const workerVars = Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('SANDBOX_')));

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (!exited) child.kill('SIGTERM');
    const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 15_000);
    await closed;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
  process.once('exit', () => { if (!exited) child.kill('SIGTERM'); });
  return { env, workerVars, stop, stderr: () => stderr, child };
}
