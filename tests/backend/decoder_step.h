// One decoder-like step (embedding, norm, four quantized matmuls, rope,
// store_kv, gated FFN, residual, logits) as the host Backend runs it, op by
// op, and as a DeviceBackend records it: its inputs written, one read of the
// last token's logits, one sync. VulkanRecording counts what crosses;
// CpuDevice checks the CPU DeviceBackend gives the host backend's bits.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/device.h"
#include "backend/device_test_util.h"
#include "backend/ref/quants.h"

namespace hearth::device_test {

class DecoderStep {
 public:
  static constexpr int64_t kEmbd = 128, kVocab = 67, kFf = 96, kTokens = 3;
  static constexpr int kHeads = 4, kHeadDim = 32;
  // Ops recorded by on_device (each matmul one op).
  static constexpr uint64_t kOps = 10;

  DecoderStep()
      : embed_(quantized(DType::Q8_0, kEmbd, kVocab, 1)),
        wq_(quantized(DType::Q4_0, kEmbd, kEmbd, 2)),
        gate_up_(quantized(DType::Q5_0, kEmbd, 2 * kFf, 3)),
        down_(quantized(DType::Q8_0, kFf, kEmbd, 4)),
        output_(quantized(DType::Q4_1, kEmbd, kVocab, 5)),
        norm_(random_floats(kEmbd, 6)) {
    rope_.mode = backend::RopeParams::Mode::Neox;
    rope_.n_dims = kHeadDim;
  }

  // The last token's logits through a host Backend, op by op. With `pack`,
  // the matmuls use the backend's packed layouts as the Model sets them up.
  std::vector<float> on_host(backend::Backend& be, bool pack) {
    be.reserve(kTokens, 2 * kFf, 64, kHeadDim);
    std::vector<std::shared_ptr<const uint8_t[]>> packed;
    auto weight = [&](const HostWeight& h) {
      backend::Weight w = h.w;
      if (pack) {
        packed.push_back(be.pack(w));
        w.packed = packed.back().get();
      }
      return w;
    };
    const backend::Weight embed = weight(embed_), wq = weight(wq_), gate_up = weight(gate_up_), down = weight(down_),
                          output = weight(output_);
    std::vector<float> x(kTokens * kEmbd), h(kTokens * kEmbd), q(kTokens * kEmbd), gu(kTokens * 2 * kFf),
        act(kTokens * kFf), logits(kTokens * kVocab);
    std::vector<uint8_t> kv(row_bytes(DType::F16, kEmbd) * 16);
    be.get_rows(embed, kIds.data(), kTokens, x.data());
    be.rms_norm(x.data(), norm_.data(), kTokens, kEmbd, 1e-6f, h.data());
    be.matmul(wq, h.data(), kTokens, q.data());
    be.rope(q.data(), kTokens, kHeads, kHeadDim, kPositions.data(), rope_);
    be.store_kv(q.data(), kTokens, kEmbd, backend::KvView{DType::F16, kv.data(), row_bytes(DType::F16, kEmbd)}, 7);
    be.matmul(gate_up, q.data(), kTokens, gu.data());
    be.gated_activation(backend::Activation::Silu, gu.data(), gu.data() + kFf, 2 * kFf, kTokens, kFf, act.data());
    be.matmul(down, act.data(), kTokens, h.data());
    be.add(x.data(), h.data(), kTokens * kEmbd);
    be.matmul(output, x.data(), kTokens, logits.data());
    return std::vector<float>(logits.end() - kVocab, logits.end());
  }

  // The same step recorded on a device: weights and buffers set up (and
  // synced) first; `step` gets the counters of the step alone.
  std::vector<float> on_device(backend::DeviceBackend& d, backend::DeviceCounters* step) {
    using backend::DeviceTensor;
    const DeviceTensor w_embed = d.upload_weight(embed_.w), w_q = d.upload_weight(wq_.w),
                       w_gu = d.upload_weight(gate_up_.w), w_down = d.upload_weight(down_.w),
                       w_out = d.upload_weight(output_.w);
    const DeviceTensor norm_t = upload(d, norm_, kEmbd);
    const DeviceTensor ids_t = d.alloc(DType::I32, kTokens, 1), pos_t = d.alloc(DType::I32, kTokens, 1);
    const DeviceTensor x_t = d.alloc(DType::F32, kEmbd, kTokens), h_t = d.alloc(DType::F32, kEmbd, kTokens),
                       q_t = d.alloc(DType::F32, kEmbd, kTokens), gu_t = d.alloc(DType::F32, 2 * kFf, kTokens),
                       act_t = d.alloc(DType::F32, kFf, kTokens), logits_t = d.alloc(DType::F32, kVocab, kTokens),
                       cache = d.alloc(DType::F16, kEmbd, 16);
    d.sync();
    const backend::DeviceCounters before = d.counters();

    std::vector<float> got(kVocab);
    d.write(ids_t, kIds.data());
    d.write(pos_t, kPositions.data());
    d.get_rows(w_embed, ids_t, x_t);
    d.rms_norm(x_t, norm_t, 1e-6f, h_t);
    d.matmul(w_q, h_t, q_t);
    d.rope(q_t, kHeads, kHeadDim, pos_t, backend::DeviceRope{rope_, {}});
    d.store_kv(q_t, cache, 7);
    d.matmul(w_gu, q_t, gu_t);
    d.gated_activation(backend::Activation::Silu, gu_t.columns(0, kFf), gu_t.columns(kFf, kFf), act_t);
    d.matmul(w_down, act_t, h_t);
    d.add(x_t, h_t);
    d.matmul(w_out, x_t, logits_t);
    d.read(logits_t.row_range(kTokens - 1, 1), got.data());  // only the row sampling needs
    d.sync();
    const backend::DeviceCounters after = d.counters();
    *step = backend::DeviceCounters{after.submits - before.submits,
                                    after.waits - before.waits,
                                    after.uploads - before.uploads,
                                    after.downloads - before.downloads,
                                    after.dispatches - before.dispatches,
                                    after.upload_bytes - before.upload_bytes,
                                    after.download_bytes - before.download_bytes};
    for (const auto& t : {w_embed, w_q, w_gu, w_down, w_out, norm_t, ids_t, pos_t, x_t, h_t, q_t, gu_t, act_t,
                          logits_t, cache})
      d.free(t);
    return got;
  }

 private:
  struct HostWeight {
    std::vector<uint8_t> bytes;
    backend::Weight w;
  };
  static HostWeight quantized(DType type, int64_t n_in, int64_t n_out, uint32_t seed) {
    HostWeight h;
    const size_t row = row_bytes(type, n_in);
    h.bytes.resize(row * n_out);
    auto values = random_floats(size_t(n_in * n_out), seed, 0.3f);
    for (int64_t r = 0; r < n_out; ++r)
      ref::quantize_row(type, values.data() + r * n_in, h.bytes.data() + r * row, n_in);
    h.w = backend::Weight{type, h.bytes.data(), n_in, n_out, 1, row};
    return h;
  }

  const std::vector<int32_t> kIds = {5, 66, 12};
  const std::vector<int32_t> kPositions = {7, 8, 9};
  HostWeight embed_, wq_, gate_up_, down_, output_;
  std::vector<float> norm_;
  backend::RopeParams rope_;
};

}  // namespace hearth::device_test
