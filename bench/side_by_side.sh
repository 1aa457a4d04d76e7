#!/bin/bash
# Alternating side-by-side speed runs of llama.cpp's llama-bench and hearth
# bench on the same GGUF files (issue 7; results in bench/RESULTS.md).
#   LLAMA_BENCH=/path/to/llama-bench HEARTH=build/bin/hearth \
#   bench/side_by_side.sh DIR OUT_DIR [ROUNDS] [TYPES...]
# DIR holds llama-3.2-1b-$TYPE.gguf (hearth synth + hearth quantize); each run
# writes OUT_DIR/{llama,hearth}-$TYPE-$ROUND.json. llama.cpp is built outside
# this repository and is never needed by its tests.
set -euo pipefail
dir=$1 out=$2 rounds=${3:-3}
shift 2
if [ $# -gt 0 ]; then shift; fi
types=("$@")
if [ ${#types[@]} -eq 0 ]; then types=(Q4_0 Q4_K_M Q8_0); fi
llama_bench=${LLAMA_BENCH:?set LLAMA_BENCH to llama.cpp\'s llama-bench}
hearth=$(realpath "${HEARTH:-build/bin/hearth}")
mkdir -p "$out"
export LD_LIBRARY_PATH="$(dirname "$llama_bench")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$hearth" bench --memory -t 2 > "$out/memory.txt" 2>&1
for round in $(seq 1 "$rounds"); do
  for t in "${types[@]}"; do
    "$llama_bench" -m "$dir/llama-3.2-1b-$t.gguf" -p 512 -n 128 -t 2 -r 3 -o json > "$out/llama-$t-$round.json"
    "$hearth" bench "$dir/llama-3.2-1b-$t.gguf" -p 512 -n 128 -t 2 -r 3 --json > "$out/hearth-$t-$round.json"
  done
done
"$hearth" bench --memory -t 2 >> "$out/memory.txt" 2>&1
