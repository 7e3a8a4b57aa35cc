// A counting HTTP proxy in front of postrust (the sandbox's PostgREST): the benchmark points the
// Worker's SUPABASE_REST_URL at it, so every Supabase request the Worker makes is counted here,
// independently of the Worker's own report.
//
//   const proxy = await startCountingProxy('http://127.0.0.1:38591');
//   proxy.url            // give this to the Worker as SUPABASE_REST_URL
//   proxy.snapshot()     // { total, read, write, by_route: { 'GET /decision_vault': 3, ... }, by_purpose, by_status }
//   proxy.reset()
//   await proxy.stop()
//
// Classification: GET/HEAD are reads; POST/PATCH/PUT/DELETE are writes; `POST /rpc/<fn>` (the
// bulk write-back function) is a write. Routes are method + first path segment(s) without the
// query string (`GET /decision_vault`, `POST /rpc/decision_vault_write_back`).
import { createServer, request as httpRequest } from 'node:http';

export function routeOf(method, url) {
  const path = new URL(url, 'http://x').pathname;
  const parts = path.split('/').filter(Boolean);
  const route = parts[0] === 'rpc' ? `/rpc/${parts[1] ?? ''}` : `/${parts[0] ?? ''}`;
  return `${method} ${route}`;
}

/** What a request is for, from its query string (diagnosis only; counts go by route). */
export function purposeOf(method, url) {
  const u = new URL(url, 'http://x');
  const q = u.searchParams;
  if (u.pathname.startsWith('/rpc/')) return `${method} rpc ${u.pathname.slice(5)}`;
  if (method !== 'GET') return method === 'POST' ? 'POST bulk insert' : `${method} update`;
  const filter = q.get('notion_page_id') ?? '';
  if (filter === 'is.null') return 'GET unlinked rows (pool)';
  if (filter.startsWith('in.')) return 'GET rows by page id (lookup)';
  if ((q.get('order') ?? '').startsWith('updated_at')) return 'GET rows changed since cursor (window)';
  if (q.get('limit') === '1' || q.get('limit') === '0') return 'GET schema check';
  return 'GET other';
}

export function kindOf(method) {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

export async function startCountingProxy(target) {
  const upstream = new URL(target);
  let counts = fresh();
  let log = [];
  function fresh() {
    return { total: 0, read: 0, write: 0, by_route: {}, by_purpose: {}, by_status: {} };
  }
  const server = createServer((req, res) => {
    const route = routeOf(req.method, req.url);
    counts.total += 1;
    counts[kindOf(req.method)] += 1;
    counts.by_route[route] = (counts.by_route[route] ?? 0) + 1;
    const purpose = purposeOf(req.method, req.url);
    counts.by_purpose[purpose] = (counts.by_purpose[purpose] ?? 0) + 1;
    if (log.length < 500) log.push(`${req.method} ${decodeURIComponent(req.url).slice(0, 300)}`);
    const basePath = upstream.pathname.replace(/\/$/, '');
    const headers = { ...req.headers, host: upstream.host };
    const forward = httpRequest(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: basePath + req.url,
        headers,
      },
      (up) => {
        counts.by_status[up.statusCode] = (counts.by_status[up.statusCode] ?? 0) + 1;
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', (error) => {
      counts.by_status.proxy_error = (counts.by_status.proxy_error ?? 0) + 1;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `bench proxy: ${error.message}` }));
    });
    req.pipe(forward);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    snapshot: () => structuredClone(counts),
    /** The first 500 request lines since the last reset (method + decoded URL, cut at 300 chars). */
    log: () => [...log],
    reset: () => { counts = fresh(); log = []; },
    stop: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}
