// WordPiece (tokenizer.ggml.model = "bert"): BERT normalization (lowercase,
// accents stripped, punctuation and CJK split off), then greedy longest-match
// of each word, with llama.cpp's "\u2581" prefix marking the start of a word.
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {
namespace {

bool is_chinese_char(uint32_t cpt) {
  return (cpt >= 0x04E00 && cpt <= 0x09FFF) || (cpt >= 0x03400 && cpt <= 0x04DBF) ||
         (cpt >= 0x20000 && cpt <= 0x2A6DF) || (cpt >= 0x2A700 && cpt <= 0x2B73F) ||
         (cpt >= 0x2B740 && cpt <= 0x2B81F) ||
         (cpt >= 0x2B920 && cpt <= 0x2CEAF) ||  // 0x2B820 in Unicode; HF's Rust code (and llama.cpp) say 0x2B920
         (cpt >= 0x0F900 && cpt <= 0x0FAFF) || (cpt >= 0x2F800 && cpt <= 0x2FA1F);
}

std::vector<std::string> bert_words(const Vocab& vocab, std::string_view text) {
  std::vector<uint32_t> cpts = unicode::decode_utf8_lossy(text);
  if (vocab.strip_accents)
    for (uint32_t& cpt : cpts) cpt = unicode::nfd_first(cpt);
  std::vector<std::string> words(1);
  for (const uint32_t cpt : cpts) {
    const unicode::CodepointInfo info = unicode::info(cpt);
    if (info.whitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cpt == 0 || cpt == unicode::kReplacement || info.category == unicode::Category::Control) continue;
    if (vocab.strip_accents && info.category == unicode::Category::Mark) continue;
    const std::string s = unicode::to_utf8(vocab.lowercase ? unicode::to_lower(cpt) : cpt);
    if (info.category == unicode::Category::Punctuation || (cpt < 0x7F && info.category == unicode::Category::Symbol) ||
        is_chinese_char(cpt)) {
      if (!words.back().empty()) words.emplace_back();
      words.back() = s;  // a word of its own
      words.emplace_back();
    } else {
      words.back() += s;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

}  // namespace

void encode_wpm(const Vocab& vocab, std::string_view text, std::vector<int32_t>& out) {
  for (const std::string& word : bert_words(vocab, text)) {
    if (word.empty()) continue;
    const std::string marked = "\xe2\x96\x81" + word;
    const int n = int(marked.size());
    const size_t start = out.size();
    for (int i = 0; i < n; ++i) {
      bool matched = false;
      for (int j = std::min(n, i + int(vocab.max_token_len) + 1); j > i; --j) {
        const int32_t id = vocab.find(std::string_view(marked).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          matched = true;
          i = j - 1;
          break;
        }
      }
      if (!matched) {  // the word cannot be spelled: it becomes one unknown token
        out.resize(start);
        break;
      }
    }
    if (out.size() == start) out.push_back(vocab.unk);
  }
}

}  // namespace hearth::tokenizer
