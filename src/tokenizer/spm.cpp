// SentencePiece-style BPE (tokenizer.ggml.model = "llama"): start from UTF-8
// characters and repeatedly merge the adjacent pair whose concatenation is
// the highest-scoring token; leftovers fall back to <0xNN> byte tokens.
#include <queue>

#include "tokenizer/vocab.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;  // into the text
  size_t length;  // 0 once merged into its left neighbour
};

struct Bigram {
  int left;
  int right;
  float score;
  size_t length;
};

// Highest score first; among equal scores the leftmost pair, as llama.cpp.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void encode_spm(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t length = std::min(unicode::utf8_sequence_length(text[offset]), text.size() - offset);
    const int index = int(symbols.size());
    symbols.push_back({index - 1, offset + length == text.size() ? -1 : index + 1, offset, length});
    offset += length;
  }
  if (symbols.empty()) return;

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto try_add = [&](int left, int right) {
    if (left == -1 || right == -1) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const int32_t id = vocab.find(text.substr(symbols[left].offset, length));
    if (id < 0) return;
    queue.push({left, right, vocab.tokens[id].score, length});
  };
  const auto mergeable = [&](int i) {
    return vocab.mergeable_chars.find(text.substr(symbols[i].offset, symbols[i].length)) !=
           vocab.mergeable_chars.end();
  };

  // A character in no multi-character token never merges, so no pair spans
  // it: the parts between such characters are merged one after the other,
  // each with a small queue, in the same order a single queue would take.
  const int n = int(symbols.size());
  for (int begin = 0; begin < n;) {
    int end = begin + 1;
    if (mergeable(begin))
      while (end < n && mergeable(end)) ++end;
    for (int i = begin + 1; i < end; ++i) try_add(i - 1, i);
    while (!queue.empty()) {
      const Bigram bigram = queue.top();
      queue.pop();
      Symbol& left = symbols[bigram.left];
      Symbol& right = symbols[bigram.right];
      // Skip pairs that an earlier merge has changed.
      if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = bigram.left;
      if (left.prev >= begin) try_add(left.prev, bigram.left);
      if (left.next >= 0 && left.next < end) try_add(bigram.left, left.next);
    }
    begin = end;
  }

  for (int i = 0; i != -1; i = symbols[i].next) {
    const Symbol& symbol = symbols[i];
    const std::string_view piece = text.substr(symbol.offset, symbol.length);
    const int32_t id = vocab.find(piece);
    if (id >= 0) {
      out.push_back(id);
    } else {
      // Every merged symbol is a token, so this is a single character the
      // vocabulary lacks: spell it in bytes.
      for (const char c : piece) out.push_back(vocab.byte_token(static_cast<uint8_t>(c)));
    }
  }
}

}  // namespace hearth::tokenizer
