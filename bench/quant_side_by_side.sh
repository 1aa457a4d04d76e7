#!/bin/bash
# Issue 19's side-by-side speed runs: hearth bench and llama.cpp's llama-bench,
# alternating, on 1B-shape files of the new weight types (IQ2_XS, IQ3_XXS,
# TQ2_0, MXFP4), each run with the machine's load (uptime) beside it.
#
#   LLAMA_BIN=/path/to/llama.cpp/build/bin HEARTH=build/bin/hearth \
#   bench/quant_side_by_side.sh make DIR SOURCE.gguf    # the files, once
#   LLAMA_BIN=... bench/quant_side_by_side.sh run DIR [ROUNDS] [TYPES...]
#
# `make` requantizes SOURCE (a llama-3.2-1b-shaped GGUF, e.g. Q8_0 from
# `hearth synth --like llama-3.2-1b --type Q8_0`, or F16) with llama-quantize
# into DIR/llama-3.2-1b-$TYPE.gguf, with an importance matrix from
# llama-imatrix over /usr/share/common-licenses/GPL-3 (4 chunks of 512) for the
# IQ types. MXFP4_MOE quantizes only MoE experts (a dense model would come out
# all Q8_0), so the MXFP4 file names every attention and FFN matrix MXFP4 with
# --tensor-type (token_embd/output stay Q8_0). TQ2_0 on a llama model is
# accepted by llama-quantize (the output stays Q6_K); on non-ternary weights it
# is only a speed test. IQ2_XS and IQ3_XXS take ~1 h each on 2 busy cores.
#
# `run` writes DIR/results/{llama,hearth}-$TYPE-$ROUND.json with
# DIR/results/load.txt (uptime before each run), then prints a table: pp512
# and tg128 tokens/s of both and hearth / llama.cpp. llama.cpp is built outside
# this repository and no test needs it.
set -euo pipefail
mode=${1:?usage: quant_side_by_side.sh make DIR SOURCE | run DIR [ROUNDS] [TYPES...]}
dir=${2:?DIR}
bin=${LLAMA_BIN:?set LLAMA_BIN to llama.cpp\'s build/bin}
hearth=$(realpath "${HEARTH:-build/bin/hearth}")
export LD_LIBRARY_PATH="$bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$dir"

if [ "$mode" = make ]; then
  src=${3:?SOURCE.gguf}
  imatrix="$dir/llama1b.imatrix.gguf"
  [ -f "$imatrix" ] || nice "$bin/llama-imatrix" -m "$src" -f /usr/share/common-licenses/GPL-3 -o "$imatrix" -c 512 --chunks 4 -t 2
  q=("$bin/llama-quantize" --allow-requantize)
  nice "${q[@]}" "$src" "$dir/llama-3.2-1b-TQ2_0.gguf" TQ2_0 2
  nice "${q[@]}" --tensor-type attn_=mxfp4 --tensor-type ffn_=mxfp4 "$src" "$dir/llama-3.2-1b-MXFP4.gguf" MXFP4_MOE 2
  nice "${q[@]}" --imatrix "$imatrix" "$src" "$dir/llama-3.2-1b-IQ2_XS.gguf" IQ2_XS 2
  nice "${q[@]}" --imatrix "$imatrix" "$src" "$dir/llama-3.2-1b-IQ3_XXS.gguf" IQ3_XXS 2
  exit 0
fi

rounds=${3:-2}
shift $(($# < 3 ? $# : 3))
types=("$@")
if [ ${#types[@]} -eq 0 ]; then types=(IQ2_XS IQ3_XXS TQ2_0 MXFP4); fi
out="$dir/results"
mkdir -p "$out"
: > "$out/load.txt"
for round in $(seq 1 "$rounds"); do
  for t in "${types[@]}"; do
    f="$dir/llama-3.2-1b-$t.gguf"
    [ -f "$f" ] || { echo "missing $f (run: $0 make $dir SOURCE)" >&2; exit 1; }
    echo "llama $t $round $(uptime)" >> "$out/load.txt"
    "$bin/llama-bench" -m "$f" -p 512 -n 128 -t 2 -r 2 -o json > "$out/llama-$t-$round.json"
    echo "hearth $t $round $(uptime)" >> "$out/load.txt"
    "$hearth" bench "$f" -p 512 -n 128 -t 2 -r 2 --json > "$out/hearth-$t-$round.json"
  done
done
echo "$(uptime) (end)" >> "$out/load.txt"

python3 - "$out" "$rounds" "${types[@]}" <<'EOF'
import json, sys
out, rounds, types = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def speeds(path):
    j = json.load(open(path))
    r = {}
    for e in j:
        if 'test' in e:  # hearth
            r[e['test']] = e['avg_ts']
        else:            # llama-bench: n_prompt / n_gen
            r['pp%d' % e['n_prompt'] if e['n_prompt'] else 'tg%d' % e['n_gen']] = e['avg_ts']
    return r
print('| type | round | llama.cpp pp512 | hearth pp512 | ratio | llama.cpp tg128 | hearth tg128 | ratio |')
print('| --- | --- | --- | --- | --- | --- | --- | --- |')
for t in types:
    for rd in range(1, rounds + 1):
        l = speeds(f'{out}/llama-{t}-{rd}.json'); h = speeds(f'{out}/hearth-{t}-{rd}.json')
        print(f"| {t} | {rd} | {l['pp512']:.2f} | {h['pp512']:.2f} | {h['pp512'] / l['pp512']:.2f} | "
              f"{l['tg128']:.2f} | {h['tg128']:.2f} | {h['tg128'] / l['tg128']:.2f} |")
EOF
echo "load per run: $out/load.txt"
