#pragma once
/// @file
/// The 25 KADID-10k / KADIS-700k distortion types by name, their level tables, and `apply`, which
/// wraps a distortion like MATLAB's imdist_generator: min–max normalise the input, distort,
/// min–max normalise the output (ApplyOptions::normalize, on by default).

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "biqa/distortions/blur.hpp"
#include "biqa/distortions/brightness.hpp"
#include "biqa/distortions/color.hpp"
#include "biqa/distortions/common.hpp"
#include "biqa/distortions/compression.hpp"
#include "biqa/distortions/noise.hpp"
#include "biqa/distortions/sharpness_contrast.hpp"
#include "biqa/distortions/spatial.hpp"

namespace biqa::distortions {

struct DistortionInfo {
  int number;                     ///< KADID type number, 1–25
  std::string_view name;          // biqa's name
  std::string_view parameter;     ///< what the level controls
  std::array<double, 5> levels;   // parameter at levels 1..5 (1 = mildest), MATLAB's values
  bool random;                    ///< draws from the Rng
};

inline const std::array<DistortionInfo, 25>& distortion_table() {
  static const std::array<DistortionInfo, 25> table{{
      {1, "gaussian_blur", "sigma (px)", {0.1, 0.5, 1, 2, 5}, false},
      {2, "lens_blur", "disk radius (px)", {1, 2, 4, 6, 8}, false},
      {3, "motion_blur", "length (px)", {1, 2, 4, 6, 10}, true},
      {4, "color_diffusion", "amount", {1, 3, 6, 8, 12}, false},
      {5, "color_shift", "shift (px)", {1, 3, 6, 8, 12}, true},
      {6, "color_quantization", "palette colours", {64, 48, 32, 16, 8}, false},
      {7, "color_saturation_1", "HSV saturation factor", {0.4, 0.2, 0.1, 0, -0.4}, false},
      {8, "color_saturation_2", "Lab chroma factor", {1, 2, 3, 6, 9}, false},
      {9, "jpeg2000", "compression ratio", {16, 32, 45, 120, 400}, false},
      {10, "jpeg", "IJG quality", {43, 36, 24, 7, 4}, false},
      {11, "white_noise", "variance", {0.001, 0.002, 0.003, 0.005, 0.01}, true},
      {12, "white_noise_color_component", "variance", {0.0001, 0.0005, 0.001, 0.002, 0.003}, true},
      {13, "impulse_noise", "density", {0.001, 0.005, 0.01, 0.02, 0.03}, true},
      {14, "multiplicative_noise", "variance", {0.001, 0.005, 0.01, 0.02, 0.05}, true},
      {15, "denoise", "noise variance", {0.01, 0.03, 0.05, 0.1, 0.15}, true},
      {16, "brighten", "amount", {0.1, 0.2, 0.4, 0.7, 1.1}, false},
      {17, "darken", "amount", {0.05, 0.1, 0.2, 0.4, 0.8}, false},
      {18, "mean_shift", "shift", {0.15, 0.08, 0, -0.08, -0.15}, false},
      {19, "jitter", "displacement std (px)", {0.05, 0.1, 0.2, 0.5, 1}, true},
      {20, "non_eccentricity_patch", "patch count", {20, 40, 60, 80, 100}, true},
      {21, "pixelate", "strength s (scale 0.95 - s^0.6)", {0.01, 0.05, 0.1, 0.2, 0.5}, false},
      {22, "quantization", "threshold count", {20, 16, 13, 10, 7}, false},
      {23, "color_block", "block count", {2, 4, 6, 8, 10}, true},
      {24, "high_sharpen", "unsharp amount", {1, 2, 3, 6, 12}, false},
      {25, "contrast_change", "contrast a", {0.3, 0.15, 0, -0.4, -0.6}, false},
  }};
  return table;
}

inline std::vector<std::string> distortion_names() {
  std::vector<std::string> names;
  for (const auto& d : distortion_table()) names.emplace_back(d.name);
  return names;
}

inline const DistortionInfo& find_distortion(std::string_view name) {
  for (const auto& d : distortion_table())
    if (d.name == name) return d;
  std::string all;
  for (const auto& d : distortion_table()) all += (all.empty() ? "" : ", ") + std::string(d.name);
  fail(ErrorCode::invalid_argument, "unknown distortion '", name, "' (known: ", all, ")");
}
inline const DistortionInfo& find_distortion(int number) {
  BIQA_CHECK(number >= 1 && number <= 25, ErrorCode::invalid_argument, "distortion number ", number,
             " is outside 1–25");
  return distortion_table()[static_cast<std::size_t>(number - 1)];
}

/// The parameter at a level in [1, 5]; fractional levels interpolate linearly between the table's
/// neighbours (continuous strength).
inline double parameter_at(const DistortionInfo& d, double level) {
  BIQA_CHECK(std::isfinite(level) && level >= 1.0 && level <= 5.0, ErrorCode::invalid_argument,
             d.name, ": level ", level, " is outside [1, 5]");
  const int i = std::min(3, static_cast<int>(std::floor(level)) - 1);
  const double f = level - (i + 1);
  return d.levels[static_cast<std::size_t>(i)] * (1 - f) + d.levels[static_cast<std::size_t>(i + 1)] * f;
}

struct ApplyOptions {
  /// MATLAB imdist_generator's min–max normalisation before and after the distortion. Off: the
  /// input is clipped to [0,1] and so is the output (ARNIQA's convention).
  bool normalize = true;
};

/// The distortion itself at a given parameter value (no normalisation).
inline Image apply_parameter(const DistortionInfo& d, double v, const Image& in, Rng& rng) {
  switch (d.number) {
    case 1: return gaussian_blur(in, v);
    case 2: return lens_blur(in, v);
    case 3: return motion_blur(in, v, rng);
    case 4: return color_diffusion(in, v);
    case 5: return color_shift(in, v, rng);
    case 6: return color_quantization(in, v);
    case 7: return color_saturation_1(in, v);
    case 8: return color_saturation_2(in, v);
    case 9: return jpeg2000(in, v);
    case 10: return jpeg(in, v);
    case 11: return white_noise(in, v, rng);
    case 12: return white_noise_color_component(in, v, rng);
    case 13: return impulse_noise(in, v, rng);
    case 14: return multiplicative_noise(in, v, rng);
    case 15: return denoise(in, v, rng);
    case 16: return brighten(in, v);
    case 17: return darken(in, v);
    case 18: return mean_shift(in, v);
    case 19: return jitter(in, v, rng);
    case 20: return non_eccentricity_patch(in, v, rng);
    case 21: return pixelate(in, v);
    case 22: return quantization(in, v);
    case 23: return color_block(in, v, rng);
    case 24: return high_sharpen(in, v);
    case 25: return contrast_change(in, v);
    default: fail(ErrorCode::internal, "distortion table entry ", d.number);
  }
}

/// Distorts `in` (H×W×3) with type `name` at `level` (1–5, fractional allowed).
inline Image apply(std::string_view name, double level, const Image& in, Rng& rng,
                   const ApplyOptions& opt = {}) {
  const DistortionInfo& d = find_distortion(name);
  check_rgb(in, d.name);
  const double v = parameter_at(d, level);
  Image x = in.contiguous().clone();
  if (opt.normalize) mapmm(x);
  else truncate(x);
  Image out = apply_parameter(d, v, x, rng);
  if (opt.normalize) mapmm(out);
  truncate(out);  // mapmm output is in [0,1] up to rounding; this makes it exact
  return out;
}
inline Image apply(std::string_view name, double level, const Image& in, std::uint64_t seed,
                   const ApplyOptions& opt = {}) {
  Rng rng(seed);
  return apply(name, level, in, rng, opt);
}

}  // namespace biqa::distortions
