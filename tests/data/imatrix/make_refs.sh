#!/usr/bin/env bash
# Regenerates tests/data/imatrix from llama.cpp at the fixtures' commit (34af94cd):
# importance matrices from llama-imatrix, and digests of llama-quantize's outputs
# with them. Run from the repository root: paths inside the files are relative to it.
set -euo pipefail
bin=${LLAMA_BIN:-/work/llama.cpp/build/bin}
shared=${SHARED_FIXTURES:-../shared/fixtures}
out=tests/data/imatrix
text=tests/data/text/Apache-2.0.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin/llama-imatrix" -m models/stories260K.gguf -f $text -o $out/stories260K.imatrix.gguf -c 128 --chunks 16 -t 2
"$bin/llama-imatrix" -m models/stories260K.gguf -f $text -o $out/stories260K.imatrix.dat --output-format dat -c 128 --chunks 16 -t 2
"$bin/llama-imatrix" -m $shared/models/synth-llama-F32.gguf -f $text -o $out/synth-llama.imatrix.gguf -c 128 --chunks 8 -t 2
# MoE: -fa off, the unfused attention hearth runs by default (a router near-tie in this
# random-weight model flips one expert choice between llama.cpp's -fa on and off).
"$bin/llama-imatrix" -m $shared/models/synth-qwen3moe-F16.gguf -f $text -o $out/synth-qwen3moe.imatrix.gguf -c 128 --chunks 4 -t 2 -fa off

digests() {  # model imatrix name types...
  local model=$1 imatrix=$2 name=$3; shift 3
  echo "{"
  local first=1
  for t in "$@"; do
    "$bin/llama-quantize" --imatrix "$imatrix" "$model" "$tmp/$t.gguf" "$t" 2 > "$tmp/log" 2>&1
    [ $first = 1 ] || echo ","
    first=0
    printf '"%s": {"file_sha256": "%s", "layout": %s}' "$t" "$(sha256sum "$tmp/$t.gguf" | cut -d' ' -f1)" \
      "$(python3 $out/tensor_digests.py "$tmp/$t.gguf")"
  done
  echo "}"
}
mixes="Q2_K Q2_K_S Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K TQ1_0 IQ2_XXS IQ2_XS IQ2_S IQ2_M IQ3_XXS IQ3_XS IQ3_S IQ3_M IQ1_S IQ1_M"
digests models/stories260K.gguf $out/stories260K.imatrix.gguf stories260K $mixes > $out/stories260K-quantize.json
# stories260K's 172-wide ffn_down has no fallback for the 32-block types; synth-llama fits them all.
digests $shared/models/synth-llama-F32.gguf $out/synth-llama.imatrix.gguf synth-llama $mixes Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL IQ4_XS \
  > $out/synth-llama-quantize.json
