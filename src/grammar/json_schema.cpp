// JSON Schema -> GBNF. Each schema becomes a rule: the union, over the types
// it allows, of that type's grammar under the keywords that apply to it.
// Anything the grammar could only approximate is refused with an error that
// names the keyword, so a compiled grammar never lets through an instance the
// schema rejects (oneOf, documented as anyOf, is the one exception).
#include "grammar/json_schema.h"

#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/error.h"
#include "grammar/integer_range.h"
#include "grammar/regex.h"

namespace hearth::grammar {

namespace {

using nlohmann::json;

// Shared building blocks. Whitespace: at most one space, only after ',' and
// ':'. Numbers are bounded (16 integer digits, 20 fraction digits, a 2-digit
// exponent) so every one fits a double: parsers such as nlohmann reject
// overflow, and a runaway digit string is not useful output. Strings are written with the short escapes and \u00XX for other
// control characters, never \/ or \u for printable characters, so each string
// has one spelling and property names can be excluded by spelling.
constexpr std::string_view kBaseRules = R"(ws ::= " "?
json-char ::= [^"\\\x00-\x1F] | "\\" ["\\bfnrt] | "\\u00" [01] [0-9a-fA-F]
json-string ::= "\"" json-char* "\""
json-number ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,20})? ([eE] [-+]? [0-9]{1,2})?
json-integer ::= "0" | "-"? [1-9] [0-9]{0,15}
json-boolean ::= "true" | "false"
json-null ::= "null"
json-value ::= json-object | json-array | json-string | json-number | json-boolean | json-null
json-object ::= "{" (json-string ":" ws json-value ("," ws json-string ":" ws json-value)*)? "}"
json-array ::= "[" (json-value ("," ws json-value)*)? "]"
)";

constexpr std::string_view kFormatRules = R"(digit2 ::= [0-9] [0-9]
day31 ::= "0" [1-9] | [12] [0-9] | "3" [01]
day30 ::= "0" [1-9] | [12] [0-9] | "30"
day28 ::= "0" [1-9] | "1" [0-9] | "2" [0-8]
year4-div4 ::= "0" [48] | [2468] [048] | [13579] [26]
leap-year ::= digit2 year4-div4 | (year4-div4 | "00") "00"
full-date ::= digit2 digit2 "-" (("01" | "03" | "05" | "07" | "08" | "10" | "12") "-" day31 | ("04" | "06" | "09" | "11") "-" day30 | "02" "-" day28) | leap-year "-02-29"
hour ::= [01] [0-9] | "2" [0-3]
minute ::= [0-5] [0-9]
full-time ::= hour ":" minute ":" [0-5] [0-9] ("." [0-9]+)? ([Zz] | [-+] hour ":" minute) | leap-second
hex ::= [0-9a-fA-F]
uuid ::= hex{8} "-" hex{4} "-" hex{4} "-" hex{4} "-" hex{12}
)";

// A leap second (:60) is valid only at 23:59:60 UTC, so the local hour and
// minute fix the offset: for each local time, the one "+" and one "-"
// offset that make it 23:59 UTC (and Z at 23:59 itself). Rules leap-HH keep
// each alternative list short.
std::string leap_second_rules() {
  std::string out = "leap-second ::= ";
  for (int hour = 0; hour < 24; ++hour) out += fmt::format("{}\"{:02}:\" leap-{:02}", hour ? " | " : "", hour, hour);
  out += "\n";
  for (int hour = 0; hour < 24; ++hour) {
    out += fmt::format("leap-{:02} ::= ", hour);
    for (int minute = 0; minute < 60; ++minute) {
      const int local = hour * 60 + minute, utc = 23 * 60 + 59;
      const int plus = ((local - utc) % 1440 + 1440) % 1440, minus = (1440 - plus) % 1440;
      std::string offsets = fmt::format("\"+{:02}:{:02}\" | \"-{:02}:{:02}\"", plus / 60, plus % 60, minus / 60, minus % 60);
      if (local == utc) offsets += " | [Zz]";
      out += fmt::format("{}\"{:02}:60\" (\".\" [0-9]+)? ({})", minute ? " | " : "", minute, offsets);
    }
    out += "\n";
  }
  return out;
}

// Keywords that only annotate: they never change which instances are valid.
const std::set<std::string, std::less<>> kAnnotations = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment",
    "readOnly", "writeOnly", "deprecated", "$defs", "definitions"};

const std::set<std::string, std::less<>> kSupported = {
    "type", "properties", "required", "additionalProperties", "enum", "const", "items", "prefixItems", "additionalItems",
    "minItems", "maxItems", "anyOf", "oneOf", "allOf", "$ref", "format", "maxLength", "minLength",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "nullable", "pattern", "contains"};

const std::array<std::string_view, 7> kTypes = {"null", "boolean", "object", "array", "number", "string", "integer"};

// Bounds on what one schema may cost: the converter recurses once per
// nested schema, and a rule's name grows with its path, so depth and the
// number of subschemas bound both the stack and the grammar's size.
constexpr int kMaxSchemaDepth = 64;
constexpr size_t kMaxSubschemas = 20000;
constexpr size_t kMaxGrammarBytes = size_t(4) << 20;
constexpr size_t kMaxHintLength = 48;

// Integral floats up to 2^53 are written as integers (exact in a double).
constexpr double kMaxExactInteger = 9007199254740992.0;

// Draft identifiers in "$schema" whose meaning hearth implements; any other
// (a custom metaschema may switch vocabularies off) is refused.
const std::set<std::string, std::less<>> kKnownDrafts = {
    "https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2019-09/schema",
    "http://json-schema.org/draft-07/schema#", "http://json-schema.org/draft-07/schema",
    "http://json-schema.org/draft-06/schema#", "http://json-schema.org/draft-06/schema",
    "http://json-schema.org/draft-04/schema#", "http://json-schema.org/draft-04/schema"};

// A GBNF string literal for raw bytes.
std::string literal(std::string_view bytes) {
  std::string out = "\"";
  for (char c : bytes) {
    const auto u = uint8_t(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      out += fmt::format("\\x{:02X}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// One code point inside a GBNF character class.
std::string class_char(uint32_t cp) { return cp <= 0xFFFF ? fmt::format("\\u{:04X}", cp) : fmt::format("\\U{:08X}", cp); }

// Canonical JSON text: compact, keys sorted, integral numbers as integers,
// strings as nlohmann writes them (the same escapes as json-char allows).
std::string canonical(const json& value) {
  switch (value.type()) {
    case json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out += ',';
        first = false;
        out += json(it.key()).dump() + ":" + canonical(it.value());
      }
      return out + "}";
    }
    case json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) out += (i ? "," : "") + canonical(value[i]);
      return out + "]";
    }
    case json::value_t::number_float: {
      const double d = value.get<double>();
      if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= kMaxExactInteger) return fmt::format("{}", int64_t(d));
      return value.dump();
    }
    default:
      return value.dump();
  }
}

std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::number_float: {
      const double d = value.get<double>();
      return std::isfinite(d) && std::floor(d) == d ? "integer" : "number";
    }
    default: return "integer";
  }
}

// The characters of a name as written in JSON: one entry per code point or
// escape sequence, so names can be matched unit by unit.
std::vector<std::string> json_units(const std::string& name) {
  const std::string quoted = json(name).dump();
  std::vector<std::string> units;
  for (size_t i = 1; i + 1 < quoted.size();) {
    size_t length = 1;
    const auto u = uint8_t(quoted[i]);
    if (u == '\\') length = quoted[i + 1] == 'u' ? 6 : 2;
    else if (u >= 0xF0) length = 4;
    else if (u >= 0xE0) length = 3;
    else if (u >= 0xC0) length = 2;
    units.push_back(quoted.substr(i, length));
    i += length;
  }
  return units;
}

class SchemaConverter {
 public:
  SchemaConverter(const json& root, bool strict) : root_(root), strict_(strict) {
    // The fixed rules' names are taken.
    reserved_.insert("root");
    for (std::string_view rules : {kBaseRules, kFormatRules}) {
      for (size_t line = 0; line < rules.size();) {
        const size_t end = rules.find('\n', line);
        reserved_.insert(std::string(rules.substr(line, rules.find(' ', line) - line)));
        line = end == std::string_view::npos ? rules.size() : end + 1;
      }
    }
  }

  std::string convert(std::string_view root_name) {
    const std::string top = visit(root_, "root-value", "#");
    if (reserved_.count(std::string(root_name)) && root_name != "root")
      hearth::fail("JSON Schema: rule name '{}' is taken by the generated grammar", root_name);
    std::string out = std::string(root_name) + " ::= " + top + "\n";
    out += kBaseRules;
    if (need_formats_) out += std::string(kFormatRules) + leap_second_rules();
    for (const auto& [name, body] : rules_) {
      out += name + " ::= " + body + "\n";
      if (out.size() > kMaxGrammarBytes)
        hearth::fail("JSON Schema: its grammar is larger than {} MiB; simplify the schema", kMaxGrammarBytes >> 20);
    }
    return out;
  }

 private:
  template <typename... Args>
  [[noreturn]] void unsupported(const std::string& where, fmt::format_string<Args...> format, Args&&... args) {
    hearth::fail("JSON Schema at '{}': {}", where, fmt::format(format, std::forward<Args>(args)...));
  }

  std::string new_rule_name(const std::string& hint) {
    std::string base;
    // Hints grow with the path; the tail tells rules apart best.
    const std::string_view tail = std::string_view(hint).substr(hint.size() > kMaxHintLength ? hint.size() - kMaxHintLength : 0);
    for (char c : tail) base += (std::isalnum(uint8_t(c)) || c == '-') ? c : '-';
    if (base.empty()) base = "schema";
    std::string name = base;
    // Counting on from the last suffix this base got keeps naming linear.
    for (int& i = next_suffix_[base]; rules_.count(name) || reserved_.count(name);) name = fmt::format("{}-{}", base, ++i);
    reserved_.insert(name);
    return name;
  }

  std::string define(const std::string& hint, const std::string& body) {
    const std::string name = new_rule_name(hint);
    rules_[name] = body;
    return name;
  }

  static bool is_false_schema(const json& schema) { return schema.is_boolean() && !schema.get<bool>(); }

  // Returns the name of a rule matching exactly the instances `schema` accepts.
  std::string visit(const json& schema, const std::string& hint, const std::string& where) {
    struct DepthGuard {
      int& depth;
      ~DepthGuard() { --depth; }
    } guard{++depth_};
    if (depth_ > kMaxSchemaDepth) unsupported(where.substr(0, 200) + "...", "the schema nests deeper than {} levels", kMaxSchemaDepth);
    if (++subschemas_ > kMaxSubschemas) unsupported(where.substr(0, 200), "the schema has more than {} subschemas", kMaxSubschemas);
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) unsupported(where, "the schema 'false' matches nothing");
      return "json-value";
    }
    if (!schema.is_object()) unsupported(where, "a schema must be an object or a boolean");
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (!kAnnotations.count(it.key()) && !kSupported.count(it.key()))
        unsupported(where, "keyword '{}' is not supported", it.key());
    }
    if (schema.contains("$schema") &&
        (!schema["$schema"].is_string() || !kKnownDrafts.count(schema["$schema"].get<std::string>())))
      unsupported(where, "'$schema' {} is not a draft hearth knows", schema["$schema"].dump());
    if (schema.contains("$ref")) return visit_ref(schema, where);
    for (const char* combinator : {"anyOf", "oneOf", "allOf"})
      if (schema.contains(combinator)) return visit_combinator(schema, combinator, hint, where);
    if (schema.contains("enum") || schema.contains("const")) return visit_enum(schema, hint, where);

    std::vector<std::string> types;
    if (schema.contains("type")) {
      const json& type = schema["type"];
      std::vector<json> listed = type.is_array() ? std::vector<json>(type.begin(), type.end()) : std::vector<json>{type};
      for (const json& t : listed) {
        if (!t.is_string() || std::find(kTypes.begin(), kTypes.end(), t.get<std::string>()) == kTypes.end())
          unsupported(where, "unknown type {}", t.dump());
        types.push_back(t.get<std::string>());
      }
    } else {
      types.assign(kTypes.begin(), kTypes.end());
    }
    if (schema.value("nullable", false)) types.push_back("null");
    // "integer" is a subset of "number": with both, number covers it.
    const bool has_number = std::find(types.begin(), types.end(), "number") != types.end();
    std::vector<std::string> alternatives;
    std::set<std::string> seen;
    for (const std::string& type : types) {
      if ((type == "integer" && has_number) || !seen.insert(type).second) continue;
      alternatives.push_back(visit_type(schema, type, hint, where));
    }
    if (alternatives.size() == 1) return alternatives[0];
    std::string body;
    for (size_t i = 0; i < alternatives.size(); ++i) body += (i ? " | " : "") + alternatives[i];
    return define(hint, body);
  }

  // Constraint keywords (not annotations) in `schema` other than `allowed`.
  void refuse_siblings(const json& schema, const std::string& keyword, std::initializer_list<std::string_view> allowed,
                       const std::string& where) {
    for (auto it = schema.begin(); it != schema.end(); ++it) {
      if (it.key() == keyword || kAnnotations.count(it.key())) continue;
      if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
      unsupported(where, "keyword '{}' beside '{}' is not supported", it.key(), keyword);
    }
  }

  std::string visit_ref(const json& schema, const std::string& where) {
    refuse_siblings(schema, "$ref", {}, where);
    const std::string ref = schema["$ref"].get<std::string>();
    if (auto it = ref_rules_.find(ref); it != ref_rules_.end()) return it->second;
    if (ref.empty() || ref[0] != '#') unsupported(where, "$ref '{}' is not supported (only local '#...' references)", ref);
    const json* target = &root_;
    std::string pointer = ref.substr(1);
    if (!pointer.empty() && pointer[0] != '/') unsupported(where, "$ref '{}' is not supported (anchors are not)", ref);
    size_t pos = 1;
    while (pos <= pointer.size() && !pointer.empty()) {
      size_t end = pointer.find('/', pos);
      if (end == std::string::npos) end = pointer.size();
      std::string token;
      for (size_t i = pos; i < end; ++i) {
        if (pointer[i] == '~' && i + 1 < end) {
          token += pointer[i + 1] == '1' ? '/' : '~';
          ++i;
        } else if (pointer[i] == '%' && i + 2 < end + 1 && i + 2 < pointer.size()) {
          token += char(std::stoi(pointer.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          token += pointer[i];
        }
      }
      if (target->is_object() && target->contains(token)) {
        target = &(*target)[token];
      } else if (target->is_array() && !token.empty() && std::all_of(token.begin(), token.end(), ::isdigit) &&
                 std::stoul(token) < target->size()) {
        target = &(*target)[std::stoul(token)];
      } else {
        unsupported(where, "$ref '{}' points at nothing", ref);
      }
      pos = end + 1;
    }
    // Name the rule before visiting, so recursive schemas refer back to it.
    const std::string name = new_rule_name("ref" + pointer);
    ref_rules_[ref] = name;
    const std::string body = visit(*target, name + "-body", ref);
    rules_[name] = body;
    return name;
  }

  // The conjunction of two schemas as one, when that is exact: keywords on
  // one side only, or ones that combine (type: intersection, required:
  // union, properties: distinct names). Throws naming the keyword otherwise.
  json merge(const json& a, const json& b, const std::string& where) {
    if (a.is_boolean()) return b;  // only true reaches here
    if (b.is_boolean()) return a;
    for (const json* s : {&a, &b})
      if (!s->is_object() || s->contains("$ref")) unsupported(where, "'$ref' inside a combined schema is not supported");
    // additionalProperties and additionalItems speak about their own side's
    // properties and items; merging would change what they cover.
    auto scoped = [&](const json& x, const json& y) {
      if (x.contains("additionalProperties") && y.contains("properties"))
        unsupported(where, "keyword 'additionalProperties' combined with other 'properties' is not supported");
      if (x.contains("additionalItems") && (y.contains("items") || y.contains("prefixItems")))
        unsupported(where, "keyword 'additionalItems' combined with other 'items' is not supported");
      if (x.contains("items") && y.contains("prefixItems"))
        unsupported(where, "keyword 'items' combined with other 'prefixItems' is not supported");
      if (x.contains("contains") && (y.contains("items") || y.contains("prefixItems")))
        unsupported(where, "keyword 'contains' combined with other 'items' is not supported");
    };
    scoped(a, b);
    scoped(b, a);
    json result = a;
    for (auto it = b.begin(); it != b.end(); ++it) {
      const std::string& key = it.key();
      if (kAnnotations.count(key)) continue;
      if (!result.contains(key) || result[key] == it.value()) {
        result[key] = it.value();
      } else if (key == "type") {
        auto as_list = [](const json& t) { return t.is_array() ? t : json::array({t}); };
        json both = json::array();
        for (const json& t : as_list(result[key])) {
          for (const json& u : as_list(it.value()))
            if (t == u || (t == "number" && u == "integer")) both.push_back(u);
            else if (t == "integer" && u == "number") both.push_back(t);
        }
        if (both.empty()) unsupported(where, "combined 'type's leave no type: nothing matches");
        result[key] = both;
      } else if (key == "required") {
        for (const json& name : it.value())
          if (std::find(result[key].begin(), result[key].end(), name) == result[key].end()) result[key].push_back(name);
      } else if (key == "properties") {
        for (auto p = it.value().begin(); p != it.value().end(); ++p) {
          if (result[key].contains(p.key()) && result[key][p.key()] != p.value())
            unsupported(where, "property '{}' constrained in two combined schemas is not supported", p.key());
          result[key][p.key()] = p.value();
        }
      } else {
        unsupported(where, "keyword '{}' in two combined schemas is not supported", key);
      }
    }
    return result;
  }

  std::string visit_combinator(const json& schema, const char* keyword, const std::string& hint,
                               const std::string& where) {
    const json& branches = schema[keyword];
    if (!branches.is_array() || branches.empty()) unsupported(where, "'{}' needs a non-empty array", keyword);
    // Sibling keywords apply to every branch: merge them in.
    json siblings = json::object();
    for (auto it = schema.begin(); it != schema.end(); ++it)
      if (it.key() != keyword && !kAnnotations.count(it.key())) siblings[it.key()] = it.value();
    if (std::string_view(keyword) == "allOf") {
      json merged = siblings;
      for (size_t i = 0; i < branches.size(); ++i) {
        if (is_false_schema(branches[i])) unsupported(where, "a branch of 'allOf' is false: nothing matches");
        merged = merged.empty() ? branches[i] : merge(merged, branches[i], fmt::format("{}/allOf/{}", where, i));
      }
      return visit(merged.is_object() && merged.empty() ? json(true) : merged, hint, where + "/allOf");
    }
    std::string body;
    size_t n = 0;
    for (size_t i = 0; i < branches.size(); ++i) {
      if (is_false_schema(branches[i])) continue;
      const std::string branch_where = fmt::format("{}/{}/{}", where, keyword, i);
      const json branch = siblings.empty() ? branches[i] : merge(branches[i], siblings, branch_where);
      body += (n++ ? " | " : "") + visit(branch, fmt::format("{}-{}", hint, i), branch_where);
    }
    if (n == 0) unsupported(where, "every branch of '{}' is false: nothing matches", keyword);
    return define(hint, body);
  }

  std::string visit_enum(const json& schema, const std::string& hint, const std::string& where) {
    const bool is_const = schema.contains("const");
    if (is_const && schema.contains("enum")) unsupported(where, "keyword 'const' beside 'enum' is not supported");
    refuse_siblings(schema, is_const ? "const" : "enum", {"type"}, where);
    const json values = is_const ? json::array({schema["const"]}) : schema["enum"];
    if (!values.is_array()) unsupported(where, "'enum' must be an array");
    std::set<std::string> types;
    if (schema.contains("type")) {
      for (const json& t : schema["type"].is_array() ? schema["type"] : json::array({schema["type"]}))
        types.insert(t.get<std::string>());
      if (types.count("number")) types.insert("integer");
    }
    std::set<std::string> seen;
    std::string body;
    for (const json& value : values) {
      if (!types.empty() && !types.count(type_name(value))) continue;
      const std::string text = canonical(value);
      if (!seen.insert(text).second) continue;
      body += (body.empty() ? "" : " | ") + literal(text);
    }
    if (body.empty()) unsupported(where, "no value of '{}' has an allowed type: nothing matches", is_const ? "const" : "enum");
    return define(hint, body);
  }

  std::string visit_type(const json& schema, const std::string& type, const std::string& hint, const std::string& where) {
    if (type == "null") return "json-null";
    if (type == "boolean") return "json-boolean";
    if (type == "string") return visit_string(schema, hint, where);
    if (type == "integer") return visit_integer(schema, hint, where);
    if (type == "number") return visit_number(schema, hint, where);
    if (type == "array") return visit_array(schema, hint, where);
    return visit_object(schema, hint, where);
  }

  static std::optional<uint64_t> count_keyword(const json& schema, const char* keyword) {
    if (!schema.contains(keyword)) return std::nullopt;
    const json& v = schema[keyword];
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) return v.get<uint64_t>();
    if (v.is_number_float() && v.get<double>() >= 0 && std::floor(v.get<double>()) == v.get<double>())
      return uint64_t(v.get<double>());
    hearth::fail("JSON Schema: '{}' must be a non-negative integer", keyword);
  }

  std::string visit_string(const json& schema, const std::string& hint, const std::string& where) {
    const auto min_length = count_keyword(schema, "minLength");
    const auto max_length = count_keyword(schema, "maxLength");
    if (schema.contains("pattern")) {
      if (min_length || max_length || schema.contains("format"))
        unsupported(where, "keyword 'pattern' beside 'minLength'/'maxLength'/'format' is not supported");
      try {
        return define(hint, "\"\\\"\" " + regex_to_gbnf(schema["pattern"].get<std::string>(), "json-char") + " \"\\\"\"");
      } catch (const std::invalid_argument& e) {
        unsupported(where, "keyword 'pattern': {}", e.what());
      }
    }
    if (schema.contains("format")) {
      const std::string format = schema["format"].get<std::string>();
      if (min_length || max_length) unsupported(where, "'minLength'/'maxLength' beside 'format' is not supported");
      need_formats_ = true;
      if (format == "date") return define(hint, "\"\\\"\" full-date \"\\\"\"");
      if (format == "time") return define(hint, "\"\\\"\" full-time \"\\\"\"");
      if (format == "date-time") return define(hint, "\"\\\"\" full-date [Tt] full-time \"\\\"\"");
      if (format == "uuid") return define(hint, "\"\\\"\" uuid \"\\\"\"");
      unsupported(where, "format '{}' is not supported (supported: date, time, date-time, uuid)", format);
    }
    if (!min_length && !max_length) return "json-string";
    const uint64_t low = min_length.value_or(0);
    if (max_length && *max_length < low) unsupported(where, "'maxLength' is below 'minLength': nothing matches");
    const std::string count = max_length ? fmt::format("{{{},{}}}", low, *max_length) : fmt::format("{{{},}}", low);
    return define(hint, "\"\\\"\" json-char" + count + " \"\\\"\"");
  }

  std::string visit_integer(const json& schema, const std::string& hint, const std::string& where) {
    std::optional<int64_t> low, high;
    auto bound = [&](const char* keyword, bool is_min, bool exclusive) {
      if (!schema.contains(keyword)) return;
      const json& v = schema[keyword];
      if (!v.is_number()) unsupported(where, "'{}' must be a number", keyword);
      const double d = v.get<double>();
      if (std::fabs(d) > 1e15) unsupported(where, "'{}' beyond 1e15 is not supported", keyword);
      int64_t b = is_min ? (exclusive ? int64_t(std::floor(d)) + 1 : int64_t(std::ceil(d)))
                         : (exclusive ? int64_t(std::ceil(d)) - 1 : int64_t(std::floor(d)));
      if (is_min) low = low ? std::max(*low, b) : b;
      else high = high ? std::min(*high, b) : b;
    };
    bound("minimum", true, false);
    bound("exclusiveMinimum", true, true);
    bound("maximum", false, false);
    bound("exclusiveMaximum", false, true);
    if (!low && !high) return "json-integer";
    if (low && high && *low > *high) unsupported(where, "integer bounds leave no value: nothing matches");
    return define(hint, integer_range_gbnf(low, high));
  }

  // "contains" alone (no other array keywords): any items, at least one of
  // which matches. Counting keywords beside it would need intersections.
  std::string visit_contains(const json& schema, const std::string& hint, const std::string& where) {
    for (const char* other : {"items", "prefixItems", "additionalItems", "minItems", "maxItems"})
      if (schema.contains(other)) unsupported(where, "keyword '{}' beside 'contains' is not supported", other);
    if (is_false_schema(schema["contains"])) unsupported(where, "'contains' is false: nothing matches");
    const std::string match = visit(schema["contains"], hint + "-match", where + "/contains");
    return define(hint, fmt::format("\"[\" (json-value \",\" ws)* {} (\",\" ws json-value)* \"]\"", match));
  }

  // Arrays: positional schemas (prefixItems, or draft 7's items array), then
  // one schema for the rest (items, or additionalItems beside an items array).
  // Bounded numbers are written without an exponent (docs/grammar.md).
  std::string visit_number(const json& schema, const std::string& hint, const std::string& where) {
    std::optional<double> low, high;
    bool low_exclusive = false, high_exclusive = false;
    auto bound = [&](const char* keyword, bool is_low, bool exclusive) {
      if (!schema.contains(keyword)) return;
      if (!schema[keyword].is_number()) unsupported(where, "'{}' must be a number", keyword);
      const double v = schema[keyword].get<double>();
      std::optional<double>& current = is_low ? low : high;
      bool& current_exclusive = is_low ? low_exclusive : high_exclusive;
      const bool tighter = !current || (is_low ? v > *current : v < *current) || (v == *current && exclusive);
      if (tighter) {
        current = v;
        current_exclusive = exclusive;
      }
    };
    bound("minimum", true, false);
    bound("exclusiveMinimum", true, true);
    bound("maximum", false, false);
    bound("exclusiveMaximum", false, true);
    if (!low && !high) return "json-number";
    if (low && high && (*low > *high || (*low == *high && (low_exclusive || high_exclusive))))
      unsupported(where, "number bounds leave no value: nothing matches");
    try {
      return define(hint, number_range_gbnf(low, low_exclusive, high, high_exclusive));
    } catch (const std::invalid_argument& e) {
      unsupported(where, "bounds 'minimum'/'maximum': {}", e.what());
    }
  }

  std::string visit_array(const json& schema, const std::string& hint, const std::string& where) {
    if (schema.contains("contains")) return visit_contains(schema, hint, where);
    const json* positional = nullptr;
    const char* rest_keyword = "items";
    if (schema.contains("prefixItems")) {
      positional = &schema["prefixItems"];
      if (schema.contains("additionalItems")) unsupported(where, "keyword 'additionalItems' beside 'prefixItems' is not supported");
    } else if (schema.contains("items") && schema["items"].is_array()) {
      positional = &schema["items"];
      rest_keyword = "additionalItems";
    }
    const json rest_schema = positional == nullptr || std::string_view(rest_keyword) == "additionalItems"
                                 ? schema.value(rest_keyword, json(true))
                                 : schema.value("items", json(true));
    const uint64_t min_items = count_keyword(schema, "minItems").value_or(0);
    std::optional<uint64_t> max_items = count_keyword(schema, "maxItems");
    std::vector<std::string> prefix;
    bool closed = is_false_schema(rest_schema);  // no items past the prefix
    if (positional != nullptr) {
      for (size_t i = 0; i < positional->size(); ++i) {
        if (is_false_schema((*positional)[i])) {
          closed = true;  // an array can not reach a false position
          break;
        }
        prefix.push_back(visit((*positional)[i], fmt::format("{}-item{}", hint, i), fmt::format("{}/items/{}", where, i)));
      }
    }
    const std::string rest = closed ? "" : visit(rest_schema, hint + "-item", where + "/" + rest_keyword);
    if (closed) max_items = std::min<uint64_t>(max_items.value_or(prefix.size()), prefix.size());
    if (max_items && *max_items < min_items) unsupported(where, "no array length is allowed: nothing matches");

    // tail[i]: what may follow once i items are written (i >= 1).
    const size_t k = std::max<size_t>(prefix.size(), 1);
    std::vector<std::string> tail(k + 1);
    for (size_t i = 1; i <= k; ++i) tail[i] = new_rule_name(fmt::format("{}-after{}", hint, i));
    for (size_t i = 1; i <= k; ++i) {
      std::string body;
      if (i < prefix.size()) {
        if (i >= min_items) body = "\"]\"";
        if (!max_items || i < *max_items)
          body += (body.empty() ? "" : " | ") + fmt::format("\",\" ws {} {}", prefix[i], tail[i + 1]);
      } else {
        const uint64_t at_least = min_items > i ? min_items - i : 0;
        if (closed || (max_items && *max_items <= i)) {
          body = "\"]\"";
        } else {
          const std::string count = max_items ? fmt::format("{{{},{}}}", at_least, *max_items - i)
                                              : fmt::format("{{{},}}", at_least);
          body = fmt::format("(\",\" ws {}){} \"]\"", rest, count);
        }
      }
      rules_[tail[i]] = body;
    }
    std::string body;
    if (min_items == 0) body = "\"[]\"";
    if (!max_items || *max_items > 0)
      body += (body.empty() ? "" : " | ") + fmt::format("\"[\" {} {}", prefix.empty() ? rest : prefix[0], tail[1]);
    return define(hint, body);
  }

  // Keys of additional members: any string except the declared names, built
  // as a trie of the names' JSON units.
  std::string excluded_key_rule(const std::vector<std::string>& names, const std::string& hint) {
    struct TrieNode {
      std::map<std::string, size_t> children;
      bool terminal = false;
    };
    std::vector<TrieNode> trie(1);
    for (const std::string& name : names) {
      size_t node = 0;
      for (const std::string& unit : json_units(name)) {
        auto it = trie[node].children.find(unit);
        if (it == trie[node].children.end()) {
          trie.emplace_back();
          it = trie[node].children.emplace(unit, trie.size() - 1).first;
        }
        node = it->second;
      }
      trie[node].terminal = true;
    }
    std::vector<std::string> node_rule;
    for (size_t n = 0; n < trie.size(); ++n) node_rule.push_back(new_rule_name(fmt::format("{}-key{}", hint, n)));
    for (size_t n = 0; n < trie.size(); ++n) {
      std::string body;
      std::string excluded_class = "[^\"\\\\\\x00-\\x1F";
      std::vector<std::string> short_escapes = {"\\\"", "\\\\", "\\b", "\\f", "\\n", "\\r", "\\t"};
      bool unicode_escape_child = false;
      for (const auto& [unit, child] : trie[n].children) {
        body += (body.empty() ? "" : " | ") + literal(unit) + " " + node_rule[child];
        if (unit[0] == '\\') {
          if (unit[1] == 'u') unicode_escape_child = true;
          std::erase(short_escapes, unit);
        } else {
          uint32_t cp = 0;
          const auto lead = uint8_t(unit[0]);
          cp = unit.size() == 1 ? lead : unit.size() == 2 ? lead & 0x1F : unit.size() == 3 ? lead & 0x0F : lead & 0x07;
          for (size_t i = 1; i < unit.size(); ++i) cp = (cp << 6) | (uint8_t(unit[i]) & 0x3F);
          excluded_class += class_char(cp);
        }
      }
      if (unicode_escape_child) unsupported("properties", "property names with \\u escapes beside additional properties are not supported");
      std::string other = excluded_class + "]";
      for (const std::string& e : short_escapes) other += " | " + literal(e);
      other += " | \"\\\\u00\" [01] [0-9a-fA-F]";
      body += std::string(body.empty() ? "" : " | ") + "(" + other + ") json-char* \"\\\"\"";
      if (!trie[n].terminal) body += " | \"\\\"\"";
      rules_[node_rule[n]] = body;
    }
    return define(hint + "-key-string", "\"\\\"\" " + node_rule[0]);
  }

  std::string visit_object(const json& schema, const std::string& hint, const std::string& where) {
    std::vector<std::string> required;
    if (schema.contains("required")) {
      for (const json& r : schema["required"]) required.push_back(r.get<std::string>());
    }
    struct Member {
      std::string name;
      std::string rule;
      bool required;
    };
    std::vector<Member> members;
    std::vector<std::string> declared;
    const json properties = schema.value("properties", json::object());
    for (auto it = properties.begin(); it != properties.end(); ++it) {
      declared.push_back(it.key());
      const bool is_required = std::find(required.begin(), required.end(), it.key()) != required.end();
      if (is_false_schema(it.value())) {
        if (is_required) unsupported(where, "required property '{}' has schema false: nothing matches", it.key());
        continue;
      }
      const std::string value = visit(it.value(), hint + "-" + it.key(), where + "/properties/" + it.key());
      members.push_back({it.key(), define(hint + "-" + it.key() + "-kv", literal(json(it.key()).dump()) + " \":\" ws " + value), is_required});
    }
    // A required name with no declared schema takes any value.
    for (const std::string& name : required) {
      if (properties.contains(name)) continue;
      const json& additional = schema.value("additionalProperties", json(!strict_));
      if (is_false_schema(additional))
        unsupported(where, "required property '{}' is not allowed by additionalProperties", name);
      const std::string value = visit(additional, hint + "-" + name, where + "/additionalProperties");
      declared.push_back(name);
      members.push_back({name, define(hint + "-" + name + "-kv", literal(json(name).dump()) + " \":\" ws " + value), true});
    }
    std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) { return a.name < b.name; });

    std::string additional;
    const json extra = schema.contains("additionalProperties") ? schema["additionalProperties"] : json(!strict_);
    if (!is_false_schema(extra)) {
      const std::string value = visit(extra, hint + "-additional", where + "/additionalProperties");
      const std::string key = declared.empty() ? "json-string" : excluded_key_rule(declared, hint);
      additional = define(hint + "-additional-kv", key + " \":\" ws " + value);
    }

    // first-i: no member written yet, declared members from i on remain;
    // rest-i: the same after at least one member (so a comma comes first).
    // Additional members may come between any two declared ones.
    const size_t n = members.size();
    std::vector<std::string> first, rest;
    for (size_t i = 0; i <= n; ++i) {
      first.push_back(new_rule_name(fmt::format("{}-first{}", hint, i)));
      rest.push_back(new_rule_name(fmt::format("{}-rest{}", hint, i)));
    }
    for (size_t i = 0; i <= n; ++i) {
      std::string first_body, rest_body;
      auto add = [](std::string& body, const std::string& alternative) { body += (body.empty() ? "" : " | ") + alternative; };
      if (i < n) {
        add(first_body, fmt::format("{} {}", members[i].rule, rest[i + 1]));
        add(rest_body, fmt::format("\",\" ws {} {}", members[i].rule, rest[i + 1]));
      }
      if (!additional.empty()) {
        add(first_body, fmt::format("{} {}", additional, rest[i]));
        add(rest_body, fmt::format("\",\" ws {} {}", additional, rest[i]));
      }
      if (i < n && !members[i].required) {
        add(first_body, first[i + 1]);
        add(rest_body, rest[i + 1]);
      }
      if (i == n) {
        add(first_body, "\"\"");
        add(rest_body, "\"\"");
      }
      rules_[first[i]] = first_body;
      rules_[rest[i]] = rest_body;
    }
    return define(hint, fmt::format("\"{{\" {} \"}}\"", first[0]));
  }

  const json& root_;
  bool strict_;
  bool need_formats_ = false;
  std::map<std::string, std::string> rules_;
  std::set<std::string> reserved_;
  std::map<std::string, std::string> ref_rules_;
  std::map<std::string, int> next_suffix_;
  int depth_ = 0;
  size_t subschemas_ = 0;
};

}  // namespace

std::string json_schema_to_gbnf(const json& schema, bool strict, std::string_view root_name) {
  return SchemaConverter(schema, strict).convert(root_name);
}

std::string json_object_gbnf() { return "root ::= json-object\n" + std::string(kBaseRules); }

Grammar grammar_from_json_schema(const json& schema, bool strict) {
  return Grammar::parse(json_schema_to_gbnf(schema, strict));
}

Grammar grammar_for_json_object() { return Grammar::parse(json_object_gbnf()); }

}  // namespace hearth::grammar
