// README_SYNC.md's "A tour with the sandbox", run as a newcomer runs it: `npm start`'s program
// (scripts/start.mjs, no .dev.vars) in one process, then every shell block of the tour, in order,
// in bash with the `export …` line `npm start` printed, each output compared with the sample
// output printed under it in the README. Ctrl-C (SIGINT) must then stop everything.
//
// How outputs are compared (the README shows what a person sees, not a byte-exact transcript):
// - ids (UUIDs) are equal to any id;
// - a ```json sample is a sequence of JSON values that must equal the output's, value by value;
// - a ```text sample: every line of it (but `…`) is a line of the output (psql's row-count footer
//   and pages listed beyond the sample may be extra; the emulator lists pages in no fixed order).
// jq and psql must be on PATH (scripts/setup.sh installs jq when it can).
//
// Then every example of the book's Routes chapter (docs/routes.md): each answer must have the
// fields its sample shows, with the same JSON types (values such as times and counts differ).
//
// Also, without any service: the book's Supabase chapter (docs/setting-up-supabase.md) includes the
// migration file itself (mdBook's {{#include}}, so there is no copy to go stale), every include of
// the book names a file that exists, and the book's configuration table (docs/configuration.md) names
// the same settings as .dev.vars.example and the settings the Worker reads.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { after, describe, test } from 'node:test';

import { ROOT, freePort, groupAlive, processesMatching } from './harness.mjs';

const PG_BIN = process.env.SANDBOX_PG_BIN || '/usr/lib/postgresql/15/bin';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The fenced blocks of one `## ` section of a Markdown text, in order: `{ lang, body }`. */
export function sectionBlocks(markdown, heading) {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README_SYNC.md has no "## ${heading}" section`);
  const end = markdown.indexOf('\n## ', start + 4);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return fencedBlocks(section);
}

/** The fenced blocks of a whole Markdown text (a book chapter), in order: `{ lang, body }`. */
export function fencedBlocks(markdown) {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(([, lang, body]) => ({ lang, body }));
}

/** Shell blocks paired with the sample output block that follows each (or null). */
export function tourSteps(blocks) {
  const steps = [];
  blocks.forEach((block, i) => {
    if (block.lang !== 'sh') return;
    const next = blocks[i + 1];
    steps.push({ script: block.body, sample: next && next.lang !== 'sh' ? next : null });
  });
  return steps;
}

/** Splits a text into its top-level JSON values (pretty-printed or one per line). */
export function jsonValues(text) {
  const values = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let begin = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === '{' || c === '[') {
      if (depth === 0) begin = i;
      depth += 1;
    } else if (c === '}' || c === ']') {
      depth -= 1;
      if (depth === 0) values.push(JSON.parse(text.slice(begin, i + 1)));
    }
  }
  return values;
}

const anyId = (text) => text.replace(UUID, '<id>');

const typeOf = (value) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/**
 * The README's sample `documented` has the shape of `actual`: every key it shows (but `…`) is
 * there with a value of the same JSON type (a sample `null` matches anything); array elements are
 * compared through their first element. Values may differ (times, ids, counts).
 */
export function shapeProblems(documented, actual, path = '$') {
  if (documented === null || typeOf(documented) === 'string' && documented === '…') return [];
  if (typeOf(documented) !== typeOf(actual)) return [`${path}: the sample shows ${typeOf(documented)}, the Worker answers ${typeOf(actual)}`];
  if (Array.isArray(documented)) {
    return documented.length && actual.length ? shapeProblems(documented[0], actual[0], `${path}[0]`) : [];
  }
  if (typeOf(documented) !== 'object') return [];
  return Object.keys(documented)
    .filter((key) => key !== '…')
    .flatMap((key) => (key in actual ? shapeProblems(documented[key], actual[key], `${path}.${key}`) : [`${path}.${key}: not in the answer`]));
}
const lines = (text) => anyId(text).split('\n').map((line) => line.trimEnd());

function assertLike(sample, output, context, { shape = false } = {}) {
  if (sample.lang === 'json' && shape) {
    const [documented, actual] = [jsonValues(sample.body), jsonValues(output)];
    assert.equal(actual.length, documented.length, context);
    assert.deepEqual(documented.flatMap((value, i) => shapeProblems(value, actual[i])), [], context);
    return;
  }
  if (sample.lang === 'json') {
    assert.deepEqual(jsonValues(anyId(output)), jsonValues(anyId(sample.body)), context);
    return;
  }
  const seen = new Set(lines(output).map((line) => line.toLowerCase()));
  const missing = lines(sample.body).filter((line) => line.trim() && line.trim() !== '…' && !seen.has(line.toLowerCase()));
  assert.deepEqual(missing, [], context);
}

/** `export A='x' B='y'` (as start.mjs prints it) → { A: 'x', B: 'y' }. */
function exportedVars(text) {
  const line = text.split('\n').find((l) => /^\s*export \w+='/.test(l));
  if (!line) return null;
  return Object.fromEntries([...line.matchAll(/(\w+)='([^']*)'/g)].map(([, k, v]) => [k, v]));
}

/**
 * Stops `npm start`'s program as a person does (Ctrl-C), so that it stops wrangler (its own
 * process group) and the sandbox; only if that hangs, kills it and whatever serves `port`.
 * Returns the exit code (or 'killed').
 */
async function stopNpmStart(child, exited, port) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  try { process.kill(child.pid, 'SIGINT'); } catch { /* gone */ }
  const { code } = await Promise.race([exited, sleep(30_000).then(() => ({ code: 'killed' }))]);
  if (code === 'killed') {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    for (const pid of [...processesMatching(`--port ${port}`), ...processesMatching(`entry=127.0.0.1:${port}`)]) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  return code;
}

/** Runs `npm start`'s program until it prints its guide; returns the process and its settings. */
async function startLikeNpmStart(port) {
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { out.stdout += d; });
  child.stderr.on('data', (d) => { out.stderr += d; });
  const exited = new Promise((r) => child.on('close', (code, signal) => r({ code, signal })));
  const deadline = Date.now() + 240_000;
  for (;;) {
    const vars = exportedVars(out.stdout);
    if (vars && /Ctrl-C stops everything\.\n={10,}\n/.test(out.stdout)) return { child, exited, vars, out, port };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopNpmStart(child, exited, port);
      throw new Error(`npm start did not print its guide:\n${out.stdout.slice(-3000)}\n${out.stderr.slice(-3000)}`);
    }
    await sleep(200);
  }
}

function runStep(script, vars) {
  const res = spawnSync('bash', ['-o', 'pipefail', '-c', script], {
    cwd: ROOT,
    env: { ...process.env, ...vars, PATH: `${PG_BIN}:${process.env.PATH}`, PAGER: 'cat' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return res;
}

const devVars = existsSync(join(ROOT, '.dev.vars'));

const read = (path) => readFileSync(join(ROOT, path), 'utf8');
const MIGRATION = 'supabase/migrations/20251123000000_decision_vault_sync.sql';
// The book (mdBook, docs/book.toml with src = "."): its chapters are docs/*.md.
const BOOK = 'docs';
const SUPABASE_CHAPTER = `${BOOK}/setting-up-supabase.md`;
const CONFIGURATION_CHAPTER = `${BOOK}/configuration.md`;
const ROUTES_CHAPTER = `${BOOK}/routes.md`;

/** Names in the configuration table (the book's Configuration chapter). */
function documentedSettings(chapter) {
  return [...chapter.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \|/gm)].map(([, name]) => name).sort();
}

/** The `{{#include path}}` directives of a chapter: paths relative to the repository root. */
function bookIncludes(chapterPath) {
  return [...read(chapterPath).matchAll(/\{\{#include ([^}:\s]+)(?::[^}]*)?\}\}/g)]
    .map(([, path]) => normalize(join(dirname(chapterPath), path)));
}

describe('README_SYNC.md agrees with the code', () => {
  test('the Supabase chapter shows the migration file itself (an mdBook include of it in a ```sql block)', () => {
    const included = [...read(SUPABASE_CHAPTER).matchAll(/^```sql\n\{\{#include ([^}\s]+)\}\}\n```$/gm)]
      .map(([, path]) => normalize(join(BOOK, path)));
    assert.deepEqual(included, [MIGRATION], `${SUPABASE_CHAPTER} must include ${MIGRATION} whole, in a \`\`\`sql block`);
    assert.ok(existsSync(join(ROOT, MIGRATION)), `${MIGRATION} is missing`);
  });

  test('every {{#include}} of the book names a file that exists', () => {
    const chapters = readdirSync(join(ROOT, BOOK)).filter((name) => name.endsWith('.md')).map((name) => `${BOOK}/${name}`);
    const includes = chapters.flatMap((chapter) => bookIncludes(chapter).map((path) => ({ chapter, path })));
    assert.ok(includes.length >= 1, 'the book includes no file: the migration should be one');
    assert.deepEqual(includes.filter(({ path }) => !existsSync(join(ROOT, path))), [], 'includes of missing files');
  });

  test('the README links only to book chapters that exist', () => {
    const links = [...read('README_SYNC.md').matchAll(/\]\((docs\/[^)#\s]+)(?:#[^)]*)?\)/g)].map(([, path]) => path);
    assert.ok(links.length >= 10, links.join(', '));
    assert.deepEqual(links.filter((path) => !existsSync(join(ROOT, path))), [], 'README_SYNC.md links to missing files');
  });

  test('the configuration table, .dev.vars.example and the settings the Worker reads name the same settings', () => {
    const documented = documentedSettings(read(CONFIGURATION_CHAPTER));
    const example = [...read('.dev.vars.example').matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map(([, name]) => name).sort();
    const code = read('src/settings.rs').split('#[cfg(test)]')[0];
    const readByWorker = [...new Set([...code.matchAll(/"([A-Z][A-Z0-9_]{3,})"/g)].map(([, name]) => name))].sort();
    assert.ok(documented.length >= 13, documented.join(', '));
    assert.deepEqual(documented, readByWorker, `the configuration table (${CONFIGURATION_CHAPTER}) vs src/settings.rs`);
    assert.deepEqual([...new Set(example)].sort(), readByWorker, '.dev.vars.example vs src/settings.rs');
  });
});

describe('README_SYNC.md: the tour with the sandbox, as written', { timeout: 600_000, skip: devVars && 'a .dev.vars exists: `npm start` would use it instead of the sandbox' }, () => {
  let started = null;
  let starting = null;
  // `npm start`'s program is started by the first test of this suite that runs (not in a `before`
  // hook, which would run under a --test-name-pattern that selects none of them, e.g. "agrees with
  // the code"), once: a failed start fails every test of the suite.
  const start = () => (starting ??= (async () => {
    for (const tool of ['jq', 'psql']) {
      const found = spawnSync('bash', ['-c', `command -v ${tool}`], { env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH}` } });
      assert.equal(found.status, 0, `${tool} is not installed: the README's tour uses it (run \`npm run setup\` as root, or install ${tool})`);
    }
    started = await startLikeNpmStart(await freePort());
  })());

  after(async () => {
    // Also when a test failed, or none ran (a --test-name-pattern that skips them all).
    if (started) await stopNpmStart(started.child, started.exited, started.port);
  });

  test('npm start prints the settings the tour uses, after a first sync that succeeded', async () => {
    await start();
    for (const name of ['W', 'SYNC_ADMIN_TOKEN', 'SANDBOX_PG_URI', 'SANDBOX_NOTION_ADMIN']) {
      assert.ok(started.vars[name], `the export line lacks ${name}:\n${started.out.stdout}`);
    }
    assert.match(started.out.stdout, /first sync: HTTP 200/, started.out.stdout);
  });

  test('every command of the tour gives the output the README shows', async () => {
    await start();
    const readme = readFileSync(join(ROOT, 'README_SYNC.md'), 'utf8');
    const steps = tourSteps(sectionBlocks(readme, 'A tour with the sandbox'))
      .filter((step) => step.script.trim() !== 'npm start');
    assert.ok(steps.length >= 10, `only ${steps.length} steps found in the tour`);
    for (const [i, { script, sample }] of steps.entries()) {
      const res = runStep(script, started.vars);
      const context = `tour step ${i + 1}:\n${script}\n--- output ---\n${res.stdout}\n--- stderr ---\n${res.stderr}`;
      assert.equal(res.status, 0, context);
      if (sample) assertLike(sample, res.stdout, context);
    }
  });

  test('every route example of the book answers with the fields it shows', async () => {
    await start();
    // After the tour: a conflict is kept, so /conflicts has an element to compare.
    const steps = tourSteps(fencedBlocks(read(ROUTES_CHAPTER)));
    assert.ok(steps.length >= 6, `only ${steps.length} route examples found`);
    for (const [i, { script, sample }] of steps.entries()) {
      const res = runStep(script, started.vars);
      const context = `route example ${i + 1}:\n${script}\n--- output ---\n${res.stdout}\n--- stderr ---\n${res.stderr}`;
      assert.equal(res.status, 0, context);
      assert.ok(sample, `route example ${i + 1} has no sample output under it`);
      assertLike(sample, res.stdout.replace(/\r\n/g, '\n'), context, { shape: true });
    }
  });

  test('Ctrl-C stops the Worker and the sandbox, and leaves no process behind', async () => {
    await start();
    const { child, exited, vars, port } = started;
    const pgPort = new URL(vars.SANDBOX_PG_URI).port;
    const code = await stopNpmStart(child, exited, port);
    assert.equal(code, 130, `npm start after Ctrl-C (128 + SIGINT expected): ${code}\n${started.out.stderr.slice(-2000)}`);
    for (let i = 0; i < 50 && groupAlive(child.pid); i++) await sleep(100);
    assert.equal(groupAlive(child.pid), false, 'processes of npm start are still running');
    assert.deepEqual(processesMatching(`-p ${pgPort}`), [], 'PostgreSQL is still running');
    assert.deepEqual(processesMatching(`--port ${new URL(vars.W).port}`), [], 'wrangler dev is still running');
    assert.deepEqual(processesMatching(`entry=127.0.0.1:${port}`), [], 'workerd is still running');
  });
});
