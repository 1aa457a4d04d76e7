#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "tokenizer/unicode.h"

namespace hearth::tokenizer {
namespace {

// The regexes, as llama.cpp's llm_tokenizer_bpe spells them (its "adapted"
// forms, which are what produce its ids).
constexpr const char* kContractions = R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))";
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen35Tail =
    R"(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kJais2Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})";
constexpr const char* kDeepseekLlmLetters =
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373"
    "\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f"
    "\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
    "\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d"
    "\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4"
    "\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d"
    "\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a"
    "\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2"
    "\U00010cc0-\U00010cf2\U000118a0-\U000118df\U0001e900-\U0001e943]+";
constexpr const char* kDeepseekLlmPunct = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+";
constexpr const char* kCjkHangul = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
constexpr const char* kCjkKana = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
constexpr const char* kDeepseekV3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kBloom = " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+";
constexpr const char* kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4o =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kGpt4oMarks =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kBailing =
    R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
constexpr const char* kSeedCoderTail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kExaoneMoeTail =
    R"(|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)";
constexpr const char* kMinicpm5Tail =
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string with_contractions(const char* tail) { return std::string(kContractions) + tail; }

enum class Family {
  Default, Llama3, Jais2, DeepseekLlm, DeepseekV3, DeepseekCoder, Falcon, Starcoder, Gpt2, Qwen2, Qwen35,
  Bloom, Viking, Tekken, Chameleon, Gpt4o, Gpt4oMarks, Bailing, SeedCoder, Laguna, ExaoneMoe, Minicpm5,
};

std::vector<std::string> family_regexes(Family family) {
  switch (family) {
    case Family::Default:
      return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"};
    case Family::Llama3: return {with_contractions(kLlama3Tail)};
    case Family::Jais2: return {with_contractions(kJais2Tail)};
    case Family::DeepseekLlm:
      return {"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunct, R"(\s+$)", kCjkHangul, R"(\p{N}+)"};
    case Family::DeepseekV3: return {R"(\p{N}{1,3})", kCjkKana, kDeepseekV3Main};
    case Family::DeepseekCoder: return {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkHangul, R"(\p{N})"};
    case Family::Falcon: return {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"};
    case Family::Starcoder: return {R"(\p{N})", kGpt2};
    case Family::Gpt2: return {kGpt2};
    case Family::Qwen2: return {with_contractions(kQwen2Tail)};
    case Family::Qwen35: return {with_contractions(kQwen35Tail)};
    case Family::Bloom: return {kBloom};
    case Family::Viking: return {kBloom, R"(\p{N})"};
    case Family::Tekken: return {kTekken};
    case Family::Chameleon:
      return {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", R"(\p{N})",
              R"([\p{P}!-/:-@\[-`{-~])", kGpt2};
    case Family::Gpt4o: return {kGpt4o};
    case Family::Gpt4oMarks: return {kGpt4oMarks};
    case Family::Bailing: return {kBailing};
    case Family::SeedCoder: return {with_contractions(kSeedCoderTail)};
    case Family::Laguna: return {"[^\\n]+|[\\n]+", with_contractions(kQwen2Tail)};
    case Family::ExaoneMoe: return {with_contractions(kExaoneMoeTail)};
    case Family::Minicpm5: return {R"(\p{N}{1,3})", with_contractions(kMinicpm5Tail)};
  }
  return {};
}

struct PreType {
  Family family;
  PreTokenizerFlags flags;
};

// tokenizer.ggml.pre -> regexes and flags, as llama_vocab::impl::load maps them.
const std::map<std::string, PreType, std::less<>>& pre_types() {
  static const std::map<std::string, PreType, std::less<>> types = [] {
    std::map<std::string, PreType, std::less<>> t;
    const PreTokenizerFlags clean{true, false, false, false};
    const PreTokenizerFlags raw{false, false, false, false};
    const auto add = [&](std::initializer_list<const char*> names, Family family, PreTokenizerFlags flags) {
      for (const char* name : names) t.emplace(name, PreType{family, flags});
    };
    add({"default"}, Family::Default, clean);
    add({"minicpm5"}, Family::Minicpm5, {true, true, false, false});
    add({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"},
        Family::Llama3, {true, true, true, false});
    add({"deepseek-llm"}, Family::DeepseekLlm, raw);
    add({"deepseek-coder"}, Family::DeepseekCoder, raw);
    add({"deepseek-v3", "hunyuan-dense", "joyai-llm"}, Family::DeepseekV3, raw);
    add({"falcon"}, Family::Falcon, clean);
    add({"mpt", "olmo", "jais", "exaone4", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es",
         "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe"},
        Family::Gpt2, clean);
    add({"trillion", "granite-docling"}, Family::Gpt2, raw);
    add({"jais-2"}, Family::Jais2, clean);
    add({"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"}, Family::Starcoder, clean);
    add({"command-r", "smollm"}, Family::Starcoder, raw);
    add({"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open"}, Family::Qwen2, raw);
    add({"stablelm2", "megrez"}, Family::Qwen2, clean);
    add({"grok-2"}, Family::Qwen2, raw);
    add({"qwen35"}, Family::Qwen35, raw);
    add({"dbrx", "smaug-bpe"}, Family::Llama3, clean);
    add({"poro-chat"}, Family::Bloom, raw);
    add({"bloom", "gpt3-finnish"}, Family::Bloom, clean);
    add({"glm4", "chatglm-bpe"}, Family::Llama3, {true, false, false, true});
    add({"viking"}, Family::Viking, raw);
    add({"tekken"}, Family::Tekken, {false, true, true, false});
    add({"chameleon"}, Family::Chameleon, {false, false, true, false});
    add({"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, Family::Gpt4o, raw);
    add({"inkling"}, Family::Gpt4oMarks, raw);
    add({"granite-embed-multi-97m"}, Family::Gpt4oMarks, {false, true, false, false});
    add({"bailingmoe", "bailingmoe2", "llada-moe"}, Family::Bailing, raw);
    add({"seed-coder"}, Family::SeedCoder, raw);
    add({"laguna"}, Family::Laguna, raw);
    add({"exaone-moe"}, Family::ExaoneMoe, clean);
    return t;
  }();
  return types;
}

// llama.cpp runs a regex that names Unicode categories on a "collapsed" copy
// of the text: ASCII stays, any other whitespace becomes \v, and every other
// code point becomes one byte for its category. The regex is rewritten to
// match: \p{L} becomes [<letter byte>A-Za-z] and so on. Doing the same keeps
// its exact behaviour (for instance, ASCII '~' is no \p{S} there).
constexpr char kCollapsedNumber = char(0xD1), kCollapsedLetter = char(0xD2), kCollapsedPunct = char(0xD3),
               kCollapsedMark = char(0xD4), kCollapsedSymbol = char(0xD5), kCollapsedOther = char(0xD0);

bool uses_categories(std::string_view regex) {
  for (const char* cat : {"\\p{N}", "\\p{L}", "\\p{P}", "\\p{M}", "\\p{S}"})
    if (regex.find(cat) != std::string_view::npos) return true;
  return false;
}

std::string collapse_regex(std::string_view regex) {
  const auto category = [](char c) -> std::pair<char, const char*> {
    switch (c) {
      case 'N': return {kCollapsedNumber, "0-9"};
      case 'L': return {kCollapsedLetter, "A-Za-z"};
      case 'P': return {kCollapsedPunct, "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"};
      case 'M': return {kCollapsedMark, ""};
      case 'S': return {kCollapsedSymbol, "\\$\\+<->^`\\|"};
      default: return {0, nullptr};
    }
  };
  std::string out;
  bool inside = false;  // within [...]; llama.cpp's regexes never nest classes
  for (size_t i = 0; i < regex.size(); ++i) {
    if (regex[i] == '[' && (i == 0 || regex[i - 1] != '\\')) {
      out += '[';
      inside = true;
      continue;
    }
    if (inside && regex[i] == ']' && regex[i - 1] != '\\') {
      out += ']';
      inside = false;
      continue;
    }
    if (regex[i] == '\\' && i + 4 < regex.size() && regex[i + 1] == 'p' && regex[i + 2] == '{' && regex[i + 4] == '}') {
      const auto [byte, ascii] = category(regex[i + 3]);
      if (ascii != nullptr) {
        if (!inside) out += '[';
        out += byte;
        out += ascii;
        if (!inside) out += ']';
        i += 4;
        continue;
      }
    }
    out += regex[i];
  }
  return out;
}

char collapsed_byte(uint32_t cpt) {
  if (cpt < 128) return char(cpt);
  const unicode::CodepointInfo info = unicode::info(cpt);
  if (info.whitespace) return '\v';
  switch (info.category) {
    case unicode::Category::Number: return kCollapsedNumber;
    case unicode::Category::Letter: return kCollapsedLetter;
    case unicode::Category::Punctuation: return kCollapsedPunct;
    case unicode::Category::Mark: return kCollapsedMark;
    case unicode::Category::Symbol: return kCollapsedSymbol;
    default: return kCollapsedOther;
  }
}

struct CodeDeleter {
  void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};
struct MatchContextDeleter {
  void operator()(pcre2_match_context* context) const { pcre2_match_context_free(context); }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

struct PreTokenizer::Pattern {
  std::string source;
  bool collapsed = false;  // runs on the collapsed text (else on UTF-8)
  std::unique_ptr<pcre2_code, CodeDeleter> code;
  std::unique_ptr<pcre2_match_context, MatchContextDeleter> context;

  Pattern(const std::string& regex) : source(regex) {
    collapsed = uses_categories(regex);
    const std::string compiled = collapsed ? collapse_regex(regex) : regex;
    // ECMAScript's '$' (std::regex) matches only at the very end.
    const uint32_t options = PCRE2_DOLLAR_ENDONLY | (collapsed ? 0 : PCRE2_UTF);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &error,
                             &error_offset, nullptr));
    if (!code)
      fail("internal error: pre-tokenizer regex '{}' does not compile: {} at offset {}", regex, pcre2_message(error),
           error_offset);
    pcre2_jit_compile(code.get(), PCRE2_JIT_COMPLETE);
    context.reset(pcre2_match_context_create(nullptr));
    pcre2_set_heap_limit(context.get(), 4u << 20);  // KiB: long words backtrack a lot in some regexes
  }

  // One match at or after `start`; false when none.
  bool match(const char* subject, size_t length, size_t start, pcre2_match_data* data, size_t* begin,
             size_t* end) const {
    const auto* s = reinterpret_cast<PCRE2_SPTR>(subject);
    int rc = pcre2_match(code.get(), s, length, start, PCRE2_NO_UTF_CHECK, data, context.get());
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // the interpreter keeps its backtracking on the heap
      rc = pcre2_match(code.get(), s, length, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, data, context.get());
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) fail("pre-tokenizer regex failed on a {}-byte piece of text: {}", length, pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    *begin = ovector[0];
    *end = ovector[1];
    return true;
  }
};

PreTokenizer::~PreTokenizer() = default;

std::shared_ptr<const PreTokenizer> PreTokenizer::create(std::string_view pre, PreTokenizerFlags* flags) {
  const std::string_view name = pre.empty() ? std::string_view("default") : pre;
  const auto& types = pre_types();
  const auto it = types.find(name);
  if (it == types.end())
    fail("unknown pre-tokenizer type '{}' (tokenizer.ggml.pre); known: {}", name, fmt::join(known_pre_tokenizers(), ", "));
  std::shared_ptr<PreTokenizer> result(new PreTokenizer());
  for (const std::string& regex : family_regexes(it->second.family)) {
    result->patterns_.push_back(std::make_unique<Pattern>(regex));
    (result->patterns_.back()->collapsed ? result->need_collapsed_ : result->need_wide_) = true;
  }
  if (flags) *flags = it->second.flags;
  return result;
}

std::vector<std::string> known_pre_tokenizers() {
  std::vector<std::string> names;
  for (const auto& [name, type] : pre_types()) names.push_back(name);
  return names;
}

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  const std::vector<uint32_t> cpts = unicode::decode_utf8_lossy(text);
  const size_t n = cpts.size();

  std::string collapsed;
  if (need_collapsed_) {
    collapsed.resize(n);
    for (size_t i = 0; i < n; ++i) collapsed[i] = collapsed_byte(cpts[i]);
  }
  // For regexes without categories llama.cpp uses std::wregex, whose \s knows
  // only ASCII; it maps other whitespace to \v first. We do the same in UTF-8.
  std::string wide;
  std::vector<size_t> wide_start;  // byte offset of each code point in `wide`, plus the end
  if (need_wide_) {
    wide.reserve(text.size());
    wide_start.reserve(n + 1);
    for (uint32_t cpt : cpts) {
      wide_start.push_back(wide.size());
      if (cpt > 0x7F && unicode::is_whitespace(cpt))
        cpt = '\v';
      else if ((cpt >= 0xD800 && cpt <= 0xDFFF) || cpt > 0x10FFFF)
        cpt = unicode::kReplacement;  // PCRE2 wants valid UTF-8
      unicode::append_utf8(wide, cpt);
    }
    wide_start.push_back(wide.size());
  }

  // Word lengths in code points; each regex splits every current word further.
  std::vector<size_t> lengths = {n};
  for (const auto& pattern : patterns_) {
    std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(
        pcre2_match_data_create_from_pattern(pattern->code.get(), nullptr));
    std::vector<size_t> next;
    next.reserve(lengths.size() * 2);
    size_t start_cp = 0;
    for (const size_t length_cp : lengths) {
      // Each word is matched on its own, as std::regex_iterator over [start, end)
      // does: lookarounds and '$' see the word's ends as the text's ends.
      const char* subject;
      size_t subject_length;
      if (pattern->collapsed) {
        subject = collapsed.data() + start_cp;
        subject_length = length_cp;
      } else {
        subject = wide.data() + wide_start[start_cp];
        subject_length = wide_start[start_cp + length_cp] - wide_start[start_cp];
      }
      const auto to_cp = [&](size_t byte) -> size_t {
        if (pattern->collapsed) return byte;
        const size_t absolute = wide_start[start_cp] + byte;
        return size_t(std::lower_bound(wide_start.begin() + start_cp, wide_start.begin() + start_cp + length_cp + 1,
                                       absolute) -
                      (wide_start.begin() + start_cp));
      };
      size_t last_end = 0;  // bytes, within the subject
      size_t search = 0;
      size_t begin = 0, end = 0;
      while (search <= subject_length && pattern->match(subject, subject_length, search, data.get(), &begin, &end)) {
        if (begin > last_end) next.push_back(to_cp(begin) - to_cp(last_end));
        if (end > begin) next.push_back(to_cp(end) - to_cp(begin));
        last_end = end;
        if (end > begin) {
          search = end;
        } else {  // an empty match: step over one character
          search = end + (pattern->collapsed ? 1 : unicode::utf8_sequence_length(subject[end]));
        }
      }
      if (last_end < subject_length) next.push_back(length_cp - to_cp(last_end));
      start_cp += length_cp;
    }
    lengths = std::move(next);
  }

  std::vector<std::string> words;
  words.reserve(lengths.size());
  size_t start = 0;
  std::string utf8;
  for (const size_t length : lengths) {
    utf8.clear();
    for (size_t i = start; i < start + length; ++i) unicode::append_utf8(utf8, cpts[i]);
    start += length;
    std::string word;
    word.reserve(utf8.size() * 2);
    for (const char c : utf8) word += unicode::byte_to_unicode(static_cast<uint8_t>(c));
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace hearth::tokenizer
