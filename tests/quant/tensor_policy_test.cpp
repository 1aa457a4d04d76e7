// The per-tensor type rules on models built here, with the expected types
// worked out by hand from llama.cpp's src/llama-quant.cpp
// (llama_tensor_get_type_impl, tensor_type_fallback, tensor_allows_quantization).
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/file_type.h"
#include "quant/tensor_policy.h"

namespace hearth {
namespace {

using quant::ModelTraits;
using quant::TensorShape;

// A dense llama-like model of `n_layer` blocks, tensors in llama-quantize order.
std::vector<TensorShape> dense_model(int n_layer, uint64_t n_embd = 256, uint64_t n_ff = 768, bool tied = false) {
  std::vector<TensorShape> t;
  if (!tied) t.push_back({"output.weight", DType::F32, {n_embd, 512}});
  t.push_back({"output_norm.weight", DType::F32, {n_embd}});
  t.push_back({"rope_freqs.weight", DType::F32, {32}});
  t.push_back({"token_embd.weight", DType::F32, {n_embd, 512}});
  for (int i = 0; i < n_layer; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    t.push_back({b + "attn_k.weight", DType::F32, {n_embd, 128}});
    t.push_back({b + "attn_norm.weight", DType::F32, {n_embd}});
    t.push_back({b + "attn_output.weight", DType::F32, {n_embd, n_embd}});
    t.push_back({b + "attn_q.weight", DType::F32, {n_embd, n_embd}});
    t.push_back({b + "attn_v.weight", DType::F32, {n_embd, 128}});
    t.push_back({b + "ffn_down.weight", DType::F32, {n_ff, n_embd}});
    t.push_back({b + "ffn_gate.weight", DType::F32, {n_embd, n_ff}});
    t.push_back({b + "ffn_norm.weight", DType::F32, {n_embd}});
    t.push_back({b + "ffn_up.weight", DType::F32, {n_embd, n_ff}});
  }
  return t;
}

ModelTraits traits(std::string arch, int n_layer, int n_head, int n_head_kv, int n_expert = 0) {
  ModelTraits m;
  m.arch = std::move(arch);
  m.n_layer = n_layer;
  m.n_head = n_head;
  m.n_head_kv = n_head_kv;
  m.n_expert = n_expert;
  return m;
}

std::map<std::string, DType> choose(const std::string& type, const ModelTraits& m, const std::vector<TensorShape>& t) {
  const auto target = quant::quant_target_from_name(type);
  EXPECT_TRUE(target.has_value()) << type;
  const std::vector<DType> types = quant::choose_tensor_types(*target, m, t);
  std::map<std::string, DType> out;
  for (size_t i = 0; i < t.size(); ++i) out[t[i].name] = types[i];
  return out;
}

// Checks `role` (e.g. "attn_v") in every layer: `raised` in the listed layers, `base` elsewhere.
void expect_layers(const std::map<std::string, DType>& got, int n_layer, const std::string& role, DType base,
                   DType raised, const std::set<int>& raised_layers) {
  for (int i = 0; i < n_layer; ++i) {
    const std::string name = fmt::format("blk.{}.{}.weight", i, role);
    const DType want = raised_layers.count(i) ? raised : base;
    EXPECT_EQ(dtype_name(got.at(name)), dtype_name(want)) << name;
  }
}

// use_more_bits for 16 layers: the first and last eighth, and every third layer between.
const std::set<int> kMoreBits16 = {0, 1, 4, 7, 10, 13, 14, 15};

TEST(TensorPolicy, TargetsAndTheirFileTypes) {
  for (std::string_view name : quant::quant_target_names()) {
    const auto target = quant::quant_target_from_name(name);
    ASSERT_TRUE(target);
    EXPECT_EQ(file_type_from_name(name), target->file_type) << name;  // llama.h's llama_ftype
  }
  EXPECT_EQ(quant::quant_target_names().size(), 33u);
  EXPECT_EQ(quant::quant_target_from_name("q4_k_m")->file_type, 15);
  EXPECT_EQ(quant::quant_target_from_name("Q4_K")->name, "Q4_K_M");  // llama-quantize's alias
  EXPECT_FALSE(quant::quant_target_from_name("Q7_K"));
  // The importance-matrix mixes and their default types (llama_ftype_get_default_type).
  EXPECT_EQ(quant::quant_target_from_name("IQ2_S")->default_type, DType::IQ2_XS);
  EXPECT_EQ(quant::quant_target_from_name("IQ2_M")->default_type, DType::IQ2_S);
  EXPECT_EQ(quant::quant_target_from_name("IQ3_XS")->default_type, DType::IQ3_S);
  EXPECT_EQ(quant::quant_target_from_name("IQ3_M")->default_type, DType::IQ3_S);
  EXPECT_EQ(quant::quant_target_from_name("Q2_K_S")->default_type, DType::Q2_K);
}

// TQ1_0 / TQ2_0 (llama-quant.cpp): the lm head Q6_K, the embedding Q4_K,
// everything else ternary; rows that are not whole 256-blocks fall back to Q4_0.
TEST(TensorPolicy, TernaryTargets) {
  for (const std::string type : {"TQ1_0", "TQ2_0"}) {
    const DType ternary = *dtype_from_name(type);
    auto got = choose(type, traits("llama", 4, 8, 8), dense_model(4));
    EXPECT_EQ(got.at("output.weight"), DType::Q6_K) << type;
    EXPECT_EQ(got.at("token_embd.weight"), DType::Q4_K) << type;
    for (const char* role : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"})
      expect_layers(got, 4, role, ternary, ternary, {});
    EXPECT_EQ(got.at("blk.0.attn_norm.weight"), DType::F32);
    got = choose(type, traits("llama", 2, 8, 8), dense_model(2, 96, 160));  // 96-wide rows
    EXPECT_EQ(got.at("output.weight"), DType::Q8_0) << type;
    EXPECT_EQ(got.at("blk.1.attn_q.weight"), DType::Q4_0) << type;
    EXPECT_EQ(got.at("blk.1.ffn_down.weight"), DType::Q4_0) << type;  // 160 % 256
    EXPECT_EQ(got.at("token_embd.weight"), DType::Q5_0) << type;      // Q4_K's fallback
  }
}

// MXFP4_MOE: expert tensors (3-D) MXFP4, every other weight Q8_0.
TEST(TensorPolicy, Mxfp4MoeTarget) {
  std::vector<TensorShape> t = dense_model(2);
  t.push_back({"blk.0.ffn_down_exps.weight", DType::F32, {768, 256, 4}});
  t.push_back({"blk.0.ffn_gate_exps.weight", DType::F32, {256, 768, 4}});
  t.push_back({"blk.0.ffn_gate_inp.weight", DType::F32, {256, 4}});
  const auto got = choose("MXFP4_MOE", traits("llama", 2, 8, 8, 4), t);
  EXPECT_EQ(got.at("blk.0.ffn_down_exps.weight"), DType::MXFP4);
  EXPECT_EQ(got.at("blk.0.ffn_gate_exps.weight"), DType::MXFP4);
  EXPECT_EQ(got.at("output.weight"), DType::Q8_0);
  EXPECT_EQ(got.at("token_embd.weight"), DType::Q8_0);
  EXPECT_EQ(got.at("blk.1.attn_q.weight"), DType::Q8_0);
  EXPECT_EQ(got.at("blk.1.ffn_down.weight"), DType::Q8_0);
  EXPECT_EQ(quant::quant_target_from_name("MXFP4_MOE")->file_type, 38);
}

TEST(TensorPolicy, OneDimensionalNormsRouterAndBiasesStayAsTheyAre) {
  std::vector<TensorShape> t = {
      {"blk.0.ffn_gate_inp.weight", DType::F32, {256, 8}},    // MoE router
      {"blk.0.attn_q.bias", DType::F32, {256}},                // bias: 1-D
      {"blk.0.attn_q_norm.weight", DType::F32, {64}},          // norm
      {"blk.0.attn_q.weight", DType::F32, {256, 1}},           // 2 dims, but ggml_n_dims is 1
      {"blk.0.ssm_conv1d.weight", DType::F32, {4, 256}},       // Mamba's small conv
      {"position_embd.weight", DType::F32, {256, 512}},        // BERT positions
      {"blk.0.some_table", DType::F16, {256, 256}},            // not a *weight
      {"blk.0.ffn_up.weight", DType::F16, {256, 256}},
  };
  const auto got = choose("Q4_K_M", traits("llama", 1, 4, 4), t);
  for (size_t i = 0; i + 1 < t.size(); ++i) EXPECT_EQ(got.at(t[i].name), t[i].type) << t[i].name;
  EXPECT_EQ(got.at("blk.0.ffn_up.weight"), DType::Q4_K);
}

TEST(TensorPolicy, Q4_K_M_RaisesValueAndDownInTheUseMoreBitsLayers) {
  const auto got = choose("Q4_K_M", traits("llama", 16, 4, 4), dense_model(16));
  expect_layers(got, 16, "attn_v", DType::Q4_K, DType::Q6_K, kMoreBits16);
  expect_layers(got, 16, "ffn_down", DType::Q4_K, DType::Q6_K, kMoreBits16);
  expect_layers(got, 16, "attn_output", DType::Q4_K, DType::Q4_K, {});
  expect_layers(got, 16, "attn_q", DType::Q4_K, DType::Q4_K, {});
  EXPECT_EQ(got.at("output.weight"), DType::Q6_K);
  EXPECT_EQ(got.at("token_embd.weight"), DType::Q4_K);  // untied: the default type
  EXPECT_EQ(got.at("output_norm.weight"), DType::F32);
  EXPECT_EQ(got.at("rope_freqs.weight"), DType::F32);
}

TEST(TensorPolicy, Q5_K_M_AndTheSmallMixes) {
  const ModelTraits m = traits("llama", 16, 4, 4);
  const auto q5m = choose("Q5_K_M", m, dense_model(16));
  expect_layers(q5m, 16, "attn_v", DType::Q5_K, DType::Q6_K, kMoreBits16);
  expect_layers(q5m, 16, "ffn_down", DType::Q5_K, DType::Q6_K, kMoreBits16);
  const auto q4s = choose("Q4_K_S", m, dense_model(16));
  expect_layers(q4s, 16, "attn_v", DType::Q4_K, DType::Q5_K, {0, 1, 2, 3});  // first 4 V tensors
  expect_layers(q4s, 16, "ffn_down", DType::Q4_K, DType::Q5_K, {0, 1});      // first eighth
  const auto q5s = choose("Q5_K_S", m, dense_model(16));
  expect_layers(q5s, 16, "attn_v", DType::Q5_K, DType::Q5_K, {});
  expect_layers(q5s, 16, "ffn_down", DType::Q5_K, DType::Q5_K, {});
  EXPECT_EQ(q5s.at("output.weight"), DType::Q6_K);
  const auto q6 = choose("Q6_K", m, dense_model(16));
  expect_layers(q6, 16, "ffn_down", DType::Q6_K, DType::Q6_K, {});
  EXPECT_EQ(choose("Q8_0", m, dense_model(16)).at("output.weight"), DType::Q8_0);  // Q8_0 keeps Q8_0
  EXPECT_EQ(choose("Q4_0", m, dense_model(16)).at("output.weight"), DType::Q6_K);
}

TEST(TensorPolicy, Q3_K_Mixes) {
  const ModelTraits m = traits("llama", 16, 4, 4);
  const auto s = choose("Q3_K_S", m, dense_model(16));
  expect_layers(s, 16, "attn_v", DType::Q3_K, DType::Q3_K, {});
  expect_layers(s, 16, "ffn_down", DType::Q3_K, DType::Q3_K, {});
  expect_layers(s, 16, "attn_output", DType::Q3_K, DType::Q3_K, {});
  const auto mm = choose("Q3_K_M", m, dense_model(16));
  expect_layers(mm, 16, "attn_v", DType::Q4_K, DType::Q5_K, {0, 1});
  expect_layers(mm, 16, "ffn_down", DType::Q4_K, DType::Q5_K, {0});  // n_layer/16
  expect_layers(mm, 16, "attn_output", DType::Q4_K, DType::Q4_K, {});
  expect_layers(mm, 16, "ffn_up", DType::Q3_K, DType::Q3_K, {});
  const auto l = choose("Q3_K_L", m, dense_model(16));
  expect_layers(l, 16, "attn_v", DType::Q5_K, DType::Q5_K, {});
  expect_layers(l, 16, "ffn_down", DType::Q5_K, DType::Q5_K, {});
  expect_layers(l, 16, "attn_output", DType::Q5_K, DType::Q5_K, {});
}

TEST(TensorPolicy, GroupedQueryAttentionRaisesValueForQ2_KAndIQ4) {
  const auto mha = choose("Q2_K", traits("llama", 16, 4, 4), dense_model(16));
  expect_layers(mha, 16, "attn_v", DType::Q3_K, DType::Q3_K, {});
  expect_layers(mha, 16, "ffn_down", DType::Q3_K, DType::Q3_K, {});
  expect_layers(mha, 16, "attn_output", DType::Q3_K, DType::Q3_K, {});
  expect_layers(mha, 16, "attn_q", DType::Q2_K, DType::Q2_K, {});
  const auto gqa = choose("Q2_K", traits("llama", 16, 32, 8), dense_model(16));
  expect_layers(gqa, 16, "attn_v", DType::Q4_K, DType::Q4_K, {});
  for (const std::string type : {"IQ4_NL", "IQ4_XS"}) {
    const DType base = type == "IQ4_NL" ? DType::IQ4_NL : DType::IQ4_XS;
    const auto narrow = choose(type, traits("llama", 16, 4, 2), dense_model(16));
    expect_layers(narrow, 16, "attn_v", base, base, {});
    expect_layers(narrow, 16, "ffn_down", base, DType::Q5_K, {0, 1});
    const auto wide = choose(type, traits("llama", 16, 32, 8), dense_model(16));
    expect_layers(wide, 16, "attn_v", DType::Q5_K, DType::Q5_K, {});
  }
}

TEST(TensorPolicy, EightExpertModelsAndFalconAndLlama70B) {
  // 8 experts (Mixtral): V and K to Q8_0, attn_output to Q5_K; layers from the names.
  const auto eight = choose("Q4_K_M", traits("llama", 16, 32, 8, 8), dense_model(16));
  expect_layers(eight, 16, "attn_v", DType::Q8_0, DType::Q8_0, {});
  expect_layers(eight, 16, "attn_k", DType::Q8_0, DType::Q8_0, {});
  expect_layers(eight, 16, "attn_output", DType::Q5_K, DType::Q5_K, {});
  expect_layers(eight, 16, "ffn_down", DType::Q4_K, DType::Q6_K, kMoreBits16);

  const auto falcon = choose("Q4_K_M", traits("falcon", 16, 4, 4), dense_model(16));
  EXPECT_EQ(falcon.at("output.weight"), DType::Q8_0);
  // ffn_down: first sixteenth Q6_K, use_more_bits layers Q5_K, others Q4_K.
  for (int i = 0; i < 16; ++i) {
    const DType want = i == 0 ? DType::Q6_K : kMoreBits16.count(i) ? DType::Q5_K : DType::Q4_K;
    EXPECT_EQ(falcon.at(fmt::format("blk.{}.ffn_down.weight", i)), want) << i;
  }

  ModelTraits llama70b = traits("llama", 80, 64, 8);
  llama70b.is_llama_70b = true;
  const auto big = choose("Q3_K_M", llama70b, dense_model(80, 256, 256));
  expect_layers(big, 80, "attn_v", DType::Q5_K, DType::Q5_K, {});  // Q4_K raised to Q5_K too
  EXPECT_EQ(quant::model_traits(gguf::Metadata()).n_layer, 0);
}

TEST(TensorPolicy, TiedEmbeddingIsTreatedAsTheOutput) {
  const auto tied = choose("Q4_K_M", traits("llama", 2, 4, 2), dense_model(2, 256, 768, true));
  EXPECT_EQ(tied.at("token_embd.weight"), DType::Q6_K);
  const auto tied_q8 = choose("Q8_0", traits("llama", 2, 4, 2), dense_model(2, 256, 768, true));
  EXPECT_EQ(tied_q8.at("token_embd.weight"), DType::Q8_0);
}

TEST(TensorPolicy, RowLengthFallbacks) {
  // stories260K's shapes: n_embd 64 (not a multiple of 256), n_ff 172 (not of 32).
  const ModelTraits m = traits("llama", 5, 8, 4);
  const auto t = dense_model(5, 64, 172);
  const auto q4km = choose("Q4_K_M", m, t);
  EXPECT_EQ(q4km.at("output.weight"), DType::Q8_0);         // 64 % 256: Q8_0 for the output
  EXPECT_EQ(q4km.at("token_embd.weight"), DType::Q5_0);     // Q4_K -> Q5_0
  expect_layers(q4km, 5, "attn_v", DType::Q5_0, DType::Q8_0, {2, 4});  // Q6_K -> Q8_0 in use_more_bits layers
  expect_layers(q4km, 5, "ffn_down", DType::F16, DType::F16, {});      // 172: nothing 32-wide fits
  expect_layers(q4km, 5, "ffn_up", DType::Q5_0, DType::Q5_0, {});
  const auto q5km = choose("Q5_K_M", m, t);
  expect_layers(q5km, 5, "attn_q", DType::Q5_1, DType::Q5_1, {});      // Q5_K -> Q5_1
  const auto q2k = choose("Q2_K", m, t);
  expect_layers(q2k, 5, "attn_q", DType::Q4_0, DType::Q4_0, {});       // Q2_K -> Q4_0
  expect_layers(q2k, 5, "attn_v", DType::Q4_0, DType::Q4_0, {});       // Q3_K -> Q4_0
  const auto iq4xs = choose("IQ4_XS", m, t);
  expect_layers(iq4xs, 5, "attn_q", DType::IQ4_NL, DType::IQ4_NL, {});  // IQ4_XS -> IQ4_NL
  const auto f16 = choose("F16", m, t);
  expect_layers(f16, 5, "ffn_down", DType::F16, DType::F16, {});
  EXPECT_EQ(f16.at("output.weight"), DType::F16);
  // Q4_0 and Q8_0 have no fallback in llama.cpp: a 172-wide row is an error naming the tensor.
  for (const std::string type : {"Q4_0", "Q8_0", "Q5_1"}) {
    try {
      choose(type, m, t);
      ADD_FAILURE() << type << " accepted 172-wide rows";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("blk.0.ffn_down.weight"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("172"), std::string::npos) << e.what();
    }
  }
}

TEST(TensorPolicy, LlamaQuantizeOrder) {
  const std::vector<std::string> names = {"token_embd.weight", "blk.10.ffn_up.weight", "blk.2.attn_q.weight",
                                          "output_norm.weight", "blk.2.attn_k.weight", "output.weight",
                                          "blk.1.ffn_down.weight"};
  std::vector<std::string> ordered;
  for (size_t i : quant::llama_quantize_order(names)) ordered.push_back(names[i]);
  EXPECT_EQ(ordered, (std::vector<std::string>{"output.weight", "output_norm.weight", "token_embd.weight",
                                               "blk.1.ffn_down.weight", "blk.2.attn_k.weight", "blk.2.attn_q.weight",
                                               "blk.10.ffn_up.weight"}));
}

TEST(TensorPolicy, AlreadyQuantizedTensorsAreRefused) {
  std::vector<TensorShape> t = {{"blk.0.ffn_up.weight", DType::Q8_0, {256, 256}}};
  try {
    choose("Q4_K_M", traits("llama", 1, 4, 4), t);
    ADD_FAILURE() << "requantized";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("requantizing is not supported"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hearth
