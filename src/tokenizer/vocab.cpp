#include "tokenizer/vocab.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

// tokenizer.ggml.token_type values (llama_token_type).
enum TokenType : int32_t {
  kTypeUndefined = 0,
  kTypeNormal = 1,
  kTypeUnknown = 2,
  kTypeControl = 3,
  kTypeUserDefined = 4,
  kTypeUnused = 5,
  kTypeByte = 6,
};

uint32_t attr_from_type(int32_t type) {
  switch (type) {
    case kTypeUnknown: return kAttrUnknown;
    case kTypeUnused: return kAttrUnused;
    case kTypeNormal: return kAttrNormal;
    case kTypeControl: return kAttrControl;
    case kTypeUserDefined: return kAttrUserDefined;
    case kTypeByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

const std::vector<std::string>& string_array(const gguf::Metadata& md, const char* key) {
  const gguf::Value* value = md.find(key);
  if (value == nullptr) fail("tokenizer metadata lacks '{}'", key);
  return value->strings(key);
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

constexpr std::string_view kSpaceMarker = "\xe2\x96\x81";  // U+2581, SentencePiece's escaped space

// llama_decode_text: byte-level BPE text back to bytes.
std::string decode_byte_level(const std::string& text) {
  std::string out;
  for (const uint32_t cpt : unicode::decode_utf8_lossy(text)) {
    const int byte = unicode::unicode_to_byte(cpt);
    if (byte >= 0) {
      out.push_back(char(byte));
    } else {
      out += "[UNK_BYTE_0x";
      for (const char c : unicode::to_utf8(cpt)) out += fmt::format("{:02x}", uint8_t(c));
      out += text + "]";
    }
  }
  return out;
}

uint8_t hex_byte_of(const std::string& text) {  // "<0xAB>" -> 0xAB
  if (text.size() < 5) return 0;
  return uint8_t(std::strtol(text.substr(3, 2).c_str(), nullptr, 16));
}

// What llama.cpp's token_to_piece(special = true) renders a token as.
std::string render_piece(const Vocab& vocab, const TokenData& token) {
  const uint32_t attr = token.attr;
  if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return token.text;
  if (attr & kAttrNormal) {
    if (vocab.kind == ModelKind::Bpe && !vocab.escape_whitespaces) return decode_byte_level(token.text);
    std::string piece = token.text;
    replace_all(piece, kSpaceMarker, " ");
    return piece;
  }
  if ((attr & kAttrByte) && vocab.kind != ModelKind::Wpm) return std::string(1, char(hex_byte_of(token.text)));
  return {};
}

int32_t read_id(const gguf::Metadata& md, const char* key, int32_t fallback, size_t n_tokens) {
  const gguf::Value* value = md.find(key);
  if (value == nullptr) return fallback;
  const int64_t id = value->as_int(key);
  // llama.cpp keeps the default when the file names an id past the vocabulary.
  return (id >= 0 && uint64_t(id) < n_tokens) ? int32_t(id) : fallback;
}

void read_flag(const gguf::Metadata& md, const char* key, bool& flag) {
  if (md.contains(key)) flag = md.get_bool(key);
}

}  // namespace

int32_t Vocab::merge_rank(std::string_view left, std::string_view right, std::string& scratch) const {
  scratch.assign(left);
  scratch.push_back('\n');
  scratch.append(right);
  const auto it = merge_ranks.find(std::string_view(scratch));
  return it == merge_ranks.end() ? -1 : it->second;
}

int32_t Vocab::byte_token(uint8_t byte) const {
  const int32_t id = byte_tokens[byte];
  if (id < 0) fail("the vocabulary has no token for byte 0x{:02X}", byte);
  return id;
}

std::shared_ptr<const Vocab> Vocab::load(const gguf::Metadata& md) {
  auto vocab = std::make_shared<Vocab>();
  Vocab& v = *vocab;
  v.model = md.get_string_or("tokenizer.ggml.model", "");
  v.pre = md.get_string_or("tokenizer.ggml.pre", "");
  const std::vector<std::string>& texts = string_array(md, "tokenizer.ggml.tokens");
  const size_t n = texts.size();
  if (n == 0) fail("tokenizer.ggml.tokens is empty");

  PreTokenizerFlags pre_flags;
  if (v.model == "llama") {
    v.kind = ModelKind::Spm;
    v.bos = 1, v.eos = 2, v.unk = 0;
    v.add_space_prefix = true, v.add_bos = true;
  } else if (v.model == "bert") {
    v.kind = ModelKind::Wpm;
    v.bos = 101, v.unk = 100, v.sep = 102, v.pad = 0, v.mask = 103;
    v.clean_spaces = true, v.add_bos = true, v.add_sep = true;
  } else if (v.model == "gpt2") {
    v.kind = ModelKind::Bpe;
    v.bos = 11, v.eos = 11;
    v.escape_whitespaces = false;
    v.pre_tokenizer = PreTokenizer::create(v.pre, &pre_flags);
    v.clean_spaces = pre_flags.clean_spaces;
    v.ignore_merges = pre_flags.ignore_merges;
    v.add_bos = pre_flags.add_bos;
    if (pre_flags.no_bos_token) v.bos = -1;
    const std::vector<std::string>& merges = string_array(md, "tokenizer.ggml.merges");
    v.merge_ranks.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string& merge = merges[i];
      const size_t space = merge.find(' ', 1);
      std::string key = space == std::string::npos ? std::string("\n")
                                                   : merge.substr(0, space) + '\n' + merge.substr(space + 1);
      v.merge_ranks.emplace(std::move(key), int32_t(i));  // the first listing of a pair keeps its rank
    }
  } else if (v.model.empty()) {
    fail("tokenizer.ggml.model is missing");
  } else {
    fail("tokenizer '{}' is not supported (supported: llama, gpt2, bert)", v.model);
  }
  read_flag(md, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  read_flag(md, "tokenizer.ggml.remove_extra_whitespaces", v.remove_extra_whitespaces);

  std::vector<float> scores;
  if (const gguf::Value* s = md.find("tokenizer.ggml.scores")) {
    scores = s->to_floats("tokenizer.ggml.scores");
    if (scores.size() < n) fail("tokenizer.ggml.scores has {} entries for {} tokens", scores.size(), n);
  }
  std::vector<int32_t> types;
  if (const gguf::Value* t = md.find("tokenizer.ggml.token_type")) {
    types = t->to_ints("tokenizer.ggml.token_type");
    if (types.size() < n) fail("tokenizer.ggml.token_type has {} entries for {} tokens", types.size(), n);
  }

  v.tokens.resize(n);
  v.token_to_id.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& token = v.tokens[i];
    token.text = texts[i].empty() ? fmt::format("[EMPTY_{}]", i) : texts[i];
    token.score = scores.empty() ? 0.0f : scores[i];
    token.attr = types.empty() ? kAttrNormal : attr_from_type(types[i]);
    v.token_to_id[token.text] = int32_t(i);  // a repeated text maps to its last id, as in llama.cpp
    v.max_token_len = std::max(v.max_token_len, token.text.size());
  }

  v.bos = read_id(md, "tokenizer.ggml.bos_token_id", v.bos, n);
  v.eos = read_id(md, "tokenizer.ggml.eos_token_id", v.eos, n);
  v.eot = read_id(md, "tokenizer.ggml.eot_token_id", v.eot, n);
  v.eom = read_id(md, "tokenizer.ggml.eom_token_id", v.eom, n);
  v.unk = read_id(md, "tokenizer.ggml.unknown_token_id", v.unk, n);
  v.sep = read_id(md, "tokenizer.ggml.seperator_token_id", v.sep, n);
  v.pad = read_id(md, "tokenizer.ggml.padding_token_id", v.pad, n);
  v.mask = read_id(md, "tokenizer.ggml.mask_token_id", v.mask, n);
  v.fim_pre = read_id(md, "tokenizer.ggml.fim_pre_token_id", v.fim_pre, n);
  v.fim_suf = read_id(md, "tokenizer.ggml.fim_suf_token_id", v.fim_suf, n);
  v.fim_mid = read_id(md, "tokenizer.ggml.fim_mid_token_id", v.fim_mid, n);
  v.fim_pad = read_id(md, "tokenizer.ggml.fim_pad_token_id", v.fim_pad, n);
  v.fim_rep = read_id(md, "tokenizer.ggml.fim_rep_token_id", v.fim_rep, n);
  v.fim_sep = read_id(md, "tokenizer.ggml.fim_sep_token_id", v.fim_sep, n);
  v.fim_pre = read_id(md, "tokenizer.ggml.prefix_token_id", v.fim_pre, n);
  v.fim_suf = read_id(md, "tokenizer.ggml.suffix_token_id", v.fim_suf, n);
  v.fim_mid = read_id(md, "tokenizer.ggml.middle_token_id", v.fim_mid, n);
  read_flag(md, "tokenizer.ggml.add_bos_token", v.add_bos);
  read_flag(md, "tokenizer.ggml.add_eos_token", v.add_eos);
  read_flag(md, "tokenizer.ggml.add_sep_token", v.add_sep);
  read_flag(md, "tokenizer.ggml.normalizer.lowercase", v.lowercase);
  v.strip_accents = v.lowercase;
  read_flag(md, "tokenizer.ggml.normalizer.strip_accents", v.strip_accents);

  // Tokens known by their text (llama.cpp's workaround for files that do
  // not name them): they become control tokens and, some, end generation.
  const auto make_control = [&](int32_t id) { v.tokens[id].attr |= kAttrControl; };
  const auto detect = [&](int32_t& slot, std::initializer_list<std::string_view> candidates) {
    if (slot != -1) return;
    for (const std::string_view text : candidates) {
      const int32_t id = v.find(text);
      if (id >= 0) {
        slot = id;
        make_control(id);
        return;
      }
    }
  };
  detect(v.eot, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
                 "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                 "<end_of_utterance>"});
  detect(v.eom, {"<|eom_id|>"});
  detect(v.fim_pre, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>",
                     "<PRE>", "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>"});
  detect(v.fim_suf, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>",
                     "<SUF>", "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>"});
  detect(v.fim_mid, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>",
                     "<MID>", "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>"});
  detect(v.fim_pad, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  detect(v.fim_rep, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  detect(v.fim_sep, {"<|file_sep|>"});

  for (TokenData& token : v.tokens)
    if ((token.attr & kAttrControl) && token.text.find("unused") != std::string::npos) token.attr |= kAttrUnused;

  v.eog.assign(n, false);
  for (const int32_t id : {v.fim_pad, v.fim_rep, v.fim_sep})
    if (id >= 0) v.eog[id] = true;
  for (const std::string_view text :
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[",
        "<|content_model_end_sampling|>"}) {
    const int32_t id = v.find(text);
    if (id >= 0) {
      v.eog[id] = true;
      make_control(id);
    }
  }
  for (const std::string_view text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"})
    if (const int32_t id = v.find(text); id >= 0) v.tokens[id].attr = kAttrUserDefined;  // gpt-oss renders these
  for (const int32_t id : {v.eos, v.eot, v.eom})
    if (id >= 0) v.eog[id] = true;
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
  const auto in_eog = [&](std::string_view text) {
    const int32_t id = v.find(text);
    return id >= 0 && v.eog[id];
  };
  if (in_eog("<|end|>") && ((in_eog("<|return|>") && (in_eog("<|call|>") || in_eog("<|calls|>"))) ||
                            ((in_eog("<|call|>") || in_eog("<|calls|>")) && in_eog("<|flush|>")))) {
    const int32_t end = v.find("<|end|>");
    v.eog[end] = false;
    v.tokens[end].attr = kAttrUserDefined;
  }
  if (in_eog("<|tool_response>") && in_eog("</s>")) {  // gemma4 / paddleocr
    const int32_t s = v.find("</s>");
    v.eog[s] = false;
    v.tokens[s].attr = kAttrNormal;
  }

  for (int32_t id = 0; id < int32_t(n); ++id)
    if (v.tokens[id].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) v.special_tokens.push_back(id);
  std::stable_sort(v.special_tokens.begin(), v.special_tokens.end(), [&](int32_t a, int32_t b) {
    return v.tokens[a].text.size() > v.tokens[b].text.size();
  });

  v.pieces.resize(n);
  for (size_t i = 0; i < n; ++i) v.pieces[i] = render_piece(v, v.tokens[i]);

  // Per-model attributes llama.cpp sets by name.
  std::string name = md.get_string_or("general.name", "");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const std::string arch = md.get_string_or("general.architecture", "");
  const auto contains = [](const std::string& s, std::initializer_list<std::string_view> parts) {
    return std::any_of(parts.begin(), parts.end(), [&](std::string_view p) { return s.find(p) != std::string::npos; });
  };
  if (contains(v.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) || contains(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    if (const int32_t id = v.find("<mask>"); id >= 0) v.tokens[id].attr |= kAttrLstrip;
  } else if (contains(name, {"phi-3", "phi3"})) {
    for (const int32_t id : v.special_tokens) v.tokens[id].attr |= kAttrRstrip;
    if (const int32_t id = v.find("</s>"); id >= 0) v.tokens[id].attr |= kAttrRstrip;
    for (const std::string_view text : {"<unk>", "<s>", "<|endoftext|>"})
      if (const int32_t id = v.find(text); id >= 0) v.tokens[id].attr &= ~uint32_t(kAttrRstrip);
  } else if (contains(name, {"modern-bert"})) {
    if (const int32_t id = v.find("[MASK]"); id >= 0) v.tokens[id].attr |= kAttrLstrip;
  }

  if (v.kind == ModelKind::Spm) {
    for (const TokenData& token : v.tokens) {
      std::vector<std::string_view> chars;
      for (size_t i = 0; i < token.text.size();) {
        const size_t length = std::min(unicode::utf8_sequence_length(token.text[i]), token.text.size() - i);
        chars.push_back(std::string_view(token.text).substr(i, length));
        i += length;
      }
      if (chars.size() >= 2)
        for (const std::string_view c : chars) v.mergeable_chars.emplace(c);
    }
  }

  v.byte_tokens.fill(-1);
  for (int b = 0; b < 256; ++b) {
    if (v.kind == ModelKind::Spm) {
      int32_t id = v.find(fmt::format("<0x{:02X}>", b));
      if (id < 0) id = v.find(std::string(1, char(b)));
      v.byte_tokens[b] = id;
    } else {
      v.byte_tokens[b] = v.find(unicode::byte_to_unicode(uint8_t(b)));
    }
  }
  return vocab;
}

std::vector<Fragment> Vocab::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({-1, 0, text.size()});
  const auto is_space = [&](size_t i) { return std::isspace(static_cast<unsigned char>(text[i])) != 0; };
  std::vector<Fragment> next;
  for (const int32_t special : special_tokens) {
    const TokenData& token = tokens[special];
    if (!parse_special && (token.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = token.text;
    bool any = false;
    next.clear();
    for (const Fragment& fragment : fragments) {
      if (fragment.token >= 0) {
        next.push_back(fragment);
        continue;
      }
      size_t offset = fragment.offset;
      size_t end = fragment.offset + fragment.length;
      while (offset < end) {
        const size_t match = text.substr(0, end).find(needle, offset);
        if (match == std::string_view::npos) break;
        any = true;
        size_t left_length = match - offset;
        if (token.attr & kAttrLstrip)
          while (left_length > 0 && is_space(offset + left_length - 1)) --left_length;
        if (left_length > 0) next.push_back({-1, offset, left_length});
        next.push_back({special, 0, 0});
        offset = match + needle.size();
        if (token.attr & kAttrRstrip)
          while (offset < end && is_space(offset)) ++offset;
      }
      if (offset < end) next.push_back({-1, offset, end - offset});
    }
    if (any) fragments.swap(next);
  }
  return fragments;
}

}  // namespace hearth::tokenizer
