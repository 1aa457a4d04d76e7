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
L=/work/llama.cpp
INC="-I$L/include -I$L/ggml/include -I$L/tools/mtmd -I$L/common -I$L/vendor"
[ -x $R/refdump_vision ] || g++ -std=c++17 -O1 $R/refdump_vision.cpp $INC -L$B -lmtmd -lllama-common -lllama -lggml -lggml-base -Wl,-rpath,$B -o $R/refdump_vision
[ -x $R/refdump_lm ] || g++ -std=c++17 -O1 $R/refdump_lm.cpp $INC -L$B -lllama -lggml -lggml-base -Wl,-rpath,$B -o $R/refdump_lm
for fa in off on; do
  $R/refdump_vision embd "$LM" "$MM" $fa $R/full $IMG/square32.png $IMG/wide48x20.png $IMG/rgba24.png \
    $IMG/tall17x40.bmp $IMG/small9x7.gif $IMG/photo40x30.jpg $IMG/lossless20x28.png
done
$R/refdump_vision prompt "$LM" "$MM" off "$OUT/wide-photo" $IMG/wide48x20.png "What colour is the sky?" 6
$R/refdump_vision prompt "$LM" "$MM" on "$R/full/wide-photo.faon" $IMG/wide48x20.png "What colour is the sky?" 6
$R/refdump_lm "$LM" "$OUT/lm-describe" 256 8 $'<start_of_turn>user\n' '<start_of_image>' \
  -- '<end_of_image>' $'Describe this image.<end_of_turn>\n<start_of_turn>model\n'
python3 $R/pack_embeddings.py $R/full "$OUT"
