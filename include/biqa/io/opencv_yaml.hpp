#pragma once
/// @file
/// A reader for the subset of YAML that OpenCV's cv::FileStorage writes ("%YAML:1.0"): block
/// mappings and sequences by indentation, flow sequences "[ a, b ]", flow mappings "{ k:v }",
/// plain scalars and the "!!opencv-matrix" tag. Enough for the BRISQUE model and range files,
/// and bounded: nesting depth and sizes are limited, and malformed text gives biqa::Error with
/// the line number, never a crash.

#include <cstddef>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::io::yaml {

class Node {
 public:
  enum class Kind { null, scalar, sequence, mapping };

  Kind kind() const { return kind_; }
  bool is_mapping() const { return kind_ == Kind::mapping; }
  bool is_sequence() const { return kind_ == Kind::sequence; }
  bool is_scalar() const { return kind_ == Kind::scalar; }
  const std::string& tag() const { return tag_; }
  const std::string& text() const { return text_; }
  std::size_t size() const { return kind_ == Kind::mapping ? keys_.size() : items_.size(); }

  /// Mapping lookup; nullptr when absent.
  const Node* find(std::string_view key) const {
    for (std::size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] == key) return &items_[i];
    return nullptr;
  }
  /// Mapping lookup that fails with the path in the message.
  const Node& at(std::string_view key) const {
    const Node* n = find(key);
    if (!n) fail(ErrorCode::key, where_, ": missing key '", key, "'");
    return *n;
  }
  const Node& operator[](std::size_t i) const {
    BIQA_CHECK(kind_ == Kind::sequence && i < items_.size(), ErrorCode::key, where_,
               ": no item ", i);
    return items_[i];
  }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::vector<Node>& items() const { return items_; }

  double as_double() const {
    BIQA_CHECK(kind_ == Kind::scalar, ErrorCode::format, where_, ": expected a number");
    const char* b = text_.c_str();
    char* e = nullptr;
    const double v = std::strtod(b, &e);
    BIQA_CHECK(e != b && *e == '\0', ErrorCode::format, where_, ": '", text_,
               "' is not a number");
    return v;
  }
  long long as_int() const {
    const double v = as_double();
    BIQA_CHECK(v == double(static_cast<long long>(v)), ErrorCode::format, where_, ": '", text_,
               "' is not an integer");
    return static_cast<long long>(v);
  }
  /// Every item of a sequence of numbers.
  std::vector<double> as_doubles() const {
    BIQA_CHECK(kind_ == Kind::sequence, ErrorCode::format, where_, ": expected a sequence");
    std::vector<double> out;
    out.reserve(items_.size());
    for (const auto& it : items_) out.push_back(it.as_double());
    return out;
  }
  const std::string& where() const { return where_; }

 private:
  friend class Parser;
  Kind kind_ = Kind::null;
  std::string tag_, text_, where_;
  std::vector<std::string> keys_;
  std::vector<Node> items_;
};

/// An OpenCV matrix ("!!opencv-matrix": rows, cols, dt, data) as row-major doubles.
struct Matrix {
  int rows = 0, cols = 0;
  std::vector<double> data;
  double operator()(int r, int c) const { return data[std::size_t(r) * cols + c]; }
};

class Parser {
 public:
  static constexpr int max_depth = 64;
  static constexpr std::size_t max_bytes = std::size_t(1) << 28;

  Parser(std::string_view text, std::string name) : s_(text), name_(std::move(name)) {
    BIQA_CHECK(text.size() <= max_bytes, ErrorCode::format, name_, ": file too large");
  }

  Node parse() {
    // Header lines: "%YAML:1.0" (OpenCV's spelling) or "%YAML 1.0", then "---".
    skip_blank_lines();
    if (p_ < s_.size() && s_[p_] == '%') skip_line();
    skip_blank_lines();
    if (s_.substr(p_, 3) == "---") skip_line();
    skip_blank_lines();
    Node root;
    root.where_ = name_;
    if (p_ >= s_.size()) fail(ErrorCode::format, name_, ": empty document");
    root = block(column(), 0, name_);
    skip_blank_lines();
    if (p_ < s_.size()) error("unexpected content after the document");
    return root;
  }

 private:
  std::string_view s_;
  std::string name_;
  std::size_t p_ = 0;
  int line_ = 1;

  [[noreturn]] void error(std::string_view what) const {
    fail(ErrorCode::format, name_, ":", line_, ": ", what);
  }
  int column() const {
    std::size_t b = p_;
    while (b > 0 && s_[b - 1] != '\n') --b;
    return static_cast<int>(p_ - b);
  }
  void skip_line() {
    while (p_ < s_.size() && s_[p_] != '\n') ++p_;
    if (p_ < s_.size()) { ++p_; ++line_; }
  }
  void skip_spaces() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t')) ++p_;
    if (p_ < s_.size() && s_[p_] == '#') while (p_ < s_.size() && s_[p_] != '\n') ++p_;
  }
  /// Moves to the first non-blank character of the next non-empty line.
  void skip_blank_lines() {
    for (;;) {
      skip_spaces();
      if (p_ < s_.size() && s_[p_] == '\r') ++p_;
      if (p_ < s_.size() && s_[p_] == '\n') { ++p_; ++line_; continue; }
      return;
    }
  }
  /// Inside flow collections newlines are whitespace.
  void skip_ws() {
    for (;;) {
      skip_spaces();
      if (p_ < s_.size() && (s_[p_] == '\n' || s_[p_] == '\r')) {
        if (s_[p_] == '\n') ++line_;
        ++p_;
        continue;
      }
      return;
    }
  }
  void check_depth(int depth) const {
    if (depth > max_depth) error("nesting too deep");
  }

  /// A block collection whose first entry starts at the current position, at column `indent`.
  Node block(int indent, int depth, const std::string& where) {
    check_depth(depth);
    Node n;
    n.where_ = where;
    if (s_[p_] == '-' && (p_ + 1 >= s_.size() || s_[p_ + 1] == ' ' || s_[p_ + 1] == '\n' ||
                          s_[p_ + 1] == '\r')) {
      n.kind_ = Node::Kind::sequence;
      while (p_ < s_.size() && column() == indent && s_[p_] == '-') {
        ++p_;
        const std::string item_where = cat(where, "[", n.items_.size(), "]");
        n.items_.push_back(value_after_indicator(indent, depth, item_where));
        skip_blank_lines();
      }
    } else {
      n.kind_ = Node::Kind::mapping;
      while (p_ < s_.size() && column() == indent) {
        std::string key = read_key();
        const std::string item_where = cat(where, ".", key);
        for (const auto& k : n.keys_)
          if (k == key) error(cat("duplicate key '", key, "'"));
        n.keys_.push_back(std::move(key));
        n.items_.push_back(value_after_indicator(indent, depth, item_where));
        skip_blank_lines();
      }
    }
    if (p_ < s_.size() && column() > indent) error("bad indentation");
    return n;
  }

  std::string read_key() {
    const std::size_t b = p_;
    while (p_ < s_.size() && s_[p_] != ':' && s_[p_] != '\n') ++p_;
    if (p_ >= s_.size() || s_[p_] != ':') error("expected 'key: value'");
    std::string key(s_.substr(b, p_ - b));
    while (!key.empty() && key.back() == ' ') key.pop_back();
    if (key.empty()) error("empty key");
    ++p_;  // ':'
    return key;
  }

  /// The value after "key:" or "-": inline on the same line, or a nested block below.
  Node value_after_indicator(int indent, int depth, const std::string& where) {
    skip_spaces();
    std::string tag;
    if (p_ + 1 < s_.size() && s_[p_] == '!' && s_[p_ + 1] == '!') {
      const std::size_t b = p_;
      while (p_ < s_.size() && s_[p_] != ' ' && s_[p_] != '\n' && s_[p_] != '\r') ++p_;
      tag = std::string(s_.substr(b, p_ - b));
      skip_spaces();
    }
    Node n;
    if (p_ >= s_.size() || s_[p_] == '\n' || s_[p_] == '\r') {
      skip_blank_lines();
      if (p_ < s_.size() && column() > indent) {
        n = block(column(), depth + 1, where);
      } else {
        n.where_ = where;  // an empty value
      }
    } else if (s_[p_] == '[' || s_[p_] == '{') {
      n = flow(depth + 1, where);
      skip_spaces();
      if (p_ < s_.size() && s_[p_] != '\n' && s_[p_] != '\r') error("text after a flow value");
    } else {
      const std::size_t b = p_;
      while (p_ < s_.size() && s_[p_] != '\n' && s_[p_] != '\r' && s_[p_] != '#') ++p_;
      n.kind_ = Node::Kind::scalar;
      n.text_ = trim(s_.substr(b, p_ - b));
      n.where_ = where;
    }
    n.tag_ = tag;
    return n;
  }

  Node flow(int depth, const std::string& where) {
    check_depth(depth);
    Node n;
    n.where_ = where;
    const char open = s_[p_++];
    const char close = open == '[' ? ']' : '}';
    n.kind_ = open == '[' ? Node::Kind::sequence : Node::Kind::mapping;
    skip_ws();
    if (p_ < s_.size() && s_[p_] == close) { ++p_; return n; }
    for (;;) {
      skip_ws();
      if (p_ >= s_.size()) error("unterminated flow collection");
      std::string item_where;
      if (n.kind_ == Node::Kind::mapping) {
        // OpenCV writes "{ epsilon:1.0e-03 }", without a space after the colon.
        const std::size_t b = p_;
        while (p_ < s_.size() && s_[p_] != ':' && s_[p_] != ',' && s_[p_] != close) ++p_;
        if (p_ >= s_.size() || s_[p_] != ':') error("expected 'key:value' in a flow mapping");
        n.keys_.push_back(trim(s_.substr(b, p_ - b)));
        ++p_;
        item_where = cat(where, ".", n.keys_.back());
        skip_ws();
      } else {
        item_where = cat(where, "[", n.items_.size(), "]");
      }
      if (p_ < s_.size() && (s_[p_] == '[' || s_[p_] == '{')) {
        n.items_.push_back(flow(depth + 1, item_where));
      } else {
        const std::size_t b = p_;
        while (p_ < s_.size() && s_[p_] != ',' && s_[p_] != close && s_[p_] != '\n') ++p_;
        Node item;
        item.kind_ = Node::Kind::scalar;
        item.text_ = trim(s_.substr(b, p_ - b));
        item.where_ = item_where;
        if (item.text_.empty()) error("empty item in a flow collection");
        n.items_.push_back(std::move(item));
      }
      skip_ws();
      if (p_ >= s_.size()) error("unterminated flow collection");
      if (s_[p_] == ',') { ++p_; continue; }
      if (s_[p_] == close) { ++p_; return n; }
      error(cat("expected ',' or '", close, "'"));
    }
  }

  static std::string trim(std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r'))
      v.remove_suffix(1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
};

inline Node parse(std::string_view text, const std::string& name = "<yaml>") {
  return Parser(text, name).parse();
}

inline Node read_file(const std::string& path) {
  const auto f = MappedFile::open(path);
  return parse(std::string_view(reinterpret_cast<const char*>(f->data()), f->size()), path);
}

/// Reads an "!!opencv-matrix" node, checking that data has rows×cols numbers.
inline Matrix to_matrix(const Node& n) {
  BIQA_CHECK(n.is_mapping(), ErrorCode::format, n.where(), ": expected an opencv-matrix");
  Matrix m;
  const long long rows = n.at("rows").as_int(), cols = n.at("cols").as_int();
  BIQA_CHECK(rows >= 0 && cols >= 0 && rows * cols <= (1LL << 28), ErrorCode::format,
             n.where(), ": bad matrix size ", rows, "×", cols);
  m.rows = static_cast<int>(rows);
  m.cols = static_cast<int>(cols);
  m.data = n.at("data").as_doubles();
  BIQA_CHECK(m.data.size() == std::size_t(rows * cols), ErrorCode::format, n.where(),
             ": data has ", m.data.size(), " values, expected ", rows * cols);
  return m;
}

}  // namespace biqa::io::yaml
