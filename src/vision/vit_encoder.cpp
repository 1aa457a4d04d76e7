// The SigLIP-style ViT of llama.cpp's clip (build_inp + build_vit): patch
// embedding (a stride-patch convolution as a matmul over im2col rows), learned
// position embeddings, pre-norm blocks with LayerNorm and biases, full
// (non-causal) attention, a GELU feed-forward, the post-LayerNorm; then the
// projector of the file's type.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "vision/vision_model.h"

namespace hearth::vision {

ImageEmbeddings VisionModel::encode(backend::Backend& be, const RgbImage& image) const {
  const VisionHParams& hp = hparams_;
  const VisionWeights& w = weights_;
  const PixelInput input = preprocess_(hp, image);
  const int P = hp.patch_size;
  if (input.width % P != 0 || input.height % P != 0)
    fail("internal: preprocessed image {}x{} is not whole patches of {}", input.width, input.height, P);
  const int grid_w = input.width / P, grid_h = input.height / P;
  const int64_t n = int64_t(grid_w) * grid_h, E = hp.n_embd, n_in = 3 * int64_t(P) * P;
  if (n != w.position_embd.n_out)
    fail("internal: {} patches but {} position embeddings", n, w.position_embd.n_out);
  const int head_dim = int(E / hp.n_head);
  be.reserve(n, std::max({E * 3, hp.n_ff, n_in}), n, head_dim);

  // im2col: patch (px, py) reads channel c, row ky, column kx at c*P*P + ky*P + kx.
  std::vector<float> cols(size_t(n * n_in));
  const size_t plane = size_t(input.width) * input.height;
  for (int py = 0; py < grid_h; ++py)
    for (int px = 0; px < grid_w; ++px) {
      float* col = cols.data() + (int64_t(py) * grid_w + px) * n_in;
      for (int c = 0; c < 3; ++c)
        for (int ky = 0; ky < P; ++ky)
          for (int kx = 0; kx < P; ++kx)
            col[(c * P + ky) * P + kx] = input.planes[c * plane + size_t(py * P + ky) * input.width + px * P + kx];
    }
  std::vector<float> x(size_t(n * E)), xn(size_t(n * E)), q(size_t(n * E)), k(size_t(n * E)), v(size_t(n * E)),
      attn(size_t(n * E)), ff(size_t(n * hp.n_ff));
  be.matmul(w.patch_embd, cols.data(), n, x.data());
  if (w.patch_bias) be.add_rows(x.data(), w.patch_bias, n, E);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  be.get_rows(w.position_embd, ids.data(), n, xn.data());
  be.add(x.data(), xn.data(), n * E);
  if (w.pre_ln_w) be.layer_norm(x.data(), w.pre_ln_w, w.pre_ln_b, n, E, hp.eps, x.data());

  // Every patch sees every patch: positions 0..n-1, all visible to all.
  std::vector<int32_t> last_visible(size_t(n), int32_t(n - 1));
  backend::AttentionParams ap;
  ap.q = q.data();
  ap.positions = ids.data();
  ap.last_visible = last_visible.data();
  ap.n_tokens = n;
  // f32 K and V: llama.cpp's unfused clip attention multiplies them in f32.
  ap.k = backend::KvView{DType::F32, reinterpret_cast<uint8_t*>(k.data()), size_t(E) * sizeof(float)};
  ap.v = backend::KvView{DType::F32, reinterpret_cast<uint8_t*>(v.data()), size_t(E) * sizeof(float)};
  ap.n_kv = n;
  ap.n_head = hp.n_head;
  ap.n_head_kv = hp.n_head;
  ap.head_dim = head_dim;
  ap.scale = 1.0f / std::sqrt(float(head_dim));
  ap.out = attn.data();
  for (const VisionLayer& L : w.layers) {
    be.layer_norm(x.data(), L.ln1_w, L.ln1_b, n, E, hp.eps, xn.data());
    be.matmul(L.wq, xn.data(), n, q.data());
    be.matmul(L.wk, xn.data(), n, k.data());
    be.matmul(L.wv, xn.data(), n, v.data());
    if (L.bq) be.add_rows(q.data(), L.bq, n, E);
    if (L.bk) be.add_rows(k.data(), L.bk, n, E);
    if (L.bv) be.add_rows(v.data(), L.bv, n, E);
    be.attention(ap);
    be.matmul(L.wo, attn.data(), n, xn.data());
    if (L.bo) be.add_rows(xn.data(), L.bo, n, E);
    be.add(x.data(), xn.data(), n * E);

    be.layer_norm(x.data(), L.ln2_w, L.ln2_b, n, E, hp.eps, xn.data());
    be.matmul(L.ffn_up, xn.data(), n, ff.data());
    if (L.ffn_up_b) be.add_rows(ff.data(), L.ffn_up_b, n, hp.n_ff);
    be.activation(hp.ffn_act, ff.data(), n * hp.n_ff, ff.data());
    be.matmul(L.ffn_down, ff.data(), n, xn.data());
    if (L.ffn_down_b) be.add_rows(xn.data(), L.ffn_down_b, n, E);
    be.add(x.data(), xn.data(), n * E);
  }
  if (w.post_ln_w) be.layer_norm(x.data(), w.post_ln_w, w.post_ln_b, n, E, hp.eps, x.data());

  ImageEmbeddings out;
  project_(*this, be, x.data(), grid_w, grid_h, out);
  return out;
}

}  // namespace hearth::vision
