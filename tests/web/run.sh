#!/usr/bin/env bash
# The chat page in a real headless browser: installs playwright-core into
# tests/web/node_modules, starts `hearth serve` with two text models and a
# vision model (with its projector) on a free loopback port, and drives
# Debian's chromium through chat_page.test.mjs.
# Screenshots go to $HEARTH_ARTIFACTS (default: build/web-artifacts).
# Usage: run.sh HEARTH_BINARY MODEL.gguf OTHER_MODEL.gguf VISION_MODEL.gguf MMPROJ.gguf
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
hearth="$1"; model_a="$2"; model_b="$3"; model_v="$4"; mmproj="$5"
chromium="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium" ]; then
  echo "web: chromium not found (apt-get install chromium; scripts/setup installs it)" >&2; exit 1
fi
cd "$here"
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
artifacts="${HEARTH_ARTIFACTS:-$here/../../build/web-artifacts}"
mkdir -p "$artifacts"

log="$(mktemp)"
# --mmproj goes to the first model, so the vision model comes first.
"$hearth" serve "$model_v" --mmproj "$mmproj" "$model_a" "$model_b" --host 127.0.0.1 --port 0 --parallel 2 --ctx 4096 --threads 1 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
port=""
for _ in $(seq 1 300); do
  port="$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$log" | head -1)"
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then echo "web: hearth serve did not start:" >&2; cat "$log" >&2; exit 1; fi
HEARTH_URL="http://127.0.0.1:$port" CHROMIUM="$chromium" HEARTH_ARTIFACTS="$artifacts" \
  MODEL_A="$(basename "$model_a" .gguf)" MODEL_B="$(basename "$model_b" .gguf)" \
  MODEL_V="$(basename "$model_v" .gguf)" IMAGES="$here/../data/vision/images" \
  node --test --test-concurrency=1 "$here"/chat_page.test.mjs || { tail -30 "$log" >&2; exit 1; }
