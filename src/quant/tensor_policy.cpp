#include "quant/tensor_policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "core/error.h"

namespace hearth::quant {
namespace {

// llama_ftype ids of the targets whose rules differ (see llama.h).
enum FileType : int64_t {
  kAllF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 7, kQ5_0 = 8, kQ5_1 = 9,
  kQ2_K = 10, kQ3_K_S = 11, kQ3_K_M = 12, kQ3_K_L = 13, kQ4_K_S = 14, kQ4_K_M = 15,
  kQ5_K_S = 16, kQ5_K_M = 17, kQ6_K = 18, kIQ4_NL = 25, kIQ4_XS = 30, kBF16 = 32,
  kTQ1_0 = 36, kTQ2_0 = 37, kMXFP4_MOE = 38,
  kIQ2_XXS = 19, kIQ2_XS = 20, kQ2_K_S = 21, kIQ3_XS = 22, kIQ3_XXS = 23, kIQ1_S = 24, kIQ3_S = 26,
  kIQ3_M = 27, kIQ2_S = 28, kIQ2_M = 29, kIQ1_M = 31,
};

constexpr std::array<QuantTarget, 33> kTargets = {{
    {"Q4_0", kQ4_0, DType::Q4_0},       {"Q4_1", kQ4_1, DType::Q4_1},
    {"Q5_0", kQ5_0, DType::Q5_0},       {"Q5_1", kQ5_1, DType::Q5_1},
    {"Q8_0", kQ8_0, DType::Q8_0},       {"Q2_K", kQ2_K, DType::Q2_K},
    {"Q3_K_S", kQ3_K_S, DType::Q3_K},   {"Q3_K_M", kQ3_K_M, DType::Q3_K},
    {"Q3_K_L", kQ3_K_L, DType::Q3_K},   {"Q4_K_S", kQ4_K_S, DType::Q4_K},
    {"Q4_K_M", kQ4_K_M, DType::Q4_K},   {"Q5_K_S", kQ5_K_S, DType::Q5_K},
    {"Q5_K_M", kQ5_K_M, DType::Q5_K},   {"Q6_K", kQ6_K, DType::Q6_K},
    {"IQ4_NL", kIQ4_NL, DType::IQ4_NL}, {"IQ4_XS", kIQ4_XS, DType::IQ4_XS},
    {"F16", kF16, DType::F16},          {"BF16", kBF16, DType::BF16},
    {"F32", kAllF32, DType::F32},
    {"TQ1_0", kTQ1_0, DType::TQ1_0},    {"TQ2_0", kTQ2_0, DType::TQ2_0},
    {"MXFP4_MOE", kMXFP4_MOE, DType::MXFP4},
    // The importance-matrix mixes (llama_ftype_get_default_type).
    {"Q2_K_S", kQ2_K_S, DType::Q2_K},   {"IQ2_XXS", kIQ2_XXS, DType::IQ2_XXS},
    {"IQ2_XS", kIQ2_XS, DType::IQ2_XS}, {"IQ2_S", kIQ2_S, DType::IQ2_XS},
    {"IQ2_M", kIQ2_M, DType::IQ2_S},    {"IQ3_XXS", kIQ3_XXS, DType::IQ3_XXS},
    {"IQ3_XS", kIQ3_XS, DType::IQ3_S},  {"IQ3_S", kIQ3_S, DType::IQ3_S},
    {"IQ3_M", kIQ3_M, DType::IQ3_S},    {"IQ1_S", kIQ1_S, DType::IQ1_S},
    {"IQ1_M", kIQ1_M, DType::IQ1_M},
}};

// llama-quantize's shorthand names for the medium k-quant mixes.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kAliases = {{
    {"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"},
}};

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool is_float_type(DType type) { return type == DType::F32 || type == DType::F16 || type == DType::BF16; }

// The broad roles the mix rules distinguish, matched on name fragments in the
// same precedence as llama.cpp (so "attn_qkv" is never taken for "attn_q").
enum class Role { Output, TokenEmbedding, AttnQkv, AttnKvB, AttnV, AttnK, AttnQ, AttnOutput, FfnUp, FfnGate, FfnDown, Other };

Role role_of(std::string_view name) {
  if (name == "output.weight") return Role::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Role::TokenEmbedding;
  if (contains(name, "attn_qkv.weight")) return Role::AttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Role::AttnKvB;
  if (contains(name, "attn_v.weight")) return Role::AttnV;
  if (contains(name, "attn_k.weight")) return Role::AttnK;
  if (contains(name, "attn_q.weight")) return Role::AttnQ;
  if (contains(name, "attn_output.weight")) return Role::AttnOutput;
  if (contains(name, "ffn_up")) return Role::FfnUp;
  if (contains(name, "ffn_gate")) return Role::FfnGate;
  if (contains(name, "ffn_down")) return Role::FfnDown;
  return Role::Other;
}

// V-like projections: the most sensitive to quantization, they share a counter.
bool is_value_like(Role role) { return role == Role::AttnV || role == Role::AttnQkv || role == Role::AttnKvB; }

// ggml_n_dims: trailing dimensions of 1 do not count.
int effective_dims(const std::vector<uint64_t>& shape) {
  int dims = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 1) dims = int(i) + 1;
  return dims;
}

// Name fragments of tensors llama-quantize always leaves as they are: norms,
// the MoE router, small or position-like tensors of various architectures.
constexpr std::array<std::string_view, 35> kNeverQuantized = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
    "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
    "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
    "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.",
    "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
};

bool may_quantize(const TensorShape& t) {
  if (effective_dims(t.shape) < 2) return false;  // 1-D: norms, biases, rope_freqs
  const std::string_view name = t.name;
  if (!name.ends_with("weight")) return false;
  if (name == "position_embd.weight" || name == "token_types.weight") return false;
  return std::none_of(kNeverQuantized.begin(), kNeverQuantized.end(),
                      [&](std::string_view fragment) { return contains(name, fragment); });
}

// The layers whose tensors get more bits in the _M mixes: the first and last
// eighth, and every third layer in between.
bool use_more_bits(int i_layer, int n_layer) {
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

// "blk.12.ffn_down.weight" -> 12 (as sscanf("blk.%d.") reads it).
std::optional<int> block_index(std::string_view name) {
  constexpr std::string_view prefix = "blk.";
  if (!name.starts_with(prefix)) return std::nullopt;
  size_t pos = prefix.size();
  bool negative = false;
  if (pos < name.size() && (name[pos] == '-' || name[pos] == '+')) negative = name[pos++] == '-';
  if (pos >= name.size() || !std::isdigit(static_cast<unsigned char>(name[pos]))) return std::nullopt;
  int64_t value = 0;
  while (pos < name.size() && std::isdigit(static_cast<unsigned char>(name[pos])) && value < (1 << 30))
    value = value * 10 + (name[pos++] - '0');
  return int(negative ? -value : value);
}

// The per-file state of llama.cpp's rules: counters of the tensors of each
// role seen so far, which stand in for the layer index in dense models.
class MixRules {
 public:
  MixRules(const QuantTarget& target, const ModelTraits& traits, const std::vector<TensorShape>& tensors,
           bool has_imatrix)
      : target_(target), traits_(traits), has_imatrix_(has_imatrix) {
    for (const auto& t : tensors) {
      const Role role = role_of(t.name);
      if (is_value_like(role)) ++n_value_like_;
      if (role == Role::FfnDown) ++n_ffn_down_;
      if (role == Role::Output) tied_embeddings_ = false;
    }
  }

  DType choose(const TensorShape& t) {
    if (!may_quantize(t)) return t.type;
    if (!is_float_type(t.type) && !dtype_info(t.type).quantized)
      fail("tensor '{}' holds {} values, which cannot be converted to a weight type", t.name, dtype_name(t.type));
    if (!is_float_type(t.type))
      fail("tensor '{}' is already quantized ({}); requantizing is not supported: quantize from an F32, F16 or BF16 file",
           t.name, dtype_name(t.type));
    DType type = target_.default_type;
    if (!dtype_info(type).quantized) return type;  // F16/BF16/F32: every 2-D weight converted
    type = apply_mix(t, type);
    return fallback_for_row_length(t, type);
  }

 private:
  bool is(int64_t file_type) const { return target_.file_type == file_type; }
  bool falcon() const { return traits_.arch == "falcon"; }
  // The 1-2 bit mixes, which share one set of rules in llama.cpp.
  bool low_bit_mix() const { return is(kIQ2_XXS) || is(kIQ2_XS) || is(kIQ1_S) || is(kIQ2_S) || is(kIQ2_M) || is(kIQ1_M); }
  bool iq2_s_or_m() const { return is(kIQ2_S) || is(kIQ2_M); }

  // llama.cpp's rules for the 1-2 bit mixes, below the output and embedding rules.
  DType apply_low_bit_mix(Role role, DType type) {
    if (is_value_like(role)) {
      ++i_value_like_;
      if (traits_.n_gqa() >= 4 || traits_.n_expert >= 4) return DType::Q4_K;
      return iq2_s_or_m() ? DType::IQ3_S : DType::Q2_K;
    }
    if (traits_.n_expert == 8 && role == Role::AttnK) return DType::Q4_K;
    if (role == Role::FfnDown) {
      const int i = i_ffn_down_++;
      return i < n_ffn_down_ / 8 ? (iq2_s_or_m() ? DType::IQ3_S : DType::Q2_K) : type;
    }
    if (role == Role::AttnOutput) {
      if (traits_.n_expert == 8) return DType::Q5_K;
      if (is(kIQ1_S) || is(kIQ1_M)) return DType::IQ2_XXS;
      if (iq2_s_or_m()) return DType::IQ3_S;
    }
    return type;
  }

  // Which layer a per-layer rule should consider: the role's counter for dense
  // models; for MoE the name's block number (expert tensors are not in layer order).
  int layer_of(const TensorShape& t, int counter) const {
    if (traits_.n_expert <= 1) return counter;
    const std::optional<int> block = block_index(t.name);
    if (!block) fail("cannot tell the layer of tensor '{}' (expected a name starting with blk.N.)", t.name);
    if (*block < 0 || *block >= traits_.n_layer)
      fail("tensor '{}' is in layer {}, but the model has {} layers", t.name, *block, traits_.n_layer);
    return *block;
  }

  DType apply_mix(const TensorShape& t, DType type) {
    const Role role = role_of(t.name);
    const int n_layer = traits_.n_layer;
    if (role == Role::Output || (tied_embeddings_ && role == Role::TokenEmbedding)) {
      // The lm head (or the embedding that doubles as it) is the most sensitive tensor.
      if (is(kMXFP4_MOE) || falcon() || t.shape[0] % dtype_info(type).block_size != 0) return DType::Q8_0;
      if (low_bit_mix() || is(kIQ3_XXS)) return DType::Q5_K;
      return type == DType::Q8_0 ? type : DType::Q6_K;
    }
    // MXFP4_MOE: expert tensors (3-D, one matrix per expert) MXFP4, the rest Q8_0.
    if (is(kMXFP4_MOE)) return t.shape.size() > 2 && t.shape[2] > 1 ? DType::MXFP4 : DType::Q8_0;
    if (role == Role::TokenEmbedding) {
      if (is(kIQ2_XXS) || is(kIQ2_XS) || is(kIQ1_S) || is(kIQ1_M)) return DType::Q2_K;
      if (iq2_s_or_m() || is(kIQ3_XXS)) return DType::IQ3_S;
      return is(kTQ1_0) || is(kTQ2_0) ? DType::Q4_K : type;
    }
    if (low_bit_mix()) return apply_low_bit_mix(role, type);
    const int n_gqa = traits_.n_gqa();
    if (is_value_like(role)) {
      const int i = i_value_like_++;
      if (is(kQ2_K)) type = n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
      else if (is(kQ2_K_S) && n_gqa >= 4) type = DType::Q4_K;
      else if (is(kIQ3_XXS)) type = n_gqa >= 4 ? DType::Q4_K : !has_imatrix_ ? DType::IQ3_S : DType::IQ3_XXS;
      else if ((is(kIQ3_XS) || is(kIQ3_S)) && n_gqa >= 4) type = DType::Q4_K;
      else if (is(kIQ3_M)) type = DType::Q4_K;
      else if (is(kQ3_K_M)) type = i < 2 ? DType::Q5_K : DType::Q4_K;
      else if (is(kQ3_K_L)) type = DType::Q5_K;
      else if ((is(kIQ4_NL) || is(kIQ4_XS)) && traits_.n_gqa() >= 4) type = DType::Q5_K;
      else if ((is(kQ4_K_M) || is(kQ5_K_M)) && use_more_bits(i, n_value_like_)) type = DType::Q6_K;
      else if (is(kQ4_K_S) && i < 4) type = DType::Q5_K;
      // 70B shares each V among 8 heads, so V is small: more bits cost little.
      if (traits_.is_llama_70b && (type == DType::Q3_K || type == DType::Q4_K)) type = DType::Q5_K;
      if (traits_.n_expert == 8) type = DType::Q8_0;
      return type;
    }
    if (role == Role::AttnK) {
      if (traits_.n_expert == 8) return DType::Q8_0;
      if (is(kIQ3_XS)) return DType::IQ3_XXS;
      return is(kIQ3_XXS) ? DType::IQ2_S : type;
    }
    if (role == Role::AttnQ) {
      if (is(kIQ3_XS)) return DType::IQ3_XXS;
      return is(kIQ3_XXS) ? DType::IQ2_S : type;
    }
    if (role == Role::FfnDown) {
      const int i = layer_of(t, i_ffn_down_++);
      if (is(kQ2_K)) type = DType::Q3_K;
      else if (is(kQ2_K_S)) type = i < n_layer / 8 ? DType::Q4_K : type;
      else if (is(kIQ3_XXS) && !has_imatrix_) type = i < n_layer / 8 ? DType::Q4_K : DType::Q3_K;
      else if (is(kQ3_K_M)) {
        type = i < n_layer / 16 ? DType::Q5_K
               : (!falcon() || use_more_bits(i, n_layer)) ? DType::Q4_K
                                                          : DType::Q3_K;
      } else if (is(kIQ3_M) && (i < n_layer / 8 || (traits_.n_expert == 8 && use_more_bits(i, n_layer))))
        type = DType::Q4_K;
      else if (is(kQ3_K_L)) type = falcon() ? DType::Q4_K : DType::Q5_K;
      else if (is(kQ4_K_M)) {
        if (falcon()) type = i < n_layer / 16 ? DType::Q6_K : use_more_bits(i, n_layer) ? DType::Q5_K : DType::Q4_K;
        else if (use_more_bits(i, n_layer)) type = DType::Q6_K;
      } else if (i < n_layer / 8 && (is(kIQ4_NL) || is(kIQ4_XS)) && !has_imatrix_) type = DType::Q5_K;
      else if (is(kQ5_K_M) && use_more_bits(i, n_layer)) type = DType::Q6_K;
      else if (is(kQ4_K_S) && !falcon() && i < n_layer / 8) type = DType::Q5_K;
      // With an imatrix the first eighth of ffn_down gets the _1 type (llama.cpp's guard).
      else if ((is(kQ4_0) || is(kQ5_0)) && has_imatrix_ && i < n_layer / 8) type = is(kQ4_0) ? DType::Q4_1 : DType::Q5_1;
      return type;
    }
    if (role == Role::AttnOutput) {
      if (falcon()) return is(kQ3_K_L) ? DType::Q4_K : type;
      if (traits_.n_expert == 8) {
        const bool raise = is(kQ2_K) || is(kIQ3_XS) || is(kIQ3_XXS) || is(kQ3_K_S) || is(kQ3_K_M) ||
                           is(kIQ4_NL) || is(kQ4_K_S) || is(kQ4_K_M) || is(kIQ3_S) || is(kIQ3_M) || is(kIQ4_XS);
        return raise ? DType::Q5_K : type;
      }
      if (is(kQ2_K)) return DType::Q3_K;
      if (is(kIQ3_XXS)) return DType::IQ3_S;
      if (is(kQ3_K_M)) return DType::Q4_K;
      if (is(kQ3_K_L)) return DType::Q5_K;
      if (is(kIQ3_M)) return DType::Q4_K;
      return type;
    }
    // Gate and up change only for IQ3_XS (the middle layers), but llama.cpp
    // checks their layer for every mix (MoE names must carry blk.N).
    if (role == Role::FfnGate || role == Role::FfnUp) {
      const int i = role == Role::FfnGate ? layer_of(t, i_ffn_gate_++) : layer_of(t, i_ffn_up_++);
      if (is(kIQ3_XS) && i >= n_layer / 8 && i < 7 * n_layer / 8) return DType::IQ3_XXS;
    }
    return type;
  }

  // Rows must hold whole blocks: a type that does not fit falls back to a
  // 32-wide type of similar size, and to F16 when even that does not fit.
  static DType fallback_for_row_length(const TensorShape& t, DType type) {
    const uint64_t row = t.shape[0];
    if (row % dtype_info(type).block_size == 0) return type;
    DType fallback;
    switch (type) {
      case DType::IQ1_S:
      case DType::IQ1_M:
      case DType::IQ2_XXS:
      case DType::IQ2_XS:
      case DType::IQ2_S:
      case DType::IQ3_XXS:
      case DType::IQ3_S:
      case DType::IQ4_XS: fallback = DType::IQ4_NL; break;
      case DType::Q2_K:
      case DType::Q3_K:
      case DType::TQ1_0:
      case DType::TQ2_0: fallback = DType::Q4_0; break;
      case DType::Q4_K: fallback = DType::Q5_0; break;
      case DType::Q5_K: fallback = DType::Q5_1; break;
      case DType::Q6_K: fallback = DType::Q8_0; break;
      default:
        fail("tensor '{}' has rows of {} values, not a multiple of the {} block size {}, and llama.cpp defines "
             "no fallback type for {} (a k-quant or F16 target would work)",
             t.name, row, dtype_name(type), dtype_info(type).block_size, dtype_name(type));
    }
    return row % dtype_info(fallback).block_size == 0 ? fallback : DType::F16;
  }

  const QuantTarget& target_;
  const ModelTraits& traits_;
  bool has_imatrix_ = false;
  int n_ffn_down_ = 0;
  bool tied_embeddings_ = true;  // until output.weight shows up
  int n_value_like_ = 0;
  int i_value_like_ = 0;
  int i_ffn_down_ = 0;
  int i_ffn_gate_ = 0;
  int i_ffn_up_ = 0;
};

int64_t first_int(const gguf::Metadata& metadata, const std::string& key, int64_t fallback) {
  const gguf::Value* value = metadata.find(key);
  if (value == nullptr) return fallback;
  if (value->is_array()) return value->size() > 0 ? value->int_at(0) : fallback;
  return value->as_int(key);
}

}  // namespace

std::optional<QuantTarget> quant_target_from_name(std::string_view name) {
  std::string wanted = upper(name);
  for (const auto& [alias, canonical] : kAliases)
    if (wanted == alias) wanted = std::string(canonical);
  for (const QuantTarget& target : kTargets)
    if (target.name == wanted) return target;
  return std::nullopt;
}

std::vector<std::string_view> quant_target_names() {
  std::vector<std::string_view> names;
  for (const QuantTarget& target : kTargets) names.push_back(target.name);
  return names;
}

ModelTraits model_traits(const gguf::Metadata& metadata) {
  ModelTraits traits;
  traits.arch = metadata.get_string_or("general.architecture", "");
  const std::string& a = traits.arch;
  traits.n_layer = int(first_int(metadata, a + ".block_count", 0));
  traits.n_expert = int(first_int(metadata, a + ".expert_count", 0));
  traits.n_head = int(first_int(metadata, a + ".attention.head_count", 0));
  traits.n_head_kv = int(first_int(metadata, a + ".attention.head_count_kv", traits.n_head));
  traits.is_llama_70b = a == "llama" && traits.n_layer == 80 && traits.n_head != traits.n_head_kv;
  return traits;
}

std::vector<DType> choose_tensor_types(const QuantTarget& target, const ModelTraits& traits,
                                       const std::vector<TensorShape>& tensors, bool has_imatrix) {
  MixRules rules(target, traits, tensors, has_imatrix);
  std::vector<DType> types;
  types.reserve(tensors.size());
  for (const auto& t : tensors) types.push_back(rules.choose(t));
  return types;
}

std::vector<size_t> llama_quantize_order(const std::vector<std::string>& names) {
  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto layer = [&](size_t i) { return block_index(names[i]).value_or(-1); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int la = layer(a), lb = layer(b);
    if (la != lb) return la < lb;
    return names[a] < names[b];
  });
  return order;
}

}  // namespace hearth::quant
