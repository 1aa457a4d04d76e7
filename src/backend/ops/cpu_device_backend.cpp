// CpuDeviceBackend: handles resolved to host pointers, then the host
// CpuBackend's op. Contiguous tensors go to it in one call (so its threading
// and tiling see the whole op); strided views (a half of a fused projection,
// Q out of a fused QKV) go row by row, or through a reused scratch where the
// host op has no row stride. Rows are independent in every op, so the
// results are the same bits either way.
#include "backend/ops/cpu_device_backend.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace hearth::backend {
namespace {

void require_f32(const DeviceTensor& t, const char* op, const char* what) {
  if (t.type != DType::F32 || t.row_bytes % 4 != 0)
    fail("internal: cpu {}: {} must be f32 rows (got {}, rows {} bytes apart)", op, what, dtype_name(t.type),
         t.row_bytes);
}

void require_shape(const DeviceTensor& a, const DeviceTensor& b, const char* op) {
  if (a.n != b.n || a.rows != b.rows)
    fail("internal: cpu {}: shapes differ ({} x {} vs {} x {})", op, a.rows, a.n, b.rows, b.n);
}

uint64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

}  // namespace

void CpuDeviceBackend::AlignedFree::operator()(uint8_t* p) const { std::free(p); }

CpuDeviceBackend::CpuDeviceBackend(cpu::Kernels kernels, int n_threads)
    : owned_(std::make_unique<CpuBackend>(std::move(kernels), n_threads)), host_(*owned_) {
  info_.id = "cpu";
  info_.name = host_.name();
  info_.kind = DeviceKind::Cpu;
  info_.memory_bytes = physical_memory();
  info_.driver = "hearth";
}

CpuDeviceBackend::CpuDeviceBackend(Backend& host) : host_(host), pack_on_upload_(false) {
  info_.id = "cpu";
  info_.name = host_.name();
  info_.kind = DeviceKind::Cpu;
  info_.memory_bytes = physical_memory();
  info_.driver = "hearth";
}

void CpuDeviceBackend::reserve(int64_t max_rows, int64_t max_n, int64_t max_ctx, int head_dim) {
  grow(max_rows, max_n, max_ctx, head_dim);
}

void CpuDeviceBackend::grow(int64_t rows, int64_t n, int64_t ctx, int head_dim) {
  if (rows <= max_rows_ && n <= max_n_ && ctx <= max_ctx_ && head_dim <= head_dim_) return;
  max_rows_ = std::max(rows, max_rows_);
  max_n_ = std::max(n, max_n_);
  max_ctx_ = std::max(ctx, max_ctx_);
  head_dim_ = std::max(head_dim, head_dim_);
  host_.reserve(max_rows_, max_n_, max_ctx_, head_dim_);
}

// ---------------------------------------------------------------- memory

DeviceTensor CpuDeviceBackend::alloc(DType type, int64_t n, int64_t rows) {
  if (n < 0 || rows < 0) fail("internal: cpu alloc of {} rows of {}", rows, n);
  const uint64_t row = row_bytes(type, uint64_t(n));
  const uint64_t size = row * uint64_t(rows);
  // 64-byte aligned (a cache line, an AVX-512 vector), zeroed.
  const uint64_t padded = std::max<uint64_t>(64, (size + 63) & ~uint64_t(63));
  auto* data = static_cast<uint8_t*>(std::aligned_alloc(64, padded));
  if (data == nullptr) fail("out of memory allocating a tensor of {} bytes ({} rows of {} {})", size, rows, n,
                            dtype_name(type));
  std::memset(data, 0, padded);
  const uint32_t id = next_buffer_id_++;
  Buffer& b = buffers_[id];
  b.storage.reset(data);
  b.data = data;
  b.size = size;
  return DeviceTensor{id, 0, type, n, rows, row};
}

void CpuDeviceBackend::free(const DeviceTensor& t) { buffers_.erase(t.buffer); }

DeviceTensor CpuDeviceBackend::upload_weight(const Weight& w) {
  const uint64_t row = row_bytes(w.type, uint64_t(w.n_in));
  if (w.row_bytes != row)
    fail("weight of {} x {} {}: row of {} bytes, expected {}", w.n_out, w.n_in, dtype_name(w.type), w.row_bytes, row);
  const uint32_t id = next_buffer_id_++;
  Buffer& b = buffers_[id];
  b.data = const_cast<uint8_t*>(w.data);
  b.size = row * uint64_t(w.n_out * w.n_mat);
  b.borrowed = true;
  b.weight = w;
  if (w.packed == nullptr && pack_on_upload_) {  // the caller's packed layout is used as given
    b.packed = host_.pack(w);
    b.weight.packed = b.packed.get();
  }
  return DeviceTensor{id, 0, w.type, w.n_in, w.n_out * w.n_mat, row};
}

const CpuDeviceBackend::Buffer& CpuDeviceBackend::buffer(const DeviceTensor& t, const char* op) const {
  auto it = buffers_.find(t.buffer);
  if (it == buffers_.end()) fail("internal: cpu {}: buffer {} does not exist (freed, or another backend's)", op, t.buffer);
  return it->second;
}

uint8_t* CpuDeviceBackend::bytes(const DeviceTensor& t, const char* op) const {
  const Buffer& b = buffer(t, op);
  if (t.offset + t.bytes() > b.size)
    fail("internal: cpu {}: a view of {} rows of {} at byte {} runs past its buffer of {} bytes", op, t.rows, t.n,
         t.offset, b.size);
  return b.data + t.offset;
}

float* CpuDeviceBackend::floats(const DeviceTensor& t, const char* op) const {
  return reinterpret_cast<float*>(bytes(t, op));
}

const int32_t* CpuDeviceBackend::ints(const DeviceTensor& t, int64_t count, const char* op) const {
  if (t.type != DType::I32 || !t.contiguous() || t.n * t.rows < count)
    fail("internal: cpu {}: expected {} contiguous i32 values, got {} rows of {} {}", op, count, t.rows, t.n,
         dtype_name(t.type));
  return reinterpret_cast<const int32_t*>(bytes(t, op));
}

Weight CpuDeviceBackend::weight(const DeviceTensor& t, int64_t n_mat, const char* op) const {
  const Buffer& b = buffer(t, op);
  if (t.rows % n_mat != 0) fail("internal: cpu {}: {} weight rows do not split into {} matrices", op, t.rows, n_mat);
  Weight w{t.type, bytes(t, op), t.n, t.rows / n_mat, n_mat, size_t(t.row_bytes)};
  // The packed layout covers exactly the uploaded matrix.
  const Weight& whole = b.weight;
  if (whole.packed != nullptr && n_mat == 1 && t.offset == 0 && t.n == whole.n_in && t.rows == whole.n_out &&
      whole.n_mat == 1)
    w.packed = whole.packed;
  w.file = whole.file;  // any view of the matrix lies in the same file
  return w;
}

void CpuDeviceBackend::write(const DeviceTensor& dst, const void* src) {
  if (!dst.contiguous()) fail("internal: write() to a strided tensor view");
  if (buffer(dst, "write").borrowed) fail("internal: write() into a weight (its bytes are the model file's)");
  const uint64_t size = dst.bytes();
  if (size != 0) std::memcpy(bytes(dst, "write"), src, size);
  counters_.uploads += 1;
  counters_.upload_bytes += size;
}

void CpuDeviceBackend::read(const DeviceTensor& src, void* dst) {
  if (!src.contiguous()) fail("internal: read() of a strided tensor view");
  const uint64_t size = src.bytes();
  if (size != 0) std::memcpy(dst, bytes(src, "read"), size);
  counters_.downloads += 1;
  counters_.download_bytes += size;
}

const float* CpuDeviceBackend::gather(const DeviceTensor& t, std::vector<float>& scratch, const char* op) const {
  if (t.contiguous()) return floats(t, op);
  if (scratch.size() < size_t(t.n * t.rows)) scratch.resize(size_t(t.n * t.rows));
  const uint8_t* src = bytes(t, op);
  for (int64_t r = 0; r < t.rows; ++r) std::memcpy(&scratch[r * t.n], src + r * t.row_bytes, t.n * sizeof(float));
  return scratch.data();
}

void CpuDeviceBackend::scatter(const std::vector<float>& scratch, const DeviceTensor& t, const char* op) const {
  uint8_t* dst = bytes(t, op);
  for (int64_t r = 0; r < t.rows; ++r) std::memcpy(dst + r * t.row_bytes, &scratch[r * t.n], t.n * sizeof(float));
}

// ---------------------------------------------------------------- ops

void CpuDeviceBackend::matmul(const DeviceTensor& w, const DeviceTensor& x, const DeviceTensor& y) {
  if (x.n != w.n || y.n != w.rows || x.rows != y.rows)
    fail("internal: cpu matmul of {} x {} weights with {} x {} input into {} x {}", w.rows, w.n, x.rows, x.n, y.rows,
         y.n);
  require_f32(x, "matmul", "input");
  require_f32(y, "matmul", "output");
  counters_.dispatches += 1;
  grow(x.rows, x.n);
  const Weight wt = weight(w, 1, "matmul");
  const float* xp = gather(x, x_scratch_, "matmul");
  if (y.contiguous()) {
    host_.matmul(wt, xp, x.rows, floats(y, "matmul"));
    return;
  }
  if (out_scratch_.size() < size_t(y.n * y.rows)) out_scratch_.resize(size_t(y.n * y.rows));
  host_.matmul(wt, xp, x.rows, out_scratch_.data());
  scatter(out_scratch_, y, "matmul");
}

void CpuDeviceBackend::get_rows(const DeviceTensor& table, const DeviceTensor& ids, const DeviceTensor& out) {
  const int64_t n = ids.n * ids.rows;
  if (out.rows != n || out.n != table.n)
    fail("internal: cpu get_rows shapes (table {} wide, {} ids, output {} x {})", table.n, n, out.rows, out.n);
  require_f32(out, "get_rows", "output");
  counters_.dispatches += 1;
  const Weight wt = weight(table, 1, "get_rows");
  const int32_t* id = ints(ids, n, "get_rows");
  if (out.contiguous()) {
    host_.get_rows(wt, id, n, floats(out, "get_rows"));
    return;
  }
  for (int64_t i = 0; i < n; ++i) host_.get_rows(wt, id + i, 1, floats(out.row_range(i, 1), "get_rows"));
}

void CpuDeviceBackend::rms_norm(const DeviceTensor& x, const DeviceTensor& weight, float eps, const DeviceTensor& y) {
  require_shape(x, y, "rms_norm");
  require_f32(x, "rms_norm", "input");
  require_f32(y, "rms_norm", "output");
  if (!weight.empty() && (weight.n * weight.rows != x.n || weight.type != DType::F32))
    fail("internal: rms_norm weight of {} for rows of {}", weight.n * weight.rows, x.n);
  counters_.dispatches += 1;
  const float* w = weight.empty() ? nullptr : floats(weight, "rms_norm");
  if (x.contiguous() && y.contiguous()) {
    host_.rms_norm(floats(x, "rms_norm"), w, x.rows, x.n, eps, floats(y, "rms_norm"));
    return;
  }
  for (int64_t r = 0; r < x.rows; ++r)
    host_.rms_norm(floats(x.row_range(r, 1), "rms_norm"), w, 1, x.n, eps, floats(y.row_range(r, 1), "rms_norm"));
}

void CpuDeviceBackend::rope(const DeviceTensor& x, int n_heads, int head_dim, const DeviceTensor& positions,
                            const DeviceRope& rope) {
  require_f32(x, "rope", "input");
  RopeParams p = rope.params;
  if (int64_t(n_heads) * head_dim > x.n || p.n_dims > head_dim || p.n_dims % 2 != 0)
    fail("internal: cpu rope of {} dims on {} heads of {} in rows of {}", p.n_dims, n_heads, head_dim, x.n);
  const int32_t* pos = ints(positions, x.rows, "rope");
  p.freq_factors = nullptr;
  if (!rope.freq_factors.empty()) {
    if (rope.freq_factors.n * rope.freq_factors.rows < p.n_dims / 2 || rope.freq_factors.type != DType::F32)
      fail("internal: cpu rope needs {} f32 frequency factors", p.n_dims / 2);
    p.freq_factors = floats(rope.freq_factors, "rope");
  }
  counters_.dispatches += 1;
  // The host op steps rows by n_heads * head_dim floats.
  if (x.row_bytes == uint64_t(n_heads) * head_dim * sizeof(float)) {
    host_.rope(floats(x, "rope"), x.rows, n_heads, head_dim, pos, p);
    return;
  }
  for (int64_t r = 0; r < x.rows; ++r) host_.rope(floats(x.row_range(r, 1), "rope"), 1, n_heads, head_dim, pos + r, p);
}

void CpuDeviceBackend::store_kv(const DeviceTensor& src, const DeviceTensor& cache, int64_t first_row) {
  if (first_row < 0 || first_row + src.rows > cache.rows)
    fail("internal: cpu store_kv of {} rows at row {} of a cache of {} rows", src.rows, first_row, cache.rows);
  if (src.n != cache.n) fail("internal: cpu store_kv of rows of {} into a cache of rows of {}", src.n, cache.n);
  require_f32(src, "store_kv", "input");
  counters_.dispatches += 1;
  const KvView view{cache.type, bytes(cache, "store_kv"), size_t(cache.row_bytes)};
  if (src.contiguous()) {
    host_.store_kv(floats(src, "store_kv"), src.rows, src.n, view, first_row);
    return;
  }
  for (int64_t r = 0; r < src.rows; ++r)
    host_.store_kv(floats(src.row_range(r, 1), "store_kv"), 1, src.n, view, first_row + r);
}

void CpuDeviceBackend::store_kv_paged(const DeviceTensor& src, const DeviceTensor& cache, const DeviceKvSlots& slots) {
  if (slots.block_tables.rows != src.rows || slots.block_tables.type != DType::I32)
    fail("internal: cpu store_kv_paged needs a position and a block table per row ({} rows)", src.rows);
  if (src.n != cache.n) fail("internal: cpu store_kv of rows of {} into a cache of rows of {}", src.n, cache.n);
  require_f32(src, "store_kv_paged", "input");
  counters_.dispatches += 1;
  const int32_t* pos = ints(slots.positions, src.rows, "store_kv_paged");
  const KvView view{cache.type, bytes(cache, "store_kv_paged"), size_t(cache.row_bytes)};
  const int shift = slots.kv_block_shift;
  for (int64_t r = 0; r < src.rows; ++r) {
    const int64_t block = pos[r] >> shift;
    if (pos[r] < 0 || block >= slots.block_tables.n)
      fail("internal: cpu store_kv_paged: position {} is outside its block table of {} blocks", pos[r],
           slots.block_tables.n);
    const int32_t* table = reinterpret_cast<const int32_t*>(bytes(slots.block_tables.row_range(r, 1), "store_kv_paged"));
    const int64_t slot = (int64_t(table[block]) << shift) | (pos[r] & ((int64_t(1) << shift) - 1));
    if (slot < 0 || slot >= cache.rows)
      fail("internal: cpu store_kv_paged: slot {} outside the cache of {} rows", slot, cache.rows);
    host_.store_kv(floats(src.row_range(r, 1), "store_kv_paged"), 1, src.n, view, slot);
  }
}

void CpuDeviceBackend::attention(const DeviceAttention& a) {
  if (a.head_dim <= 0 || a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0)
    fail("attention needs whole query groups (got {} heads of {}, {} KV heads)", a.n_head, a.head_dim, a.n_head_kv);
  const int64_t n_tokens = a.q.rows, width = int64_t(a.n_head) * a.head_dim;
  if (a.out.rows != n_tokens || a.q.n < width || a.out.n < width)
    fail("internal: cpu attention shapes (q {} x {}, out {} x {}, {} heads of {})", a.q.rows, a.q.n, a.out.rows,
         a.out.n, a.n_head, a.head_dim);
  require_f32(a.q, "attention", "query");
  require_f32(a.out, "attention", "output");
  const bool paged = !a.block_tables.empty();
  if (paged && (a.block_tables.rows != n_tokens || a.block_tables.type != DType::I32))
    fail("internal: cpu attention: {} block tables for {} tokens", a.block_tables.rows, n_tokens);
  counters_.dispatches += 1;
  grow(0, 0, a.n_kv, a.head_dim);

  AttentionParams p;
  p.positions = ints(a.positions, n_tokens, "attention");
  if (paged) {
    // The host op attends runs of tokens with the same table together: give
    // equal consecutive rows (one sequence's tokens) one pointer.
    tables_.resize(size_t(n_tokens));
    const size_t table_bytes = size_t(a.block_tables.n) * sizeof(int32_t);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const auto* row = reinterpret_cast<const int32_t*>(bytes(a.block_tables.row_range(t, 1), "attention"));
      // (A shared table, rows 0 bytes apart, is the same pointer already.)
      tables_[t] = (t > 0 && (row == tables_[t - 1] || std::memcmp(row, tables_[t - 1], table_bytes) == 0))
                       ? tables_[t - 1]
                       : row;
    }
    p.block_tables = tables_.data();
    p.kv_block_shift = a.kv_block_shift;
  }
  p.n_tokens = n_tokens;
  p.k = KvView{a.k.type, bytes(a.k, "attention"), size_t(a.k.row_bytes)};
  p.v = KvView{a.v.type, bytes(a.v, "attention"), size_t(a.v.row_bytes)};
  static_cast<AttentionShape&>(p) = a;
  if (!a.last_visible.empty()) p.last_visible = ints(a.last_visible, n_tokens, "attention");
  if (!a.sinks.empty()) {
    if (a.sinks.type != DType::F32 || a.sinks.n * a.sinks.rows < a.n_head)
      fail("internal: cpu attention needs {} f32 sink logits", a.n_head);
    p.sinks = floats(a.sinks, "attention");
  }

  // The host op reads and writes rows of exactly n_head * head_dim floats.
  const uint64_t packed_row = uint64_t(width) * sizeof(float);
  const DeviceTensor q_rows = a.q.columns(0, width), out_rows = a.out.columns(0, width);
  p.q = a.q.row_bytes == packed_row ? floats(a.q, "attention") : gather(q_rows, q_scratch_, "attention");
  const bool direct_out = a.out.row_bytes == packed_row;
  if (!direct_out && out_scratch_.size() < size_t(n_tokens * width)) out_scratch_.resize(size_t(n_tokens * width));
  p.out = direct_out ? floats(a.out, "attention") : out_scratch_.data();
  host_.attention(p);
  if (!direct_out) scatter(out_scratch_, out_rows, "attention");
}

namespace {

// ggml_soft_max of n values in place: exponentials in float, summed in
// double, scaled by the float inverse (as the model's host routing did).
void softmax_row(float* v, int64_t n) {
  const float max_v = *std::max_element(v, v + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (v[i] = std::exp(v[i] - max_v));
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) v[i] *= inv;
}

}  // namespace

void CpuDeviceBackend::moe_route(const DeviceTensor& logits, int n_used, MoeGating gating, const DeviceTensor& ids,
                                 const DeviceTensor& weights) {
  const int64_t n_expert = logits.n, rows = logits.rows;
  if (n_used <= 0 || n_used > n_expert)
    fail("MoE routing of {} experts cannot pick {} of them", n_expert, n_used);
  if (ids.type != DType::I32 || ids.n != n_used || ids.rows != rows || weights.n != n_used || weights.rows != rows)
    fail("internal: cpu moe_route outputs must be [{}][{}]", rows, n_used);
  require_f32(logits, "moe_route", "router logits");
  require_f32(weights, "moe_route", "expert weights");
  counters_.dispatches += 1;
  if (probs_.size() < size_t(n_expert)) probs_.resize(size_t(n_expert));
  float* probs = probs_.data();
  for (int64_t r = 0; r < rows; ++r) {
    // Softmax (SoftmaxOfTopK: the logits themselves), then the top n_used,
    // ties to the lower expert index.
    const float* l = floats(logits.row_range(r, 1), "moe_route");
    auto* id = reinterpret_cast<int32_t*>(bytes(ids.row_range(r, 1), "moe_route"));
    float* w = floats(weights.row_range(r, 1), "moe_route");
    std::copy(l, l + n_expert, probs);
    if (gating != MoeGating::SoftmaxOfTopK) softmax_row(probs, n_expert);
    for (int j = 0; j < n_used; ++j) {
      int best = -1;
      for (int e = 0; e < int(n_expert); ++e) {
        if (std::find(id, id + j, e) != id + j) continue;
        if (best < 0 || probs[e] > probs[best]) best = e;
      }
      id[j] = best;
      w[j] = probs[best];
    }
    if (gating == MoeGating::SoftmaxNormalized) {
      float total = 0.0f;
      for (int j = 0; j < n_used; ++j) total += w[j];
      for (int j = 0; j < n_used; ++j) w[j] /= total;
    } else if (gating == MoeGating::SoftmaxOfTopK) {
      softmax_row(w, n_used);
    }
  }
}

void CpuDeviceBackend::moe_ffn(const DeviceMoe& m) {
  const int64_t rows = m.x.rows, n_used = m.ids.n, n_embd = m.x.n;
  if (m.n_expert <= 0 || m.gate.rows % m.n_expert != 0 || m.down.rows != int64_t(m.n_expert) * n_embd ||
      m.gate.n != n_embd || m.up.rows != m.gate.rows || m.out.rows != rows || m.out.n != n_embd ||
      m.ids.rows != rows || m.weights.n != n_used || m.weights.rows != rows)
    fail("internal: cpu moe_ffn shapes ({} experts, gate {} x {}, down {} x {}, x {} x {})", m.n_expert, m.gate.rows,
         m.gate.n, m.down.rows, m.down.n, rows, n_embd);
  const int64_t n_ff = m.gate.rows / m.n_expert;
  if (m.down.n != n_ff) fail("internal: cpu moe_ffn: down takes {} inputs, gate gives {}", m.down.n, n_ff);
  require_f32(m.x, "moe_ffn", "input");
  require_f32(m.out, "moe_ffn", "output");
  if (!m.weights.contiguous() || m.weights.type != DType::F32)
    fail("internal: cpu moe_ffn: expert weights must be contiguous f32");
  counters_.dispatches += 1;
  grow(rows * n_used, std::max(n_embd, n_ff));
  MoeParams p;
  p.x = gather(m.x, x_scratch_, "moe_ffn");
  p.rows = rows;
  p.expert_ids = ints(m.ids, rows * n_used, "moe_ffn");
  p.expert_weights = floats(m.weights, "moe_ffn");
  p.n_used = int(n_used);
  p.gate = weight(m.gate, m.n_expert, "moe_ffn");
  p.up = weight(m.up, m.n_expert, "moe_ffn");
  p.down = weight(m.down, m.n_expert, "moe_ffn");
  p.activation = m.activation;
  const auto bias = [&](const DeviceTensor& b, int64_t size, const char* what) -> const float* {
    if (b.empty()) return nullptr;
    if (b.type != DType::F32 || !b.contiguous() || b.n * b.rows != size)
      fail("internal: cpu moe_ffn: the {} biases must be {} contiguous f32 values", what, size);
    return floats(b, "moe_ffn");
  };
  p.gate_b = bias(m.gate_b, m.n_expert * n_ff, "gate");
  p.up_b = bias(m.up_b, m.n_expert * n_ff, "up");
  p.down_b = bias(m.down_b, m.n_expert * n_embd, "down");
  for (int64_t i = 0; i < rows * n_used; ++i)
    if (p.expert_ids[i] < 0 || p.expert_ids[i] >= m.n_expert)
      fail("internal: cpu moe_ffn: expert id {} outside 0..{}", p.expert_ids[i], m.n_expert - 1);
  if (m.out.contiguous()) {
    p.out = floats(m.out, "moe_ffn");
    host_.moe_ffn(p);
    return;
  }
  if (out_scratch_.size() < size_t(rows * n_embd)) out_scratch_.resize(size_t(rows * n_embd));
  p.out = out_scratch_.data();
  host_.moe_ffn(p);
  scatter(out_scratch_, m.out, "moe_ffn");
}

void CpuDeviceBackend::gated_activation(Activation act, const DeviceTensor& gate, const DeviceTensor& up,
                                        const DeviceTensor& out) {
  require_shape(gate, out, "gated_activation");
  require_shape(up, out, "gated_activation");
  require_f32(gate, "gated_activation", "gate");
  require_f32(up, "gated_activation", "up");
  require_f32(out, "gated_activation", "output");
  counters_.dispatches += 1;
  // The host op takes one stride for gate and up, and contiguous output.
  if (gate.row_bytes == up.row_bytes && out.contiguous()) {
    host_.gated_activation(act, floats(gate, "gated_activation"), floats(up, "gated_activation"),
                           int64_t(gate.row_bytes / sizeof(float)), out.rows, out.n, floats(out, "gated_activation"));
    return;
  }
  for (int64_t r = 0; r < out.rows; ++r)
    host_.gated_activation(act, floats(gate.row_range(r, 1), "gated_activation"),
                           floats(up.row_range(r, 1), "gated_activation"), out.n, 1, out.n,
                           floats(out.row_range(r, 1), "gated_activation"));
}

void CpuDeviceBackend::hadamard(const DeviceTensor& x, int block) {
  require_f32(x, "hadamard", "input");
  if (block <= 0 || (block & (block - 1)) != 0 || x.n % block != 0)
    fail("internal: cpu Hadamard block {} (a power of two) does not tile rows of {}", block, x.n);
  counters_.dispatches += 1;
  in_place_rows(x, "hadamard", [&](float* rows, int64_t n_rows) { host_.hadamard(rows, x.n * n_rows, block); });
}

void CpuDeviceBackend::add(const DeviceTensor& y, const DeviceTensor& x) {
  require_shape(y, x, "add");
  require_f32(y, "add", "output");
  require_f32(x, "add", "input");
  counters_.dispatches += 1;
  if (y.contiguous() && x.contiguous()) {
    host_.add(floats(y, "add"), floats(x, "add"), y.n * y.rows);
    return;
  }
  for (int64_t r = 0; r < y.rows; ++r) host_.add(floats(y.row_range(r, 1), "add"), floats(x.row_range(r, 1), "add"), y.n);
}

void CpuDeviceBackend::add_rows(const DeviceTensor& y, const DeviceTensor& bias) {
  if (bias.n * bias.rows != y.n || !bias.contiguous())
    fail("internal: cpu add_rows of a bias of {} to rows of {}", bias.n * bias.rows, y.n);
  require_f32(y, "add_rows", "output");
  require_f32(bias, "add_rows", "bias");
  counters_.dispatches += 1;
  const float* b = floats(bias, "add_rows");
  in_place_rows(y, "add_rows", [&](float* rows, int64_t n_rows) { host_.add_rows(rows, b, n_rows, y.n); });
}

void CpuDeviceBackend::scale(const DeviceTensor& y, float s) {
  require_f32(y, "scale", "input");
  counters_.dispatches += 1;
  in_place_rows(y, "scale", [&](float* rows, int64_t n_rows) { host_.scale(rows, s, y.n * n_rows); });
}

void CpuDeviceBackend::softcap(const DeviceTensor& y, float cap) {
  require_f32(y, "softcap", "input");
  counters_.dispatches += 1;
  in_place_rows(y, "softcap", [&](float* rows, int64_t n_rows) { host_.softcap(rows, cap, y.n * n_rows); });
}

void CpuDeviceBackend::copy_rows(const DeviceTensor& src, const DeviceTensor& dst) {
  if (src.type != dst.type || src.n != dst.n || src.rows != dst.rows)
    fail("internal: cpu copy_rows of {} x {} {} into {} x {} {}", src.rows, src.n, dtype_name(src.type), dst.rows,
         dst.n, dtype_name(dst.type));
  if (buffer(dst, "copy_rows").borrowed) fail("internal: copy_rows into a weight (its bytes are the model file's)");
  counters_.dispatches += 1;
  if (src.rows == 0) return;
  const uint8_t* from = bytes(src, "copy_rows");
  uint8_t* to = bytes(dst, "copy_rows");
  if (src.contiguous() && dst.contiguous()) {
    std::memmove(to, from, src.bytes());
    return;
  }
  const size_t row = row_bytes(src.type, src.n);
  for (int64_t r = 0; r < src.rows; ++r) std::memmove(to + r * dst.row_bytes, from + r * src.row_bytes, row);
}

void CpuDeviceBackend::layer_norm(const DeviceTensor& x, const DeviceTensor& weight, const DeviceTensor& bias,
                                  float eps, const DeviceTensor& y) {
  require_shape(x, y, "layer_norm");
  require_f32(x, "layer_norm", "input");
  require_f32(y, "layer_norm", "output");
  for (const DeviceTensor* t : {&weight, &bias})
    if (!t->empty() && (t->n * t->rows != x.n || t->type != DType::F32))
      fail("internal: layer_norm weight or bias of {} for rows of {}", t->n * t->rows, x.n);
  counters_.dispatches += 1;
  const float* w = weight.empty() ? nullptr : floats(weight, "layer_norm");
  const float* b = bias.empty() ? nullptr : floats(bias, "layer_norm");
  if (x.contiguous() && y.contiguous()) {
    host_.layer_norm(floats(x, "layer_norm"), w, b, x.rows, x.n, eps, floats(y, "layer_norm"));
    return;
  }
  for (int64_t r = 0; r < x.rows; ++r)
    host_.layer_norm(floats(x.row_range(r, 1), "layer_norm"), w, b, 1, x.n, eps, floats(y.row_range(r, 1), "layer_norm"));
}

void CpuDeviceBackend::activation(Activation act, const DeviceTensor& x, const DeviceTensor& y) {
  require_shape(x, y, "activation");
  require_f32(x, "activation", "input");
  require_f32(y, "activation", "output");
  counters_.dispatches += 1;
  if (x.contiguous() && y.contiguous()) {
    host_.activation(act, floats(x, "activation"), x.n * x.rows, floats(y, "activation"));
    return;
  }
  for (int64_t r = 0; r < x.rows; ++r)
    host_.activation(act, floats(x.row_range(r, 1), "activation"), x.n, floats(y.row_range(r, 1), "activation"));
}

std::unique_ptr<DeviceBackend> make_host_device_backend(Backend& host) {
  return std::make_unique<CpuDeviceBackend>(host);
}

std::unique_ptr<DeviceBackend> make_cpu_device_backend(int n_threads, const std::string& isa) {
  cpu::Kernels kernels = isa.empty() ? cpu::select_kernels(cpu::detect_cpu_features()) : cpu::select_kernels_for(isa);
  return std::make_unique<CpuDeviceBackend>(std::move(kernels), n_threads);
}

}  // namespace hearth::backend
