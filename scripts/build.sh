#!/usr/bin/env bash
# Builds the Worker into build/ (build/index.js + build/index_bg.wasm) with worker-build in release
# mode. Used by wrangler.toml's [build] command (so by `wrangler dev` and `wrangler deploy`), by
# `npm run build` and by the e2e harness. Uses only local binaries installed by scripts/setup.sh,
# never a download:
#   WASM_BINDGEN_BIN  the wasm-bindgen CLI, exactly the wasm-bindgen crate version in Cargo.lock
#   WASM_OPT_BIN      wasm-opt from the npm package `binaryen`
#   ESBUILD_BIN       esbuild from node_modules (the one wrangler ships)
# A caller may override each. Environment:
#   BUILD_NO_OPT=1    skip wasm-opt (also automatic when wasm-opt is missing)
#   BUILD_FORCE=1     build even when build/ looks up to date
#   BUILD_SKIP_IF_PRESENT=1  do nothing when build/ has an output at all (the e2e harness builds
#                     once, then sets this for its `wrangler dev`, whose [build] runs this script)
# build/ counts as up to date when build/index.js is newer than every input below (a no-op then,
# so repeated `wrangler dev` starts are quick).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

INPUTS=(src crates Cargo.toml Cargo.lock scripts/build.sh)
[ -d .cargo ] && INPUTS+=(.cargo)
OUTPUT=build/index.js

up_to_date() {
  [ "${BUILD_FORCE:-0}" != 1 ] && [ -f "$OUTPUT" ] && [ -f build/index_bg.wasm ] &&
    [ -z "$(find "${INPUTS[@]}" -newer "$OUTPUT" -print -quit)" ]
}

pick() { # pick VAR DEFAULT: keep a caller's override, else DEFAULT
  if [ -z "${!1:-}" ]; then export "$1=$2"; fi
}

main() {
  if [ "${BUILD_SKIP_IF_PRESENT:-0}" = 1 ] && [ -f "$OUTPUT" ] && [ -f build/index_bg.wasm ]; then
    echo "build.sh: using the existing $OUTPUT (BUILD_SKIP_IF_PRESENT=1)"
    return
  fi
  if up_to_date; then
    echo "build.sh: $OUTPUT is up to date (BUILD_FORCE=1 rebuilds)"
    return
  fi
  pick WASM_BINDGEN_BIN "$CARGO_BIN/wasm-bindgen"
  pick ESBUILD_BIN "$ROOT/node_modules/.bin/esbuild"
  local args=(--release)
  if [ "${BUILD_NO_OPT:-0}" != 1 ]; then
    pick WASM_OPT_BIN "$ROOT/node_modules/.bin/wasm-opt"
    if [ ! -x "$WASM_OPT_BIN" ]; then
      echo "build.sh: warning: $WASM_OPT_BIN missing; building without wasm-opt (--no-opt)" >&2
      unset WASM_OPT_BIN
      args+=(--no-opt)
    fi
  else
    unset WASM_OPT_BIN
    args+=(--no-opt)
  fi
  for bin in "$WASM_BINDGEN_BIN" "$ESBUILD_BIN"; do
    [ -x "$bin" ] || { echo "build.sh: $bin is missing; run \`npm run setup\` first" >&2; exit 1; }
  done
  command -v worker-build >/dev/null || { echo "build.sh: worker-build is missing; run \`npm run setup\` first" >&2; exit 1; }
  # The output gets the build's start time, so a source edited during the build still counts as
  # newer and the next call rebuilds.
  local started
  started="$(mktemp)"
  trap 'rm -f "$started"' RETURN
  worker-build "${args[@]}"
  [ -f "$OUTPUT" ] || { echo "build.sh: worker-build did not produce $OUTPUT" >&2; exit 1; }
  touch -r "$started" "$OUTPUT"
}

main "$@"
