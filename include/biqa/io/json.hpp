#pragma once
/// @file
/// A small JSON value, parser and writer: enough for safetensors headers, model configs and the
/// CLI's output. Strict (RFC 8259), depth-limited, with errors that give the byte offset.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::json {

class Value;
using Array = std::vector<Value>;
/// Keys keep insertion order (a vector of pairs): safetensors tensors are listed in file order.
using Object = std::vector<std::pair<std::string, Value>>;

class Value {
 public:
  enum class Type { null, boolean, number, string, array, object };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(double d) : v_(d) {}
  Value(int i) : v_(double(i)) {}
  Value(std::int64_t i) : v_(double(i)) {}
  Value(std::size_t i) : v_(double(i)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(Array a) : v_(std::make_shared<Array>(std::move(a))) {}
  Value(Object o) : v_(std::make_shared<Object>(std::move(o))) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::null; }
  bool is_bool() const { return type() == Type::boolean; }
  bool is_number() const { return type() == Type::number; }
  bool is_string() const { return type() == Type::string; }
  bool is_array() const { return type() == Type::array; }
  bool is_object() const { return type() == Type::object; }

  bool as_bool() const { return get<bool>("a boolean"); }
  double as_number() const { return get<double>("a number"); }
  /// An integer-valued number (rejects fractions and values beyond 2^53).
  std::int64_t as_int() const {
    const double d = as_number();
    BIQA_CHECK(std::floor(d) == d && std::fabs(d) <= 9007199254740992.0, ErrorCode::format,
               "JSON: expected an integer, got ", d);
    return static_cast<std::int64_t>(d);
  }
  const std::string& as_string() const { return get<std::string>("a string"); }
  const Array& as_array() const { return *get<std::shared_ptr<Array>>("an array"); }
  const Object& as_object() const { return *get<std::shared_ptr<Object>>("an object"); }
  Array& as_array() { return *get<std::shared_ptr<Array>>("an array"); }
  Object& as_object() { return *get<std::shared_ptr<Object>>("an object"); }

  /// Object member lookup: nullptr when absent (or when this is not an object).
  const Value* find(std::string_view key) const {
    if (!is_object()) return nullptr;
    for (const auto& [k, v] : as_object())
      if (k == key) return &v;
    return nullptr;
  }
  const Value& operator[](std::string_view key) const {
    const Value* v = find(key);
    if (!v) fail(ErrorCode::format, "JSON: missing key '", key, "'");
    return *v;
  }
  /// Appends or replaces a member (this must be an object, or null which becomes one).
  Value& set(const std::string& key, Value v) {
    if (is_null()) v_ = std::make_shared<Object>();
    auto& o = as_object();
    for (auto& [k, old] : o)
      if (k == key) return old = std::move(v);
    o.emplace_back(key, std::move(v));
    return o.back().second;
  }
  void push_back(Value v) {
    if (is_null()) v_ = std::make_shared<Array>();
    as_array().push_back(std::move(v));
  }

  std::string dump(int indent = -1) const {
    std::string out;
    write(out, indent, 0);
    return out;
  }

 private:
  template <typename T>
  const T& get(const char* what) const {
    if (const T* p = std::get_if<T>(&v_)) return *p;
    fail(ErrorCode::format, "JSON: expected ", what);
  }
  template <typename T>
  T& get(const char* what) {
    if (T* p = std::get_if<T>(&v_)) return *p;
    fail(ErrorCode::format, "JSON: expected ", what);
  }

  static void write_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    out += '"';
  }

  static void newline(std::string& out, int indent, int depth) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<std::size_t>(indent * depth), ' ');
  }

  void write(std::string& out, int indent, int depth) const {
    switch (type()) {
      case Type::null: out += "null"; break;
      case Type::boolean: out += std::get<bool>(v_) ? "true" : "false"; break;
      case Type::number: {
        const double d = std::get<double>(v_);
        if (!std::isfinite(d)) {
          out += "null";  // JSON has no NaN/Inf
        } else if (std::floor(d) == d && std::fabs(d) < 1e15) {
          out += std::to_string(static_cast<std::int64_t>(d));
        } else {
          // Shortest of %.15g/%.17g that reads back to the same double.
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.15g", d);
          if (std::strtod(buf, nullptr) != d) std::snprintf(buf, sizeof buf, "%.17g", d);
          out += buf;
        }
        break;
      }
      case Type::string: write_string(out, std::get<std::string>(v_)); break;
      case Type::array: {
        const auto& a = as_array();
        out += '[';
        for (std::size_t i = 0; i < a.size(); ++i) {
          if (i) out += indent >= 0 ? "," : ", ";
          newline(out, indent, depth + 1);
          a[i].write(out, indent, depth + 1);
        }
        if (!a.empty()) newline(out, indent, depth);
        out += ']';
        break;
      }
      case Type::object: {
        const auto& o = as_object();
        out += '{';
        for (std::size_t i = 0; i < o.size(); ++i) {
          if (i) out += indent >= 0 ? "," : ", ";
          newline(out, indent, depth + 1);
          write_string(out, o[i].first);
          out += ": ";
          o[i].second.write(out, indent, depth + 1);
        }
        if (!o.empty()) newline(out, indent, depth);
        out += '}';
        break;
      }
    }
  }

  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      v_;
};

namespace detail {

class Parser {
 public:
  Parser(std::string_view text, std::string_view source) : s_(text), source_(source) {}

  Value parse_document() {
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) error("unexpected trailing characters");
    return v;
  }

 private:
  static constexpr int max_depth = 256;

  [[noreturn]] void error(const char* what) const {
    fail(ErrorCode::format, source_, ": invalid JSON at byte ", pos_, ": ", what);
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
      ++pos_;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void expect(char c) {
    if (peek() != c) {
      const char msg[] = {'e', 'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', c, '\'', '\0'};
      error(msg);
    }
    ++pos_;
  }
  bool consume_literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) == lit) {
      pos_ += lit.size();
      return true;
    }
    return false;
  }

  Value parse_value(int depth) {
    if (depth > max_depth) error("nesting too deep");
    switch (peek()) {
      case '{': return parse_object(depth);
      case '[': return parse_array(depth);
      case '"': return Value(parse_string());
      case 't':
        if (consume_literal("true")) return Value(true);
        break;
      case 'f':
        if (consume_literal("false")) return Value(false);
        break;
      case 'n':
        if (consume_literal("null")) return Value(nullptr);
        break;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return Value(parse_number());
    }
    error(pos_ >= s_.size() ? "unexpected end of input" : "unexpected character");
  }

  Value parse_object(int depth) {
    expect('{');
    Object o;
    skip_ws();
    if (peek() == '}') {
      ++pos_;
      return Value(std::move(o));
    }
    while (true) {
      skip_ws();
      if (peek() != '"') error("expected a string key");
      std::string key = parse_string();
      skip_ws();
      expect(':');
      skip_ws();
      o.emplace_back(std::move(key), parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}');
      return Value(std::move(o));
    }
  }

  Value parse_array(int depth) {
    expect('[');
    Array a;
    skip_ws();
    if (peek() == ']') {
      ++pos_;
      return Value(std::move(a));
    }
    while (true) {
      skip_ws();
      a.push_back(parse_value(depth + 1));
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']');
      return Value(std::move(a));
    }
  }

  double parse_number() {
    const std::size_t start = pos_;
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++pos_;
    } else {
      error("bad number");
    }
    if (peek() == '.') {
      ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) error("bad number");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!(peek() >= '0' && peek() <= '9')) error("bad number");
      while (peek() >= '0' && peek() <= '9') ++pos_;
    }
    const std::string text(s_.substr(start, pos_ - start));
    return std::strtod(text.c_str(), nullptr);
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) error("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else error("bad \\u escape");
    }
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xc0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += char(0xe0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3f));
      out += char(0x80 | (cp & 0x3f));
    } else {
      out += char(0xf0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3f));
      out += char(0x80 | ((cp >> 6) & 0x3f));
      out += char(0x80 | (cp & 0x3f));
    }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) error("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xd800 && cp < 0xdc00) {  // surrogate pair
            if (!consume_literal("\\u")) error("lone high surrogate");
            const unsigned lo = parse_hex4();
            if (lo < 0xdc00 || lo >= 0xe000) error("bad low surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            error("lone low surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: error("bad escape");
      }
    }
  }

  std::string_view s_;
  std::string_view source_;
  std::size_t pos_ = 0;
};

}  // namespace detail

/// Parses a JSON document; `source` names it in error messages (a file path, "header", ...).
inline Value parse(std::string_view text, std::string_view source = "JSON") {
  return detail::Parser(text, source).parse_document();
}

/// Parses the JSON document in a file (errors name the path; an unreadable file is an io error).
inline Value parse_file(const std::string& path) {
  const std::vector<unsigned char> bytes = io::read_file_bytes(path);
  return parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
}

}  // namespace biqa::json
