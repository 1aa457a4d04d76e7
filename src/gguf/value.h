// GGUF metadata values: the 13 value types, arrays of any of them (nested
// arrays included), with checked conversions whose errors name the key.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace hearth::gguf {

enum class ValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
inline constexpr uint32_t kValueTypeLimit = 13;

std::string_view value_type_name(ValueType type);  // "u32", "string", "array", ...
bool is_valid_value_type(uint32_t id);
// Bytes a scalar of this type takes on disk (0 for string and array).
uint32_t scalar_size(ValueType type);

// One metadata value. Scalars keep their bits; arrays of scalars keep the
// packed little-endian elements as in the file, so a big u8 or f32 array costs
// what it costs on disk; arrays of strings and of arrays hold those.
class Value {
 public:
  Value() = default;

  // Scalars.
  static Value u8(uint8_t v) { return scalar(ValueType::U8, v); }
  static Value i8(int8_t v) { return scalar(ValueType::I8, v); }
  static Value u16(uint16_t v) { return scalar(ValueType::U16, v); }
  static Value i16(int16_t v) { return scalar(ValueType::I16, v); }
  static Value u32(uint32_t v) { return scalar(ValueType::U32, v); }
  static Value i32(int32_t v) { return scalar(ValueType::I32, v); }
  static Value u64(uint64_t v) { return scalar(ValueType::U64, v); }
  static Value i64(int64_t v) { return scalar(ValueType::I64, v); }
  static Value f32(float v) { return scalar(ValueType::F32, v); }
  static Value f64(double v) { return scalar(ValueType::F64, v); }
  static Value boolean(bool v) { return scalar(ValueType::Bool, uint8_t(v ? 1 : 0)); }
  static Value string(std::string v);
  // Arrays.
  static Value string_array(std::vector<std::string> items);
  static Value array_of_arrays(std::vector<Value> items);  // each item an array
  template <typename T>
  static Value array(ValueType elem_type, const std::vector<T>& items) {
    return packed_array(elem_type, items.data(), items.size(), sizeof(T));
  }
  static Value packed_array(ValueType elem_type, const void* data, uint64_t count, size_t elem_size);

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::Array; }
  bool is_integer() const;
  bool is_number() const;  // integer or float

  // Checked conversions; `what` (usually the key) goes into the error.
  int64_t as_int(std::string_view what) const;
  uint64_t as_uint(std::string_view what) const;
  double as_number(std::string_view what) const;
  bool as_bool(std::string_view what) const;
  const std::string& as_string(std::string_view what) const;

  // Arrays.
  ValueType elem_type() const { return elem_type_; }
  uint64_t size() const { return count_; }
  const std::vector<std::string>& strings(std::string_view what) const;
  const std::vector<Value>& arrays() const { return arrays_; }
  const std::vector<uint8_t>& packed() const { return packed_; }
  // Element i of an array of numbers, converted.
  double number_at(uint64_t i) const;
  int64_t int_at(uint64_t i) const;
  std::vector<float> to_floats(std::string_view what) const;
  std::vector<int32_t> to_ints(std::string_view what) const;

  // JSON form; arrays longer than `summarize_over` items (when > 0) become
  // {"type": elem type, "length": n}.
  nlohmann::json to_json(uint64_t summarize_over = 0) const;

  bool operator==(const Value& other) const = default;

 private:
  template <typename T>
  static Value scalar(ValueType type, T v) {
    Value value;
    value.type_ = type;
    std::memcpy(&value.bits_, &v, sizeof(T));
    return value;
  }
  friend class Parser;

  ValueType type_ = ValueType::U8;
  uint64_t bits_ = 0;  // scalar payload, little-endian bytes of its type
  std::string string_;
  ValueType elem_type_ = ValueType::U8;
  uint64_t count_ = 0;
  std::vector<uint8_t> packed_;
  std::vector<std::string> strings_;
  std::vector<Value> arrays_;
};

// Reads a scalar of `type` from its little-endian bytes as a number.
double scalar_as_double(ValueType type, const uint8_t* bytes);
int64_t scalar_as_int64(ValueType type, const uint8_t* bytes);

}  // namespace hearth::gguf
