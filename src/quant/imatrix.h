// Importance matrices in llama-imatrix's two file formats, so either tool's
// file works in either: the GGUF format (general.type = "imatrix", per weight
// "<name>.in_sum2" [n_in, n_mat] sums of squared inputs and "<name>.counts"
// [1, n_mat] token counts, plus imatrix.datasets / chunk_count / chunk_size)
// and the legacy .dat format (per entry the mean squared input times ncall).
// Also the per-column weights llama-quantize derives from either (sum/count).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace hearth::quant {

struct ImatrixEntry {
  std::vector<float> sums;      // n_mat * n_in sums of x^2 per input column
  std::vector<int64_t> counts;  // n_mat token counts (one per expert; 1 for dense)
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by weight name, sorted as both formats store them
  std::vector<std::string> datasets;            // the text files it was computed on
  int32_t chunk_count = 0;
  int32_t chunk_size = 0;  // tokens per chunk (GGUF only; 0 from a .dat file)
  bool is_legacy = false;     // read from a .dat file: sums are mean * ncall, counts {ncall}
  bool has_metadata = false;  // GGUF with all three imatrix.* keys (llama-quantize requires them)
};

// Reads either format (GGUF when the file starts with the GGUF magic). Throws
// naming the file and what is wrong.
Imatrix load_imatrix(const std::string& path);

// Writes llama-imatrix's GGUF file (keys, tensor names, order and shapes as it
// writes them).
void save_imatrix_gguf(const Imatrix& imatrix, const std::string& path);

// Writes llama-imatrix's legacy .dat file: for each entry ncall = ceil(max
// count / chunk_size) and the values (sum / count) * ncall, then the chunk
// count and the (last) dataset name. Entries without any data are left out.
void save_imatrix_dat(const Imatrix& imatrix, const std::string& path);

// The importance weights llama-quantize hands to the row quantizers, per weight
// name: n_mat * n_in values, sum / count per matrix (1 where a matrix saw no
// tokens) for GGUF files, value / ncall for legacy ones. Throws when a value is
// not finite (llama-quantize refuses those too).
std::unordered_map<std::string, std::vector<float>> importance_weights(const Imatrix& imatrix);

}  // namespace hearth::quant
