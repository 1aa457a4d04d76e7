#include "model/synth.h"

#include <cctype>
#include <cmath>
#include <cstring>
#include <memory>

#include "backend/ref/quants.h"
#include "core/error.h"
#include "core/file_type.h"
#include "core/thread_pool.h"
#include "gguf/writer.h"

namespace hearth::model {
namespace {

// Shapes from the models' config.json files (Hugging Face) as llama.cpp converts them.
std::vector<SynthPreset> make_presets() {
  std::vector<SynthPreset> p;
  //         name            arch        n_embd layers heads kv  hd   n_ff   vocab   ctx     rope_base rms   tied
  p.push_back({"llama-3.2-1b", "llama", 2048, 16, 32, 8, 64, 8192, 128256, 131072, 500000.0f, 1e-5f, true});
  p.back().llama3_rope = true;
  p.back().llama3_factor = 32.0f;
  p.push_back({"llama-3.1-8b", "llama", 4096, 32, 32, 8, 128, 14336, 128256, 131072, 500000.0f, 1e-5f, false});
  p.back().llama3_rope = true;
  p.push_back({"mistral-7b", "llama", 4096, 32, 32, 8, 128, 14336, 32768, 32768, 1000000.0f, 1e-5f, false});
  p.push_back({"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, 1000000.0f, 1e-6f, true});
  p.push_back({"qwen2.5-7b", "qwen2", 3584, 28, 28, 4, 128, 18944, 152064, 32768, 1000000.0f, 1e-6f, false});
  p.push_back({"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 128, 3072, 151936, 40960, 1000000.0f, 1e-6f, true});
  p.push_back({"qwen3-30b-a3b", "qwen3moe", 2048, 48, 32, 4, 128, 6144, 151936, 40960, 1000000.0f, 1e-6f, false});
  p.back().n_expert = 128;
  p.back().n_expert_used = 8;
  p.back().n_ff_expert = 768;
  p.push_back({"gemma-2-2b", "gemma2", 2304, 26, 8, 4, 256, 9216, 256000, 8192, 10000.0f, 1e-6f, true});
  p.back().sliding_window = 4096;
  p.back().attn_softcap = 50.0f;
  p.back().final_softcap = 30.0f;
  p.push_back({"gemma-3-1b", "gemma3", 1152, 26, 4, 1, 256, 6912, 262144, 32768, 1000000.0f, 1e-6f, true});
  p.back().sliding_window = 512;
  p.back().rope_base_swa = 10000.0f;
  p.push_back({"gemma-3-4b", "gemma3", 2560, 34, 8, 4, 256, 10240, 262208, 131072, 1000000.0f, 1e-6f, true});
  p.back().sliding_window = 1024;
  p.back().rope_base_swa = 10000.0f;
  p.back().rope_linear_scale = 8.0f;
  p.push_back({"gemma-3-27b", "gemma3", 5376, 62, 32, 16, 128, 21504, 262208, 131072, 1000000.0f, 1e-6f, true});
  p.back().sliding_window = 1024;
  p.back().rope_base_swa = 10000.0f;
  p.back().rope_linear_scale = 8.0f;
  p.push_back({"phi-3-mini", "phi3", 3072, 32, 32, 32, 96, 8192, 32064, 4096, 10000.0f, 1e-5f, false});
  p.back().sliding_window = 2047;
  return p;
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;
  DType type;
  float std;     // normal(0, std); or `center` for norms
  float center;  // added to every value
};

std::string blk(int64_t l, const char* name) { return fmt::format("blk.{}.{}", l, name); }

std::vector<TensorSpec> tensor_specs(const SynthPreset& p, DType type) {
  const auto E = uint64_t(p.n_embd), V = uint64_t(p.n_vocab), F = uint64_t(p.n_ff), hd = uint64_t(p.head_dim);
  const uint64_t q = uint64_t(p.n_head) * hd, kv = uint64_t(p.n_head_kv) * hd;
  const bool gemma = p.arch == "gemma2" || p.arch == "gemma3";
  const float w = 0.02f;
  std::vector<TensorSpec> t;
  auto weight = [&](std::string name, std::vector<uint64_t> shape) {
    // Rows that are not a multiple of the block size stay F16 (as llama.cpp's fallbacks would).
    const DType use = shape[0] % dtype_info(type).block_size == 0 ? type : DType::F16;
    t.push_back({std::move(name), std::move(shape), use, w, 0.0f});
  };
  auto vec = [&](std::string name, uint64_t n, float center, float std) {
    t.push_back({std::move(name), {n}, DType::F32, std, center});
  };
  weight("token_embd.weight", {E, V});
  if (p.llama3_rope) vec("rope_freqs.weight", hd / 2, 0.0f, 0.0f);  // filled with llama3 factors below
  for (int64_t l = 0; l < p.n_layer; ++l) {
    vec(blk(l, "attn_norm.weight"), E, 1.0f, 0.0f);
    if (p.arch == "phi3") {
      weight(blk(l, "attn_qkv.weight"), {E, q + 2 * kv});
    } else {
      weight(blk(l, "attn_q.weight"), {E, q});
      weight(blk(l, "attn_k.weight"), {E, kv});
      weight(blk(l, "attn_v.weight"), {E, kv});
    }
    if (p.arch == "qwen2") {
      vec(blk(l, "attn_q.bias"), q, 0.0f, 0.02f);
      vec(blk(l, "attn_k.bias"), kv, 0.0f, 0.02f);
      vec(blk(l, "attn_v.bias"), kv, 0.0f, 0.02f);
    }
    if (p.arch == "qwen3" || p.arch == "qwen3moe" || p.arch == "gemma3") {
      vec(blk(l, "attn_q_norm.weight"), hd, 1.0f, 0.0f);
      vec(blk(l, "attn_k_norm.weight"), hd, 1.0f, 0.0f);
    }
    weight(blk(l, "attn_output.weight"), {q, E});
    if (gemma) vec(blk(l, "post_attention_norm.weight"), E, 1.0f, 0.0f);
    vec(blk(l, "ffn_norm.weight"), E, 1.0f, 0.0f);
    if (p.n_expert > 0) {
      const auto X = uint64_t(p.n_expert), Fe = uint64_t(p.n_ff_expert);
      t.push_back({blk(l, "ffn_gate_inp.weight"), {E, X}, DType::F32, w, 0.0f});
      weight(blk(l, "ffn_gate_exps.weight"), {E, Fe, X});
      weight(blk(l, "ffn_up_exps.weight"), {E, Fe, X});
      weight(blk(l, "ffn_down_exps.weight"), {Fe, E, X});
    } else if (p.arch == "phi3") {
      weight(blk(l, "ffn_up.weight"), {E, 2 * F});
      weight(blk(l, "ffn_down.weight"), {F, E});
    } else {
      weight(blk(l, "ffn_gate.weight"), {E, F});
      weight(blk(l, "ffn_up.weight"), {E, F});
      weight(blk(l, "ffn_down.weight"), {F, E});
    }
    if (gemma) vec(blk(l, "post_ffw_norm.weight"), E, 1.0f, 0.0f);
  }
  vec("output_norm.weight", E, 1.0f, 0.0f);
  if (!p.tied) weight("output.weight", {E, V});
  return t;
}

// splitmix64: a fast, seedable stream, so every tensor's values depend only
// on the seed and the tensor (not on threads or order).
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Approximately normal: the sum of four uniforms, scaled to unit variance.
  float normal() {
    const uint64_t r = next();
    float sum = 0.0f;
    for (int i = 0; i < 4; ++i) sum += float((r >> (16 * i)) & 0xffff) / 65535.0f;
    return (sum - 2.0f) * 1.7320508f;
  }
};

uint64_t hash_name(const std::string& s, uint64_t seed) {
  uint64_t h = seed ^ 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ uint8_t(c)) * 0x100000001b3ull;
  return h;
}

void add_vocab(gguf::Writer& w, int64_t n_vocab) {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens.reserve(n_vocab);
  for (const char* special : {"<unk>", "<s>", "</s>"}) tokens.push_back(special);
  types = {2, 3, 3};  // unknown, control, control
  for (int b = 0; b < 256 && int64_t(tokens.size()) < n_vocab; ++b) {
    tokens.push_back(fmt::format("<0x{:02X}>", b));
    types.push_back(6);  // byte
  }
  while (int64_t(tokens.size()) < n_vocab) {
    tokens.push_back(fmt::format("\u2581t{}", tokens.size()));
    types.push_back(1);  // normal
  }
  for (int64_t i = 0; i < n_vocab; ++i) scores.push_back(-float(i));
  w.set("tokenizer.ggml.model", gguf::Value::string("llama"));
  w.set("tokenizer.ggml.tokens", gguf::Value::string_array(std::move(tokens)));
  w.set("tokenizer.ggml.scores", gguf::Value::array(gguf::ValueType::F32, scores));
  w.set("tokenizer.ggml.token_type", gguf::Value::array(gguf::ValueType::I32, types));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", gguf::Value::u32(0));
  w.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(true));
}

// general.file_type for a file whose weights are all `type` ("q4_K" -> Q4_K_M's
// neighbour is not meant: the plain type's llama_ftype, e.g. Q8_0 = 7).
int64_t file_type_for(DType type) {
  std::string upper(dtype_name(type));
  for (char& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "Q4_K") upper = "Q4_K_M";  // llama.cpp has no plain Q4_K/Q5_K/Q3_K file types
  if (upper == "Q5_K") upper = "Q5_K_M";
  if (upper == "Q3_K") upper = "Q3_K_M";
  return file_type_from_name(upper).value_or(0);
}

}  // namespace

const std::vector<SynthPreset>& synth_presets() {
  static const std::vector<SynthPreset> presets = make_presets();  // immutable after first use
  return presets;
}

const SynthPreset& find_synth_preset(const std::string& name) {
  std::string names;
  for (const auto& p : synth_presets()) {
    if (p.name == name) return p;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  fail("unknown preset '{}' (presets: {})", name, names);
}

uint64_t write_synth_model(const SynthPreset& p, const SynthOptions& options, const std::string& path) {
  if (!ref::can_quantize(options.type)) fail("synth cannot write {} weights", dtype_name(options.type));
  const std::string& a = p.arch;
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string(a));
  w.set("general.type", gguf::Value::string("model"));
  w.set("general.name", gguf::Value::string("synthetic " + p.name));
  w.set("general.description", gguf::Value::string(fmt::format(
      "Random-weight model with the shapes of {} (hearth synth, seed {}); not trained", p.name, options.seed)));
  w.set("general.file_type", gguf::Value::u32(uint32_t(file_type_for(options.type))));
  w.set(a + ".vocab_size", gguf::Value::u32(uint32_t(p.n_vocab)));
  w.set(a + ".context_length", gguf::Value::u32(uint32_t(p.n_ctx)));
  w.set(a + ".embedding_length", gguf::Value::u32(uint32_t(p.n_embd)));
  w.set(a + ".block_count", gguf::Value::u32(uint32_t(p.n_layer)));
  w.set(a + ".feed_forward_length", gguf::Value::u32(uint32_t(p.n_ff)));
  w.set(a + ".attention.head_count", gguf::Value::u32(uint32_t(p.n_head)));
  w.set(a + ".attention.head_count_kv", gguf::Value::u32(uint32_t(p.n_head_kv)));
  w.set(a + ".attention.key_length", gguf::Value::u32(uint32_t(p.head_dim)));
  w.set(a + ".attention.value_length", gguf::Value::u32(uint32_t(p.head_dim)));
  w.set(a + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(p.rms_eps));
  w.set(a + ".rope.freq_base", gguf::Value::f32(p.rope_base));
  w.set(a + ".rope.dimension_count", gguf::Value::u32(uint32_t(p.head_dim)));
  if (p.sliding_window > 0) w.set(a + ".attention.sliding_window", gguf::Value::u32(uint32_t(p.sliding_window)));
  if (p.rope_base_swa > 0) w.set(a + ".rope.freq_base_swa", gguf::Value::f32(p.rope_base_swa));
  if (p.rope_linear_scale > 0) {
    w.set(a + ".rope.scaling.type", gguf::Value::string("linear"));
    w.set(a + ".rope.scaling.factor", gguf::Value::f32(p.rope_linear_scale));
  }
  if (p.attn_softcap > 0) w.set(a + ".attn_logit_softcapping", gguf::Value::f32(p.attn_softcap));
  if (p.final_softcap > 0) w.set(a + ".final_logit_softcapping", gguf::Value::f32(p.final_softcap));
  if (p.n_expert > 0) {
    w.set(a + ".expert_count", gguf::Value::u32(uint32_t(p.n_expert)));
    w.set(a + ".expert_used_count", gguf::Value::u32(uint32_t(p.n_expert_used)));
    w.set(a + ".expert_feed_forward_length", gguf::Value::u32(uint32_t(p.n_ff_expert)));
  }
  add_vocab(w, p.n_vocab);

  const std::vector<TensorSpec> specs = tensor_specs(p, options.type);
  uint64_t n_params = 0;
  for (const auto& s : specs) {
    uint64_t n = 1;
    for (uint64_t d : s.shape) n *= d;
    n_params += n;
    w.add_tensor_deferred(s.name, s.type, s.shape);
  }

  ThreadPool pool(options.n_threads);
  w.write(path, [&](size_t index, std::span<uint8_t> bytes) {
    const TensorSpec& s = specs[index];
    const int64_t row = int64_t(s.shape[0]);
    const int64_t rows = int64_t(bytes.size() / row_bytes(s.type, row));
    const size_t row_size = row_bytes(s.type, row);
    if (s.name == "rope_freqs.weight") {
      // llama3 frequency divisors: 1 for high frequencies, the factor for low, smooth between.
      std::vector<float> factors(row);
      const float low_freq_wavelen = 8192.0f / 1.0f, high_freq_wavelen = 8192.0f / 4.0f;
      for (int64_t i = 0; i < row; ++i) {
        const float freq = 1.0f / std::pow(p.rope_base, float(2 * i) / float(p.head_dim));
        const float wavelen = 2.0f * float(M_PI) / freq;
        if (wavelen < high_freq_wavelen) factors[i] = 1.0f;
        else if (wavelen > low_freq_wavelen) factors[i] = p.llama3_factor;
        else {
          const float smooth = (8192.0f / wavelen - 1.0f) / (4.0f - 1.0f);
          factors[i] = 1.0f / ((1 - smooth) / p.llama3_factor + smooth);
        }
      }
      std::memcpy(bytes.data(), factors.data(), bytes.size());
      return;
    }
    pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
      std::vector<float> values(row);
      for (int64_t r = r0; r < r1; ++r) {
        SplitMix rng{hash_name(s.name, options.seed) + uint64_t(r) * 0x632be59bd9b4e019ull};
        for (auto& v : values) v = s.center + s.std * rng.normal();
        ref::quantize_row(s.type, values.data(), bytes.data() + r * row_size, row);
      }
    });
  });
  return n_params;
}

}  // namespace hearth::model
