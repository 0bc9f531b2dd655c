#pragma once
/// @file
/// The small CSV reader behind the dataset readers and the score files: comma- (or other)
/// separated fields, optional double quotes ("" is a quote), CRLF and a UTF-8 BOM tolerated.
/// Every error names the file, the line and what was expected.

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::data {

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// One record split at `delimiter`; quotes group a field and are removed.
inline std::vector<std::string> split_record(std::string_view line, char delimiter = ',') {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delimiter) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  for (auto& f : fields) f = std::string(trim(f));
  return fields;
}

/// Splits on runs of spaces and tabs (for whitespace-separated text files).
inline std::vector<std::string> split_whitespace(std::string_view line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.emplace_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

inline std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

/// A finite number or an error naming `where`.
inline double to_number(std::string_view field, const std::string& where, std::string_view column = "") {
  const auto v = parse_number(field);
  if (!v || !std::isfinite(*v))
    fail(ErrorCode::format, where, ": cannot read '", trim(field), "'", column.empty() ? "" : " (column ", column,
         column.empty() ? "" : ")", " as a finite number");
  return *v;
}

/// Non-empty lines of a text file with their 1-based line numbers; a UTF-8 BOM is dropped.
struct TextLine {
  std::size_t number = 0;
  std::string text;
};

inline std::vector<TextLine> read_lines(const std::string& path) {
  const auto bytes = io::read_file_bytes(path);
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<TextLine> lines;
  std::size_t number = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    ++number;
    if (!trim(line).empty()) lines.push_back({number, std::string(trim(line))});
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

/// A CSV file with a header row.
struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> line_numbers;  ///< of each row, for messages

  std::string where(std::size_t row) const { return cat(path, ":", line_numbers[row]); }

  /// The first of `names` present in the header (exact match, then case-insensitive).
  std::optional<std::size_t> find(std::initializer_list<std::string_view> names) const {
    for (auto n : names)
      for (std::size_t i = 0; i < header.size(); ++i)
        if (header[i] == n) return i;
    auto lower = [](std::string_view s) {
      std::string out(s);
      for (auto& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
      return out;
    };
    for (auto n : names)
      for (std::size_t i = 0; i < header.size(); ++i)
        if (lower(header[i]) == lower(n)) return i;
    return std::nullopt;
  }

  /// Like find(), but a missing column is an error that names what was wanted and what is there.
  std::size_t column(std::initializer_list<std::string_view> names, std::string_view what) const {
    if (auto i = find(names)) return *i;
    std::string wanted, present;
    for (auto n : names) wanted += (wanted.empty() ? "'" : " or '") + std::string(n) + "'";
    for (const auto& h : header) present += (present.empty() ? "'" : ", '") + h + "'";
    fail(ErrorCode::format, path, ": no ", what, " column: expected ", wanted, " in the header (it has ", present, ")");
  }
  std::size_t column(const std::string& name, std::string_view what) const { return column({std::string_view(name)}, what); }

  const std::string& field(std::size_t row, std::size_t col) const {
    if (col >= rows[row].size())
      fail(ErrorCode::format, where(row), ": has ", rows[row].size(), " fields, expected at least ", col + 1);
    return rows[row][col];
  }
  double number(std::size_t row, std::size_t col) const { return to_number(field(row, col), where(row), header[col]); }
};

inline CsvTable read_csv(const std::string& path, char delimiter = ',') {
  CsvTable t;
  t.path = path;
  const auto lines = read_lines(path);
  if (lines.empty()) fail(ErrorCode::format, path, ": empty file, expected a header row");
  t.header = split_record(lines[0].text, delimiter);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    t.rows.push_back(split_record(lines[i].text, delimiter));
    t.line_numbers.push_back(lines[i].number);
  }
  return t;
}

/// Numbers from `path`: one per line, or with `column` the CSV column with that header name.
inline std::vector<double> read_number_column(const std::string& path, const std::optional<std::string>& column = {}) {
  std::vector<double> out;
  if (column) {
    const auto t = read_csv(path);
    const std::size_t c = t.column(*column, "score");
    for (std::size_t r = 0; r < t.rows.size(); ++r) out.push_back(t.number(r, c));
    return out;
  }
  for (const auto& line : read_lines(path)) out.push_back(to_number(line.text, cat(path, ":", line.number)));
  return out;
}

}  // namespace biqa::data
