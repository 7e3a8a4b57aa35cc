#!/usr/bin/env bash
# npm start: builds the Worker, then scripts/start.mjs serves it with `wrangler dev --local
# --test-scheduled` (local KV and Durable Objects; the cron handler runs when /__scheduled is
# visited):
#   - without .dev.vars: against the local sandbox (seeded PostgreSQL + postrust + Notion
#     emulator), with one sync run and a guide printed;
#   - with .dev.vars: against the services it names; the sandbox is not started.
# Ctrl-C stops everything. Environment: PORT (default 8787), HOST (default 127.0.0.1).
# Extra arguments go to `wrangler dev`. See README_SYNC.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# wrangler's [build] command runs this too; building first shows compile errors up front.
bash scripts/build.sh
exec node scripts/start.mjs "$@"
