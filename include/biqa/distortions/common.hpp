#pragma once
/// @file
/// Shared pieces of the distortion generators: the image type, a platform-independent random
/// number source, seed derivation, and the MATLAB helpers `mapmm` and `truncate`.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::distortions {

/// Images are H×W×3 float tensors with values in [0, 1] (contiguous, row-major, RGB interleaved).
using Image = Tensor<float>;

inline void check_rgb(const Image& img, std::string_view where) {
  BIQA_CHECK(img.dim() == 3 && img.size(2) == 3 && img.size(0) > 0 && img.size(1) > 0,
             ErrorCode::invalid_argument, where, ": expected an H×W×3 image, got ",
             img.shape().to_string());
}

inline Image new_image(std::int64_t h, std::int64_t w) { return Image(Shape{h, w, 3}); }

/// A random source whose output is the same on every platform and standard library:
/// std::mt19937_64 is fully specified; the distributions below are our own (std:: ones are not).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(engine_() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [lo, hi] (inclusive).
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {
    const auto n = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<std::int64_t>(uniform() * double(n)) % static_cast<std::int64_t>(n);
  }
  /// Standard normal by the Box–Muller transform (pairs; the second value is cached).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }
  std::uint64_t bits() { return engine_(); }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// SplitMix64 finaliser: decorrelates seeds derived from (seed, index, type).
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
/// Seed for one (image, distortion) job, independent of the order in which jobs run.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index, std::uint64_t type = 0) {
  return mix64(mix64(mix64(seed) ^ index) ^ (type * 0x100000001b3ULL + 0x51ed27ULL));
}

inline float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }
inline double clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

/// MATLAB `truncate`: clip every sample to [lo, hi], in place.
inline void truncate(Image& img, float lo = 0.0f, float hi = 1.0f) {
  float* p = img.data();
  for (std::int64_t i = 0; i < img.numel(); ++i) p[i] = p[i] < lo ? lo : p[i] > hi ? hi : p[i];
}

/// MATLAB `mapmm`: (x − min) / (max − min) over all samples; unchanged when max = min.
inline void mapmm(Image& img) {
  float* p = img.data();
  const std::int64_t n = img.numel();
  if (n == 0) return;
  float lo = p[0], hi = p[0];
  for (std::int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  if (!(hi > lo)) return;
  const double scale = 1.0 / (double(hi) - double(lo));
  for (std::int64_t i = 0; i < n; ++i) p[i] = float((double(p[i]) - lo) * scale);
}

}  // namespace biqa::distortions
