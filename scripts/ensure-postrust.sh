#!/usr/bin/env bash
# Makes sure the sandbox's servers are installed (used by `npm run sandbox` and by the native
# fidelity tests in sandbox/launcher/tests/). Idempotent; only checks when both are there (< 1 s).
#
#   - postrust-server 3.1.0 (PostgREST-compatible, binary `postrust`): `cargo install` from
#     crates.io, ~5 minutes on 2 cores the first time.
#   - PostgreSQL 15 (initdb, postgres, psql in /usr/lib/postgresql/15/bin, or $SANDBOX_PG_BIN):
#     `apt-get install postgresql-15` when missing and we are root with apt-get; otherwise a clear
#     error saying what to install.
#
# Run it, or source it and call ensure_postrust / ensure_postgres15. SETUP_QUIET=1 prints only
# what is installed.
set -euo pipefail

POSTRUST_VERSION="3.1.0"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
PG_BIN="${SANDBOX_PG_BIN:-/usr/lib/postgresql/15/bin}"

_ep_say() { [ "${SETUP_QUIET:-0}" = 1 ] || echo "setup: $*"; }
_ep_act() { echo "setup: $*"; }
_ep_die() { echo "setup: error: $*" >&2; return 1; }

ensure_postrust() {
  if [ -n "${POSTRUST_BIN:-}" ]; then
    [ -x "$POSTRUST_BIN" ] || _ep_die "POSTRUST_BIN=$POSTRUST_BIN is not an executable"
    _ep_say "postrust-server (POSTRUST_BIN): ok"
    return 0
  fi
  if [ -x "$CARGO_BIN/postrust" ] && cargo install --list 2>/dev/null | grep -qx "postrust-server v$POSTRUST_VERSION:"; then
    _ep_say "postrust-server $POSTRUST_VERSION: ok"
    return 0
  fi
  command -v cargo >/dev/null || _ep_die "cargo not found: install Rust with rustup, then re-run"
  _ep_act "installing postrust-server $POSTRUST_VERSION (cargo install; about 5 minutes the first time)"
  # --locked first (the dependency versions it was released with). If the registry cannot serve
  # one of them (postrust-server 3.1.0's lock names webpki-roots 1.0.11, which the index may not
  # offer), retry without --locked: the newest compatible dependencies.
  if ! cargo install --locked postrust-server --version "$POSTRUST_VERSION"; then
    _ep_act "cargo install --locked postrust-server failed; retrying without --locked"
    cargo install postrust-server --version "$POSTRUST_VERSION"
  fi
  [ -x "$CARGO_BIN/postrust" ] || _ep_die "postrust-server installed, but $CARGO_BIN/postrust is missing"
}

ensure_postgres15() {
  if [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/psql" ]; then
    _ep_say "PostgreSQL 15 ($PG_BIN): ok"
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    _ep_act "installing PostgreSQL 15 (apt-get install postgresql-15)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    # The package may start a cluster of its own; the sandbox does not use it.
    if command -v pg_ctlcluster >/dev/null; then pg_ctlcluster 15 main stop >/dev/null 2>&1 || true; fi
    [ -x "$PG_BIN/initdb" ] || _ep_die "postgresql-15 installed, but $PG_BIN/initdb is missing"
    return 0
  fi
  _ep_die "PostgreSQL 15 not found in $PG_BIN: install it (Debian/Ubuntu: sudo apt-get install postgresql-15) or set SANDBOX_PG_BIN"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  export PATH="$CARGO_BIN:$PATH"
  ensure_postgres15
  ensure_postrust
fi
