// Grammar-constrained decoding: a GBNF-dialect grammar (docs/grammar.md),
// compiled to a byte-level automaton, and a per-request Matcher that says
// which vocabulary tokens may come next.
//
// Why bytes: a token may end in the middle of a UTF-8 sequence, and byte
// tokens (<0x80>) exist. The compiler turns every character class over code
// points into alternatives of byte ranges, so the matcher never decodes UTF-8
// and a partial sequence is just an ordinary intermediate state.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hearth::grammar {

// One step of a compiled alternative. Alternatives are stored back to back in
// one array, each closed by an End element.
struct Element {
  enum class Kind : uint8_t { End, Bytes, Rule };
  Kind kind = Kind::End;
  int32_t value = 0;  // Bytes: index of a byte set; Rule: rule id
};

// A set of bytes as a 256-bit bitmap.
struct ByteSet {
  std::array<uint64_t, 4> words{};
  bool has(uint8_t b) const { return (words[b >> 6] >> (b & 63)) & 1; }
  void add(uint8_t b) { words[b >> 6] |= uint64_t(1) << (b & 63); }
  void add_range(uint8_t first, uint8_t last) {
    for (unsigned b = first; b <= last; ++b) add(uint8_t(b));
  }
  bool operator==(const ByteSet&) const = default;
};

class Grammar {
 public:
  // Parses GBNF text; throws hearth::Error with line and column on bad input,
  // on a reference to an undefined rule, on a missing root, and on
  // left recursion (which a top-down matcher cannot run).
  static Grammar parse(std::string_view gbnf, std::string_view root = "root");

  int32_t root_rule() const { return root_; }
  size_t rule_count() const { return rule_names_.size(); }
  const std::string& rule_name(int32_t rule) const { return rule_names_[size_t(rule)]; }
  const std::vector<int32_t>& alternatives(int32_t rule) const { return rule_alternatives_[size_t(rule)]; }
  const Element& element(int32_t position) const { return elements_[size_t(position)]; }
  const ByteSet& byte_set(int32_t index) const { return byte_sets_[size_t(index)]; }
  size_t element_count() const { return elements_.size(); }
  // The text it was parsed from (for logs and debugging).
  const std::string& source() const { return source_; }

 private:
  friend class GrammarCompiler;
  Grammar() = default;

  std::vector<Element> elements_;
  std::vector<ByteSet> byte_sets_;
  std::vector<std::vector<int32_t>> rule_alternatives_;  // start positions in elements_
  std::vector<std::string> rule_names_;
  int32_t root_ = 0;
  std::string source_;
};

// JSON Schema -> grammar (json_schema.cpp; keywords and whitespace policy in
// docs/grammar.md). strict: additionalProperties defaults to false.
// Throws hearth::Error naming the first unsupported keyword.
Grammar grammar_from_json_schema(const nlohmann::json& schema, bool strict = true);
// Any JSON object (OpenAI's response_format {"type": "json_object"}).
Grammar grammar_for_json_object();

// A token-prefix trie in depth-first order: node i has byte byte[i] at depth
// depth[i] (1-based); its subtree ends just before subtree_end[i]; the tokens
// ending at node i are tokens[token_begin[i] .. token_begin[i + 1]).
// Bytes grouped into up to 64 classes for whole-subtree checks: lowercase
// letters, uppercase letters, digits, each other printable ASCII character,
// ASCII controls, and bytes >= 0x80.
int byte_class(uint8_t byte);
inline constexpr int kByteClassCount = 38;

struct TokenTrie {
  std::vector<uint8_t> byte;
  std::vector<uint16_t> depth;
  std::vector<int32_t> subtree_end;
  std::vector<int32_t> token_begin;
  std::vector<int32_t> tokens;
  // Per node: bit byte_class(b) for every byte b below it (descendants only).
  std::vector<uint64_t> classes_below;
  size_t max_depth = 0;

  TokenTrie() : token_begin{0} {}
  // ids: the tokens to hold; bytes: every token's bytes, indexed by id.
  TokenTrie(std::vector<int32_t> ids, const std::vector<std::string>& bytes);
  size_t node_count() const { return byte.size(); }
};

// A vocabulary as the matcher sees it: each token's raw bytes, arranged in a
// prefix trie once so that a mask costs one walk over shared prefixes, not a
// scan of every token. Tokens with empty bytes (control tokens) are never
// allowed, except end-of-generation ids, which are allowed exactly when the
// grammar accepts.
//
// Most tokens are plain text: characters >= U+0020 other than '"', '\',
// U+2028 and U+2029, possibly ending inside a character. Inside a JSON string
// (or any grammar state where every such character leads to one same state)
// whether a plain token fits depends only on how many characters it has, so
// those tokens are also kept grouped by character count, and a second trie
// holds the rest.
class Vocabulary {
 public:
  Vocabulary(std::vector<std::string> token_bytes, std::vector<int32_t> eog_ids);

  size_t size() const { return token_bytes_.size(); }
  const std::string& token_bytes(int32_t id) const { return token_bytes_[size_t(id)]; }
  bool is_eog(int32_t id) const { return id >= 0 && size_t(id) < is_eog_.size() && is_eog_[size_t(id)]; }
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }

  // Every generable token.
  const TokenTrie& trie() const { return trie_; }
  // The tokens that are not plain text.
  const TokenTrie& other_trie() const { return other_trie_; }
  // Plain-text tokens ordered by character count (a trailing partial
  // character counts as one); those with count <= n are
  // plain_tokens()[0 .. plain_end(n)).
  const std::vector<int32_t>& plain_tokens() const { return plain_tokens_; }
  size_t plain_end(size_t count) const {
    return count + 1 < plain_count_end_.size() ? size_t(plain_count_end_[count + 1]) : plain_tokens_.size();
  }
  size_t max_plain_count() const { return plain_count_end_.size() < 2 ? 0 : plain_count_end_.size() - 2; }

 private:
  std::vector<std::string> token_bytes_;
  std::vector<int32_t> eog_ids_;
  std::vector<uint8_t> is_eog_;
  TokenTrie trie_;
  TokenTrie other_trie_;
  std::vector<int32_t> plain_tokens_;
  std::vector<int32_t> plain_count_end_;  // [n]: how many plain tokens have fewer than n characters
};

// Per-request matching state. Internally the grammar runs as a lazily built
// DFA: a state is a set of parse stacks, and each (state, byte) transition is
// computed once and then looked up, so a mask is one pass over the trie with a
// table lookup per node (and less: see Vocabulary and docs/grammar.md).
// Not thread-safe: one Matcher per request; copies are independent.
class Matcher {
 public:
  // max_cached_states bounds the automaton (about 1 KiB per state); past it
  // the cache restarts from the current state.
  Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const Vocabulary> vocabulary,
          size_t max_cached_states = 8192);

  // allowed[id] = 1 when token id may come next, else 0, for every token.
  void fill_mask(std::vector<uint8_t>& allowed) const;
  // Sets logits[id] to -infinity for every token not allowed now (the mask
  // is kept in a buffer reused across calls). logits.size() must be the
  // vocabulary size.
  void mask_logits(std::span<float> logits) const;
  // Advances over a token; false (and no change) when it is not allowed.
  // An end-of-generation token is allowed only when the grammar accepts.
  bool accept_token(int32_t id);
  // Advances over raw bytes; false (and no change) if they do not fit.
  bool accept_bytes(std::string_view bytes);
  // The bytes so far form a complete sentence of the grammar.
  bool is_accepting() const;
  // Nothing more can follow: the only way on is end of generation.
  bool is_finished() const;
  // Back to the start (same grammar and vocabulary; caches kept).
  void reset();
  // A shortest byte string that would make the grammar accept from here
  // ("" when it already does), found by breadth-first search over at most
  // `max_states` automaton states; nullopt if none was found within that.
  // For closing a structure when the token budget runs out, and for tests.
  std::optional<std::string> shortest_completion(size_t max_states = 100000) const;

  const Grammar& grammar() const { return *grammar_; }
  const Vocabulary& vocabulary() const { return *vocabulary_; }
  // Size of the lazily built automaton, for diagnostics and benchmarks.
  size_t dfa_state_count() const { return state_accepting_.size(); }

 private:
  static constexpr int32_t kDead = 0;        // the state with no stacks
  static constexpr int32_t kUnknown = -1;    // transition not computed yet
  static constexpr int32_t kNotUniform = -2;
  static constexpr uint64_t kLoopUnknown = uint64_t(1) << 63;
  static constexpr int32_t kBottom = 0;      // stack node: empty stack (accepted)

  struct StackNode {
    int32_t position;  // element to match (top) or to continue at (below)
    int32_t parent;    // node below, kBottom at the bottom
  };

  int32_t initial_state() const;
  int32_t step(int32_t state, uint8_t byte) const;
  int32_t compute_step(int32_t state, uint8_t byte) const;
  void expand(int32_t position, int32_t parent, std::vector<int32_t>& tops) const;
  int32_t intern_node(int32_t position, int32_t parent) const;
  int32_t intern_state(std::vector<int32_t>& tops) const;
  int32_t advance(int32_t state, std::string_view bytes) const;
  int32_t text_step(int32_t state) const;
  bool range_uniform(int32_t state, uint8_t low, uint8_t high) const;
  uint64_t loop_classes(int32_t state) const;
  void walk(const TokenTrie& trie, uint8_t* out) const;
  void trim_cache_if_full();
  void clear_cache();  // drops the automaton and goes back to the start

  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const Vocabulary> vocabulary_;
  size_t max_cached_states_;
  int32_t state_ = kDead;

  // The lazily built automaton. mutable: filling it in is a cache, invisible
  // to callers of the const methods.
  mutable std::vector<StackNode> nodes_;
  mutable std::unordered_map<uint64_t, int32_t> node_index_;
  mutable std::vector<int32_t> state_tops_;          // every state's stack tops, back to back
  mutable std::vector<uint32_t> state_tops_begin_;   // per state, plus one past the end
  mutable std::vector<uint8_t> state_accepting_;
  mutable std::unordered_map<std::string, int32_t> state_index_;
  mutable std::vector<int32_t> transitions_;         // state * 256 + byte
  // Per state: the state after any one plain-text character, kNotUniform
  // when that depends on the character, kUnknown before it is computed.
  mutable std::vector<int32_t> text_next_;
  // Per state: byte classes whose every byte leads back to the same state
  // (bit 63 set: not computed yet).
  mutable std::vector<uint64_t> loop_classes_;
  // Scratch reused across calls so the mask path does not allocate.
  mutable std::vector<int32_t> scratch_tops_;
  mutable std::vector<int32_t> depth_state_;
  mutable std::vector<uint8_t> mask_scratch_;
  mutable std::string scratch_key_;
};

}  // namespace hearth::grammar
