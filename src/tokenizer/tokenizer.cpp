#include "tokenizer/tokenizer.h"

#include "core/error.h"
#include "gguf/gguf.h"
#include "tokenizer/vocab.h"

namespace hearth::tokenizer {
namespace {

void escape_spaces(std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (const char c : text) {
    if (c == ' ')
      out += "\xe2\x96\x81";
    else
      out += c;
  }
  text = std::move(out);
}

}  // namespace

// llama.cpp's clean_up_tokenization_spaces, three passes in place.
void Tokenizer::clean_up_spaces(std::string& text) {
  size_t total = text.size();
  {  // " ?", " !", " .", " ,": drop the space
    const size_t n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; ++i) {
      const char x = text[i];
      if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
      text[total++] = x;
    }
  }
  {  // " ' ": drop both spaces
    const size_t n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; ++i) {
      const char x = text[i];
      if (x == '\'' && i + 1 < n && text[i - 1] == ' ' && text[i + 1] == ' ') {
        --total;
        text[++i] = '\0';
      }
      text[total++] = x;
    }
  }
  {  // " 's", " 'm", " 're", " 've": drop the space
    const size_t n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; ++i) {
      const char x = text[i];
      if (text[i - 1] == ' ' && x == '\'' && i + 1 < n) {
        const char x1 = text[i + 1];
        if (x1 == 's' || x1 == 'm') {
          --total;
        } else if (i + 2 < n) {
          const char x2 = text[i + 2];
          if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
        }
      }
      text[total++] = x;
    }
  }
  text.resize(total);
}

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab) : vocab_(std::move(vocab)) {}

Tokenizer Tokenizer::from_gguf(const gguf::File& file) {
  try {
    return from_metadata(file.metadata());
  } catch (const Error& e) {
    fail("{}: {}", file.path(), e.what());
  }
}

Tokenizer Tokenizer::from_metadata(const gguf::Metadata& metadata) { return Tokenizer(Vocab::load(metadata)); }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Vocab& v = *vocab_;
  std::vector<int32_t> out;
  const std::vector<Fragment> fragments = v.partition(text, parse_special);
  switch (v.kind) {
    case ModelKind::Spm: {
      if (add_special && v.add_bos) {
        if (v.bos < 0) fail("the model asks for a BOS token but has none");
        out.push_back(v.bos);
      }
      bool prev_special = true;  // the first text gets the space prefix too
      for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
          out.push_back(fragment.token);
          prev_special = true;
          continue;
        }
        std::string piece;
        if (v.add_space_prefix && prev_special) piece = " ";
        piece.append(text.substr(fragment.offset, fragment.length));
        escape_spaces(piece);
        encode_spm(v, piece, out);
        prev_special = false;
      }
      if (add_special && v.add_eos) {
        if (v.eos < 0) fail("the model asks for an EOS token but has none");
        out.push_back(v.eos);
      }
      break;
    }
    case ModelKind::Bpe: {
      if (add_special && v.add_bos) {
        if (v.bos < 0) fail("the model asks for a BOS token but has none");
        out.push_back(v.bos);
      }
      for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
          out.push_back(fragment.token);
          continue;
        }
        encode_bpe(v, text.substr(fragment.offset, fragment.length), out);
      }
      if (add_special && v.add_eos) {
        if (v.eos < 0) fail("the model asks for an EOS token but has none");
        out.push_back(v.eos);
      }
      break;
    }
    case ModelKind::Wpm: {
      if (add_special) {
        if (v.bos < 0) fail("the model has no CLS (BOS) token");
        out.push_back(v.bos);
      }
      for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0)
          out.push_back(fragment.token);
        else
          encode_wpm(v, text.substr(fragment.offset, fragment.length), out);
      }
      if (add_special) {
        if (v.sep < 0) fail("the model has no SEP token");
        out.push_back(v.sep);
      }
      break;
    }
  }
  return out;
}

std::string Tokenizer::decode_segment(std::span<const int32_t> ids, bool remove_special, bool first,
                                      bool clean) const {
  const Vocab& v = *vocab_;
  bool remove_space = first && v.add_space_prefix;
  if (first && remove_special && v.add_bos && !ids.empty() && ids.front() == v.bos) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (remove_special && v.add_eos && !ids.empty() && ids.back() == v.eos) ids = ids.first(ids.size() - 1);
  std::string text;
  for (const int32_t id : ids) {
    if (id < 0 || id >= v.n_tokens()) fail("token id {} is out of range (vocabulary of {})", id, v.n_tokens());
    const bool hidden = remove_special && (v.tokens[id].attr & (kAttrUnknown | kAttrControl));
    if (!hidden) {
      std::string_view piece = v.pieces[id];
      if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
      text.append(piece);
    }
    remove_space = false;
  }
  if (clean && v.clean_spaces) clean_up_spaces(text);
  return text;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool remove_special) const {
  return decode_segment(ids, remove_special, true);
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= n_vocab()) fail("token id {} is out of range (vocabulary of {})", id, n_vocab());
  return vocab_->pieces[id];
}

std::string_view Tokenizer::piece(int32_t id, bool remove_special) const {
  if (id < 0 || id >= n_vocab()) fail("token id {} is out of range (vocabulary of {})", id, n_vocab());
  if (remove_special && (vocab_->tokens[id].attr & (kAttrUnknown | kAttrControl))) return {};
  return vocab_->pieces[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (id < 0 || id >= n_vocab()) fail("token id {} is out of range (vocabulary of {})", id, n_vocab());
  return vocab_->tokens[id].text;
}

int32_t Tokenizer::n_vocab() const { return vocab_->n_tokens(); }
int32_t Tokenizer::bos() const { return vocab_->bos; }
int32_t Tokenizer::eos() const { return vocab_->eos; }
int32_t Tokenizer::eot() const { return vocab_->eot; }
bool Tokenizer::add_bos() const { return vocab_->add_bos; }
bool Tokenizer::add_eos() const { return vocab_->add_eos; }
bool Tokenizer::cleans_spaces() const { return vocab_->clean_spaces; }
std::string Tokenizer::model_name() const { return vocab_->model; }
std::string Tokenizer::pre_name() const { return vocab_->pre; }

bool Tokenizer::is_eog(int32_t id) const { return id >= 0 && id < n_vocab() && vocab_->eog[id]; }

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < n_vocab() && (vocab_->tokens[id].attr & kAttrControl) != 0;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  const int32_t id = vocab_->find(text);
  if (id < 0) return std::nullopt;
  return id;
}

}  // namespace hearth::tokenizer
