// npm start (after scripts/setup.sh and scripts/build.sh, see scripts/start.sh): the Worker in
// `wrangler dev --local --test-scheduled`, and a guide to what to try.
//
// - No `.dev.vars`: starts the sandbox (PostgreSQL + postrust + the Notion emulator, seeded with
//   example rows and pages), hands its settings to the Worker through a temporary `--env-file`
//   (mode 0600, in the system temp dir, removed on exit; nothing is written into the repo), keeps
//   the Worker's KV / Durable Object state in a temp dir too (every sandbox is new), runs one sync
//   and prints where to look. Webhooks are wired both ways, with fresh random secrets handed to
//   the Worker as NOTION_WEBHOOK_SECRET and SUPABASE_WEBHOOK_SECRET: the emulator's webhook
//   subscription points at the Worker's POST /webhooks/notion (its verification token is the
//   secret), and the sandbox database's Database Webhook (decision_vault_enable_webhook, delivered
//   by the launcher's pg_net stand-in) at POST /webhooks/supabase.
// - With `.dev.vars` (real credentials): wrangler reads it as usual, state stays in
//   .wrangler/state, the sandbox is never started and no sync is triggered (you trigger it).
//
// Ctrl-C (SIGINT), SIGTERM or SIGHUP stops everything: wrangler and its workerd (their own
// process group), then the sandbox (which stops its servers and removes its temp dirs).
//
// Environment: PORT (default 8787), HOST (default 127.0.0.1), START_TIMEOUT_MS (default 180000),
// START_EXIT_AFTER_READY=1 (stop right after the guide is printed; for scripted checks).
// Extra arguments are passed to `wrangler dev`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT, parseEnv, startSandbox } from './lib/sandbox.mjs';

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 8787);
const TIMEOUT_MS = Number(process.env.START_TIMEOUT_MS || 180_000);
const EXIT_AFTER_READY = process.env.START_EXIT_AFTER_READY === '1';
const DEV_VARS = join(ROOT, '.dev.vars');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');
const URL_BASE = `http://${HOST}:${PORT}`;
// Where the webhooks call the Worker: loopback when wrangler listens on every interface (the
// sandbox's pg_net stand-in delivers to loopback URLs only).
const WEBHOOK_BASE = ['0.0.0.0', '::', '[::]'].includes(HOST) ? `http://127.0.0.1:${PORT}` : URL_BASE;
const CRON = '*/15+*+*+*+*';

const say = (text = '') => process.stdout.write(`${text}\n`);
const note = (text) => process.stderr.write(`start: ${text}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Everything started here, and how to stop it.

const state = {
  sandbox: null,
  wrangler: null,     // ChildProcess, leader of its own process group
  wranglerExit: null, // Promise<{code, signal}>
  tempDirs: [],
  stopping: null,
};

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // already gone
  }
}

function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

async function stopAll(code) {
  if (state.stopping) return state.stopping;
  state.stopping = (async () => {
    const { wrangler } = state;
    if (wrangler) {
      note('stopping the Worker (wrangler dev + workerd)…');
      killGroup(wrangler.pid, 'SIGTERM');
      const deadline = Date.now() + 5_000;
      while (groupAlive(wrangler.pid) && Date.now() < deadline) await sleep(100);
      if (groupAlive(wrangler.pid)) killGroup(wrangler.pid, 'SIGKILL');
      const gone = Date.now() + 5_000;
      while (groupAlive(wrangler.pid) && Date.now() < gone) await sleep(50);
    }
    if (state.sandbox) {
      note('stopping the sandbox (PostgreSQL, postrust, Notion emulator)…');
      await state.sandbox.stop();
    }
    for (const dir of state.tempDirs) rmSync(dir, { recursive: true, force: true });
    note('stopped.');
    process.exit(code);
  })();
  return state.stopping;
}

for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.on(signal, () => {
    if (state.stopping) return; // a second Ctrl-C while stopping: keep stopping
    process.stderr.write('\n');
    stopAll(128 + number);
  });
}
// Last resort (an exception, process.exit elsewhere): no workerd outlives us.
process.on('exit', () => {
  if (state.wrangler) killGroup(state.wrangler.pid, 'SIGKILL');
  if (state.sandbox && !state.sandbox.child.killed && state.sandbox.child.exitCode === null) state.sandbox.child.kill('SIGTERM');
  for (const dir of state.tempDirs) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

function portFree(port, host) {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once('error', () => resolvePromise(false));
    server.listen(port, host, () => server.close(() => resolvePromise(true)));
  });
}

/** dotenv line; values double-quoted with \\, ", newlines escaped (as tests/e2e/harness.mjs). */
function dotenvLine(key, value) {
  const text = String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `${key}="${text}"`;
}

function startWrangler({ envFile, persistDir, extraArgs }) {
  const args = [
    'dev', '--local', '--test-scheduled',
    '--ip', HOST, '--port', String(PORT),
    '--show-interactive-dev-session=false',
    '--log-level', 'log', // shows the Worker's console.log lines (one per run)
  ];
  if (envFile) args.push('--env-file', envFile);
  if (persistDir) args.push('--persist-to', persistDir);
  args.push(...extraArgs);
  const child = spawn(WRANGLER, args, {
    cwd: ROOT,
    detached: true, // own process group: stopAll() ends wrangler and every workerd it started
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { WRANGLER_SEND_METRICS: 'false', ...process.env },
  });
  child.stdout.on('data', (d) => process.stdout.write(prefix(d)));
  child.stderr.on('data', (d) => process.stderr.write(prefix(d)));
  state.wrangler = child;
  state.wranglerExit = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  child.on('error', (e) => note(`could not run ${WRANGLER}: ${e.message} (run \`npm run setup\`)`));
  return child;
}

let atLineStart = true;
function prefix(chunk) {
  // wrangler's lines, marked so they stand apart from the guide.
  const text = chunk.toString();
  let out = '';
  for (const ch of text) {
    if (atLineStart) out += '[wrangler] ';
    out += ch;
    atLineStart = ch === '\n';
  }
  return out;
}

/** Waits until the Worker answers /health with JSON (wrangler's own loading pages are HTML). */
async function waitForWorker() {
  const deadline = Date.now() + TIMEOUT_MS;
  let exited = null;
  state.wranglerExit.then((e) => { exited = e; });
  for (;;) {
    if (exited) throw new Error(`wrangler dev exited (${JSON.stringify(exited)}) before the Worker answered`);
    try {
      const res = await fetch(`${URL_BASE}/health`, { signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      if ((res.headers.get('content-type') || '').includes('application/json')) return JSON.parse(text);
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the Worker did not answer on ${URL_BASE} within ${TIMEOUT_MS} ms`);
    await sleep(500);
  }
}

async function syncNow(token) {
  const res = await fetch(`${URL_BASE}/sync-now`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, text };
}

function describeRun(run) {
  if (!run || !run.outcome) return 'no report';
  const c = run.counts || {};
  const what = [
    `${c.pages_created ?? 0} pages created`,
    `${c.rows_inserted ?? 0} rows inserted`,
    `${c.pages_updated ?? 0} pages updated`,
    `${c.rows_updated ?? 0} rows updated`,
    `${c.conflicts ?? 0} conflicts`,
    `${c.record_errors ?? 0} record errors`,
  ].join(', ');
  const detail = run.outcome.message || run.outcome.reason || '';
  return `${run.outcome.status}: ${what}; ${run.subrequests ?? 0} subrequests${detail ? ` (${detail})` : ''}`;
}

/** Fresh secrets for the two webhooks (the Worker checks deliveries against them). */
function webhookSecrets() {
  return {
    NOTION_WEBHOOK_SECRET: `secret_${randomBytes(24).toString('hex')}`,
    SUPABASE_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
  };
}

/** psql of the sandbox's PostgreSQL (SANDBOX_PG_BIN, as the launcher), else the one on PATH. */
function psqlPath() {
  const candidate = join(process.env.SANDBOX_PG_BIN || '/usr/lib/postgresql/15/bin', 'psql');
  return existsSync(candidate) ? candidate : 'psql';
}

const sqlLiteral = (text) => `'${String(text).replace(/'/g, "''")}'`;

/**
 * Points both sides' webhooks at the Worker: the emulator's subscription (verification request
 * first, then signed events) and the Supabase Database Webhook. A failure is reported, not fatal:
 * the cron still syncs everything.
 */
async function connectWebhooks(env, secrets) {
  try {
    const res = await fetch(`${env.SANDBOX_NOTION_ADMIN}/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${WEBHOOK_BASE}/webhooks/notion`, verification_token: secrets.NOTION_WEBHOOK_SECRET }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    note(`Notion emulator webhooks → ${WEBHOOK_BASE}/webhooks/notion`);
  } catch (e) {
    note(`warning: could not subscribe the Worker to the emulator's webhooks: ${e.message}`);
  }
  const sql = `select public.decision_vault_enable_webhook(${sqlLiteral(WEBHOOK_BASE)}, ${sqlLiteral(secrets.SUPABASE_WEBHOOK_SECRET)})`;
  const psql = spawnSync(psqlPath(), [env.SANDBOX_PG_URI, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { encoding: 'utf8' });
  if (psql.status === 0) note(`Supabase Database Webhook → ${psql.stdout.trim()}`);
  else note(`warning: could not enable the Supabase Database Webhook: ${(psql.stderr || psql.error?.message || '').trim()}`);
}

/** A page to try edits on: the seeded "Keep meeting notes in Notion", else the first one. */
async function examplePageId(admin) {
  try {
    const res = await fetch(`${admin}/pages`, { signal: AbortSignal.timeout(10_000) });
    const { results = [] } = await res.json();
    const title = (page) => (page.properties?.Decision?.title || []).map((t) => t.plain_text).join('');
    const page = results.find((p) => title(p) === 'Keep meeting notes in Notion') || results[0];
    return page?.id || 'PAGE_ID';
  } catch {
    return 'PAGE_ID';
  }
}

function guideSandbox(env, pageId) {
  const token = env.SYNC_ADMIN_TOKEN;
  const pg = env.SANDBOX_PG_URI;
  const admin = env.SANDBOX_NOTION_ADMIN;
  const auth = `-H "Authorization: Bearer ${token}"`;
  const exports = { W: URL_BASE, ...env };
  say(`
================================================================================
 decision-sync is running against the local sandbox (no account needed)
================================================================================
 Dashboard (refreshes every 30 s):  ${URL_BASE}/
 Health as JSON:                    curl -s ${URL_BASE}/health | jq .

 Run the sync:
   curl -s -X POST ${auth} ${URL_BASE}/sync-now | jq .
   curl -s '${URL_BASE}/__scheduled?cron=${CRON}'     # the cron handler, as Cloudflare runs it
   curl -s ${auth} ${URL_BASE}/dry-run | jq .plan       # what a run would do; writes nothing
   curl -s ${auth} ${URL_BASE}/conflicts | jq .         # losing versions of conflicts

 Supabase side (PostgreSQL through psql):
   psql "${pg}" -c "select decision, type, date, notion_page_id, notion_synced, deleted_at from decision_vault order by date"
   psql "${pg}" -c "insert into decision_vault (decision, type, date) values ('Ship the dashboard', 'UX', '2025-11-24')"
   psql "${pg}" -c "update decision_vault set decision = 'Adopt Rust for every worker' where decision like 'Adopt Rust%'"
   psql "${pg}" -c "update decision_vault set deleted_at = now() where decision like 'Weekly%'"   # soft delete: the page goes to the trash

 Notion side (the emulator's admin API acts as a person editing Notion):
   curl -s ${admin}/pages | jq -r '.results[] | [.id, .in_trash, .properties.Decision.title[0].plain_text] | @tsv'
   curl -s -X POST ${admin}/pages -d '{"properties": {"Decision": "Written in Notion", "Type": "Policy", "Date": "2025-11-25"}}'
   curl -s -X PATCH ${admin}/pages/${pageId} -d '{"properties": {"Decision": "Keep all meeting notes in Notion"}}'
   curl -s -X POST ${admin}/pages/${pageId}/trash       # the row gets deleted_at
   curl -s -X POST ${admin}/pages/${pageId}/restore     # deleted_at is cleared

 Webhooks (both sides call the Worker on each change; the cron catches anything they miss):
   curl -s ${admin}/webhooks/stats | jq .                # the emulator's deliveries to /webhooks/notion
   psql "${pg}" -c "select id, status_code, error_msg from net._http_response order by id desc limit 5"

 Then run the sync again and look at both sides, /health and the dashboard.
 To use README_SYNC.md's commands as written, paste this in your other terminal first
 (the sandbox's settings: local, random, gone when you press Ctrl-C):
   export ${Object.entries(exports).map(([k, v]) => `${k}='${v}'`).join(' ')}

 Docs: README_SYNC.md, then the book in docs/ (docs/SANDBOX.md, docs/NOTION_EMULATOR.md).   Ctrl-C stops everything.
================================================================================
`);
}

function guideDevVars(vars) {
  const auth = `-H "Authorization: Bearer $(sed -n 's/^SYNC_ADMIN_TOKEN=//p' .dev.vars | tr -d '"')"`;
  const tokenSet = Boolean(vars.SYNC_ADMIN_TOKEN);
  say(`
================================================================================
 decision-sync is running with the settings in .dev.vars (the sandbox is not used)
================================================================================
 These are the services named in .dev.vars: a sync writes to them for real.
 State (KV, Durable Objects) lives in .wrangler/state; delete it to start over.

 Dashboard (refreshes every 30 s):  ${URL_BASE}/
 Health as JSON:                    curl -s ${URL_BASE}/health | jq .
 What a run would do (no writes):   curl -s ${auth} ${URL_BASE}/dry-run | jq .plan
 Run the sync now:                  curl -s -X POST ${auth} ${URL_BASE}/sync-now | jq .
 Run the cron handler:              curl -s '${URL_BASE}/__scheduled?cron=${CRON}'
 Conflicts:                         curl -s ${auth} ${URL_BASE}/conflicts | jq .
${tokenSet ? '' : '\n NOTE: SYNC_ADMIN_TOKEN is not in .dev.vars, so /sync-now, /dry-run and /conflicts answer 403.\n'}
 No sync was started for you. Ctrl-C stops the Worker.
================================================================================
`);
}

async function main() {
  const extraArgs = process.argv.slice(2);
  if (!existsSync(WRANGLER)) throw new Error(`${WRANGLER} is missing: run \`npm run setup\``);
  if (!(await portFree(PORT, HOST))) {
    throw new Error(`port ${PORT} on ${HOST} is in use (another \`npm start\` or \`wrangler dev\`?): stop it, or run \`PORT=8788 npm start\``);
  }

  if (existsSync(DEV_VARS)) {
    const { readFileSync } = await import('node:fs');
    const vars = parseEnv(readFileSync(DEV_VARS, 'utf8').replace(/^(\w+)="(.*)"$/gm, '$1=$2'));
    note('.dev.vars found: using it (the sandbox is not started)');
    startWrangler({ extraArgs });
    const health = await waitForWorker();
    say(`\nstart: the Worker answers; /health says: ${health.status} — ${health.summary}`);
    guideDevVars(vars);
  } else {
    note('no .dev.vars: starting the sandbox (PostgreSQL 15 + postrust + Notion emulator, seeded)…');
    state.sandbox = await startSandbox({ seed: true, timeoutMs: TIMEOUT_MS });
    state.sandbox.child.on('close', async (code, signal) => {
      await sleep(300); // a Ctrl-C reaches the sandbox and us at once: let ours be the one that counts
      if (!state.stopping) {
        note(`the sandbox stopped by itself (${signal || `exit ${code}`}):\n${state.sandbox.stderr().slice(-2000)}`);
        stopAll(1);
      }
    });
    const { env } = state.sandbox;
    const secrets = webhookSecrets();
    const workerVars = { ...state.sandbox.workerVars, ...secrets };
    const tmp = mkdtempSync(join(tmpdir(), 'decision-sync-start-'));
    state.tempDirs.push(tmp);
    const envFile = join(tmp, 'worker.env');
    writeFileSync(envFile, Object.entries(workerVars).map(([k, v]) => dotenvLine(k, v)).join('\n') + '\n', { mode: 0o600 });
    const persistDir = join(tmp, 'state');
    note(`sandbox up; the Worker gets its settings from a temporary env file; state in ${persistDir}`);
    startWrangler({ envFile, persistDir, extraArgs });
    await waitForWorker();
    await connectWebhooks(env, secrets);
    note('the Worker answers; running a first sync (POST /sync-now)…');
    const { status, body, text } = await syncNow(env.SYNC_ADMIN_TOKEN);
    say(`\nstart: first sync: HTTP ${status}, ${body ? describeRun(body) : text.slice(0, 500)}`);
    guideSandbox({ ...env, ...secrets }, await examplePageId(env.SANDBOX_NOTION_ADMIN));
  }

  state.wranglerExit.then(({ code, signal }) => {
    if (!state.stopping) {
      note(`wrangler dev exited (${signal || `exit ${code}`})`);
      stopAll(code || 1);
    }
  });
  if (EXIT_AFTER_READY) await stopAll(0);
}

main().catch(async (error) => {
  note(`error: ${error.message}`);
  await stopAll(1);
});
