#!/usr/bin/env bash
# Regenerates tests/data/vision/reference with llama.cpp 34af94cd (see README there).
set -euo pipefail
B=/work/llama.cpp/build/bin
R=/work/vision-ref
OUT=${1:-/work/wt/vision/tests/data/vision/reference}
IMG=/work/wt/vision/tests/data/vision/images
LM=/work/wt/vision/tests/data/models/tiny-gemma3-vision-lm.gguf
MM=/work/shared/fixtures/models/mmproj-tinygemma3.gguf
mkdir -p "$OUT" $R/full
export LD_LIBRARY_PATH=$B
for fa in off on; do
  $R/refdump_vision embd "$LM" "$MM" $fa $R/full $IMG/square32.png $IMG/wide48x20.png $IMG/rgba24.png \
    $IMG/tall17x40.bmp $IMG/small9x7.gif $IMG/photo40x30.jpg $IMG/lossless20x28.png
done
$R/refdump_vision prompt "$LM" "$MM" off "$OUT/describe-square32" $IMG/square32.png "Describe this image." 8
$R/refdump_vision prompt "$LM" "$MM" off "$OUT/wide-photo" $IMG/wide48x20.png "What colour is the sky?" 6
for fa in on; do
  $R/refdump_vision prompt "$LM" "$MM" $fa "$R/full/describe-square32.fa$fa" $IMG/square32.png "Describe this image." 8
  $R/refdump_vision prompt "$LM" "$MM" $fa "$R/full/wide-photo.fa$fa" $IMG/wide48x20.png "What colour is the sky?" 6
done
python3 $R/pack_embeddings.py $R/full "$OUT"
