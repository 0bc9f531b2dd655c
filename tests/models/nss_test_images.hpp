#pragma once
// Deterministic test images for the natural-scene-statistics models: a synthetic scene with a
// roughly 1/f spectrum and sharp-edged objects, and blur / JPEG / noise distortions at levels
// of increasing strength. Nothing here depends on the library under test except image I/O.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "biqa/core/tensor.hpp"
#include "biqa/io/image.hpp"

namespace biqa::test {

// A splitmix64 stream: the same numbers on every platform (std:: distributions are not).
struct SplitMix {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {  // Box-Muller
    const double u = std::max(uniform(), 1e-300), v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
};

// An RGB scene: sinusoids with 1/f amplitudes (texture at every scale) under a few flat discs
// and rectangles (sharp edges), values in [0, 1].
inline Tensor<float> synthetic_scene(int h, int w, std::uint64_t seed) {
  SplitMix rng{seed};
  struct Wave { double fx, fy, phase, amp[3]; };
  std::vector<Wave> waves;
  for (int k = 0; k < 48; ++k) {
    const double f = std::exp(std::log(1.0 / 200) + (std::log(0.45) - std::log(1.0 / 200)) * rng.uniform());
    const double th = 6.283185307179586 * rng.uniform();
    Wave wv{f * std::cos(th), f * std::sin(th), 6.283185307179586 * rng.uniform(), {}};
    const double a = 0.012 / std::sqrt(f);
    const double common = rng.normal();
    for (double& c : wv.amp) c = a * (0.8 * common + 0.3 * rng.normal());
    waves.push_back(wv);
  }
  Tensor<float> img({h, w, 3});
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) img(y, x, c) = 0.45f;
  for (const auto& wv : waves)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double s = std::sin(6.283185307179586 * (wv.fx * x + wv.fy * y) + wv.phase);
        for (int c = 0; c < 3; ++c) img(y, x, c) += static_cast<float>(wv.amp[c] * s);
      }
  for (int k = 0; k < 10; ++k) {
    const double cx = w * rng.uniform(), cy = h * rng.uniform(), r = 8 + 30 * rng.uniform();
    const bool disc = rng.uniform() < 0.5;
    float col[3];
    for (float& c : col) c = static_cast<float>(0.15 + 0.7 * rng.uniform());
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const double dx = x - cx, dy = y - cy;
        const double d = disc ? std::sqrt(dx * dx + dy * dy) - r : std::max(std::abs(dx), std::abs(dy)) - r;
        const double cover = std::clamp(0.5 - d, 0.0, 1.0);  // one-pixel antialiased edge
        if (cover <= 0) continue;
        for (int c = 0; c < 3; ++c) {
          // Keep the texture on the object so that it is not perfectly flat.
          const float tex = img(y, x, c) - 0.45f;
          img(y, x, c) = static_cast<float>((1 - cover) * img(y, x, c) + cover * (col[c] + 0.5f * tex));
        }
      }
  }
  for (std::int64_t i = 0; i < img.numel(); ++i) img.data()[i] = std::clamp(img.data()[i], 0.f, 1.f);
  return img;
}

inline Tensor<float> quantize(const Tensor<float>& img) {
  Tensor<float> out = img.clone();
  for (std::int64_t i = 0; i < out.numel(); ++i)
    out.data()[i] = std::round(std::clamp(out.data()[i], 0.f, 1.f) * 255.f) / 255.f;
  return out;
}

// Separable Gaussian blur per channel, replicated borders.
inline Tensor<float> gaussian_blur(const Tensor<float>& img, double sigma) {
  const int h = static_cast<int>(img.size(0)), w = static_cast<int>(img.size(1));
  const int r = static_cast<int>(std::ceil(3 * sigma));
  std::vector<double> k(2 * r + 1);
  double sum = 0;
  for (int i = -r; i <= r; ++i) sum += k[i + r] = std::exp(-i * i / (2 * sigma * sigma));
  for (double& v : k) v /= sum;
  Tensor<float> tmp({h, w, 3}), out({h, w, 3});
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (int i = -r; i <= r; ++i) s += k[i + r] * img(y, std::clamp(x + i, 0, w - 1), c);
        tmp(y, x, c) = static_cast<float>(s);
      }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (int i = -r; i <= r; ++i) s += k[i + r] * tmp(std::clamp(y + i, 0, h - 1), x, c);
        out(y, x, c) = static_cast<float>(s);
      }
  return quantize(out);
}

inline Tensor<float> add_noise(const Tensor<float>& img, double sigma, std::uint64_t seed) {
  SplitMix rng{seed};
  Tensor<float> out = img.clone();
  for (std::int64_t i = 0; i < out.numel(); ++i)
    out.data()[i] += static_cast<float>(sigma * rng.normal());
  return quantize(out);
}

// Round trip through stb's JPEG encoder and decoder.
inline Tensor<float> jpeg(const Tensor<float>& img, int quality, const std::string& scratch_dir) {
  const std::string path = scratch_dir + "/jpeg_q" + std::to_string(quality) + ".jpg";
  io::write_image(path, img, quality);
  return io::read_image(path);
}

struct DistortedImage {
  std::string name;   // e.g. "scene1_blur2"
  std::string kind;   // "reference", "blur", "noise", "jpeg"
  int level = 0;      // 0 = reference, 1..4 increasing strength
  Tensor<float> image;
};

// The reference plus blur (sigma 0.7, 1.2, 2, 3.5), noise (sigma 0.02, 0.05, 0.1, 0.2) and
// JPEG (quality 70, 35, 15, 5) versions of one image.
inline std::vector<DistortedImage> distort_levels(const std::string& stem, const Tensor<float>& ref,
                                                  const std::string& scratch_dir, std::uint64_t seed) {
  std::vector<DistortedImage> out;
  const Tensor<float> q = quantize(ref);
  out.push_back({stem + "_ref", "reference", 0, q});
  const double blur[4] = {0.7, 1.2, 2.0, 3.5}, noise[4] = {0.02, 0.05, 0.1, 0.2};
  const int quality[4] = {70, 35, 15, 5};
  for (int l = 0; l < 4; ++l) {
    out.push_back({stem + "_blur" + std::to_string(l + 1), "blur", l + 1, gaussian_blur(q, blur[l])});
    out.push_back({stem + "_noise" + std::to_string(l + 1), "noise", l + 1, add_noise(q, noise[l], seed + l)});
    out.push_back({stem + "_jpeg" + std::to_string(l + 1), "jpeg", l + 1, jpeg(q, quality[l], scratch_dir)});
  }
  return out;
}

inline std::string make_scratch_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("biqa_" + name + "_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace biqa::test
