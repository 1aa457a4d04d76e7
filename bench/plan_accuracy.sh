#!/usr/bin/env bash
# Plan accuracy on real-size models: for each model, context, K/V type and
# engine, `hearth plan --measure` plans the memory, then loads the model in a
# child process, fills the whole context and measures its peak RSS growth
# (the method of tests/plan/plan_accuracy_test.cpp, src/plan/measure.h).
# Prints a markdown table row per case as it goes: predicted, measured (the
# median of REPS runs), error.
#
# Usage: bench/plan_accuracy.sh MODEL.gguf... 
#   CTXS="2048 8192" KV="f16 q8_0 q4_0" ENGINES="run serve" REPS=1 THREADS=2 HEARTH=build/bin/hearth
set -euo pipefail
hearth="${HEARTH:-build/bin/hearth}"
ctxs="${CTXS:-2048 8192}"
kvs="${KV:-f16 q8_0 q4_0}"
engines="${ENGINES:-run serve}"
reps="${REPS:-1}"
threads="${THREADS:-2}"
[ $# -gt 0 ] || { echo "usage: bench/plan_accuracy.sh MODEL.gguf..." >&2; exit 2; }

echo "| model | ctx | K/V | engine | predicted | measured | error |"
echo "| --- | ---: | --- | --- | ---: | ---: | ---: |"
for model in "$@"; do
  for ctx in $ctxs; do
    for kv in $kvs; do
      for engine in $engines; do
        measured=()
        predicted=""
        for _ in $(seq "$reps"); do
          out="$("$hearth" plan "$model" --ctx "$ctx" --ctk "$kv" --ctv "$kv" --engine "$engine" --parallel 1 \
                 --threads "$threads" --measure --json)"
          predicted="$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
          measured+=("$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["measured"])')")
        done
        median="$(printf '%s\n' "${measured[@]}" | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')"
        python3 -c "
p, m = $predicted, $median
print(f'| $(basename "$model") | $ctx | $kv | $engine | {p} | {m} | {100*(p-m)/m:+.2f}% |')"
      done
    done
  done
done
