#!/bin/bash
# Alternating side-by-side runs of `hearth serve` and llama.cpp's llama-server
# on the same GGUF, threads and slots (issue 16), each measured by
# bench/server_bench.mjs (1, 4, 8, 16 streamed chats; a 10-turn chat), plus
# `hearth bench` tg on the same file for the serve-vs-engine check. Prints a
# markdown table of the means over rounds, with the machine's ISA.
#   LLAMA_SERVER=/path/to/llama-server bench/server_side_by_side.sh MODEL.gguf OUT_DIR [ROUNDS] [THREADS] [SLOTS]
# llama.cpp is built outside this repository; no test needs it.
set -euo pipefail
model=$(realpath "$1") out=$2 rounds=${3:-2} threads=${4:-2} slots=${5:-16}
llama_server=${LLAMA_SERVER:?set LLAMA_SERVER to llama.cpp\'s llama-server}
here=$(cd "$(dirname "$0")" && pwd)
hearth=$(realpath "${HEARTH:-$here/../build/bin/hearth}")
ctx=4096  # the 10-turn chat reaches about 2300 tokens
mkdir -p "$out"
export LD_LIBRARY_PATH="$(dirname "$llama_server")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

wait_for() {  # url
  for _ in $(seq 1 600); do curl -sf "$1/health" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "server at $1 did not come up" >&2; return 1
}

for round in $(seq 1 "$rounds"); do
  "$hearth" serve "$model" --port 18090 -q --parallel "$slots" --threads "$threads" --ctx "$ctx" 2>"$out/hearth-serve-$round.log" &
  pid=$!
  wait_for http://127.0.0.1:18090
  node "$here/server_bench.mjs" --url http://127.0.0.1:18090 --json > "$out/hearth-$round.json"
  kill $pid; wait $pid || true

  "$llama_server" -m "$model" --port 18091 -np "$slots" -t "$threads" -c $((ctx * slots)) --no-webui \
    >"$out/llama-server-$round.log" 2>&1 &
  pid=$!
  wait_for http://127.0.0.1:18091
  node "$here/server_bench.mjs" --url http://127.0.0.1:18091 --json > "$out/llama-$round.json"
  kill $pid; wait $pid || true

  "$hearth" bench "$model" -p 0 -n 64 -t "$threads" -r 3 --json > "$out/bench-$round.json"
done

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
OUT="$out" ROUNDS="$rounds" CPU="$cpu" node - <<'JS'
const fs = require('fs');
const { OUT, ROUNDS, CPU } = process.env;
const load = (name) => Array.from({ length: +ROUNDS }, (_, i) => JSON.parse(fs.readFileSync(`${OUT}/${name}-${i + 1}.json`)));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const h = load('hearth'), l = load('llama'), b = load('bench');
const at = (runs, streams, key) => mean(runs.map((r) => r.throughput.find((t) => t.streams === streams)[key]));
const chat = (runs) => mean(runs.map((r) => mean(r.chat_turns.map((t) => t.ttft_ms))));
const tg = mean(b.map((r) => r.find((t) => t.test.startsWith('tg')).avg_ts));
const row = (what, a, c, better) => `| ${what} | ${a.toFixed(1)} | ${c.toFixed(1)} | ${(better === 'lower' ? c / a : a / c).toFixed(2)} |`;
console.log(`${CPU}, hearth kernels ${b[0][0].backend}, ${b[0][0].threads} threads; ${ROUNDS} alternating rounds, means\n`);
console.log('| | hearth serve | llama-server | hearth advantage |\n|---|---|---|---|');
console.log(row('one stream, decode tokens/s', at(h, 1, 'decode_tokens_per_second'), at(l, 1, 'decode_tokens_per_second')));
for (const s of [8, 16]) console.log(row(`${s} streams, aggregate tokens/s`, at(h, s, 'tokens_per_second'), at(l, s, 'tokens_per_second')));
console.log(row('16 streams, mean TTFT ms', at(h, 16, 'mean_ttft_ms'), at(l, 16, 'mean_ttft_ms'), 'lower'));
console.log(row('10-turn chat, mean TTFT ms', chat(h), chat(l), 'lower'));
console.log(`\nhearth bench tg64 on the same file: ${tg.toFixed(1)} tokens/s; one stream through serve: ${(at(h, 1, 'decode_tokens_per_second') / tg * 100).toFixed(1)}% of it`);
JS
