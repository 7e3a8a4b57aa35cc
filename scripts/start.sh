#!/usr/bin/env bash
# npm start: builds the Worker and serves it with `wrangler dev` in local mode (local KV and
# Durable Objects under .wrangler/state; the cron handler is run by visiting /__scheduled).
# Secrets/vars for local runs come from .dev.vars (see README_SYNC.md).
# Environment: PORT (default 8787), HOST (default 127.0.0.1). Extra arguments go to wrangler dev.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PORT="${PORT:-8787}"
HOST="${HOST:-127.0.0.1}"

# Background helpers started before the Worker register their pid here; they are stopped when the
# Worker stops (Ctrl-C included).
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

build_worker() {
  # wrangler's [build] command runs this too; building first shows compile errors up front.
  bash scripts/build.sh
}

start_worker() {
  local url="http://$HOST:$PORT"
  echo "start: the Worker will listen on $url"
  echo "start:   health:       $url/health"
  echo "start:   run the cron: $url/__scheduled?cron=*/15+*+*+*+*"
  node_modules/.bin/wrangler dev --local --test-scheduled --ip "$HOST" --port "$PORT" "$@"
}

main() {
  # Services the Worker talks to (e.g. a local sandbox) start here, before the Worker.
  build_worker
  start_worker "$@"
}

main "$@"
