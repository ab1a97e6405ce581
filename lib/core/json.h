#pragma once
// The one JSON reader and string quoting of the project: JSONL datasets, safetensors headers, checkpoint metadata,
// results files. A small document model; numbers keep their text so integers round-trip exactly.
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace convpt::json {

// A syntax error; what() ends with "at column N" (1-based byte offset into the text).
struct ParseError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

class Value {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_number() const { return kind_ == Kind::number; }
  bool is_string() const { return kind_ == Kind::string; }
  bool is_array() const { return kind_ == Kind::array; }
  bool is_object() const { return kind_ == Kind::object; }

  // Typed access; each throws std::invalid_argument naming the expected and the actual kind.
  bool as_bool() const;
  double as_double() const;
  int64_t as_int64() const;             // the number must be an integer
  const std::string& as_string() const;
  const std::vector<Value>& items() const;                      // array elements
  const std::vector<std::pair<std::string, Value>>& members() const;  // object members, in file order

  const Value* find(std::string_view key) const;  // nullptr when absent (or not an object)
  const Value& at(std::string_view key) const;    // throws naming the key when absent

  // The text of a scalar: the string itself, or a number/literal as written.
  const std::string& text() const { return text_; }

 private:
  friend class Parser;
  Kind kind_ = Kind::null;
  std::string text_;
  std::vector<Value> items_;
  std::vector<std::pair<std::string, Value>> members_;
};

Value parse(std::string_view text);  // the whole text must be one value (surrounding whitespace allowed)
// A file holding one value. Throws std::runtime_error naming the file when it is unreadable or not JSON.
Value parse_file(const std::filesystem::path& file);

std::string quote(std::string_view text);  // a JSON string literal, escaped
std::string number(double value);          // shortest text that reads back as `value`; non-finite -> null

}  // namespace convpt::json
