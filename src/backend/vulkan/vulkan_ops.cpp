// The ops of VulkanBackend: each checks its tensors, fills its shader's push
// constants (offsets in the units the shader reads) and records a dispatch.
#include <algorithm>
#include <cmath>

#include "backend/vulkan/vulkan_backend.h"
#include "core/error.h"

namespace hearth::vulkan {
namespace {

using backend::DeviceTensor;
using backend::RopeParams;

uint32_t u32(uint64_t v, const char* what) {
  if (v > 0xffffffffull) fail("internal: Vulkan op {} of {} exceeds 32 bits", what, v);
  return uint32_t(v);
}

// A float tensor's offset and row stride in floats.
struct FloatLayout {
  uint32_t offset, stride;
};
FloatLayout float_layout(const DeviceTensor& t, const char* what) {
  if (t.type != DType::F32) fail("internal: Vulkan op expects f32 {}, got {}", what, dtype_name(t.type));
  if (t.offset % 4 != 0 || t.row_bytes % 4 != 0) fail("internal: f32 {} is not 4-byte aligned", what);
  return {u32(t.offset / 4, what), u32(t.row_bytes / 4, what)};
}

void require_shape(const DeviceTensor& a, const DeviceTensor& b, const char* op) {
  if (a.n != b.n || a.rows != b.rows)
    fail("internal: Vulkan {}: shapes differ ({} x {} vs {} x {})", op, a.rows, a.n, b.rows, b.n);
}

std::string type_suffix(DType type) {
  std::string name(dtype_name(type));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return name;
}

bool has_matmul_shader(DType type) {
  switch (type) {
    case DType::F32: case DType::F16: case DType::BF16: case DType::Q4_0: case DType::Q4_1:
    case DType::Q5_0: case DType::Q5_1: case DType::Q8_0: case DType::IQ4_NL: case DType::Q2_K:
    case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: case DType::IQ4_XS:
    case DType::IQ2_XXS: case DType::IQ2_XS: case DType::IQ2_S: case DType::IQ3_XXS: case DType::IQ3_S:
    case DType::IQ1_S: case DType::IQ1_M: case DType::TQ1_0: case DType::TQ2_0: case DType::MXFP4:
      return true;
    default:
      return false;
  }
}

// The types whose activations are Q8_K (256-element super-blocks).
bool has_super_blocks(DType type) { return dtype_info(type).block_size == 256; }

bool is_float_type(DType type) { return type == DType::F32 || type == DType::F16 || type == DType::BF16; }

// ceil(a / b)
uint64_t groups_for(uint64_t items, uint64_t per_group) { return (items + per_group - 1) / per_group; }

}  // namespace

void VulkanBackend::matmul(const DeviceTensor& w, const DeviceTensor& x, const DeviceTensor& y) {
  if (x.n != w.n || y.n != w.rows || x.rows != y.rows)
    fail("internal: Vulkan matmul of {} x {} weights with {} x {} input into {} x {}", w.rows, w.n, x.rows, x.n,
         y.rows, y.n);
  record_matmul(w, x, y, ExpertIds{});
}

void VulkanBackend::record_matmul(const DeviceTensor& w, const DeviceTensor& x, const DeviceTensor& y,
                                  const ExpertIds& experts) {
  if (!has_matmul_shader(w.type)) fail("the Vulkan backend has no matmul for weight type {} yet", dtype_name(w.type));
  const FloatLayout xl = float_layout(x, "matmul input"), yl = float_layout(y, "matmul output");
  uint32_t act_buffer = x.buffer;
  if (!is_float_type(w.type)) {
    // Activations quantized once per matmul into the scratch buffer
    // (types.glsl's layout: Q8_0/Q8_1 10 words per 32 elements, Q8_K 81
    // words per 256).
    const bool k = has_super_blocks(w.type);
    const uint64_t n_blocks = uint64_t(x.n) / (k ? 256 : 32) * uint64_t(x.rows);
    act_buffer = scratch(Scratch::QuantizedActivations, DType::I32, int64_t(n_blocks * (k ? 81 : 10)), 1).buffer;
    struct {
      uint32_t n, rows, x_off, x_stride, a_off, super_blocks;
    } q{u32(x.n, "n"), u32(x.rows, "rows"), xl.offset, xl.stride, 0, uint32_t(k)};
    dispatch("quantize_act", {x.buffer, act_buffer}, &q, sizeof(q), groups_for(n_blocks, 64));
  }
  const int64_t n_out = w.rows / experts.experts;
  struct {
    uint32_t n_in, n_out, rows, w_off, w_row_bytes, x_off, x_stride, a_off, y_off, y_stride;
    uint32_t use_ids, ids_off, expert_stride, x_row_divisor;
  } p{u32(w.n, "n_in"), u32(n_out, "n_out"), u32(y.rows, "rows"), u32(w.offset, "weight offset"),
      u32(w.row_bytes, "row bytes"), xl.offset, xl.stride, 0, yl.offset, yl.stride,
      uint32_t(experts.ids != nullptr), experts.ids ? u32(experts.ids->offset / 4, "ids") : 0,
      u32(uint64_t(n_out) * w.row_bytes, "expert bytes"), u32(experts.x_row_divisor, "divisor")};
  const uint32_t ids_buffer = experts.ids ? experts.ids->buffer : x.buffer;
  const uint32_t grids = grid_binding(w.type, x.buffer);
  // Mat-vec for a few rows (decode), 8 x 8 tiles for more (prefill); both
  // give the same bits for a row, so the choice never changes a result.
  // Expert-routed rows each have their own weights: mat-vec.
  constexpr int64_t kTile = 8, kTiledMinRows = 4;
  if (y.rows < kTiledMinRows || experts.ids != nullptr)
    dispatch("matmul_" + type_suffix(w.type), {w.buffer, x.buffer, act_buffer, y.buffer, ids_buffer, grids}, &p,
             sizeof(p), groups_for(uint64_t(n_out), 64) * uint64_t(y.rows));
  else
    dispatch("matmul_tiled_" + type_suffix(w.type), {w.buffer, x.buffer, act_buffer, y.buffer, ids_buffer, grids}, &p,
             sizeof(p), groups_for(uint64_t(n_out), kTile) * groups_for(uint64_t(y.rows), kTile));
}

void VulkanBackend::moe_route(const DeviceTensor& logits, int n_used, backend::MoeGating gating, const DeviceTensor& ids,
                              const DeviceTensor& weights) {
  constexpr int kMaxExperts = 256;  // moe_route.comp
  const FloatLayout ll = float_layout(logits, "router logits"), wl = float_layout(weights, "expert weights");
  if (logits.n > kMaxExperts || n_used <= 0 || n_used > logits.n)
    fail("the Vulkan MoE routing supports up to {} experts (got {}, {} used)", kMaxExperts, logits.n, n_used);
  if (ids.type != DType::I32 || ids.n != n_used || ids.rows != logits.rows || weights.n != n_used ||
      weights.rows != logits.rows)
    fail("internal: Vulkan moe_route outputs must be [{}][{}]", logits.rows, n_used);
  struct {
    uint32_t n_expert, n_used, rows, normalize, l_off, l_stride, ids_off, ids_stride, w_off, w_stride;
  } p{u32(logits.n, "experts"), uint32_t(n_used), u32(logits.rows, "rows"), uint32_t(gating), ll.offset,
      ll.stride, u32(ids.offset / 4, "ids"), u32(ids.row_bytes / 4, "ids"), wl.offset, wl.stride};
  dispatch("moe_route", {logits.buffer, ids.buffer, weights.buffer}, &p, sizeof(p), groups_for(uint64_t(logits.rows), 64));
}

void VulkanBackend::moe_ffn(const backend::DeviceMoe& m) {
  const int64_t rows = m.x.rows, n_used = m.ids.n, n_embd = m.x.n;
  if (m.n_expert <= 0 || m.gate.rows % m.n_expert != 0 || m.down.rows != int64_t(m.n_expert) * n_embd ||
      m.gate.n != n_embd || m.up.rows != m.gate.rows || m.out.rows != rows || m.out.n != n_embd ||
      m.ids.rows != rows || m.weights.n != n_used)
    fail("internal: Vulkan moe_ffn shapes ({} experts, gate {} x {}, down {} x {}, x {} x {})", m.n_expert,
         m.gate.rows, m.gate.n, m.down.rows, m.down.n, rows, n_embd);
  const int64_t n_ff = m.gate.rows / m.n_expert;
  if (m.down.n != n_ff) fail("internal: Vulkan moe_ffn: down takes {} inputs, gate gives {}", m.down.n, n_ff);
  // Every (row, slot) runs its expert: gate and up from the row's x (plus
  // the expert's biases), then the gated activation, then down from the
  // slot's own row (plus its bias).
  const DeviceTensor gate = scratch(Scratch::MoeGate, DType::F32, n_ff, rows * n_used);
  const DeviceTensor up = scratch(Scratch::MoeUp, DType::F32, n_ff, rows * n_used);
  const DeviceTensor down = scratch(Scratch::MoeDown, DType::F32, n_embd, rows * n_used);
  const DeviceTensor ids{m.ids.buffer, m.ids.offset, DType::I32, rows * n_used, 1, uint64_t(rows * n_used) * 4};
  record_matmul(m.gate, m.x, gate, ExpertIds{&ids, m.n_expert, n_used});
  record_matmul(m.up, m.x, up, ExpertIds{&ids, m.n_expert, n_used});
  add_expert_bias(gate, m.gate_b, ids, m.n_expert);
  add_expert_bias(up, m.up_b, ids, m.n_expert);
  gated_activation(m.activation, gate, up, gate);
  record_matmul(m.down, gate, down, ExpertIds{&ids, m.n_expert, 1});
  add_expert_bias(down, m.down_b, ids, m.n_expert);
  const FloatLayout dl = float_layout(down, "expert outputs"), wl = float_layout(m.weights, "expert weights"),
                    ol = float_layout(m.out, "moe output");
  struct {
    uint32_t n, rows, n_used, d_off, w_off, w_stride, o_off, o_stride;
  } p{u32(n_embd, "n"), u32(rows, "rows"), u32(n_used, "used"), dl.offset, wl.offset, wl.stride, ol.offset,
      ol.stride};
  dispatch("moe_combine", {down.buffer, m.weights.buffer, m.out.buffer}, &p, sizeof(p),
           groups_for(uint64_t(n_embd) * rows, 256));
}

void VulkanBackend::add_expert_bias(const DeviceTensor& y, const DeviceTensor& bias, const DeviceTensor& ids,
                                    int n_expert) {
  if (bias.empty()) return;
  if (bias.n * bias.rows != int64_t(n_expert) * y.n || !y.contiguous())
    fail("internal: Vulkan MoE bias of {} values for {} experts of {}", bias.n * bias.rows, n_expert, y.n);
  const FloatLayout yl = float_layout(y, "expert outputs"), bl = float_layout(bias, "expert bias");
  struct {
    uint32_t n, slots, n_expert, y_off, b_off, ids_off;
  } p{u32(y.n, "n"), u32(y.rows, "slots"), uint32_t(n_expert), yl.offset, bl.offset, u32(ids.offset / 4, "ids")};
  dispatch("moe_bias", {y.buffer, bias.buffer, ids.buffer}, &p, sizeof(p), groups_for(uint64_t(y.n) * y.rows, 256));
}

void VulkanBackend::get_rows(const DeviceTensor& table, const DeviceTensor& ids, const DeviceTensor& out) {
  if (!has_matmul_shader(table.type)) fail("the Vulkan backend cannot read rows of {} yet", dtype_name(table.type));
  if (ids.type != DType::I32 || out.n != table.n || out.rows != ids.n * ids.rows)
    fail("internal: Vulkan get_rows shapes (table {} wide, {} ids, output {} x {})", table.n, ids.n * ids.rows,
         out.rows, out.n);
  const FloatLayout ol = float_layout(out, "get_rows output");
  struct {
    uint32_t n, count, table_rows, t_off, t_row_bytes, ids_off, o_off, o_stride;
  } p{u32(table.n, "n"), u32(out.rows, "count"), u32(table.rows, "rows"), u32(table.offset, "offset"),
      u32(table.row_bytes, "row bytes"), u32(ids.offset / 4, "ids"), ol.offset, ol.stride};
  dispatch("get_rows_" + type_suffix(table.type),
           {table.buffer, ids.buffer, out.buffer, grid_binding(table.type, table.buffer)}, &p, sizeof(p),
           groups_for(uint64_t(out.n) * uint64_t(out.rows), 256));
}

void VulkanBackend::rms_norm(const DeviceTensor& x, const DeviceTensor& weight, float eps, const DeviceTensor& y) {
  require_shape(x, y, "rms_norm");
  const FloatLayout xl = float_layout(x, "rms_norm input"), yl = float_layout(y, "rms_norm output");
  FloatLayout wl{0, 0};
  if (!weight.empty()) {
    wl = float_layout(weight, "rms_norm weight");
    if (weight.n != x.n) fail("internal: rms_norm weight of {} for rows of {}", weight.n, x.n);
  }
  struct {
    uint32_t n, rows, x_off, x_stride, y_off, y_stride, w_off, has_weight;
    float eps;
  } p{u32(x.n, "n"), u32(x.rows, "rows"), xl.offset, xl.stride, yl.offset, yl.stride, wl.offset,
      uint32_t(!weight.empty()), eps};
  dispatch("rms_norm", {x.buffer, weight.empty() ? x.buffer : weight.buffer, y.buffer}, &p, sizeof(p),
           uint64_t(x.rows));
}

void VulkanBackend::rope(const DeviceTensor& x, int n_heads, int head_dim, const DeviceTensor& positions,
                         const backend::DeviceRope& rope) {
  const RopeParams& rp = rope.params;
  const FloatLayout xl = float_layout(x, "rope input");
  if (positions.type != DType::I32 || positions.n * positions.rows != x.rows)
    fail("internal: Vulkan rope needs one I32 position per row ({} rows)", x.rows);
  if (rp.n_dims <= 0 || rp.n_dims > head_dim || rp.n_dims % 2 != 0 || int64_t(n_heads) * head_dim > x.n)
    fail("internal: Vulkan rope of {} dims on {} heads of {} in rows of {}", rp.n_dims, n_heads, head_dim, x.n);
  // Everything that is the same for every element is computed here, in
  // float, exactly as the host does it (pow, the YaRN corrections and log).
  const float theta_scale = std::pow(rp.freq_base, -2.0f / rp.n_dims);
  float corr_low = 0, corr_high = 0, mscale = rp.attn_factor;
  if (rp.ext_factor != 0.0f) {
    auto corr_dim = [&](float n_rot) {
      return rp.n_dims * std::log(rp.n_ctx_orig / (n_rot * 2 * float(M_PI))) / (2 * std::log(rp.freq_base));
    };
    corr_low = std::max(0.0f, std::floor(corr_dim(rp.beta_fast)));
    corr_high = std::min(float(rp.n_dims - 1), std::ceil(corr_dim(rp.beta_slow)));
    mscale *= 1.0f + 0.1f * std::log(1.0f / rp.freq_scale);
  }
  FloatLayout fl{0, 0};
  if (!rope.freq_factors.empty()) fl = float_layout(rope.freq_factors, "rope frequency factors");
  struct {
    uint32_t rows, n_heads, head_dim, n_dims, neox, x_off, x_stride, pos_off, ff_off, has_ff;
    float theta_scale, freq_scale, ext_factor, mscale, corr_low, corr_high;
  } p{u32(x.rows, "rows"), uint32_t(n_heads), uint32_t(head_dim), uint32_t(rp.n_dims),
      uint32_t(rp.mode == RopeParams::Mode::Neox), xl.offset, xl.stride, u32(positions.offset / 4, "positions"),
      fl.offset, uint32_t(!rope.freq_factors.empty()), theta_scale, rp.freq_scale, rp.ext_factor, mscale,
      corr_low, corr_high};
  dispatch("rope", {x.buffer, positions.buffer, rope.freq_factors.empty() ? x.buffer : rope.freq_factors.buffer}, &p,
           sizeof(p), groups_for(uint64_t(x.rows) * n_heads * (rp.n_dims / 2), 64));
}

namespace {
// The cache type codes of store_kv.comp and attention.comp.
uint32_t cache_type_code(DType type) {
  switch (type) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::BF16: return 2;
    case DType::Q8_0: return 3;
    case DType::Q4_0: return 4;
    default: fail("the Vulkan backend does not support a KV cache of type {}", dtype_name(type));
  }
}
}  // namespace

void VulkanBackend::attention(const backend::DeviceAttention& a) {
  constexpr int kMaxHeadDim = 256;  // attention.comp's MAX_HEAD_DIM
  if (a.head_dim <= 0 || a.head_dim > kMaxHeadDim || a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0)
    fail("the Vulkan attention supports head sizes up to {} and whole query groups (got {} heads of {}, {} KV heads)",
         kMaxHeadDim, a.n_head, a.head_dim, a.n_head_kv);
  const uint32_t k_type = cache_type_code(a.k.type), v_type = cache_type_code(a.v.type);
  if ((k_type >= 3 || v_type >= 3) && a.head_dim % 32 != 0)
    fail("a quantized KV cache needs head sizes that are a multiple of 32 (got {})", a.head_dim);
  const FloatLayout ql = float_layout(a.q, "attention query"), ol = float_layout(a.out, "attention output");
  const int64_t n_tokens = a.q.rows;
  if (a.out.rows != n_tokens || a.q.n < int64_t(a.n_head) * a.head_dim || a.positions.n * a.positions.rows != n_tokens)
    fail("internal: Vulkan attention shapes (q {} x {}, out {} rows, {} positions)", a.q.rows, a.q.n, a.out.rows,
         a.positions.n * a.positions.rows);
  const bool paged = !a.block_tables.empty();
  if (paged && a.block_tables.rows != n_tokens)
    fail("internal: Vulkan attention: {} block tables for {} tokens", a.block_tables.rows, n_tokens);
  const bool has_lv = !a.last_visible.empty(), has_sinks = !a.sinks.empty();
  if (has_lv && (a.last_visible.type != DType::I32 || a.last_visible.n * a.last_visible.rows != n_tokens))
    fail("internal: Vulkan attention needs one last-visible position per token");
  if (has_sinks && (a.sinks.type != DType::F32 || a.sinks.n * a.sinks.rows < a.n_head))
    fail("internal: Vulkan attention needs {} f32 sink logits", a.n_head);
  const uint32_t flags = (a.causal ? 1u : 0u) | (a.flash ? 0u : 2u) | (has_lv ? 4u : 0u) | (has_sinks ? 8u : 0u) |
                         (paged ? 16u : 0u);
  struct {
    uint32_t n_tokens, n_head, n_head_kv, head_dim, q_off, q_stride, o_off, o_stride, k_off, k_row_bytes, v_off,
        v_row_bytes, k_type, v_type, pos_off, tables_off, table_stride, block_shift, n_kv, window;
    float scale, softcap;
    uint32_t flags, lv_off, sinks_off;
  } p{u32(n_tokens, "tokens"), uint32_t(a.n_head), uint32_t(a.n_head_kv), uint32_t(a.head_dim), ql.offset, ql.stride,
      ol.offset, ol.stride, u32(a.k.offset, "k offset"), u32(a.k.row_bytes, "k row"), u32(a.v.offset, "v offset"),
      u32(a.v.row_bytes, "v row"), k_type, v_type, u32(a.positions.offset / 4, "positions"),
      paged ? u32(a.block_tables.offset / 4, "tables") : 0, paged ? u32(a.block_tables.row_bytes / 4, "tables") : 0,
      uint32_t(a.kv_block_shift), u32(a.n_kv, "n_kv"), uint32_t(std::max(0, a.sliding_window)), a.scale, a.softcap,
      flags, has_lv ? u32(a.last_visible.offset / 4, "last visible") : 0,
      has_sinks ? u32(a.sinks.offset / 4, "sinks") : 0};
  dispatch("attention",
           {a.q.buffer, a.k.buffer, a.v.buffer, a.positions.buffer, paged ? a.block_tables.buffer : a.positions.buffer,
            a.out.buffer, has_lv ? a.last_visible.buffer : a.positions.buffer,
            has_sinks ? a.sinks.buffer : a.positions.buffer},
           &p, sizeof(p), uint64_t(n_tokens) * a.n_head);
}

void VulkanBackend::store_kv(const DeviceTensor& src, const DeviceTensor& cache, int64_t first_row) {
  if (first_row < 0 || first_row + src.rows > cache.rows)
    fail("internal: Vulkan store_kv of {} rows at row {} of a cache of {} rows", src.rows, first_row, cache.rows);
  record_store_kv(src, cache, first_row, nullptr);
}

void VulkanBackend::store_kv_paged(const DeviceTensor& src, const DeviceTensor& cache,
                                   const backend::DeviceKvSlots& slots) {
  if (slots.positions.n * slots.positions.rows != src.rows || slots.block_tables.rows != src.rows ||
      slots.block_tables.type != DType::I32)
    fail("internal: Vulkan store_kv_paged needs a position and a block table per row ({} rows)", src.rows);
  record_store_kv(src, cache, 0, &slots);
}

void VulkanBackend::record_store_kv(const DeviceTensor& src, const DeviceTensor& cache, int64_t first_row,
                                    const backend::DeviceKvSlots* slots) {
  const uint32_t type = cache_type_code(cache.type);
  if (src.n != cache.n)
    fail("internal: Vulkan store_kv of rows of {} into a cache of rows of {}", src.n, cache.n);
  const FloatLayout sl = float_layout(src, "store_kv input");
  struct {
    uint32_t n, rows, type, x_off, x_stride, c_off, c_row_bytes, first_row;
    uint32_t paged, pos_off, tables_off, table_stride, block_shift;
  } p{u32(src.n, "n"), u32(src.rows, "rows"), type, sl.offset, sl.stride, u32(cache.offset, "cache offset"),
      u32(cache.row_bytes, "row bytes"), u32(first_row, "first row"), uint32_t(slots != nullptr),
      slots ? u32(slots->positions.offset / 4, "positions") : 0, slots ? u32(slots->block_tables.offset / 4, "tables") : 0,
      slots ? u32(slots->block_tables.row_bytes / 4, "tables") : 0, slots ? uint32_t(slots->kv_block_shift) : 0};
  const uint32_t positions = slots ? slots->positions.buffer : src.buffer;
  const uint32_t tables = slots ? slots->block_tables.buffer : src.buffer;
  dispatch("store_kv", {src.buffer, cache.buffer, positions, tables}, &p, sizeof(p),
           groups_for(uint64_t(src.n + 31) / 32 * src.rows, 64));
}

namespace {
// gated_activation.comp's act codes.
uint32_t activation_code(backend::Activation act) {
  switch (act) {
    case backend::Activation::Silu: return 0;
    case backend::Activation::GeluTanh: return 1;
    case backend::Activation::SwigluOai: return 2;
  }
  fail("internal: unknown activation {}", int(act));
}
}  // namespace

void VulkanBackend::gated_activation(backend::Activation act, const DeviceTensor& gate, const DeviceTensor& up,
                                     const DeviceTensor& out) {
  require_shape(gate, out, "gated_activation");
  require_shape(up, out, "gated_activation");
  record_activation(act, gate, &up, out);
}

void VulkanBackend::activation(backend::Activation act, const DeviceTensor& x, const DeviceTensor& y) {
  require_shape(x, y, "activation");
  if (act == backend::Activation::SwigluOai)
    fail("internal: SwiGLU-OAI is a gated activation (gated_activation, moe_ffn)");
  record_activation(act, x, nullptr, y);
}

void VulkanBackend::record_activation(backend::Activation act, const DeviceTensor& gate, const DeviceTensor* up,
                                      const DeviceTensor& out) {
  const FloatLayout gl = float_layout(gate, "gate"), ol = float_layout(out, "output");
  const FloatLayout ul = up ? float_layout(*up, "up") : FloatLayout{0, 0};
  struct {
    uint32_t act, n, rows, g_off, g_stride, u_off, u_stride, o_off, o_stride, gated;
  } p{activation_code(act), u32(out.n, "n"), u32(out.rows, "rows"), gl.offset, gl.stride, ul.offset, ul.stride,
      ol.offset, ol.stride, uint32_t(up != nullptr)};
  dispatch("gated_activation", {gate.buffer, up ? up->buffer : gate.buffer, out.buffer}, &p, sizeof(p),
           groups_for(uint64_t(out.n) * uint64_t(out.rows), 256));
}

void VulkanBackend::hadamard(const DeviceTensor& x, int block) {
  constexpr int kMaxBlock = 4096;  // hadamard.comp's shared memory
  if (block <= 0 || block > kMaxBlock || (block & (block - 1)) != 0 || x.n % block != 0)
    fail("internal: Vulkan Hadamard block {} (a power of two up to {}) does not tile rows of {}", block, kMaxBlock,
         x.n);
  if (!x.contiguous()) fail("internal: Vulkan Hadamard of a strided view");
  const FloatLayout xl = float_layout(x, "hadamard");
  struct {
    uint32_t block, n_blocks, x_off;
    float norm;
  } p{uint32_t(block), u32(uint64_t(x.n) * x.rows / block, "blocks"), xl.offset, 1.0f / std::sqrt(float(block))};
  dispatch("hadamard", {x.buffer}, &p, sizeof(p), p.n_blocks);
}

namespace {
struct ElementwisePush {
  uint32_t op, n, rows, y_off, y_stride, x_off, x_stride;
  float value;
};
}  // namespace

void VulkanBackend::add(const DeviceTensor& y, const DeviceTensor& x) {
  require_shape(y, x, "add");
  const FloatLayout yl = float_layout(y, "add output"), xl = float_layout(x, "add input");
  ElementwisePush p{0, u32(y.n, "n"), u32(y.rows, "rows"), yl.offset, yl.stride, xl.offset, xl.stride, 0.0f};
  dispatch("elementwise", {y.buffer, x.buffer}, &p, sizeof(p), groups_for(uint64_t(y.n) * y.rows, 256));
}

void VulkanBackend::add_rows(const DeviceTensor& y, const DeviceTensor& bias) {
  if (bias.n != y.n) fail("internal: Vulkan add_rows of a bias of {} to rows of {}", bias.n, y.n);
  const FloatLayout yl = float_layout(y, "add_rows output"), bl = float_layout(bias, "bias");
  ElementwisePush p{1, u32(y.n, "n"), u32(y.rows, "rows"), yl.offset, yl.stride, bl.offset, 0, 0.0f};
  dispatch("elementwise", {y.buffer, bias.buffer}, &p, sizeof(p), groups_for(uint64_t(y.n) * y.rows, 256));
}

void VulkanBackend::scale(const DeviceTensor& y, float s) {
  const FloatLayout yl = float_layout(y, "scale");
  ElementwisePush p{2, u32(y.n, "n"), u32(y.rows, "rows"), yl.offset, yl.stride, 0, 0, s};
  dispatch("elementwise", {y.buffer, y.buffer}, &p, sizeof(p), groups_for(uint64_t(y.n) * y.rows, 256));
}

void VulkanBackend::softcap(const DeviceTensor& y, float cap) {
  const FloatLayout yl = float_layout(y, "softcap");
  ElementwisePush p{3, u32(y.n, "n"), u32(y.rows, "rows"), yl.offset, yl.stride, 0, 0, cap};
  dispatch("elementwise", {y.buffer, y.buffer}, &p, sizeof(p), groups_for(uint64_t(y.n) * y.rows, 256));
}

void VulkanBackend::layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias, float eps,
                               const DeviceTensor& y) {
  require_shape(x, y, "layer_norm");
  const FloatLayout xl = float_layout(x, "layer_norm input"), yl = float_layout(y, "layer_norm output");
  FloatLayout wl{0, 0}, bl{0, 0};
  if (!weight.empty()) wl = float_layout(weight, "layer_norm weight");
  if (!bias.empty()) bl = float_layout(bias, "layer_norm bias");
  if ((!weight.empty() && weight.n * weight.rows != x.n) || (!bias.empty() && bias.n * bias.rows != x.n))
    fail("internal: Vulkan layer_norm weight/bias of {}/{} for rows of {}", weight.n * weight.rows,
         bias.n * bias.rows, x.n);
  struct {
    uint32_t n, rows, x_off, x_stride, y_off, y_stride, w_off, b_off, has_weight, has_bias;
    float eps;
  } p{u32(x.n, "n"), u32(x.rows, "rows"), xl.offset, xl.stride, yl.offset, yl.stride, wl.offset, bl.offset,
      uint32_t(!weight.empty()), uint32_t(!bias.empty()), eps};
  dispatch("layer_norm",
           {x.buffer, weight.empty() ? x.buffer : weight.buffer, bias.empty() ? x.buffer : bias.buffer, y.buffer}, &p,
           sizeof(p), uint64_t(x.rows));
}

}  // namespace hearth::vulkan
