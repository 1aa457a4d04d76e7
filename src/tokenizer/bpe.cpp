// Byte-level BPE (tokenizer.ggml.model = "gpt2"): the pre-tokenizer splits
// the text into byte-encoded words; within each word the adjacent pair with
// the lowest merge rank is merged until no listed pair remains.
#include <queue>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {
namespace {

struct Symbol {
  int prev;
  int next;
  size_t offset;
  size_t length;
};

struct Bigram {
  int left;
  int right;
  int32_t rank;
  size_t length;
};

// Lowest rank first; among equal ranks the leftmost pair, as llama.cpp.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

void encode_word(const Vocab& vocab, std::string_view word, std::vector<int32_t>& out, std::string& scratch) {
  if (vocab.ignore_merges) {
    if (const int32_t id = vocab.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t offset = 0; offset < word.size();) {
    const size_t length = std::min(unicode::utf8_sequence_length(word[offset]), word.size() - offset);
    const int index = int(symbols.size());
    symbols.push_back({index - 1, offset + length == word.size() ? -1 : index + 1, offset, length});
    offset += length;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto try_add = [&](int left, int right) {
    if (left == -1 || right == -1) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    const int32_t rank = vocab.merge_rank(word.substr(l.offset, l.length), word.substr(r.offset, r.length), scratch);
    if (rank < 0) return;
    queue.push({left, right, rank, l.length + r.length});
  };
  for (int i = 1; i < int(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;  // stale
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (const Symbol& symbol : symbols) {
    if (symbol.length == 0) continue;
    const std::string_view piece = word.substr(symbol.offset, symbol.length);
    const int32_t id = vocab.find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // llama.cpp looks each byte of the encoded piece up as a one-byte token
    // and silently drops those it cannot find.
    for (const char c : piece)
      if (const int32_t byte_id = vocab.find(std::string_view(&c, 1)); byte_id >= 0) out.push_back(byte_id);
  }
}

}  // namespace

void encode_bpe(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
  std::string scratch;
  for (const std::string& word : vocab.pre_tokenizer->split(text)) encode_word(vocab, word, out, scratch);
}

}  // namespace hearth::tokenizer
