#include "gguf/value.h"

#include <array>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace hearth::gguf {
namespace {

constexpr std::array<std::string_view, kValueTypeLimit> kNames = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
constexpr std::array<uint32_t, kValueTypeLimit> kSizes = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

template <typename T>
T load(const uint8_t* bytes) {
  T v;
  std::memcpy(&v, bytes, sizeof(T));
  return v;
}

bool is_float(ValueType t) { return t == ValueType::F32 || t == ValueType::F64; }

}  // namespace

std::string_view value_type_name(ValueType type) {
  const auto id = static_cast<uint32_t>(type);
  return id < kValueTypeLimit ? kNames[id] : std::string_view("invalid");
}

bool is_valid_value_type(uint32_t id) { return id < kValueTypeLimit; }

uint32_t scalar_size(ValueType type) {
  const auto id = static_cast<uint32_t>(type);
  return id < kValueTypeLimit ? kSizes[id] : 0;
}

int64_t scalar_as_int64(ValueType type, const uint8_t* b) {
  switch (type) {
    case ValueType::U8: return load<uint8_t>(b);
    case ValueType::I8: return load<int8_t>(b);
    case ValueType::U16: return load<uint16_t>(b);
    case ValueType::I16: return load<int16_t>(b);
    case ValueType::U32: return load<uint32_t>(b);
    case ValueType::I32: return load<int32_t>(b);
    case ValueType::U64: return static_cast<int64_t>(load<uint64_t>(b));
    case ValueType::I64: return load<int64_t>(b);
    case ValueType::Bool: return load<uint8_t>(b) != 0;
    case ValueType::F32: return static_cast<int64_t>(load<float>(b));
    case ValueType::F64: return static_cast<int64_t>(load<double>(b));
    default: return 0;
  }
}

double scalar_as_double(ValueType type, const uint8_t* b) {
  switch (type) {
    case ValueType::F32: return load<float>(b);
    case ValueType::F64: return load<double>(b);
    case ValueType::U64: return static_cast<double>(load<uint64_t>(b));
    default: return static_cast<double>(scalar_as_int64(type, b));
  }
}

Value Value::string(std::string v) {
  Value value;
  value.type_ = ValueType::String;
  value.string_ = std::move(v);
  return value;
}

Value Value::string_array(std::vector<std::string> items) {
  Value value;
  value.type_ = ValueType::Array;
  value.elem_type_ = ValueType::String;
  value.count_ = items.size();
  value.strings_ = std::move(items);
  return value;
}

Value Value::array_of_arrays(std::vector<Value> items) {
  for (const auto& item : items)
    if (!item.is_array()) fail("array_of_arrays: every item must be an array");
  Value value;
  value.type_ = ValueType::Array;
  value.elem_type_ = ValueType::Array;
  value.count_ = items.size();
  value.arrays_ = std::move(items);
  return value;
}

Value Value::packed_array(ValueType elem_type, const void* data, uint64_t count, size_t elem_size) {
  if (scalar_size(elem_type) == 0 || scalar_size(elem_type) != elem_size)
    fail("packed array of {} needs {}-byte elements, got {}", value_type_name(elem_type),
         scalar_size(elem_type), elem_size);
  Value value;
  value.type_ = ValueType::Array;
  value.elem_type_ = elem_type;
  value.count_ = count;
  const auto* bytes = static_cast<const uint8_t*>(data);
  value.packed_.assign(bytes, bytes + count * elem_size);
  return value;
}

bool Value::is_integer() const {
  return scalar_size(type_) > 0 && !is_float(type_) && type_ != ValueType::Bool;
}
bool Value::is_number() const { return scalar_size(type_) > 0 && type_ != ValueType::Bool; }

int64_t Value::as_int(std::string_view what) const {
  if (!is_integer()) fail("'{}' is a {}, expected an integer", what, value_type_name(type_));
  if (type_ == ValueType::U64 && bits_ > uint64_t(std::numeric_limits<int64_t>::max()))
    fail("'{}' = {} is too large", what, bits_);
  return scalar_as_int64(type_, reinterpret_cast<const uint8_t*>(&bits_));
}

uint64_t Value::as_uint(std::string_view what) const {
  if (type_ == ValueType::U64) return bits_;
  const int64_t v = as_int(what);
  if (v < 0) fail("'{}' = {} must not be negative", what, v);
  return static_cast<uint64_t>(v);
}

double Value::as_number(std::string_view what) const {
  if (!is_number()) fail("'{}' is a {}, expected a number", what, value_type_name(type_));
  return scalar_as_double(type_, reinterpret_cast<const uint8_t*>(&bits_));
}

bool Value::as_bool(std::string_view what) const {
  if (type_ != ValueType::Bool) fail("'{}' is a {}, expected a bool", what, value_type_name(type_));
  return bits_ != 0;
}

const std::string& Value::as_string(std::string_view what) const {
  if (type_ != ValueType::String) fail("'{}' is a {}, expected a string", what, value_type_name(type_));
  return string_;
}

const std::vector<std::string>& Value::strings(std::string_view what) const {
  if (!is_array() || elem_type_ != ValueType::String)
    fail("'{}' is not an array of strings", what);
  return strings_;
}

double Value::number_at(uint64_t i) const {
  return scalar_as_double(elem_type_, packed_.data() + i * scalar_size(elem_type_));
}
int64_t Value::int_at(uint64_t i) const {
  return scalar_as_int64(elem_type_, packed_.data() + i * scalar_size(elem_type_));
}

std::vector<float> Value::to_floats(std::string_view what) const {
  if (!is_array() || scalar_size(elem_type_) == 0 || elem_type_ == ValueType::Bool)
    fail("'{}' is not an array of numbers", what);
  std::vector<float> out(count_);
  for (uint64_t i = 0; i < count_; ++i) out[i] = static_cast<float>(number_at(i));
  return out;
}

std::vector<int32_t> Value::to_ints(std::string_view what) const {
  if (!is_array() || scalar_size(elem_type_) == 0 || is_float(elem_type_))
    fail("'{}' is not an array of integers", what);
  std::vector<int32_t> out(count_);
  for (uint64_t i = 0; i < count_; ++i) out[i] = static_cast<int32_t>(int_at(i));
  return out;
}

nlohmann::json Value::to_json(uint64_t summarize_over) const {
  using nlohmann::json;
  const auto* bits = reinterpret_cast<const uint8_t*>(&bits_);
  switch (type_) {
    case ValueType::String: return string_;
    case ValueType::Bool: return bits_ != 0;
    case ValueType::F32:
    case ValueType::F64: {
      const double v = scalar_as_double(type_, bits);
      return std::isfinite(v) ? json(v) : json(fmt::format("{}", v));
    }
    case ValueType::U64: return bits_;
    case ValueType::Array: break;
    default: return scalar_as_int64(type_, bits);
  }
  if (summarize_over > 0 && count_ > summarize_over)
    return json{{"type", value_type_name(elem_type_)}, {"length", count_}};
  json out = json::array();
  if (elem_type_ == ValueType::String) {
    for (const auto& s : strings_) out.push_back(s);
  } else if (elem_type_ == ValueType::Array) {
    for (const auto& a : arrays_) out.push_back(a.to_json(summarize_over));
  } else {
    const uint32_t size = scalar_size(elem_type_);
    for (uint64_t i = 0; i < count_; ++i) {
      Value element = Value();
      element.type_ = elem_type_;
      std::memcpy(&element.bits_, packed_.data() + i * size, size);
      out.push_back(element.to_json());
    }
  }
  return out;
}

}  // namespace hearth::gguf
