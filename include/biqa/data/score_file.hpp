#pragma once
/// @file
/// The score cache of `biqa eval`: a CSV "image,score,mos" that grows one line per scored image,
/// flushed as it goes, so that an interrupted run resumes where it stopped. A failed image has an
/// empty score. When an image appears twice the later line wins (a retry after a failure).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/data/csv.hpp"

namespace biqa::data {

struct ScoreEntry {
  std::string image;
  std::optional<double> score;  ///< empty: the image could not be scored
  double mos = 0;
};

/// Entries of a score file in first-appearance order, later duplicates replacing earlier ones.
inline std::vector<ScoreEntry> read_score_file(const std::string& path) {
  const auto t = read_csv(path);
  const auto ci = t.column({"image"}, "image");
  const auto cs = t.column({"score"}, "score");
  const auto cm = t.column({"mos"}, "mos");
  std::vector<ScoreEntry> out;
  std::map<std::string, std::size_t> at;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    ScoreEntry e;
    e.image = t.field(r, ci);
    // A line cut short by an interruption (fewer fields) is ignored: the image is scored again.
    if (t.rows[r].size() <= std::max(cs, cm)) continue;
    if (!trim(t.rows[r][cs]).empty()) e.score = t.number(r, cs);
    e.mos = t.number(r, cm);
    auto [it, fresh] = at.emplace(e.image, out.size());
    if (fresh) out.push_back(std::move(e));
    else out[it->second] = std::move(e);
  }
  return out;
}

inline std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

/// Appends entries to a score file (created with its header when absent); thread-safe.
class ScoreWriter {
 public:
  explicit ScoreWriter(std::string path) : path_(std::move(path)) {
    const bool fresh = !std::filesystem::exists(path_) || std::filesystem::file_size(path_) == 0;
    // A line cut short by a kill would glue onto the next one: start on a fresh line.
    bool needs_newline = false;
    if (!fresh) {
      if (FILE* r = std::fopen(path_.c_str(), "rb")) {
        std::fseek(r, -1, SEEK_END);
        needs_newline = std::fgetc(r) != '\n';
        std::fclose(r);
      }
    }
    file_ = std::fopen(path_.c_str(), "ab");
    BIQA_CHECK(file_ != nullptr, ErrorCode::io, "cannot open score file ", path_, " for appending");
    if (fresh) std::fputs("image,score,mos\n", file_);
    else if (needs_newline) std::fputs("\n", file_);
    std::fflush(file_);
  }
  ScoreWriter(const ScoreWriter&) = delete;
  ScoreWriter& operator=(const ScoreWriter&) = delete;
  ~ScoreWriter() {
    if (file_) std::fclose(file_);
  }

  void append(const ScoreEntry& e) {
    char score[40] = "", mos[40];
    if (e.score) std::snprintf(score, sizeof score, "%.17g", *e.score);
    std::snprintf(mos, sizeof mos, "%.17g", e.mos);
    const std::string line = csv_quote(e.image) + "," + score + "," + mos + "\n";
    std::lock_guard<std::mutex> lock(mutex_);
    BIQA_CHECK(std::fputs(line.c_str(), file_) >= 0 && std::fflush(file_) == 0, ErrorCode::io,
               "cannot write to score file ", path_);
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::mutex mutex_;
};

}  // namespace biqa::data
