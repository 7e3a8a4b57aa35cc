#!/usr/bin/env bash
# Installs what the project needs and is missing, and nothing else. Idempotent; when everything is
# there it only checks (well under 2 s). Run by `npm run setup` and before `npm start`, `npm test`
# and `npm run build`.
#
# Everything comes from package registries (crates.io, npm): no GitHub downloads.
#   - Rust target wasm32-unknown-unknown, rustfmt and clippy   (rustup)
#   - worker-build, same version as the `worker` crate in Cargo.lock          (cargo install)
#   - wasm-bindgen-cli, exactly the `wasm-bindgen` crate version in Cargo.lock (cargo install)
#   - mdBook, MDBOOK_VERSION below, for the book in docs/ (npm test builds it)   (cargo install)
#   - postrust-server (PostgREST-compatible) and PostgreSQL 15, for the sandbox (scripts/ensure-postrust.sh)
#   - node_modules from package-lock.json (wrangler, esbuild, binaryen's wasm-opt, ...) (npm ci)
#   - Chromium (/usr/bin/chromium), for the dashboard's browser test       (apt-get, as root)
#   - jq, for README_SYNC.md's examples and their test                     (apt-get, as root)
#
# Prerequisites (not installed here): Rust via rustup, Node.js >= 20.3 with npm.
# Set SETUP_QUIET=1 to print only what is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# mdBook is no dependency of the crate, so its version is pinned here (0.5.x builds with rustc >= 1.88).
MDBOOK_VERSION=0.5.4
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

say() { [ "${SETUP_QUIET:-0}" = 1 ] || echo "setup: $*"; }
act() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# The version of crate $1 in Cargo.lock (the first entry if several).
lock_version() {
  awk -v name="$1" '
    $0 == "[[package]]" { pkg = "" }
    $1 == "name" && $3 == "\"" name "\"" { pkg = name }
    pkg != "" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }
  ' "$ROOT/Cargo.lock"
}

require_tools() {
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs), then re-run"
  command -v rustup >/dev/null || die "rustup not found: install Rust with rustup (https://rustup.rs), then re-run"
  command -v node >/dev/null || die "node not found: install Node.js 20.3 or newer"
  command -v npm >/dev/null || die "npm not found: install Node.js 20.3 or newer (it ships npm)"
  local major minor
  IFS=. read -r major minor _ <<<"$(node -p 'process.versions.node')"
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 3 ]; }; then
    die "Node.js $(node --version) is too old: wrangler needs 20.3 or newer"
  fi
  [ -f "$ROOT/Cargo.lock" ] || die "Cargo.lock is missing: the tool versions are read from it"
}

# cargo fmt and cargo clippy: npm test checks the style with both.
ensure_style_tools() {
  if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
    say "rustfmt and clippy: ok"
  else
    act "adding rust components rustfmt and clippy"
    rustup component add rustfmt clippy
  fi
}

ensure_wasm_target() {
  local targets
  targets="$(rustup target list --installed)"
  if grep -qx wasm32-unknown-unknown <<<"$targets"; then
    say "rust target wasm32-unknown-unknown: ok"
  else
    act "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

# ensure_cargo_bin CRATE VERSION BIN: `cargo install` CRATE@VERSION unless BIN of that version is
# installed. Tries --locked first (the versions the crate was released with); if the registry
# cannot serve one of those (it happens: a locked dependency version missing from the index), it
# retries without --locked, which resolves the newest compatible dependencies.
ensure_cargo_bin() {
  local crate="$1" version="$2" bin="$3"
  shift 3
  # Any further arguments go to `cargo install` (features).
  [ -n "$version" ] || die "cannot read the version of $crate from Cargo.lock"
  local installed
  installed="$(cargo install --list)"
  if [ -x "$CARGO_BIN/$bin" ] && grep -qx "$crate v$version:" <<<"$installed"; then
    say "$crate $version: ok"
    return
  fi
  act "installing $crate $version (cargo install; a few minutes the first time)"
  if ! cargo install --locked "$crate" --version "$version" "$@"; then
    act "cargo install --locked $crate failed; retrying without --locked"
    cargo install "$crate" --version "$version" "$@"
  fi
}

ensure_worker_build() {
  # worker-build's version follows the `worker` crate's.
  ensure_cargo_bin worker-build "$(lock_version worker)" worker-build
}

ensure_wasm_bindgen() {
  # Must equal the wasm-bindgen crate version exactly, or the generated glue does not match.
  ensure_cargo_bin wasm-bindgen-cli "$(lock_version wasm-bindgen)" wasm-bindgen
}

ensure_mdbook() {
  # `mdbook build docs` (the book: docs/book.toml); scripts/test.sh builds it, so a broken include fails.
  # Only `mdbook build` is needed: without the `serve` and `watch` features (an HTTP server and a
  # file watcher) it compiles in a fraction of the time on a new machine.
  ensure_cargo_bin mdbook "$MDBOOK_VERSION" mdbook --no-default-features --features search
}

ensure_postrust() {
  # PostgreSQL 15 + the PostgREST-compatible postrust-server, for the sandbox and its tests.
  bash "$ROOT/scripts/ensure-postrust.sh"
}

ensure_node_modules() {
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ -f "$stamp" ] && [ ! "$ROOT/package-lock.json" -nt "$stamp" ] && [ ! "$ROOT/package.json" -nt "$stamp" ]; then
    say "node_modules: ok"
    return
  fi
  act "installing node_modules (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund)
}

ensure_wasm_opt() {
  # wasm-opt from the npm package `binaryen` (a JS/Wasm build; no native download needed).
  # scripts/build.sh falls back to --no-opt if it is missing.
  if [ -x "$ROOT/node_modules/.bin/wasm-opt" ]; then
    say "wasm-opt (npm binaryen): ok"
  else
    say "wasm-opt (npm binaryen) missing: builds will skip wasm-opt (--no-opt)"
  fi
}

# Installs Debian package $2 when command $1 is missing (as root, with apt). $3: what needs it.
# $4 = required|optional: a missing required tool stops setup; an optional one is only reported.
ensure_apt_tool() {
  local bin="$1" package="$2" why="$3" need="$4"
  if [ -x "$bin" ] || command -v "$bin" >/dev/null 2>&1; then
    say "$package ($bin): ok"
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    act "installing $package (apt-get install $package), for $why"
    # Refresh the package lists only when apt does not know the package yet.
    if ! apt-cache show "$package" >/dev/null 2>&1; then
      apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    { [ -x "$bin" ] || command -v "$bin" >/dev/null 2>&1; } || die "$package installed, but $bin is missing"
    return
  fi
  if [ "$need" = required ]; then
    die "$bin not found: install it (Debian/Ubuntu: sudo apt-get install $package); needed for $why"
  fi
  say "$bin not found (optional; sudo apt-get install $package): needed for $why"
}

ensure_chromium() {
  # Headless Chromium for tests/e2e/dashboard.test.mjs (the dashboard seen in a real browser).
  # CHROMIUM_BIN overrides where it is looked for.
  ensure_apt_tool "${CHROMIUM_BIN:-/usr/bin/chromium}" chromium "the dashboard's browser test (or set CHROMIUM_BIN)" required
}

ensure_jq() {
  # jq: README_SYNC.md's examples pipe through it, and tests/e2e/readme.test.mjs runs them.
  ensure_apt_tool jq jq "README_SYNC.md's examples and their test (tests/e2e/readme.test.mjs)" optional
}

main() {
  require_tools
  ensure_wasm_target
  ensure_style_tools
  ensure_worker_build
  ensure_wasm_bindgen
  ensure_mdbook
  ensure_postrust
  ensure_node_modules
  ensure_wasm_opt
  ensure_chromium
  ensure_jq
}

main "$@"
