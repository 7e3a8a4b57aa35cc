// End-to-end harness: builds the Worker once and runs it in real workerd through
// `wrangler dev --local --test-scheduled`, each instance with its own vars, port and persisted
// state (KV, Durable Objects), so tests never share state.
//
//   import { startWorker } from './harness.mjs';
//   const worker = await startWorker({ vars: { SUPABASE_URL: 'http://127.0.0.1:3000' } });
//   try {
//     const res = await worker.fetch('/health');          // a fetch Response
//     const { status, body } = await worker.json('/health'); // parsed JSON
//     await worker.fireCron();                             // runs the scheduled handler
//   } finally {
//     await worker.stop();                                 // kills wrangler + workerd, removes temp dirs
//   }
//
// Vars go through a temporary dotenv file given with `--env-file`, which replaces the project's
// `.dev.vars`/`.env` (a developer's local secrets never leak into tests). The process runs in its
// own process group; stop() (and process exit) kill the whole group, so no workerd is left behind.
//
// Every instance runs a snapshot of build/ taken once per test process (after the build), with a
// generated copy of wrangler.toml without its [build] section: wrangler then neither watches src/
// nor reloads the Worker mid-test when someone edits the sources or rebuilds meanwhile.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_CRON = '*/15 * * * *';
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

/** Placeholder values for every required setting (enough for "configured"; they reach nothing). */
export const DUMMY_CONFIG = Object.freeze({
  SUPABASE_URL: 'http://127.0.0.1:9',
  NOTION_API_BASE: 'http://127.0.0.1:9', // never api.notion.com from a test
  SUPABASE_SERVICE_ROLE_KEY: 'test-service-role-key',
  NOTION_API_KEY: 'test-notion-key',
  NOTION_DATABASE_ID: '00000000000000000000000000000000',
  SYNC_ADMIN_TOKEN: 'test-admin-token',
});

let built = null;
let snapshot = null;

/**
 * Builds the Worker (scripts/build.sh: a no-op when build/ is up to date). Runs once per process;
 * later calls reuse the result. Throws with the build's output on failure.
 */
export function buildWorker() {
  if (!built) {
    built = new Promise((resolvePromise, reject) => {
      const child = spawn('bash', [join(ROOT, 'scripts', 'build.sh')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolvePromise();
        else reject(new Error(`scripts/build.sh failed (exit ${code}):\n${out.slice(-8000)}`));
      });
    });
  }
  return built;
}

/** wrangler.toml without its [build] table (the snapshot is built already; nothing to watch). */
export function configWithoutBuild(text) {
  const out = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(line);
    if (header) skipping = header[1] === 'build' || header[1].startsWith('build.');
    if (!skipping) out.push(line);
  }
  return out.join('\n');
}

/**
 * A private copy of build/ and a wrangler config pointing at it (once per process; removed at
 * exit). Returns the config's path.
 */
function buildSnapshot() {
  if (!snapshot) {
    const dir = mkdtempSync(join(tmpdir(), 'decision-sync-build-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(ROOT, 'build'), join(dir, 'build'), { recursive: true });
    const config = join(dir, 'wrangler.toml');
    writeFileSync(config, configWithoutBuild(readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')));
    snapshot = config;
  }
  return snapshot;
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

/** dotenv line for one var; values are double-quoted with \\, ", newlines escaped. */
function dotenvLine(key, value) {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`invalid var name: ${key}`);
  const text = String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `${key}="${text}"`;
}

const live = new Set();
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const child of live) killGroup(child, 'SIGKILL');
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the Worker in `wrangler dev --local --test-scheduled`.
 *
 * @param {object} [options]
 * @param {Record<string,string>} [options.vars]  vars/secrets the Worker sees (nothing else)
 * @param {string} [options.persistDir]  state directory (default: a fresh temp dir, removed by stop()
 *                                      unless `stop({ keepState: true })`; see also restart())
 * @param {number} [options.port]        port (default: a free one)
 * @param {number} [options.timeoutMs]   how long to wait for the first answer (default 120 s)
 * @param {string[]} [options.args]      extra wrangler dev arguments
 * @param {Record<string,string>} [options.env]  extra environment for the wrangler process
 * @param {boolean} [options.build]      build first (default true)
 */
export async function startWorker(options = {}) {
  // freePort() only says a port was free a moment ago: another process (a sandbox, another suite)
  // may bind it before workerd does. Such a start is retried on new ports, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWorkerOnce(options);
    } catch (error) {
      const portTaken = /Address already in use/.test(String(error?.message));
      if (!portTaken || options.port !== undefined || attempt >= 3) throw error;
    }
  }
}

async function startWorkerOnce(options) {
  const { vars = {}, timeoutMs = 120_000, args = [], env = {}, build = true } = options;
  if (build) await buildWorker();
  if (!existsSync(WRANGLER)) throw new Error(`${WRANGLER} is missing: run \`npm run setup\``);
  if (!existsSync(join(ROOT, 'build', 'index.js'))) throw new Error('build/index.js is missing: run `bash scripts/build.sh`');
  const config = buildSnapshot();

  const tmp = mkdtempSync(join(tmpdir(), 'decision-sync-e2e-'));
  // A state dir the harness made is the harness's to remove (handed on by restart()).
  const ownedState = options.persistDir ? options._ownedState : mkdtempSync(join(tmpdir(), 'decision-sync-state-'));
  const persistDir = options.persistDir ?? ownedState;
  const envFile = join(tmp, 'vars.env');
  writeFileSync(envFile, Object.entries(vars).map(([k, v]) => dotenvLine(k, v)).join('\n') + '\n', { mode: 0o600 });
  const port = options.port ?? (await freePort());
  const inspectorPort = await freePort();

  const wranglerArgs = [
    'dev', '--config', config, '--local', '--test-scheduled',
    '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', persistDir, '--env-file', envFile,
    '--show-interactive-dev-session=false', '--log-level', 'log', // 'log' shows the Worker's console.log
    ...args,
  ];
  const child = spawn(WRANGLER, wranglerArgs, {
    cwd: ROOT,
    detached: true, // own process group: stop() kills wrangler and every workerd it started
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CI: process.env.CI ?? 'true',
      FORCE_COLOR: '0',
      NO_COLOR: '1',
      // The generated config has no [build] step; should one ever run, it must not rebuild.
      BUILD_SKIP_IF_PRESENT: '1',
      ...env,
    },
  });
  live.add(child);

  let stdout = '';
  let stderr = '';
  const waiters = new Set();
  const notify = () => { for (const w of waiters) w(); };
  child.stdout.on('data', (d) => { stdout += d; notify(); });
  child.stderr.on('data', (d) => { stderr += d; notify(); });
  let exited = null;
  child.on('error', (e) => { stderr += `\n[harness] could not run wrangler: ${e.message}\n`; });
  const exitPromise = new Promise((r) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // Stays in `live` until stop() saw the whole group gone: workerd may outlive wrangler.
      notify();
      r(exited);
    });
  });

  const url = `http://127.0.0.1:${port}`;
  const output = () => `--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;
  let stopped = false;

  const worker = {
    url,
    port,
    persistDir,
    pid: child.pid,
    get stdout() { return stdout; },
    get stderr() { return stderr; },
    output,
    get exited() { return exited; },

    /** fetch() against the Worker; `path` is relative to its URL. */
    fetch(path, init) {
      return fetch(new URL(path, url), init);
    },

    /** fetch + JSON body: `{ status, headers, body }` (body is null when not JSON). */
    async json(path, init) {
      const res = await worker.fetch(path, init);
      const text = await res.text();
      let body = null;
      try { body = JSON.parse(text); } catch { body = null; }
      return { status: res.status, headers: res.headers, body, text };
    },

    /** Runs the scheduled handler once (wrangler's /__scheduled), waiting for it to finish. */
    async fireCron(cron = DEFAULT_CRON) {
      const res = await worker.fetch(`/__scheduled?cron=${encodeURIComponent(cron).replace(/%20/g, '+')}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`/__scheduled answered ${res.status}: ${text}\n${output()}`);
      return text;
    },

    /** Waits until stdout+stderr (since start) match `pattern`; returns the match. */
    waitForOutput(pattern, ms = 30_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          const m = (stdout + stderr).match(pattern);
          if (m) { done(); resolvePromise(m); } else if (exited) { done(); reject(new Error(`wrangler exited before ${pattern}\n${output()}`)); }
        };
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${pattern}\n${output()}`)); }, ms);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },

    /**
     * Stops wrangler and its workerd (whole process group) and removes temp dirs (the state too,
     * if the harness made it, unless `keepState`). Idempotent.
     */
    async stop({ keepState = false } = {}) {
      if (stopped) return exitPromise;
      stopped = true;
      if (!exited) {
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5_000);
        await exitPromise;
        clearTimeout(timer);
      }
      // wrangler may exit before its children: make sure the group is gone.
      killGroup(child, 'SIGKILL');
      await waitGroupGone(child.pid, 5_000);
      live.delete(child);
      rmSync(tmp, { recursive: true, force: true });
      if (ownedState && !keepState) rmSync(ownedState, { recursive: true, force: true });
      return exited;
    },

    /**
     * Stops this instance and starts a new one on the same persisted state (KV, Durable Objects),
     * with the same options unless overridden. Returns the new instance (new port); this one is done.
     */
    async restart(overrides = {}) {
      await worker.stop({ keepState: true });
      return startWorker({ ...options, ...overrides, persistDir, _ownedState: ownedState });
    },
  };

  // Wait until the Worker itself answers (every answer of ours is JSON, 404 included; wrangler's
  // own placeholder pages while it loads are not) or wrangler dies.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      await worker.stop({ keepState: Boolean(options.persistDir) }); // a restart's state stays for a retry
      throw new Error(`wrangler dev exited (${JSON.stringify(exited)}) before answering\n${output()}`);
    }
    try {
      const res = await fetch(`${url}/__harness_ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if ((res.headers.get('content-type') || '').includes('application/json')) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await worker.stop({ keepState: Boolean(options.persistDir) }); // a restart's state stays for a retry
      throw new Error(`wrangler dev did not answer on ${url} within ${timeoutMs} ms\n${output()}`);
    }
    await sleep(250);
  }
  return worker;
}

/** True while any process of group `pgid` exists. */
export function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

async function waitGroupGone(pgid, ms) {
  const deadline = Date.now() + ms;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(50);
}

/** Process ids whose command line mentions `needle` (for leak checks in tests). */
export function processesMatching(needle) {
  const res = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return (res.stdout || '')
    .split('\n')
    .filter((line) => line.includes(needle) && !line.includes('ps -eo'))
    .map((line) => Number(line.trim().split(/\s+/, 1)[0]));
}

/**
 * The Notion emulator's webhook subscription (`/__admin/webhooks`, docs/NOTION_EMULATOR.md):
 *
 *   const hooks = notionWebhooks(world);             // a World, or the emulator's admin base URL
 *   await hooks.subscribe({ url: `${worker.url}/webhooks/notion`, verification_token: 'secret_x',
 *                           aggregation_ms: 200, retry_base_ms: 50 });
 *   await hooks.update({ drop_next: 1 });            // delivery options, no new verification
 *   await hooks.settled();                           // waits until nothing is pending
 *   const { sent, delivered, failed, retried, dropped, pending } = await hooks.stats();
 *   await hooks.unsubscribe();
 */
export function notionWebhooks(worldOrAdminBase) {
  const base = typeof worldOrAdminBase === 'string' ? worldOrAdminBase : worldOrAdminBase.admin;
  async function call(method, path, body) {
    const res = await fetch(`${base}/webhooks${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} /webhooks${path} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }
  const hooks = {
    /** Creates (replaces) the subscription; `{ subscription, stats }` (the token in subscription). */
    subscribe: (options) => call('POST', '', options),
    /** Changes delivery options of the current subscription. */
    update: (options) => call('PATCH', '', options),
    /** `{ subscription: {...} | null, stats: {...} }`. */
    get: () => call('GET', ''),
    unsubscribe: () => call('DELETE', ''),
    stats: () => call('GET', '/stats'),
    resetStats: () => call('DELETE', '/stats'),
    /** Ends every aggregation window now. */
    flush: () => call('POST', '/flush'),
    /** One event an admin asks for, e.g. `{ type: 'data_source.schema_updated' }`. */
    emit: (event) => call('POST', '/events', event),
    /** Waits until no event is pending (aggregating, queued or in flight); returns the stats. */
    async settled(ms = 30_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const stats = await hooks.stats();
        if (stats.pending === 0) return stats;
        if (Date.now() > deadline) throw new Error(`webhooks still pending after ${ms} ms: ${JSON.stringify(stats)}`);
        await sleep(50);
      }
    },
  };
  return hooks;
}
