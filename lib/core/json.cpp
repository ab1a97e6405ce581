#include "core/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/files.h"

namespace convpt::json {
namespace {

const char* kind_name(Value::Kind kind) {
  switch (kind) {
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return "a boolean";
    case Value::Kind::number: return "a number";
    case Value::Kind::string: return "a string";
    case Value::Kind::array: return "an array";
    case Value::Kind::object: return "an object";
  }
  return "?";
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

// Recursive descent over the text; positions in errors are 1-based columns.
class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Value document() {
    Value v = value(0);
    skip_space();
    if (pos_ != s_.size()) fail("text after the value");
    return v;
  }

 private:
  static constexpr int kMaxDepth = 256;  // a hostile file must not overflow the stack

  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError(what + " at column " + std::to_string(pos_ + 1));
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool consume(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r' || s_[pos_] == '\n')) ++pos_;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
    skip_space();
    Value v;
    const char c = peek();
    if (c == '{') {
      v.kind_ = Value::Kind::object;
      ++pos_;
      skip_space();
      if (consume('}')) return v;
      do {
        skip_space();
        std::string key = string();
        skip_space();
        expect(':');
        v.members_.emplace_back(std::move(key), value(depth + 1));
        skip_space();
      } while (consume(','));
      if (!consume('}')) fail("expected ',' or '}'");
    } else if (c == '[') {
      v.kind_ = Value::Kind::array;
      ++pos_;
      skip_space();
      if (consume(']')) return v;
      do {
        v.items_.push_back(value(depth + 1));
        skip_space();
      } while (consume(','));
      if (!consume(']')) fail("expected ',' or ']'");
    } else if (c == '"') {
      v.kind_ = Value::Kind::string;
      v.text_ = string();
    } else {
      for (const auto& [literal, kind] : {std::pair{std::string_view("true"), Value::Kind::boolean},
                                          {"false", Value::Kind::boolean}, {"null", Value::Kind::null}})
        if (s_.substr(pos_).starts_with(literal)) {
          pos_ += literal.size();
          v.kind_ = kind;
          v.text_ = literal;
          return v;
        }
      const size_t end = std::min(s_.find_first_not_of("+-.0123456789eE", pos_), s_.size());
      if (end == pos_) fail("expected a value");
      v.kind_ = Value::Kind::number;
      v.text_ = s_.substr(pos_, end - pos_);
      double parsed = 0;
      const auto [ptr, ec] = std::from_chars(v.text_.data(), v.text_.data() + v.text_.size(), parsed);
      if (ec == std::errc::invalid_argument || ptr != v.text_.data() + v.text_.size()) fail("malformed number");
      pos_ = end;
    }
    return v;
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) fail("short \\u escape");
    uint32_t value = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[pos_++];
      value <<= 4;
      if (h >= '0' && h <= '9') value |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') value |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') value |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return value;
  }

  uint32_t code_point() {
    const uint32_t unit = hex4();
    if (unit >= 0xDC00 && unit < 0xE000) return 0xFFFD;  // a low surrogate on its own
    if (unit < 0xD800 || unit >= 0xDC00) return unit;
    if (s_.substr(pos_, 2) == "\\u") {  // a high surrogate: its low half should follow
      const size_t before = pos_;
      pos_ += 2;
      const uint32_t low = hex4();
      if (low >= 0xDC00 && low < 0xE000) return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
      pos_ = before;  // not a pair: decode the next escape on its own
    }
    return 0xFFFD;
  }

  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      const size_t special = s_.find_first_of("\"\\", pos_);
      if (special == std::string_view::npos) {
        pos_ = s_.size();
        fail("unterminated string");
      }
      out.append(s_.substr(pos_, special - pos_));
      pos_ = special + 1;
      if (s_[special] == '"') return out;
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': append_utf8(out, code_point()); break;
        default: --pos_; fail("bad escape");
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

Value parse(std::string_view text) { return Parser(text).document(); }

Value parse_file(const std::filesystem::path& file) {
  const std::optional<std::string> text = read_file(file);
  if (!text) throw std::runtime_error("cannot read " + file.string());
  try {
    return parse(*text);
  } catch (const ParseError& e) {
    throw std::runtime_error(file.string() + ": " + e.what());
  }
}

namespace {
[[noreturn]] void wrong_kind(const char* wanted, Value::Kind actual) {
  throw std::invalid_argument(std::string("expected ") + wanted + ", found " + kind_name(actual));
}
}  // namespace

bool Value::as_bool() const {
  if (kind_ != Kind::boolean) wrong_kind("a boolean", kind_);
  return text_ == "true";
}
double Value::as_double() const {
  if (kind_ != Kind::number) wrong_kind("a number", kind_);
  return std::strtod(text_.c_str(), nullptr);
}
int64_t Value::as_int64() const {
  if (kind_ != Kind::number) wrong_kind("an integer", kind_);
  int64_t out = 0;
  const auto [ptr, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), out);
  if (ec != std::errc() || ptr != text_.data() + text_.size())
    throw std::invalid_argument("expected an integer, found " + text_);
  return out;
}
const std::string& Value::as_string() const {
  if (kind_ != Kind::string) wrong_kind("a string", kind_);
  return text_;
}
const std::vector<Value>& Value::items() const {
  if (kind_ != Kind::array) wrong_kind("an array", kind_);
  return items_;
}
const std::vector<std::pair<std::string, Value>>& Value::members() const {
  if (kind_ != Kind::object) wrong_kind("an object", kind_);
  return members_;
}
const Value* Value::find(std::string_view key) const {
  for (const auto& [name, value] : members_)
    if (name == key) return &value;
  return nullptr;
}
const Value& Value::at(std::string_view key) const {
  if (kind_ != Kind::object) wrong_kind("an object", kind_);
  if (const Value* v = find(key)) return *v;
  throw std::invalid_argument("missing key \"" + std::string(key) + "\"");
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return std::string(text, end);
}

}  // namespace convpt::json
