// Counts Workers KV writes from outside the Worker, in wrangler's local persistence.
//
// Method: `wrangler dev --persist-to DIR` keeps KV values as immutable blob files under
// DIR/v3/kv/<namespace id>/blobs/, one new file per put, named by a fresh random 80-hex-digit id
// (miniflare's generateBlobId); the previous blob of the key is deleted in the background. So
// every distinct blob name that ever appears there is one put. The counter watches the directory
// (inotify via fs.watch, recursive) and also lists it every 20 ms and at each reading, and counts
// distinct names. A cross-check reads miniflare's metadata table (`_mf_entries`: key -> blob_id)
// with the sqlite3 CLI and reports how many keys got a new blob (a lower bound: two puts of one key
// between two readings count once there).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, watch } from 'node:fs';
import { join } from 'node:path';

const BLOB_NAME = /^[0-9a-f]{80}$/;

export function startKvWriteCounter(persistDir) {
  const kvRoot = join(persistDir, 'v3', 'kv');
  const seen = new Set();
  let watcher = null;

  function blobDirs() {
    if (!existsSync(kvRoot)) return [];
    return readdirSync(kvRoot)
      .filter((name) => !name.startsWith('miniflare-'))
      .map((name) => join(kvRoot, name, 'blobs'))
      .filter((dir) => existsSync(dir));
  }

  function scan() {
    for (const dir of blobDirs()) {
      let names = [];
      try {
        names = readdirSync(dir);
      } catch {
        continue;
      }
      for (const name of names) if (BLOB_NAME.test(name)) seen.add(name);
    }
  }

  function ensureWatcher() {
    if (watcher || !existsSync(kvRoot)) return;
    try {
      watcher = watch(kvRoot, { recursive: true }, (_event, filename) => {
        if (!filename) return;
        const name = String(filename).split('/').pop();
        if (BLOB_NAME.test(name)) seen.add(name);
      });
      watcher.on('error', () => {});
    } catch {
      watcher = null; // polling still counts
    }
  }

  ensureWatcher();
  scan();
  const timer = setInterval(() => {
    ensureWatcher();
    scan();
  }, 20);
  timer.unref();

  /** key -> blob_id from miniflare's metadata sqlite (null when it cannot be read). */
  function entries() {
    const dir = join(kvRoot, 'miniflare-KVNamespaceObject');
    if (!existsSync(dir)) return new Map();
    const result = new Map();
    for (const file of readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f))) {
      const out = spawnSync('sqlite3', ['-readonly', '-separator', '\t', join(dir, file), 'select key, blob_id from _mf_entries'], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      if (out.status !== 0) return null;
      for (const line of out.stdout.split('\n').filter(Boolean)) {
        const [key, blob] = line.split('\t');
        result.set(key, blob);
      }
    }
    return result;
  }

  return {
    /** Puts seen so far (distinct blob ids). */
    count() {
      ensureWatcher();
      scan();
      return seen.size;
    },
    entries,
    stop() {
      clearInterval(timer);
      watcher?.close();
    },
  };
}

/** Keys whose blob changed (or appeared) between two `entries()` readings; null if unknown. */
export function changedKeys(before, after) {
  if (!before || !after) return null;
  return [...after].filter(([key, blob]) => before.get(key) !== blob).map(([key]) => key);
}
