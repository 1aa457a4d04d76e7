#!/bin/bash
# Attention at depth, side by side (issue 17): llama.cpp's llama-bench and
# hearth bench alternating on the same GGUF, pp and tg after DEPTH tokens
# already in the context, flash attention on, for each K/V cache type.
#   LLAMA_BENCH=/path/to/llama-bench HEARTH=build/bin/hearth \
#   bench/depth_side_by_side.sh MODEL OUT_DIR "DEPTHS" "CACHE_TYPES" [ROUNDS] [PP] [TG]
# e.g. bench/depth_side_by_side.sh llama-3.2-1b-Q4_0.gguf out "8192" "f16 q8_0 q4_0" 1 512 128
# Writes OUT_DIR/{llama,hearth}-$NAME-d$DEPTH-$TYPE-$ROUND.json and prints a
# table of hearth / llama.cpp ratios. Both tools prefill the depth before each
# test, as llama-bench's -d does; 2 threads, as every benchmark here.
set -euo pipefail
model=$1 out=$2 depths=$3 types=$4 rounds=${5:-1} pp=${6:-512} tg=${7:-128}
llama_bench=${LLAMA_BENCH:?set LLAMA_BENCH to llama.cpp\'s llama-bench}
hearth=$(realpath "${HEARTH:-build/bin/hearth}")
threads=${THREADS:-2}
name=$(basename "$model" .gguf)
mkdir -p "$out"
export LD_LIBRARY_PATH="$(dirname "$llama_bench")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
isa=$("$hearth" bench "$model" -p 1 -n 0 -r 1 -t "$threads" 2>/dev/null | awk -F'|' 'NR==3 {gsub(/ /, "", $5); print $5}')
for round in $(seq 1 "$rounds"); do
  for d in $depths; do
    for t in $types; do
      "$llama_bench" -m "$model" -p "$pp" -n "$tg" -d "$d" -ctk "$t" -ctv "$t" -fa 1 -t "$threads" -r 1 -o json \
        > "$out/llama-$name-d$d-$t-$round.json"
      "$hearth" bench "$model" -p "$pp" -n "$tg" -d "$d" --ctk "$t" --ctv "$t" --fa on -t "$threads" -r 1 --json \
        > "$out/hearth-$name-d$d-$t-$round.json"
    done
  done
done
python3 - "$out" "$name" "$depths" "$types" "$rounds" "$isa" <<'EOF'
import json, sys, statistics
out, name, depths, types, rounds, isa = sys.argv[1:]
def rates(path):
    text = open(path).read().strip()
    rows = json.loads(text) if text.startswith('[') else [json.loads(l) for l in text.splitlines() if l.strip()]
    r = {}
    for row in rows:
        if 'n_prompt' in row:  # llama-bench
            r['pp' if row['n_prompt'] > 0 else 'tg'] = row['avg_ts']
        else:  # hearth bench: "test": "pp512@d8192" / "tg128@d8192"
            r[row['test'][:2]] = row['avg_ts']
    return r
print(f"{name}, hearth ISA {isa}; tokens/s, hearth / llama.cpp")
print("| depth | K/V | pp hearth | pp llama.cpp | pp ratio | tg hearth | tg llama.cpp | tg ratio |")
print("|---|---|---|---|---|---|---|---|")
for d in depths.split():
    for t in types.split():
        h = [rates(f"{out}/hearth-{name}-d{d}-{t}-{r}.json") for r in range(1, int(rounds) + 1)]
        l = [rates(f"{out}/llama-{name}-d{d}-{t}-{r}.json") for r in range(1, int(rounds) + 1)]
        cells = []
        for k in ('pp', 'tg'):
            hv = statistics.mean(x[k] for x in h); lv = statistics.mean(x[k] for x in l)
            cells += [f"{hv:.1f}", f"{lv:.1f}", f"**{hv / lv:.2f}**"]
        print(f"| {d} | {t} | " + " | ".join(cells) + " |")
EOF
