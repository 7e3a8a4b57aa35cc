#!/usr/bin/env bash
# npm run sandbox [-- ARGS]: PostgreSQL 15 + postrust-server + the Notion emulator on free local
# ports; prints the Worker's settings as KEY=VALUE lines (for .dev.vars) and stays up until Ctrl-C.
# ARGS: --env-file PATH, --seed, --notion-rate-limit off|N|N/BURST, --exit-after SECONDS.
# See docs/SANDBOX.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
SETUP_QUIET=1 bash scripts/ensure-postrust.sh >&2
# `cargo run` replaces itself with the binary, so Ctrl-C / SIGTERM reach the launcher directly.
exec cargo run -q -p sync-sandbox --bin sandbox -- "$@"
