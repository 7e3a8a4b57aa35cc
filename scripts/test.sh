#!/usr/bin/env bash
# npm test: everything. Style (fmt, clippy) and the book (mdbook build docs), native Rust tests of the whole workspace,
# then the end-to-end tests against the real Worker in `wrangler dev` (tests/e2e/, Node's built-in test runner).
# Run through `npm test`, which runs scripts/setup.sh first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { echo; echo "=== $* ==="; }

style() {
  step "style: cargo fmt --check, cargo clippy -D warnings (native and wasm32)"
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
  cargo clippy -p decision-sync --lib --target wasm32-unknown-unknown -- -D warnings
}

docs() {
  step "docs: mdbook build docs (the book, into target/book; a broken {{#include}} fails)"
  # scripts/setup.sh installs mdBook with cargo install. mdbook exits 0 even when an include is
  # missing (it logs ERROR and leaves the directive in the page), so any ERROR or WARN line fails.
  local log
  log="$(PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" mdbook build docs 2>&1)" || { echo "$log"; return 1; }
  echo "$log"
  if grep -Eq '^ *(ERROR|WARN)' <<<"$log"; then
    echo "test: mdbook build docs reported errors or warnings (above): fix the book" >&2
    return 1
  fi
}

native_tests() {
  step "cargo test --workspace"
  cargo test --workspace
}

build_worker() {
  step "build the Worker (scripts/build.sh)"
  bash scripts/build.sh
}

e2e_tests() {
  step "end-to-end: node --test tests/e2e/"
  # One file at a time: each runs its own sandbox and Workers, and they would fight for the CPU
  # (and for the emulator's timing) on a small machine.
  node --test --test-concurrency=1 tests/e2e/
  step "end-to-end: the core sync suite again under Notion-Version 2025-09-03 (E2E_NOTION_VERSION)"
  # The default run speaks 2026-03-11 (the Worker's default); 2025-09-03 is still supported.
  E2E_NOTION_VERSION=2025-09-03 node --test tests/e2e/sync.test.mjs
}

main() {
  style
  docs
  native_tests
  build_worker
  e2e_tests
}

main "$@"
