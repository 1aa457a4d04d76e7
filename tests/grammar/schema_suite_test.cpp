// The official JSON Schema Test Suite (Debian package json-schema-test-suite).
// For every test group whose schema hearth compiles (all its keywords
// supported), the grammar must accept each valid instance, written in
// hearth's output form, and reject each invalid one. Coverage is printed.
//
// The Debian package (2.0.0) ships drafts 3 to 7; the newest draft present is
// used (2020-12 when a newer package provides it, else draft 7). Schemas are
// compiled non-strict, so they mean what the suite says (additionalProperties
// allowed unless stated).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar_test_util.h"

namespace hearth::grammar {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSuiteRoot = "/usr/share/json-schema-test-suite/tests";

fs::path suite_dir() {
  for (const char* draft : {"draft2020-12", "draft2019-09", "draft7"})
    if (fs::is_directory(kSuiteRoot / draft)) return kSuiteRoot / draft;
  return {};
}

// hearth's output form, written here without the grammar code: compact,
// object keys in sorted order, integral numbers up to 2^53 without a
// fraction, strings
// escaped as nlohmann writes them (short escapes, \u00XX for other controls,
// everything else raw UTF-8).
std::string serialize(const json& value) {
  switch (value.type()) {
    case json::value_t::object: {
      std::string out = "{";
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (it != value.begin()) out += ',';
        out += json(it.key()).dump();
        out += ':';
        out += serialize(it.value());
      }
      out += '}';
      return out;
    }
    case json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) {
        if (i) out += ',';
        out += serialize(value[i]);
      }
      out += ']';
      return out;
    }
    case json::value_t::number_float: {
      const double d = value.get<double>();
      if (std::floor(d) == d && std::fabs(d) <= 9007199254740992.0) return std::to_string(int64_t(d));
      return value.dump();
    }
    default:
      return value.dump();
  }
}

bool mentions_key(const json& schema, const std::string& key) {
  if (schema.is_object()) {
    for (auto it = schema.begin(); it != schema.end(); ++it)
      if (it.key() == key || mentions_key(it.value(), key)) return true;
  } else if (schema.is_array()) {
    for (const json& item : schema)
      if (mentions_key(item, key)) return true;
  }
  return false;
}

struct Tally {
  size_t groups = 0, supported = 0, approximate = 0, accepted = 0, rejected = 0, failures = 0;
};

void run_file(const fs::path& file, const std::shared_ptr<const Vocabulary>& vocab, bool format_annotates,
              Tally& tally, std::map<std::string, size_t>& unsupported_reasons) {
  const json groups = json::parse(test::read_text(file));
  for (const json& group : groups) {
    ++tally.groups;
    const std::string where = file.filename().string() + ": " + group["description"].get<std::string>();
    std::shared_ptr<const Grammar> grammar;
    try {
      grammar = std::make_shared<const Grammar>(grammar_from_json_schema(group["schema"], /*strict=*/false));
    } catch (const Error& e) {
      std::string reason = e.what();
      reason = reason.substr(reason.find("': ") + 3);
      ++unsupported_reasons[reason];
      continue;
    }
    // oneOf compiles as anyOf (a grammar can not require "exactly one"), so
    // those groups are reported but not counted as supported. From 2019-09
    // on, "format" only annotates unless the format-assertion vocabulary is
    // on; hearth always asserts it, so those groups are reported alike
    // (optional/format/ tests assertion, which hearth does).
    const bool approximate = mentions_key(group["schema"], "oneOf") || (format_annotates && mentions_key(group["schema"], "format"));
    (approximate ? tally.approximate : tally.supported)++;
    for (const json& test : group["tests"]) {
      const std::string text = serialize(test["data"]);
      Matcher matcher(grammar, vocab);
      const bool matched = matcher.accept_bytes(text) && matcher.is_accepting();
      const bool valid = test["valid"].get<bool>();
      if (matched == valid) {
        (valid ? tally.accepted : tally.rejected)++;
        continue;
      }
      if (approximate) {
        std::printf("  (approximate) %s / %s: %s\n", where.c_str(), test["description"].get<std::string>().c_str(),
                    valid ? "valid instance rejected" : "invalid instance accepted");
        continue;
      }
      ++tally.failures;
      ADD_FAILURE() << where << " / " << test["description"].get<std::string>() << ": " << text << " is "
                    << (valid ? "valid but the grammar rejects it" : "invalid but the grammar accepts it");
    }
  }
}

TEST(JsonSchemaSuite, SupportedGroupsAcceptValidAndRejectInvalid) {
  const fs::path dir = suite_dir();
  if (dir.empty())
    GTEST_SKIP() << "JSON Schema Test Suite not installed (apt-get install json-schema-test-suite); "
                    "the schema-walk and converter tests still run";
  const auto vocab = std::make_shared<const Vocabulary>(test::synthetic_vocabulary(0, 1), std::vector<int32_t>{});
  for (const fs::path& sub : {dir, dir / "optional" / "format"}) {
    Tally tally;
    std::map<std::string, size_t> reasons;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(sub))
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    ASSERT_FALSE(files.empty()) << sub;
    const std::string draft = dir.filename().string();
    const bool format_annotates = sub == dir && (draft == "draft2019-09" || draft == "draft2020-12");
    for (const fs::path& file : files) run_file(file, vocab, format_annotates, tally, reasons);
    std::printf("[ suite ] %s: %zu of %zu groups supported (+%zu approximate: oneOf run as anyOf, asserted format); "
                "%zu valid instances accepted, %zu invalid rejected, %zu wrong\n",
                fs::relative(sub, kSuiteRoot).c_str(), tally.supported, tally.groups, tally.approximate,
                tally.accepted, tally.rejected, tally.failures);
    for (const auto& [reason, count] : reasons) std::printf("    unsupported x%zu: %s\n", count, reason.c_str());
    EXPECT_EQ(tally.failures, 0u);
    if (sub == dir) {
      EXPECT_GE(tally.supported, 55u) << "coverage regressed";
      EXPECT_GT(tally.accepted, 100u);
      EXPECT_GT(tally.rejected, 100u);
    }
  }
}

}  // namespace
}  // namespace hearth::grammar
