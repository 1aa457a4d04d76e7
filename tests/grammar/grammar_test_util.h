// Helpers for the grammar tests: vocabularies (a byte-level synthetic one and
// the stories260K SPM vocabulary decoded to bytes here, independently of the
// tokenizer module), a random walk over masks, and schema validation through
// node + ajv (independent of the grammar code under test).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fixtures.h"
#include "grammar/grammar.h"
#include "gguf/gguf.h"

namespace hearth::test {

// Every single byte, then common multi-byte pieces (words, JSON punctuation,
// digits, non-ASCII characters whole and split mid-sequence), then `extra`
// random ASCII words.
inline std::vector<std::string> synthetic_vocabulary(size_t extra, uint32_t seed) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, char(b)));
  for (const char* piece : {"{\"", "\":", "\": ", "\",", "\", \"", "\"}", "}}", "]}", "[{", "\"]", ", ", ",\"",
                            "true", "false", "null", "12", "345", "0.", ".5", "e+", "-1", "é", "\xC3", "\xA9x",
                            "日本", "\xE6\x97", "\xA5\xE6\x9C\xAC", "😀", "\xF0\x9F", "\x98\x80\"", "\\n", "\\\"",
                            "\\u00", "2024-", "01-", "T12:", "00Z", "title", "emoji", " the", "name", "\n", "  ",
                            "\xE2\x80\xA8", "\xE2\x80", "a\xE2\x80\xA9" "b", "\xE2\x80\xA6", "x\xE2"})
    tokens.push_back(piece);
  std::mt19937 rng(seed);
  const std::string letters = "abcdefghijklmnopqrstuvwxyz_ ";
  for (size_t i = 0; i < extra; ++i) {
    std::string word;
    const size_t length = 2 + rng() % 8;
    for (size_t j = 0; j < length; ++j) word += letters[rng() % letters.size()];
    tokens.push_back(word);
  }
  tokens.push_back("");  // a control token: never allowed
  return tokens;
}

// stories260K's SPM pieces as bytes: "▁" is a space, "<0xNN>" is one byte,
// control tokens (type 3) are empty. Returns eog ids through `eog`.
inline std::vector<std::string> stories_vocabulary(std::vector<int32_t>& eog) {
  const std::filesystem::path path = fixture("models/stories260K.gguf");
  if (path.empty()) return {};
  const gguf::File file = gguf::File::open(path.string());
  const auto& pieces = file.metadata().at("tokenizer.ggml.tokens").strings("tokenizer.ggml.tokens");
  std::vector<int32_t> types;
  if (file.metadata().contains("tokenizer.ggml.token_type"))
    types = file.metadata().at("tokenizer.ggml.token_type").to_ints("tokenizer.ggml.token_type");
  const int64_t eos = file.metadata().get_int_or("tokenizer.ggml.eos_token_id", 2);
  eog = {int32_t(eos)};
  std::vector<std::string> tokens;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string& piece = pieces[i];
    if (!types.empty() && types[i] == 3) {
      tokens.emplace_back();
      continue;
    }
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece[5] == '>') {
      tokens.push_back(std::string(1, char(std::stoi(piece.substr(3, 2), nullptr, 16))));
      continue;
    }
    std::string bytes;
    for (size_t j = 0; j < piece.size();) {
      if (piece.compare(j, 3, "\xE2\x96\x81") == 0) {
        bytes += ' ';
        j += 3;
      } else {
        bytes += piece[j++];
      }
    }
    tokens.push_back(bytes);
  }
  return tokens;
}

// Generates one sentence of the grammar by picking random allowed tokens from
// the mask until it may end. After `wander` steps it steers home: it takes the
// single-byte token for the next byte of a shortest completion, so every walk
// ends. The steering only chooses among allowed tokens; whether the result is
// valid is judged elsewhere.
struct WalkResult {
  std::string text;
  bool finished = false;
  size_t steps = 0;
};

inline WalkResult random_walk(grammar::Matcher& matcher, uint32_t seed, size_t wander, size_t max_steps = 4000) {
  std::mt19937 rng(seed);
  const grammar::Vocabulary& vocab = matcher.vocabulary();
  std::vector<uint8_t> allowed;
  std::vector<int32_t> candidates;
  WalkResult result;
  for (; result.steps < max_steps; ++result.steps) {
    matcher.fill_mask(allowed);
    // Allowed EOG is "stop now"; take it with some chance so the walk also
    // explores sentences that continue past an accepting point.
    bool eog_allowed = false;
    for (int32_t id : vocab.eog_ids()) eog_allowed |= allowed[size_t(id)] != 0;
    if (eog_allowed != matcher.is_accepting()) {
      ADD_FAILURE() << "EOG allowed=" << eog_allowed << " but is_accepting=" << matcher.is_accepting();
      return result;
    }
    if (eog_allowed && (matcher.is_finished() || result.steps >= wander || rng() % 4 == 0)) {
      result.finished = true;
      return result;
    }
    candidates.clear();
    if (result.steps >= wander) {
      const std::optional<std::string> completion = matcher.shortest_completion();
      if (completion && !completion->empty())
        for (size_t id = 0; id < vocab.size(); ++id)
          if (allowed[id] && vocab.token_bytes(int32_t(id)) == completion->substr(0, 1)) candidates.push_back(int32_t(id));
    }
    if (candidates.empty())
      for (size_t id = 0; id < vocab.size(); ++id)
        if (allowed[id] && !vocab.is_eog(int32_t(id))) candidates.push_back(int32_t(id));
    if (candidates.empty()) {
      ADD_FAILURE() << "no token allowed and the grammar does not accept; text so far: " << result.text;
      return result;
    }
    const int32_t pick = candidates[rng() % candidates.size()];
    if (!matcher.accept_token(pick)) {
      ADD_FAILURE() << "a token from the mask was refused: " << pick;
      return result;
    }
    result.text += vocab.token_bytes(pick);
  }
  return result;
}

// Validates instances against schemas with ajv (draft 2020-12, ajv-formats).
// Input: a list of {schema, instances}; returns per case a list of error
// strings (empty = valid). Installs ajv into tests/node_modules on first use.
inline nlohmann::json ajv_validate(const nlohmann::json& cases, std::string& failure) {
  const std::filesystem::path tests_dir = source_dir() / "tests";
  const std::filesystem::path modules = tests_dir / "node_modules";
  if (!std::filesystem::exists(modules / "ajv") || !std::filesystem::exists(modules / "ajv-formats")) {
    const CommandResult install = run_command("npm install --no-save --prefix '" + tests_dir.string() +
                                              "' ajv@8 ajv-formats@3 2>&1");
    if (install.status != 0) {
      failure = "npm install ajv failed: " + install.out;
      return {};
    }
  }
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("hearth-ajv-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "cases.json") << cases.dump();
  }
  const std::string script = R"JS(
const path = process.argv[2], modules = process.argv[3];
const Ajv2020 = require(modules + '/ajv/dist/2020').default;
const addFormats = require(modules + '/ajv-formats');
const cases = JSON.parse(require('fs').readFileSync(path + '/cases.json', 'utf8'));
const out = cases.map(c => {
  const ajv = new Ajv2020({strict: false, allErrors: false});
  addFormats(ajv);
  const validate = ajv.compile(c.schema);
  return c.instances.map(text => {
    let value;
    try { value = JSON.parse(text); } catch (e) { return ['not JSON: ' + e.message]; }
    return validate(value) ? [] : validate.errors.map(e => e.instancePath + ' ' + e.message);
  });
});
require('fs').writeFileSync(path + '/out.json', JSON.stringify(out));
)JS";
  {
    std::ofstream(dir / "validate.js") << script;
  }
  const CommandResult run = run_command("node '" + (dir / "validate.js").string() + "' '" + dir.string() + "' '" +
                                        modules.string() + "' 2>&1");
  nlohmann::json out;
  if (run.status != 0) {
    failure = "node validation failed: " + run.out;
  } else {
    out = nlohmann::json::parse(read_text(dir / "out.json"));
  }
  std::filesystem::remove_all(dir);
  return out;
}

}  // namespace hearth::test
