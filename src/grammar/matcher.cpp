// The matcher runs the grammar as a lazily built DFA over bytes. A DFA state
// is a set of parse stacks; stacks are persistent linked lists of interned
// nodes, so equal stacks are equal node ids and a state is a sorted id list.
// Each (state, byte) transition is computed once; after that a mask is one
// forward pass over the vocabulary trie with one table lookup per trie node,
// skipping every subtree whose prefix the grammar already rejects.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "grammar/grammar.h"

namespace hearth::grammar {

Matcher::Matcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const Vocabulary> vocabulary,
                 size_t max_cached_states)
    : grammar_(std::move(grammar)), vocabulary_(std::move(vocabulary)), max_cached_states_(max_cached_states) {
  if (!grammar_ || !vocabulary_) fail("grammar matcher needs a grammar and a vocabulary");
  clear_cache();
}

void Matcher::reset() { state_ = initial_state(); }

void Matcher::clear_cache() {
  nodes_.clear();
  node_index_.clear();
  state_tops_.clear();
  state_tops_begin_.assign(1, 0);
  state_accepting_.clear();
  state_index_.clear();
  transitions_.clear();
  text_next_.clear();
  loop_classes_.clear();
  nodes_.push_back(StackNode{-1, -1});  // kBottom
  scratch_tops_.clear();
  const int32_t dead = intern_state(scratch_tops_);
  (void)dead;  // always kDead: the first state interned
  state_ = initial_state();
  depth_state_.assign(vocabulary_->trie().max_depth + 1, kDead);
}

int32_t Matcher::initial_state() const {
  std::vector<int32_t> tops;
  for (int32_t start : grammar_->alternatives(grammar_->root_rule())) expand(start, kBottom, tops);
  return intern_state(tops);
}

int32_t Matcher::intern_node(int32_t position, int32_t parent) const {
  const uint64_t key = (uint64_t(uint32_t(position)) << 32) | uint32_t(parent);
  auto [it, inserted] = node_index_.emplace(key, int32_t(nodes_.size()));
  if (inserted) nodes_.push_back(StackNode{position, parent});
  return it->second;
}

// Pushes the tops of every stack that can start at `position` with `parent`
// below it: rule references open their alternatives, the end of an
// alternative returns to the parent, and a byte step is a stack top.
void Matcher::expand(int32_t position, int32_t parent, std::vector<int32_t>& tops) const {
  const Element element = grammar_->element(position);
  switch (element.kind) {
    case Element::Kind::End: {
      if (parent == kBottom) {
        tops.push_back(kBottom);
        return;
      }
      const StackNode below = nodes_[size_t(parent)];
      expand(below.position, below.parent, tops);
      return;
    }
    case Element::Kind::Bytes:
      tops.push_back(intern_node(position, parent));
      return;
    case Element::Kind::Rule: {
      // A reference in tail position needs no return node: this keeps
      // right-recursive repetition from growing the stack.
      const int32_t next = position + 1;
      const int32_t continuation =
          grammar_->element(next).kind == Element::Kind::End ? parent : intern_node(next, parent);
      for (int32_t start : grammar_->alternatives(element.value)) expand(start, continuation, tops);
      return;
    }
  }
}

int32_t Matcher::intern_state(std::vector<int32_t>& tops) const {
  std::sort(tops.begin(), tops.end());
  tops.erase(std::unique(tops.begin(), tops.end()), tops.end());
  scratch_key_.assign(reinterpret_cast<const char*>(tops.data()), tops.size() * sizeof(int32_t));
  auto it = state_index_.find(scratch_key_);
  if (it != state_index_.end()) return it->second;
  const auto id = int32_t(state_accepting_.size());
  state_index_.emplace(scratch_key_, id);
  state_tops_.insert(state_tops_.end(), tops.begin(), tops.end());
  state_tops_begin_.push_back(uint32_t(state_tops_.size()));
  state_accepting_.push_back(!tops.empty() && tops[0] == kBottom);
  transitions_.resize(transitions_.size() + 256, kUnknown);
  text_next_.push_back(kUnknown);
  loop_classes_.push_back(kLoopUnknown);
  return id;
}

int32_t Matcher::compute_step(int32_t state, uint8_t byte) const {
  scratch_tops_.clear();
  for (uint32_t i = state_tops_begin_[size_t(state)]; i < state_tops_begin_[size_t(state) + 1]; ++i) {
    const int32_t top = state_tops_[i];
    if (top == kBottom) continue;  // an accepted parse takes no more bytes
    const StackNode node = nodes_[size_t(top)];
    const Element element = grammar_->element(node.position);
    if (grammar_->byte_set(element.value).has(byte)) expand(node.position + 1, node.parent, scratch_tops_);
  }
  const int32_t next = intern_state(scratch_tops_);
  transitions_[size_t(state) * 256 + byte] = next;
  return next;
}

int32_t Matcher::step(int32_t state, uint8_t byte) const {
  const int32_t next = transitions_[size_t(state) * 256 + byte];
  return next != kUnknown ? next : compute_step(state, byte);
}

int32_t Matcher::advance(int32_t state, std::string_view bytes) const {
  for (char c : bytes) {
    state = step(state, uint8_t(c));
    if (state == kDead) return kDead;
  }
  return state;
}

// The automaton only grows; past a bound, start it afresh from the current
// state's stacks (copied out as position lists, then interned again).
void Matcher::trim_cache_if_full() {
  if (state_accepting_.size() < max_cached_states_) return;
  std::vector<std::vector<int32_t>> stacks;
  for (uint32_t i = state_tops_begin_[size_t(state_)]; i < state_tops_begin_[size_t(state_) + 1]; ++i) {
    std::vector<int32_t> positions;
    for (int32_t n = state_tops_[i]; n != kBottom; n = nodes_[size_t(n)].parent)
      positions.push_back(nodes_[size_t(n)].position);
    stacks.push_back(std::move(positions));
  }
  clear_cache();
  std::vector<int32_t> tops;
  for (const std::vector<int32_t>& positions : stacks) {
    int32_t node = kBottom;
    for (auto it = positions.rbegin(); it != positions.rend(); ++it) node = intern_node(*it, node);
    tops.push_back(node);
  }
  state_ = intern_state(tops);
}

// Whether every byte in [low, high] leads from `state` to the same state:
// sufficient when each stack top's byte set holds all of the range or none of
// it, since a transition depends only on which tops match the byte. Cheap,
// and it spares computing a transition per byte.
bool Matcher::range_uniform(int32_t state, uint8_t low, uint8_t high) const {
  for (uint32_t i = state_tops_begin_[size_t(state)]; i < state_tops_begin_[size_t(state) + 1]; ++i) {
    const int32_t top = state_tops_[i];
    if (top == kBottom) continue;
    const ByteSet& set = grammar_->byte_set(grammar_->element(nodes_[size_t(top)].position).value);
    const bool first = set.has(low);
    for (unsigned b = low + 1u; b <= high; ++b)
      if (set.has(uint8_t(b)) != first) return false;
  }
  return true;
}

// The state after one plain-text character (>= U+0020, not '"', '\',
// U+2028 or U+2029) from
// `state`, if every such character leads to the same state; else
// kNotUniform (which only costs speed: the mask then walks the whole trie).
// Checked over the rows of well-formed UTF-8 (Unicode table 3-7), one byte
// range at a time.
int32_t Matcher::text_step(int32_t state) const {
  if (text_next_[size_t(state)] != kUnknown) return text_next_[size_t(state)];
  const int32_t target = step(state, 'a');
  bool uniform = true;
  static constexpr std::pair<uint8_t, uint8_t> kAsciiRanges[] = {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x7F}};
  for (const auto& [low, high] : kAsciiRanges)
    if (!range_uniform(state, low, high) || step(state, low) != target) uniform = false;
  // Well-formed UTF-8 by rows of byte ranges; U+2028 and U+2029 (E2 80 A8,
  // E2 80 A9) are left out, as plain text excludes them: regex '.' does not
  // match them, and with them out '.' is uniform too.
  struct Row {
    uint8_t lead_low, lead_high;
    uint8_t length;  // continuation bytes
    std::pair<uint8_t, uint8_t> next[3];
  };
  static constexpr std::pair<uint8_t, uint8_t> kAny = {0x80, 0xBF};
  static constexpr Row kRows[] = {
      {0xC2, 0xDF, 1, {kAny}},
      {0xE0, 0xE0, 2, {{0xA0, 0xBF}, kAny}},
      {0xE1, 0xE1, 2, {kAny, kAny}},
      {0xE2, 0xE2, 2, {{0x81, 0xBF}, kAny}},
      {0xE2, 0xE2, 2, {{0x80, 0x80}, {0x80, 0xA7}}},
      {0xE2, 0xE2, 2, {{0x80, 0x80}, {0xAA, 0xBF}}},
      {0xE3, 0xEC, 2, {kAny, kAny}},
      {0xED, 0xED, 2, {{0x80, 0x9F}, kAny}},
      {0xEE, 0xEF, 2, {kAny, kAny}},
      {0xF0, 0xF0, 3, {{0x90, 0xBF}, kAny, kAny}},
      {0xF1, 0xF3, 3, {kAny, kAny, kAny}},
      {0xF4, 0xF4, 3, {{0x80, 0x8F}, kAny, kAny}}};
  for (const Row& row : kRows) {
    if (!uniform) break;
    if (!range_uniform(state, row.lead_low, row.lead_high)) {
      uniform = false;
      break;
    }
    int32_t current = step(state, row.lead_low);
    // A dead target must mean dead already after the lead byte, so that a
    // token cut inside a character is rejected exactly when it should be.
    if (target == kDead && current != kDead) uniform = false;
    for (uint8_t k = 0; k < row.length && uniform && current != kDead; ++k) {
      const auto [low, high] = row.next[k];
      if (!range_uniform(current, low, high)) uniform = false;
      current = step(current, low);
    }
    if (current != target) uniform = false;
  }
  text_next_[size_t(state)] = uniform ? target : kNotUniform;
  return text_next_[size_t(state)];
}

// Byte classes (byte_class) all of whose bytes lead from `state` back to
// itself. Bytes >= 0x80 never count: UTF-8 needs them in sequence.
uint64_t Matcher::loop_classes(int32_t state) const {
  if (loop_classes_[size_t(state)] != kLoopUnknown) return loop_classes_[size_t(state)];
  uint64_t classes = 0;
  for (int k = 0; k < kByteClassCount; ++k) {
    bool loops = k != byte_class(0x80);
    for (unsigned b = 0; b < 0x80 && loops; ++b) {
      if (byte_class(uint8_t(b)) != k) continue;
      if (step(state, uint8_t(b)) != state) loops = false;
    }
    if (loops) classes |= uint64_t(1) << k;
  }
  loop_classes_[size_t(state)] = classes;
  return classes;
}

void Matcher::walk(const TokenTrie& trie, uint8_t* out) const {
  const uint8_t* node_byte = trie.byte.data();
  const uint16_t* node_depth = trie.depth.data();
  const int32_t* subtree_end = trie.subtree_end.data();
  const int32_t* token_begin = trie.token_begin.data();
  const int32_t* tokens = trie.tokens.data();
  const uint64_t* classes_below = trie.classes_below.data();
  int32_t* depth_state = depth_state_.data();
  depth_state[0] = state_;
  const auto n_nodes = int32_t(trie.node_count());
  for (int32_t i = 0; i < n_nodes;) {
    const int32_t parent_state = depth_state[node_depth[i] - 1];
    const uint8_t byte = node_byte[i];
    int32_t state = transitions_[size_t(parent_state) * 256 + byte];
    if (state == kUnknown) state = compute_step(parent_state, byte);
    if (state == kDead) {
      i = subtree_end[i];
      continue;
    }
    // In a state that loops on this byte (as in [a-z]+), a subtree whose
    // bytes all loop is accepted whole: mark it without walking it.
    if (state == parent_state && classes_below[i] != 0 && (classes_below[i] & ~loop_classes(state)) == 0) {
      for (int32_t t = token_begin[i], end = token_begin[subtree_end[i]]; t < end; ++t) out[tokens[t]] = 1;
      i = subtree_end[i];
      continue;
    }
    depth_state[node_depth[i]] = state;
    for (int32_t t = token_begin[i]; t < token_begin[i + 1]; ++t) out[tokens[t]] = 1;
    ++i;
  }
}

void Matcher::fill_mask(std::vector<uint8_t>& allowed) const {
  const Vocabulary& vocab = *vocabulary_;
  allowed.assign(vocab.size(), 0);
  if (state_accepting_[size_t(state_)])
    for (int32_t id : vocab.eog_ids()) allowed[size_t(id)] = 1;
  if (state_ == kDead) return;

  // Plain-text tokens by character count, when the states along the way
  // treat every plain character alike (as inside a JSON string): follow one
  // character at a time to see how many characters fit.
  const size_t max_count = vocab.max_plain_count();
  size_t fitting = 0;
  bool uniform = max_count > 0;
  for (int32_t state = state_; uniform && fitting < max_count;) {
    const int32_t next = text_step(state);
    if (next == kNotUniform) {
      uniform = false;
    } else if (next == kDead) {
      break;
    } else if (next == state) {
      fitting = max_count;  // a loop: any length fits
    } else {
      ++fitting;
      state = next;
    }
  }
  if (!uniform) {
    walk(vocab.trie(), allowed.data());
    return;
  }
  const int32_t* plain = vocab.plain_tokens().data();
  uint8_t* out = allowed.data();
  for (size_t i = 0, end = vocab.plain_end(fitting); i < end; ++i) out[plain[i]] = 1;
  walk(vocab.other_trie(), out);
}

void Matcher::mask_logits(std::span<float> logits) const {
  if (logits.size() != vocabulary_->size())
    fail("grammar mask: {} logits for a vocabulary of {} tokens", logits.size(), vocabulary_->size());
  fill_mask(mask_scratch_);
  for (size_t id = 0; id < logits.size(); ++id)
    if (!mask_scratch_[id]) logits[id] = -std::numeric_limits<float>::infinity();
}

bool Matcher::accept_bytes(std::string_view bytes) {
  trim_cache_if_full();
  const int32_t next = advance(state_, bytes);
  if (next == kDead) return false;
  state_ = next;
  return true;
}

bool Matcher::accept_token(int32_t id) {
  if (id < 0 || size_t(id) >= vocabulary_->size()) return false;
  if (vocabulary_->is_eog(id)) return is_accepting();
  const std::string& bytes = vocabulary_->token_bytes(id);
  if (bytes.empty()) return false;
  return accept_bytes(bytes);
}

std::optional<std::string> Matcher::shortest_completion(size_t max_states) const {
  // Breadth-first over automaton states; `came_from` records the first
  // (shortest) way each state was reached.
  std::unordered_map<int32_t, std::pair<int32_t, uint8_t>> came_from;
  std::vector<int32_t> frontier = {state_}, next_frontier;
  came_from.emplace(state_, std::make_pair(kDead, uint8_t(0)));
  while (!frontier.empty() && came_from.size() < max_states) {
    for (int32_t state : frontier) {
      if (state_accepting_[size_t(state)]) {
        std::string path;
        for (int32_t s = state; s != state_;) {
          const auto& [previous, byte] = came_from.at(s);
          path.insert(path.begin(), char(byte));
          s = previous;
        }
        return path;
      }
    }
    next_frontier.clear();
    for (int32_t state : frontier) {
      for (unsigned b = 0; b < 256; ++b) {
        const int32_t next = step(state, uint8_t(b));
        if (next != kDead && came_from.emplace(next, std::make_pair(state, uint8_t(b))).second)
          next_frontier.push_back(next);
      }
    }
    frontier.swap(next_frontier);
  }
  return std::nullopt;
}

bool Matcher::is_accepting() const { return state_accepting_[size_t(state_)] != 0; }

bool Matcher::is_finished() const {
  const uint32_t begin = state_tops_begin_[size_t(state_)], end = state_tops_begin_[size_t(state_) + 1];
  return end - begin == 1 && state_tops_[begin] == kBottom;
}

}  // namespace hearth::grammar
