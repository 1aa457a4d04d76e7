#include "backend/ops/cpu_backend.h"

#include "core/mapped_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "backend/cpu/packed_blocks.h"
#include "backend/ref/quants.h"
#include "core/fp16.h"

namespace hearth::backend {
namespace {

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  constexpr float kCoefA = 0.044715f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x)));
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

// ggml_swiglu_oai's element, with gpt-oss's constants (llama.cpp's
// LLM_FFN_SWIGLU_OAI_MOE): the gate clamped above, the up clamped both ways.
float swiglu_oai(float gate, float up) {
  constexpr float kAlpha = 1.702f, kLimit = 7.0f;
  const float g = std::min(gate, kLimit);
  const float u = std::clamp(up, -kLimit, kLimit);
  return g / (1.0f + std::exp(kAlpha * (-g))) * (u + 1.0f);
}

// YaRN's ramp between the corrected dims (ggml's rope_yarn_ramp).
float yarn_ramp(float low, float high, int i0) {
  const float y = (i0 / 2 - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2 * float(M_PI))) / (2 * std::log(base));
}

}  // namespace

CpuBackend::CpuBackend(cpu::Kernels kernels, int n_threads)
    : kernels_(std::move(kernels)), pool_(n_threads), gelu_table_(65536) {
  // ggml's CPU GELU rounds its input to f16 and reads gelu of that from a
  // table, itself rounded to f16; the reference logits carry that rounding.
  for (uint32_t bits = 0; bits < 65536; ++bits)
    gelu_table_[bits] = fp32_to_fp16(gelu_tanh(fp16_to_fp32(uint16_t(bits))));
}

void CpuBackend::reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) {
  // Several sessions or models may share a backend: only ever grow.
  max_rows = std::max(max_rows, max_rows_);
  max_n = std::max(max_n, max_n_);
  max_ctx = std::max(max_ctx, max_ctx_);
  head_dim = std::max(head_dim, head_dim_);
  if (max_rows == max_rows_ && max_n == max_n_ && max_ctx == max_ctx_ && head_dim == head_dim_) return;
  max_rows_ = max_rows;
  max_n_ = max_n;
  max_ctx_ = max_ctx;
  head_dim_ = head_dim;
  const ScratchSizes z = scratch_sizes(pool_.size(), max_rows, max_n, max_ctx, head_dim);
  act_.assign(z.act, 0);
  act_sums_.assign(z.act_sums, 0);
  scratch_scores_ = z.scores;
  split_states_.assign(z.split_states, 0.0f);
  thread_scratch_.resize(pool_.size());
  for (auto& s : thread_scratch_) {
    s.scores.assign(z.scores, 0.0f);
    s.acc.assign(z.acc, 0.0f);
    s.tile_q.assign(z.tile_q, 0.0f);
    s.tile_acc.assign(z.tile_acc, 0.0f);
    s.tile_k.assign(z.tile_k, 0.0f);
    s.tile_kt.assign(z.tile_kt, 0.0f);
    s.tile_v.assign(z.tile_v, 0.0f);
    s.tile_m.assign(z.tile_m, 0.0f);
    s.tile_sum.assign(z.tile_sum, 0.0f);
    s.stripes.assign(z.stripes, 0.0f);
    s.v_row.assign(z.v_row, 0.0f);
    s.q_conv.assign(z.q_conv, 0);
  }
}

CpuBackend::ScratchSizes CpuBackend::scratch_sizes(int n_threads, int64_t max_rows, int64_t max_n, int64_t max_ctx,
                                                   int head_dim) {
  const size_t hd = size_t(head_dim);
  ScratchSizes z;
  z.n_threads = n_threads;
  z.gelu_table = 65536;
  // The widest dot-product type is f32 (4 bytes an element); Q8_K is ~1.14.
  z.act = size_t(max_rows) * size_t(max_n) * 4 + 1024;
  z.act_sums = size_t(max_rows) * size_t(3 * (max_n / 32 + 1));
  // Unfused attention keeps every query's scores over the context: a whole
  // tile's where that stays small, else one head group's.
  // (32 queries at most: unfused tiles are limited by this buffer.)
  constexpr int64_t kScoredQueries = 32;
  z.scores = size_t(max_ctx) * size_t(max_ctx * kScoredQueries <= (int64_t(1) << 22) ? kScoredQueries : kMaxHeadGroup);
  // Split-K runs only with fewer items than threads, kSplitWays stripes each.
  z.split_states = size_t(n_threads - 1) * size_t(kSplitWays) * kMaxTileQueries * (hd + 2);
  z.acc = hd * kMaxHeadGroup;
  z.tile_q = z.tile_acc = hd * kMaxTileQueries;
  z.tile_k = z.tile_kt = z.tile_v = hd * kKeyBlock * kMaxItemKvHeads;
  z.tile_m = z.tile_sum = kMaxTileQueries;
  z.stripes = 2 * kMaxTileQueries * (hd + 2);  // attend_tile's total and stripe
  z.v_row = hd;
  z.q_conv = (hd * 4 + 512) * kMaxTileQueries;  // a tile's queries in K's dot type
  return z;
}

std::vector<uint64_t> CpuBackend::ScratchSizes::buffer_bytes() const {
  std::vector<uint64_t> out = {gelu_table * sizeof(uint16_t), act, act_sums * sizeof(int32_t),
                               split_states * sizeof(float)};
  for (int t = 0; t < n_threads; ++t) {
    for (size_t floats : {scores, acc, v_row, tile_q, tile_acc, tile_k, tile_kt, tile_v, tile_m, tile_sum, stripes})
      out.push_back(floats * sizeof(float));
    out.push_back(q_conv);
  }
  return out;
}

void CpuBackend::require_reserved(int64_t rows, int64_t n) const {
  if (rows > max_rows_ || n > max_n_)
    fail("internal: backend op on {} rows of {} exceeds the reserved {} rows of {}", rows, n, max_rows_, max_n_);
}

void CpuBackend::matmul(const Weight& w, const float* x, int64_t rows, float* y) {
  require_reserved(rows, w.n_in);
  const DType act_type = kernels_.vec_dot_type(w.type);
  const auto vec_dot_rows = kernels_.vec_dot_rows_for(w.type);
  const auto quantize = kernels_.quantize_act_for(act_type);
  if (vec_dot_rows == nullptr || quantize == nullptr)
    fail("no matmul kernel for weight type {}", dtype_name(w.type));
  const size_t act_row_bytes = row_bytes(act_type, w.n_in);

  // Activations in the weight's dot-product type (Q8_0, Q8_K, f16, ...), as ggml does.
  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
  if (act_type != DType::F32) {
    split(rows, w.n_in, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) quantize(x + r * w.n_in, act_.data() + r * act_row_bytes, w.n_in);
    });
    act = act_.data();
  }

  if (w.packed != nullptr && kernels_.packed_gemm_for(w.type) != nullptr) {
    matmul_packed(w, act, act_row_bytes, rows, y);
    return;
  }

  // Threads take contiguous blocks of output rows. One token: each block of
  // kMaxRows weight rows meets the activation once (GEMV). A batch: tiles of
  // weight rows by activation rows, so each weight block is unpacked once per
  // tile and both operands stay in cache.
  constexpr int kRows = cpu::Kernels::kMaxRows;
  if (rows == 1) {
    const int64_t n_blocks = (w.n_out + kRows - 1) / kRows;
    split(n_blocks, kRows * w.n_in, [&](int64_t b0, int64_t b1) {
      const int64_t o0 = b0 * kRows, o1 = std::min(w.n_out, b1 * kRows);
      for (int64_t o = o0; o < o1; o += kRows)
        vec_dot_rows(w.n_in, int(std::min<int64_t>(kRows, o1 - o)), w.row(o), w.row_bytes, act, y + o);
    });
    return;
  }
  const auto vec_dot_tile = kernels_.vec_dot_tile_for(w.type);
  constexpr int64_t kTileRows = 16, kTileActs = 64;
  const int64_t n_blocks = (w.n_out + kTileRows - 1) / kTileRows;
  split(n_blocks, kTileRows * w.n_in * rows, [&](int64_t b0, int64_t b1) {
    const int64_t o1 = std::min(w.n_out, b1 * kTileRows);
    for (int64_t o = b0 * kTileRows; o < o1; o += kTileRows) {
      const int n = int(std::min<int64_t>(kTileRows, o1 - o));
      for (int64_t a = 0; a < rows; a += kTileActs) {
        const int na = int(std::min<int64_t>(kTileActs, rows - a));
        vec_dot_tile(w.n_in, n, w.row(o), w.row_bytes, na, act + a * act_row_bytes, act_row_bytes,
                     y + a * w.n_out + o, size_t(w.n_out));
      }
    }
  });
}

std::shared_ptr<const uint8_t[]> CpuBackend::pack(const Weight& w) {
  if (kernels_.packed_gemm_for(w.type) == nullptr || w.n_mat != 1 || w.n_out < cpu::kPackRows) return nullptr;
  const int64_t groups = w.n_out / cpu::kPackRows;
  const size_t group_bytes = cpu::packed_group_bytes(w.type, w.n_in);
  std::shared_ptr<uint8_t[]> buffer(new uint8_t[size_t(groups) * group_bytes]);
  split(groups, cpu::kPackRows * w.n_in, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g)
      cpu::pack_rows_x8(w.type, w.row(g * cpu::kPackRows), w.row_bytes, w.n_in, buffer.get() + g * group_bytes);
  });
  return buffer;
}

void CpuBackend::matmul_packed(const Weight& w, const uint8_t* act, size_t act_row_bytes, int64_t rows, float* y) {
  const auto gemm = kernels_.packed_gemm_for(w.type);
  // Batches go through the 16-row kernels where the ISA has them (bitwise
  // the same results); one token keeps the 8-row kernel, tuned for decode.
  const auto gemm_pair = rows > 1 ? kernels_.packed_gemm_pair_for(w.type) : nullptr;
  const int64_t n_blocks = w.n_in / 32;
  const int32_t* sums = nullptr;
  size_t sums_stride = 0;
  // The Q4_0 and MXFP4 kernels (and Q8_0's pair kernel) take per-block activation sums and scales.
  if (cpu::packed_reads_act_sums(w.type, gemm_pair != nullptr)) {
    sums_stride = size_t(3 * n_blocks);
    split(rows, w.n_in, [&](int64_t r0, int64_t r1) {
      cpu::pack_act_sums(w.type, act + r0 * act_row_bytes, act_row_bytes, r1 - r0, n_blocks,
                         act_sums_.data() + r0 * int64_t(sums_stride));
    });
    sums = act_sums_.data();
  }

  // Threads take contiguous runs of 8-row groups (pairs of them for the
  // pair kernel). Activation rows go in chunks that stay in cache while
  // every group of the run meets them.
  constexpr int64_t kActChunk = 64;
  const int64_t groups = w.n_out / cpu::kPackRows;
  const int64_t per_unit = gemm_pair ? 2 : 1;
  const int64_t units = (groups + per_unit - 1) / per_unit;
  const size_t group_bytes = cpu::packed_group_bytes(w.type, w.n_in);
  split(units, per_unit * cpu::kPackRows * w.n_in * rows, [&](int64_t u0, int64_t u1) {
    for (int64_t a0 = 0; a0 < rows; a0 += kActChunk) {
      const int na = int(std::min(kActChunk, rows - a0));
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t g = u * per_unit;
        const auto kernel = gemm_pair && g + 1 < groups ? gemm_pair : gemm;
        kernel(w.n_in, w.packed + g * group_bytes, na, act + a0 * act_row_bytes, act_row_bytes,
               sums ? sums + a0 * int64_t(sums_stride) : nullptr, sums_stride, y + a0 * w.n_out + g * cpu::kPackRows,
               size_t(w.n_out));
      }
    }
  });

  // The last n_out % 8 rows, unpacked, from the file's layout; by the tile
  // kernel for one token too, so that a row's result never depends on the
  // number of tokens (the rows kernel may sum in another order).
  const int64_t first_tail = groups * cpu::kPackRows;
  const int n_tail = int(w.n_out - first_tail);
  for (int64_t a0 = 0; a0 < rows; a0 += kActChunk) {
    const int na = int(std::min(kActChunk, rows - a0));
    kernels_.vec_dot_tile_for(w.type)(w.n_in, n_tail, w.row(first_tail), w.row_bytes, na, act + a0 * act_row_bytes,
                                      act_row_bytes, y + a0 * w.n_out + first_tail, size_t(w.n_out));
  }
}

void CpuBackend::get_rows(const Weight& table, const int32_t* ids, int64_t n, float* out) {
  const auto dequantize = kernels_.dequantize_for(table.type);
  if (dequantize == nullptr) fail("cannot read rows of a {} tensor", dtype_name(table.type));
  // A table read from its file (Weight::file) goes through the activation
  // scratch, a row at a time (it holds one: a row is at most 4 bytes an
  // element, and get_rows runs alone).
  const bool from_file = table.file != nullptr && act_.size() >= table.row_bytes;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= table.n_out) fail("token id {} is outside the vocabulary (0..{})", ids[i], table.n_out - 1);
    const uint8_t* row = table.row(ids[i]);
    if (from_file) {
      table.file->read(row, table.row_bytes, act_.data());
      row = act_.data();
    }
    dequantize(row, out + i * table.n_in, table.n_in);
  }
}

void CpuBackend::rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* y) {
  split(rows, n, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      double sum = 0.0;  // ggml sums the squares in double
      for (int64_t i = 0; i < n; ++i) sum += double(xr[i] * xr[i]);
      const float scale = 1.0f / std::sqrt(float(sum / n) + eps);
      if (weight)
        for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * scale) * weight[i];
      else
        for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale;
    }
  });
}

void CpuBackend::rope(float* x, int64_t rows, int n_heads, int head_dim, const int32_t* positions,
                      const RopeParams& p) {
  const int n_dims = p.n_dims;
  const float theta_scale = std::pow(p.freq_base, -2.0f / n_dims);
  float corr_low = 0, corr_high = 0;
  if (p.ext_factor != 0.0f) {
    corr_low = std::max(0.0f, std::floor(yarn_corr_dim(n_dims, p.n_ctx_orig, p.beta_fast, p.freq_base)));
    corr_high = std::min(float(n_dims - 1), std::ceil(yarn_corr_dim(n_dims, p.n_ctx_orig, p.beta_slow, p.freq_base)));
  }
  split(rows, int64_t(n_heads) * n_dims * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      // As ggml: theta advances by repeated multiplication, in float.
      float theta = float(positions[r]);
      for (int i0 = 0; i0 < n_dims; i0 += 2) {
        const float factor = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0f;
        const float theta_extrap = theta / factor;
        const float theta_interp = p.freq_scale * theta_extrap;
        float angle = theta_interp;
        float mscale = p.attn_factor;
        if (p.ext_factor != 0.0f) {
          const float mix = yarn_ramp(corr_low, corr_high, i0) * p.ext_factor;
          angle = theta_interp * (1 - mix) + theta_extrap * mix;
          mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
        }
        const float c = std::cos(angle) * mscale;
        const float s = std::sin(angle) * mscale;
        theta *= theta_scale;
        for (int h = 0; h < n_heads; ++h) {
          float* head = x + (r * n_heads + h) * head_dim;
          const int a = p.mode == RopeParams::Mode::Norm ? i0 : i0 / 2;
          const int b = p.mode == RopeParams::Mode::Norm ? i0 + 1 : i0 / 2 + n_dims / 2;
          const float x0 = head[a], x1 = head[b];
          head[a] = x0 * c - x1 * s;
          head[b] = x0 * s + x1 * c;
        }
      }
    }
  });
}

void CpuBackend::store_kv(const float* src, int64_t rows, int64_t n, KvView dst, int64_t first_row) {
  // ggml stores K/V through the type's CPU from_float: the activation
  // quantizer for Q8_0 (round half to even), the reference one otherwise.
  const auto act_quantize = kernels_.quantize_act_for(dst.type);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = dst.data + (first_row + r) * dst.row_bytes;
    if (act_quantize != nullptr)
      act_quantize(src + r * n, row, n);
    else
      ref::quantize_row(dst.type, src + r * n, row, n);
  }
}

void CpuBackend::gated_activation(Activation act, const float* gate, const float* up, int64_t stride, int64_t rows,
                                  int64_t n, float* out) {
  split(rows, n * 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* g = gate + r * stride;
      const float* u = up + r * stride;
      float* o = out + r * n;
      if (act == Activation::Silu) {
        for (int64_t i = 0; i < n; ++i) o[i] = silu(g[i]) * u[i];
      } else if (act == Activation::SwigluOai) {
        for (int64_t i = 0; i < n; ++i) o[i] = swiglu_oai(g[i], u[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) {
          if (g[i] <= -10.0f)
            o[i] = 0.0f;
          else if (g[i] >= 10.0f)
            o[i] = g[i] * u[i];
          else
            o[i] = fp16_to_fp32(gelu_table_[fp32_to_fp16(g[i])]) * u[i];
        }
      }
    }
  });
}

void CpuBackend::moe_ffn(const MoeParams& p) {
  const int64_t n_embd = p.gate.n_in;
  const int64_t n_ff = p.gate.n_out;
  const int64_t n_expert = p.gate.n_mat;
  const size_t slots = size_t(p.rows) * p.n_used;
  // Sized on first use for the largest batch (grown only if a bigger model
  // shares this backend); decode never grows them.
  auto fit = [](auto& buffer, size_t n) {
    if (buffer.size() < n) buffer.resize(n);
  };
  fit(moe_x_, size_t(max_rows_) * n_embd);
  fit(moe_gate_, size_t(max_rows_) * n_ff);
  fit(moe_up_, size_t(max_rows_) * n_ff);
  fit(moe_y_, size_t(max_rows_) * p.n_used * n_embd);
  fit(moe_rows_, size_t(max_rows_) * p.n_used);
  // Each expert runs once over the rows routed to it; its outputs land in
  // that row's slot, and the slots are summed in routing order (as ggml).
  for (int64_t e = 0; e < n_expert; ++e) {
    int64_t count = 0;
    for (size_t slot = 0; slot < slots; ++slot)
      if (p.expert_ids[slot] == e) {
        moe_rows_[count] = int32_t(slot);
        std::memcpy(&moe_x_[count * n_embd], p.x + (slot / p.n_used) * n_embd, n_embd * sizeof(float));
        ++count;
      }
    if (count == 0) continue;
    matmul(p.gate.matrix(e), moe_x_.data(), count, moe_gate_.data());
    matmul(p.up.matrix(e), moe_x_.data(), count, moe_up_.data());
    if (p.gate_b) add_rows(moe_gate_.data(), p.gate_b + e * n_ff, count, n_ff);
    if (p.up_b) add_rows(moe_up_.data(), p.up_b + e * n_ff, count, n_ff);
    gated_activation(p.activation, moe_gate_.data(), moe_up_.data(), n_ff, count, n_ff, moe_gate_.data());
    matmul(p.down.matrix(e), moe_gate_.data(), count, moe_x_.data());
    if (p.down_b) add_rows(moe_x_.data(), p.down_b + e * n_embd, count, n_embd);
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(&moe_y_[size_t(moe_rows_[i]) * n_embd], &moe_x_[i * n_embd], n_embd * sizeof(float));
  }
  for (int64_t r = 0; r < p.rows; ++r) {
    float* out = p.out + r * n_embd;
    for (int k = 0; k < p.n_used; ++k) {
      const float w = p.expert_weights[r * p.n_used + k];
      const float* y = &moe_y_[(size_t(r) * p.n_used + k) * n_embd];
      if (k == 0)
        for (int64_t i = 0; i < n_embd; ++i) out[i] = y[i] * w;
      else
        for (int64_t i = 0; i < n_embd; ++i) out[i] += y[i] * w;
    }
  }
}

void CpuBackend::hadamard(float* x, int64_t n_values, int block) {
  if (block <= 0 || (block & (block - 1)) != 0 || n_values % block != 0)
    fail("internal: Hadamard block {} does not tile {} values", block, n_values);
  const float norm = 1.0f / std::sqrt(float(block));
  split(n_values / block, int64_t(block) * 8, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      float* v = x + b * block;
      // Fast Walsh-Hadamard transform: the Sylvester order H_2s = [[H, H], [H, -H]].
      for (int h = 1; h < block; h *= 2)
        for (int i = 0; i < block; i += 2 * h)
          for (int j = i; j < i + h; ++j) {
            const float a = v[j], c = v[j + h];
            v[j] = a + c;
            v[j + h] = a - c;
          }
      for (int i = 0; i < block; ++i) v[i] *= norm;
    }
  });
}

void CpuBackend::add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void CpuBackend::add_rows(float* y, const float* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) y[r * n + i] += bias[i];
}

void CpuBackend::scale(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

void CpuBackend::softcap(float* y, float cap, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = cap * std::tanh(y[i] / cap);
}

std::unique_ptr<Backend> make_ref_backend() {
  return std::make_unique<CpuBackend>(cpu::select_kernels_for("scalar"), 1);
}

std::unique_ptr<Backend> make_cpu_backend(int n_threads, const std::string& isa) {
  cpu::Kernels kernels = isa.empty() ? cpu::select_kernels(cpu::detect_cpu_features()) : cpu::select_kernels_for(isa);
  return std::make_unique<CpuBackend>(std::move(kernels), n_threads);
}

}  // namespace hearth::backend
