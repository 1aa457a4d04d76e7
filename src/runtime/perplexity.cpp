#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace hearth::runtime {
namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};

// Row width of a stored log-probability row in uint16: two floats (scale,
// minimum log-prob) then n_vocab codes, padded to an even count.
int64_t stored_row_width(int64_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

float row_max(const float* logits, int64_t n_vocab) {
  float max = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max = std::max(max, logits[i]);
  return max;
}

double sum_exp(const float* logits, int64_t n_vocab, float max) {
  double sum = 0.0;
  for (int64_t i = 0; i < n_vocab; ++i) sum += std::exp(logits[i] - max);  // float exp, double sum
  return sum;
}

// -log p(tok), as llama-perplexity's log_softmax computes it.
double negative_log_prob(const float* logits, int64_t n_vocab, int32_t tok) {
  const float max = row_max(logits, n_vocab);
  return -(double(logits[tok] - max) - std::log(sum_exp(logits, n_vocab, max)));
}

int nearest_int(float x) {
  const float shifted = x + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007fffff) - 0x00400000;
}

// Quantizes a row's log-probabilities to 16 bits over [max - 16, max] (as
// llama-perplexity stores them) and returns -log p(tok) computed its way.
double store_log_probs(const float* logits, int64_t n_vocab, int32_t tok, uint16_t* out) {
  const float max = row_max(logits, n_vocab);
  float min = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) min = std::min(min, logits[i]);
  min = std::max(min, max - 16);
  const float log_sum_exp = float(std::log(sum_exp(logits, n_vocab, max)));
  const float min_log_prob = min - max - log_sum_exp;
  const float scale = (max - min) / 65535.f;
  std::memcpy(out, &scale, sizeof(float));
  std::memcpy(out + 2, &min_log_prob, sizeof(float));
  uint16_t* codes = out + 4;
  if (scale != 0.f) {
    const float inv_scale = 1 / scale;
    for (int64_t i = 0; i < n_vocab; ++i) codes[i] = logits[i] > min ? uint16_t(nearest_int(inv_scale * (logits[i] - min))) : 0;
  } else {
    std::fill(codes, codes + n_vocab, uint16_t(0));
  }
  return double(max + log_sum_exp - logits[tok]);
}

struct KlSums {
  double nll = 0, nll2 = 0, nll_base = 0, nll_base2 = 0, nll_nll_base = 0;
  double kld = 0, kld2 = 0;
  int64_t same_top = 0, count = 0;
  std::vector<float> kld_values;
};

// One scored position against its stored base row (llama-perplexity's
// KL variant of log_softmax, operation for operation).
void accumulate_kl(const float* logits, int64_t n_vocab, const uint16_t* base, int32_t tok, KlSums& s) {
  float max = logits[0];
  int64_t imax = 0;
  for (int64_t i = 1; i < n_vocab; ++i)
    if (logits[i] > max) max = logits[i], imax = i;
  const float log_sum_exp = float(std::log(sum_exp(logits, n_vocab, max)));
  float scale, min_log_prob;
  std::memcpy(&scale, base, sizeof(float));
  std::memcpy(&min_log_prob, base + 2, sizeof(float));
  const uint16_t* codes = base + 4;
  const float nll = max + log_sum_exp - logits[tok];
  s.nll += nll;
  s.nll2 += double(nll) * nll;
  const float nll_base = -(scale * codes[tok] + min_log_prob);
  s.nll_base += nll_base;
  s.nll_base2 += double(nll_base) * nll_base;
  s.nll_nll_base += double(nll) * nll_base;
  const float log_norm = max + log_sum_exp;
  double sum = 0;
  int64_t imax_base = -1;
  float base_max = 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    const float p_log_base = scale * codes[i] + min_log_prob;
    if (i == 0 || p_log_base > base_max) base_max = p_log_base, imax_base = i;
    if (p_log_base > -16.f) sum += std::exp(p_log_base) * (p_log_base - logits[i] + log_norm);
  }
  s.kld += sum;
  s.kld2 += sum * sum;
  s.kld_values.push_back(float(sum));
  s.same_top += imax == imax_base;
  ++s.count;
}

Estimate mean_and_sd(double sum, double sum2, int64_t count) {
  if (count < 1) return {};
  const double f = sum / double(count);
  double df = sum2 / double(count) - f * f;
  df = df > 0 && count > 10 ? std::sqrt(df / double(count - 1)) : 0.;
  return {f, df};
}

double covariance(double a, double b, double ab, int64_t count) {
  if (count < 10) return 0.0;
  const double n = double(count);
  return (ab / n - (a / n) * (b / n)) / (n - 1);
}

template <typename T>
void write_raw(std::ofstream& out, const T* data, size_t count, const std::string& path) {
  out.write(reinterpret_cast<const char*>(data), std::streamsize(count * sizeof(T)));
  if (!out) fail("cannot write '{}'", path);
}

template <typename T>
void read_raw(std::ifstream& in, T* data, size_t count, const std::string& path, const char* what) {
  in.read(reinterpret_cast<char*>(data), std::streamsize(count * sizeof(T)));
  if (!in) fail("'{}' ends early while reading {} (a truncated KL-divergence base file?)", path, what);
}

struct BaseHeader {
  int32_t n_ctx = 0, n_vocab = 0, n_chunk = 0;
};

BaseHeader read_header(std::ifstream& in, const std::string& path) {
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, kMagic, 8) != 0)
    fail("'{}' is not a log-probability file (made by --kl-divergence-base; it starts with \"_logits_\")", path);
  BaseHeader h;
  read_raw(in, &h.n_ctx, 1, path, "n_ctx");
  read_raw(in, &h.n_vocab, 1, path, "n_vocab");
  read_raw(in, &h.n_chunk, 1, path, "the chunk count");
  if (h.n_ctx < 4 || h.n_vocab < 1 || h.n_chunk < 1)
    fail("'{}' has an invalid header (n_ctx {}, n_vocab {}, chunks {})", path, h.n_ctx, h.n_vocab, h.n_chunk);
  return h;
}

}  // namespace

PerplexityResult perplexity(Session& session, const std::vector<int32_t>& tokens, const PerplexityOptions& options) {
  const int64_t n_ctx = options.n_ctx;
  if (n_ctx < 4) fail("the perplexity context must be at least 4 tokens (got {})", n_ctx);
  if (int64_t(tokens.size()) < 2 * n_ctx)
    fail("the text has {} tokens; perplexity with a context of {} needs at least {} (give more text or a smaller --ctx)",
         tokens.size(), n_ctx, 2 * n_ctx);
  if (session.n_ctx() < n_ctx) fail("the session holds {} tokens, fewer than the chunk size {}", session.n_ctx(), n_ctx);
  const int64_t n_chunk_max = int64_t(tokens.size()) / n_ctx;
  const int64_t n_chunk = options.max_chunks < 0 ? n_chunk_max : std::min(options.max_chunks, n_chunk_max);
  const int64_t n_vocab = session.n_vocab();
  const int64_t first = n_ctx / 2;
  const int64_t n_scored = n_ctx - 1 - first;

  std::ofstream base;
  std::vector<uint16_t> stored;
  if (!options.save_base_path.empty()) {
    base.open(options.save_base_path, std::ios::binary);
    if (!base) fail("cannot create '{}'", options.save_base_path);
    const int32_t header[3] = {int32_t(n_ctx), int32_t(n_vocab), int32_t(n_chunk)};
    write_raw(base, kMagic, 8, options.save_base_path);
    write_raw(base, header, 3, options.save_base_path);
    write_raw(base, tokens.data(), size_t(n_chunk * n_ctx), options.save_base_path);
    stored.assign(size_t(n_scored * stored_row_width(n_vocab)), 0);
  }

  double nll = 0, nll2 = 0;
  int64_t count = 0;
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  std::vector<float> logits;
  for (int64_t c = 0; c < n_chunk; ++c) {
    const int32_t* start = tokens.data() + c * n_ctx;
    std::copy(start, start + n_ctx, chunk.begin());
    if (options.bos) chunk[0] = *options.bos;
    session.reset();
    session.eval(chunk, /*all_logits=*/true, logits);
    for (int64_t i = 0; i < n_scored; ++i) {
      const float* row = logits.data() + (first + i) * n_vocab;
      const int32_t target = start[first + i + 1];
      const double v = base.is_open() ? store_log_probs(row, n_vocab, target, stored.data() + i * stored_row_width(n_vocab))
                                      : negative_log_prob(row, n_vocab, target);
      nll += v;
      nll2 += v * v;
    }
    if (base.is_open()) write_raw(base, stored.data(), stored.size(), options.save_base_path);
    count += n_scored;
    if (options.on_chunk) options.on_chunk(c + 1, n_chunk, std::exp(nll / double(count)));
  }

  PerplexityResult r;
  r.n_chunks = n_chunk;
  r.n_scored = count;
  const double mean = nll / double(count);
  r.ppl = std::exp(mean);
  const double var = nll2 / double(count) - mean * mean;
  r.ppl_sd = var > 0 ? std::sqrt(var / double(count - 1)) * r.ppl : 0.0;
  return r;
}

int64_t base_file_context(const std::string& base_path) {
  std::ifstream in(base_path, std::ios::binary);
  if (!in) fail("cannot read '{}'", base_path);
  return read_header(in, base_path).n_ctx;
}

KlDivergenceResult kl_divergence(Session& session, const std::string& base_path, std::optional<int32_t> bos,
                                 const std::function<void(int64_t, int64_t)>& on_chunk) {
  std::ifstream in(base_path, std::ios::binary);
  if (!in) fail("cannot read '{}'", base_path);
  const BaseHeader h = read_header(in, base_path);
  const int64_t n_vocab = session.n_vocab();
  if (h.n_vocab != n_vocab)
    fail("'{}' was made with a vocabulary of {} tokens; this model has {}", base_path, h.n_vocab, n_vocab);
  if (session.n_ctx() < h.n_ctx) fail("'{}' needs a context of {} tokens; the session has {}", base_path, h.n_ctx, session.n_ctx());
  const int64_t n_ctx = h.n_ctx, first = n_ctx / 2, n_scored = n_ctx - 1 - first;
  std::vector<int32_t> tokens(size_t(n_ctx * h.n_chunk));
  read_raw(in, tokens.data(), tokens.size(), base_path, "the evaluation tokens");
  for (int32_t t : tokens)
    if (t < 0 || t >= n_vocab) fail("'{}' holds token id {}, outside this model's vocabulary of {}", base_path, t, n_vocab);

  const int64_t width = stored_row_width(n_vocab);
  std::vector<uint16_t> stored(size_t(n_scored * width));
  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  std::vector<float> logits;
  KlSums s;
  for (int64_t c = 0; c < h.n_chunk; ++c) {
    const int32_t* start = tokens.data() + c * n_ctx;
    std::copy(start, start + n_ctx, chunk.begin());
    if (bos) chunk[0] = *bos;
    session.reset();
    session.eval(chunk, /*all_logits=*/true, logits);
    read_raw(in, stored.data(), stored.size(), base_path, "log-probabilities");
    for (int64_t i = 0; i < n_scored; ++i)
      accumulate_kl(logits.data() + (first + i) * n_vocab, n_vocab, stored.data() + i * width, start[first + i + 1], s);
    if (on_chunk) on_chunk(c + 1, h.n_chunk);
  }

  KlDivergenceResult r;
  r.n_chunks = h.n_chunk;
  r.n_scored = s.count;
  r.n_ctx = n_ctx;
  const Estimate log_ppl = mean_and_sd(s.nll, s.nll2, s.count);
  const Estimate log_ppl_base = mean_and_sd(s.nll_base, s.nll_base2, s.count);
  const double cov = covariance(s.nll, s.nll_base, s.nll_nll_base, s.count);
  r.ppl = {std::exp(log_ppl.value), std::exp(log_ppl.value) * log_ppl.sd};
  r.ppl_base = {std::exp(log_ppl_base.value), std::exp(log_ppl_base.value) * log_ppl_base.sd};
  r.ln_ppl_ratio = {log_ppl.value - log_ppl_base.value,
                    std::sqrt(log_ppl.sd * log_ppl.sd + log_ppl_base.sd * log_ppl_base.sd - 2.0 * cov)};
  const double ppl_cov = r.ppl.value * r.ppl_base.value * cov;
  r.delta_ppl = {r.ppl.value - r.ppl_base.value,
                 std::sqrt(r.ppl.sd * r.ppl.sd + r.ppl_base.sd * r.ppl_base.sd - 2.0 * ppl_cov)};
  r.kld = mean_and_sd(s.kld, s.kld2, s.count);
  const double top = s.count > 0 ? double(s.same_top) / double(s.count) : 0.0;
  r.same_top = {top, s.count > 1 ? std::sqrt(top * (1 - top) / double(s.count - 1)) : 0.0};
  std::vector<float>& v = s.kld_values;
  std::sort(v.begin(), v.end());
  if (!v.empty()) {
    r.kld_median = v.size() % 2 == 0 ? 0.5f * (v[v.size() / 2] + v[v.size() / 2 - 1]) : v[v.size() / 2];
    r.kld_max = v.back();
  }
  return r;
}

}  // namespace hearth::runtime
