#!/usr/bin/env bash
# End-to-end suite: installs the openai and ollama npm clients into
# tests/e2e/node_modules, then for each model starts `hearth serve` on a free
# loopback port, runs the node tests against it, and stops it.
# Usage: run.sh HEARTH_BINARY MODEL.gguf [MODEL.gguf ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hearth="$1"; shift
[ $# -gt 0 ] || { echo "usage: run.sh HEARTH_BINARY MODEL.gguf..." >&2; exit 2; }

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
  "$hearth" serve "$model" --host 127.0.0.1 --port 0 --parallel 4 --queue 32 --ctx 2048 --threads 1 >"$log" 2>&1 &
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
