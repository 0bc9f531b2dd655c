#pragma once
// Shared test helpers: temporary paths, running the CLI, relative-error comparison, seeded random
// tensors.

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "biqa/core/tensor.hpp"

namespace biqa::test {

/// A host tensor of N(0, scale²) values from a seeded generator.
inline Tensor<float> random_tensor(const Shape& shape, std::uint32_t seed, float scale = 1.0f) {
  Tensor<float> t(shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = d(rng);
  return t;
}

/// The same from a generator the caller keeps drawing from.
inline Tensor<float> random_tensor(const Shape& shape, std::mt19937& rng, float scale = 1.0f) {
  Tensor<float> t(shape);
  std::normal_distribution<float> d(0.0f, scale);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = d(rng);
  return t;
}

inline std::string data_path(const std::string& rel) { return std::string(BIQA_TEST_DATA_DIR) + "/" + rel; }

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "biqa-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct RunResult {
  int status = -1;
  std::string out;  // stdout and stderr together
};

// Runs a program with an argument string (shell-quoted by the caller); stdout+stderr captured.
inline RunResult run_program(const std::string& program, const std::string& args) {
  const std::string cmd = "'" + program + "' " + args + " 2>&1";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Runs the biqa tool.
inline RunResult run_cli(const std::string& args) {
#ifdef BIQA_CLI_PATH
  return run_program(BIQA_CLI_PATH, args);
#else
  (void)args;
  return {-1, "biqa tool not built (BIQA_BUILD_TOOLS=OFF)"};
#endif
}

// max|out - ref| / max|ref|, the parity measure of every test (a NaN or Inf on one side only is
// infinitely wrong).
inline double relative_error(const Tensor<float>& out, const Tensor<float>& ref) {
  if (out.shape() != ref.shape()) return std::numeric_limits<double>::infinity();
  const auto a = out.contiguous(), b = ref.contiguous();
  double diff = 0, scale = 0;
  for (std::int64_t i = 0; i < b.numel(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    if (std::isnan(x) != std::isnan(y) || std::isinf(x) != std::isinf(y)) return std::numeric_limits<double>::infinity();
    if (std::isnan(y) || std::isinf(y)) continue;
    diff = std::max(diff, std::fabs(x - y));
    scale = std::max(scale, std::fabs(y));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace biqa::test
