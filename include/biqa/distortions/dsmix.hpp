#pragma once
/// @file
/// DSMix cut-and-mix (ECCV 2024): regions of other distorted images are pasted into the first one,
/// and the soft label weights each source by the distortion-sensitivity mass it contributes.
///
/// Exact form implemented (our reading of the paper's equations 4–5):
///   * source 0 fills the canvas; each further source j gets a CutMix box: λ ~ U(0,1), box size
///     (⌊H·√(1−λ)⌋, ⌊W·√(1−λ)⌋), centre uniform over the image, clipped to it; later boxes
///     overwrite earlier ones (owner map M);
///   * DSM_j = distortion_sensitivity_map(image_j, reference_j, p), upsampled bilinearly
///     (half-pixel centres, like torch interpolate with align_corners=False) to H×W;
///   * w_j = Σ_{pixels owned by j} DSM_j↑, normalised to sum 1. If every w_j is 0 (all sources
///     pristine), the weights are the area fractions instead;
///   * soft label = Σ_j w_j · one_hot(label_j).

#include <algorithm>
#include <cmath>
#include <vector>

#include "biqa/distortions/common.hpp"
#include "biqa/distortions/dsm.hpp"

namespace biqa::distortions {

struct MixSource {
  Image image;      ///< the distorted image (H×W×3)
  Image reference;  // its pristine reference (same size); pass the image itself for class "reference"
  int label = 0;    ///< class index, e.g. (type−1)·5 + (level−1), or 125 for a reference image
};

struct MixResult {
  Image image;                  ///< the mixed image
  std::vector<int> owner;       ///< H×W, index of the source that owns each pixel
  std::vector<double> weights;  ///< per source, sum 1
  std::vector<float> label;     ///< soft label over num_classes
};

namespace detail {
/// Bilinear upsampling of a map to h×w with half-pixel centres (align_corners = false).
inline std::vector<double> upsample_bilinear(const Tensor<float>& m, std::int64_t h, std::int64_t w) {
  const std::int64_t mh = m.size(0), mw = m.size(1);
  std::vector<double> out(static_cast<std::size_t>(h * w));
  for (std::int64_t y = 0; y < h; ++y) {
    const double sy = std::max(0.0, (y + 0.5) * double(mh) / double(h) - 0.5);
    const auto y0 = std::min<std::int64_t>(static_cast<std::int64_t>(sy), mh - 1);
    const std::int64_t y1 = std::min(y0 + 1, mh - 1);
    const double fy = sy - double(y0);
    for (std::int64_t x = 0; x < w; ++x) {
      const double sx = std::max(0.0, (x + 0.5) * double(mw) / double(w) - 0.5);
      const auto x0 = std::min<std::int64_t>(static_cast<std::int64_t>(sx), mw - 1);
      const std::int64_t x1 = std::min(x0 + 1, mw - 1);
      const double fx = sx - double(x0);
      const float* d = m.data();
      out[static_cast<std::size_t>(y * w + x)] =
          (d[y0 * mw + x0] * (1 - fx) + d[y0 * mw + x1] * fx) * (1 - fy) +
          (d[y1 * mw + x0] * (1 - fx) + d[y1 * mw + x1] * fx) * fy;
    }
  }
  return out;
}
}  // namespace detail

inline MixResult dsmix(const std::vector<MixSource>& sources, int num_classes, Rng& rng, int p = 8) {
  BIQA_CHECK(sources.size() >= 2, ErrorCode::invalid_argument, "dsmix: need at least two sources");
  const Shape shape = sources[0].image.shape();
  for (const auto& s : sources) {
    check_rgb(s.image, "dsmix");
    BIQA_CHECK(s.image.shape() == shape && s.reference.shape() == shape, ErrorCode::invalid_argument,
               "dsmix: all images and references must be ", shape.to_string());
    BIQA_CHECK(s.label >= 0 && s.label < num_classes, ErrorCode::invalid_argument, "dsmix: label ",
               s.label, " outside [0, ", num_classes, ")");
  }
  const std::int64_t h = shape[0], w = shape[1];
  MixResult r;
  r.owner.assign(static_cast<std::size_t>(h * w), 0);
  for (std::size_t j = 1; j < sources.size(); ++j) {
    const double lam = rng.uniform();
    const double cut = std::sqrt(1.0 - lam);
    const auto bh = static_cast<std::int64_t>(double(h) * cut), bw = static_cast<std::int64_t>(double(w) * cut);
    const auto cy = static_cast<std::int64_t>(rng.uniform() * double(h));
    const auto cx = static_cast<std::int64_t>(rng.uniform() * double(w));
    const std::int64_t y0 = std::clamp<std::int64_t>(cy - bh / 2, 0, h), y1 = std::clamp<std::int64_t>(cy + bh / 2, 0, h);
    const std::int64_t x0 = std::clamp<std::int64_t>(cx - bw / 2, 0, w), x1 = std::clamp<std::int64_t>(cx + bw / 2, 0, w);
    for (std::int64_t y = y0; y < y1; ++y)
      for (std::int64_t x = x0; x < x1; ++x) r.owner[static_cast<std::size_t>(y * w + x)] = static_cast<int>(j);
  }
  r.image = new_image(h, w);
  std::vector<Image> imgs;
  for (const auto& s : sources) imgs.push_back(s.image.contiguous());
  for (std::int64_t i = 0; i < h * w; ++i)
    std::copy_n(imgs[static_cast<std::size_t>(r.owner[static_cast<std::size_t>(i)])].data() + i * 3, 3, r.image.data() + i * 3);

  r.weights.assign(sources.size(), 0.0);
  std::vector<double> area(sources.size(), 0.0);
  for (std::size_t j = 0; j < sources.size(); ++j) {
    const auto up = detail::upsample_bilinear(distortion_sensitivity_map(sources[j].image, sources[j].reference, p), h, w);
    for (std::int64_t i = 0; i < h * w; ++i)
      if (r.owner[static_cast<std::size_t>(i)] == static_cast<int>(j)) {
        r.weights[j] += up[static_cast<std::size_t>(i)];
        area[j] += 1;
      }
  }
  double total = 0;
  for (double v : r.weights) total += v;
  if (!(total > 0)) {
    r.weights = area;
    total = double(h * w);
  }
  for (auto& v : r.weights) v /= total;
  r.label.assign(static_cast<std::size_t>(num_classes), 0.0f);
  for (std::size_t j = 0; j < sources.size(); ++j) r.label[static_cast<std::size_t>(sources[j].label)] += float(r.weights[j]);
  return r;
}

}  // namespace biqa::distortions
