#!/usr/bin/env bash
# End-to-end suite: installs the openai and ollama npm clients into
# tests/e2e/node_modules, then for each model starts `hearth serve` on a free
# loopback port, runs the node tests against it, and stops it.
# Usage: run.sh [--lavapipe] HEARTH_BINARY MODEL.gguf [MODEL.gguf ...]
# --lavapipe: every server the suite starts (this script's and the tests'
# own) runs its models fully offloaded on Mesa's lavapipe Vulkan device
# (`--devices vulkanN --gpu-layers all`, passed to the tests as
# HEARTH_SERVE_ARGS); fails when there is no such device, as the other
# Vulkan tests do (a Vulkan build's CI installs it; a skip would hide that).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lavapipe=0
if [ "${1:-}" = "--lavapipe" ]; then lavapipe=1; shift; fi
hearth="$1"; shift
[ $# -gt 0 ] || { echo "usage: run.sh [--lavapipe] HEARTH_BINARY MODEL.gguf..." >&2; exit 2; }

serve_args=""
if [ "$lavapipe" = 1 ]; then
  # The first CPU-type Vulkan device (lavapipe) that `hearth devices` lists.
  device="$( ("$hearth" devices --json || echo '{}') | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const d = (JSON.parse(s).devices || []).find((x) => x.kind === "cpu");
      process.stdout.write(d ? d.id : "");
    });')"
  if [ -z "$device" ]; then
    echo "e2e: no lavapipe (CPU-type Vulkan) device for the Vulkan pass; scripts/setup installs mesa-vulkan-drivers (or build with -DHEARTH_VULKAN=OFF)." >&2
    "$hearth" devices >&2 || true
    exit 1
  fi
  serve_args="--devices $device --gpu-layers all"
  echo "== e2e on $device (lavapipe), every layer offloaded"
fi
export HEARTH_SERVE_ARGS="$serve_args"

cd "$here"
if [ ! -d node_modules/openai ] || [ ! -d node_modules/ollama ] || [ ! -d node_modules/ajv ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

status=0
for model in "$@"; do
  if [ ! -f "$model" ]; then
    echo "e2e: model $model not found" >&2; status=1; continue
  fi
  log="$(mktemp)"
  # shellcheck disable=SC2086  # serve_args is words
  "$hearth" serve "$model" --host 127.0.0.1 --port 0 --parallel 4 --queue 32 --ctx 2048 --threads 1 $serve_args >"$log" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 300); do  # up to 30 s to load
    port="$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -1)"
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "e2e: hearth serve did not start for $model:" >&2; cat "$log" >&2
    kill "$pid" 2>/dev/null || true; status=1; continue
  fi
  id="$(basename "$model" .gguf)"
  echo "== e2e against $id on port $port"
  grep "^model '" "$log" || true  # where its layers run
  if ! HEARTH_URL="http://127.0.0.1:$port" HEARTH_MODEL="$id" HEARTH_BIN="$hearth" HEARTH_MODEL_PATH="$model" \
       node --test --test-concurrency=1 "$here"/*.test.mjs; then
    status=1
    echo "e2e: server log for $id:" >&2; tail -50 "$log" >&2
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$log"
done
exit $status
