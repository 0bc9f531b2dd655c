#pragma once
/// @file
/// models::DgiqaScorer: DGIQA's whole inference path for one image (single_image_inference.py of
/// uf-robopi/DGIQA, spec dgiqa.md §6–§7), as a QualityModel:
///   1. the depth image: Depth Anything V1 on the full-size picture (models::depth_image), or a
///      depth image the caller supplies (an 8-bit picture of the same size; grey or 3 channels);
///   2. both images resized so that the shorter side is 384, OpenCV uint8 bilinear
///      (transforms::resize_shortest_side_u8);
///   3. both normalised with the ImageNet mean/std as albumentations does (normalize_u8_to_chw);
///   4. K crop windows, the same for both images, chosen by CropProtocol (below);
///   5. DGIQA on the K crops as one batch; the score is the float32 mean of the K sigmoid outputs.
/// The image arrives as float RGB in [0, 1] (QualityModel's convention) and is rounded back to
/// 8 bits, which is exact for 8-bit files; decoders differ from OpenCV's by ±1–2 on JPEGs (docs).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/depth_anything.hpp"
#include "biqa/models/dgiqa.hpp"
#include "biqa/models/quality_model.hpp"
#include "biqa/models/registry.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/transforms/normalize_u8.hpp"
#include "biqa/transforms/opencv_resize.hpp"
#include "biqa/transforms/random_crops.hpp"

namespace biqa::models {

/// Where the K windows go.
///   authors: the inference script's draws: CPython's random seeded with `seed`, randint for the
///            left then the top offset of each window, after `prior_random_draws` random() calls
///            (albumentations 1.3.x made 4, 1.4.18–1.4.20 one, newer versions none);
///   grid:    a deterministic spread with no randomness: rows = ceil(√K), cols = ceil(K / rows),
///            offsets evenly spaced over the free range (rounded to the nearest pixel), the first K
///            windows in row-major order; K = 1 is the centre crop;
///   boxes:   the caller's explicit windows (DgiqaOptions::boxes).
enum class CropProtocol { authors, grid, boxes };

inline CropProtocol parse_crop_protocol(const std::string& s) {
  if (s == "authors") return CropProtocol::authors;
  if (s == "grid") return CropProtocol::grid;
  if (s == "boxes") return CropProtocol::boxes;
  fail(ErrorCode::invalid_argument, "DGIQA: unknown crop protocol '", s, "' (authors, grid or boxes)");
}

struct DgiqaOptions {
  int crops = 10;  // the script's default (its README says 20)
  CropProtocol protocol = CropProtocol::authors;
  std::int64_t seed = 42;
  int prior_random_draws = 0;
  std::vector<transforms::CropBox> boxes;  // CropProtocol::boxes, in the resized image's pixels
  std::int64_t short_side = 384;           ///< the resize before cropping; 0 keeps the image size
};

/// Everything one scoring produced, for explanation.
struct DgiqaResult {
  double score = 0;                        ///< mean of crop_scores (float32 arithmetic, as torch)
  std::vector<transforms::CropBox> boxes;  ///< in the resized image
  std::vector<float> crop_scores, crop_logits;
  std::int64_t resized_height = 0, resized_width = 0;
  Tensor<std::uint8_t> depth_image;  ///< H×W×3 at the original size
  /// The cross-attention each RGB position receives from the depth queries, per crop: [K, h, w]
  /// (7×7 at 224), each map summing to 1.
  Tensor<float> attention;
};

namespace detail {

inline std::vector<transforms::CropBox> grid_crops(std::int64_t h, std::int64_t w, int count, std::int64_t size) {
  BIQA_CHECK(count > 0, ErrorCode::invalid_argument, "DGIQA: the crop count must be positive");
  BIQA_CHECK(h >= size && w >= size, ErrorCode::invalid_argument, "DGIQA: a ", size, "×", size,
             " crop does not fit in ", h, "×", w);
  const int rows = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int cols = (count + rows - 1) / rows;
  auto offset = [&](int i, int n, std::int64_t free) {
    return n == 1 ? free / 2 : static_cast<std::int64_t>(std::llround(double(free) * i / (n - 1)));
  };
  std::vector<transforms::CropBox> boxes;
  for (int r = 0; r < rows && static_cast<int>(boxes.size()) < count; ++r)
    for (int c = 0; c < cols && static_cast<int>(boxes.size()) < count; ++c)
      boxes.push_back({offset(r, rows, h - size), offset(c, cols, w - size), size, size});
  return boxes;
}

/// [K, 3, size, size] from a [3, H, W] map.
inline Tensor<float> cut_crops(const Tensor<float>& chw, const std::vector<transforms::CropBox>& boxes) {
  const std::int64_t h = chw.size(1), w = chw.size(2);
  const std::int64_t size = boxes.front().height;
  Tensor<float> out({static_cast<std::int64_t>(boxes.size()), 3, size, size});
  for (std::size_t k = 0; k < boxes.size(); ++k) {
    const auto& b = boxes[k];
    BIQA_CHECK(b.height == size && b.width == size && b.top >= 0 && b.left >= 0 && b.top + size <= h &&
                   b.left + size <= w,
               ErrorCode::invalid_argument, "DGIQA: crop box (top ", b.top, ", left ", b.left, ", ", b.height, "×",
               b.width, ") does not lie inside the ", h, "×", w, " image or is not ", size, "×", size);
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < size; ++y)
        std::copy_n(chw.data() + (c * h + b.top + y) * w + b.left, size,
                    out.data() + ((static_cast<std::int64_t>(k) * 3 + c) * size + y) * size);
  }
  return out;
}

inline Tensor<std::uint8_t> to_u8_rgb(const Tensor<float>& image, const char* what) {
  const Shape& s = image.shape();
  BIQA_CHECK((s.rank() == 3 && (s[2] == 3 || s[2] == 1)) || s.rank() == 2, ErrorCode::invalid_argument, what,
             ": expected an H×W×3 (or grey) image, got ", s.to_string());
  const Tensor<float> c = image.contiguous();
  const std::int64_t h = s[0], w = s[1], ch = s.rank() == 3 ? s[2] : 1;
  Tensor<std::uint8_t> out({h, w, 3});
  for (std::int64_t i = 0; i < h * w; ++i)
    for (std::int64_t k = 0; k < 3; ++k) {
      const float v = c.data()[i * ch + (ch == 3 ? k : 0)];
      BIQA_CHECK(std::isfinite(v), ErrorCode::invalid_argument, what, ": the image has a non-finite value");
      out.data()[i * 3 + k] = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
    }
  return out;
}

inline Tensor<std::uint8_t> expand_grey(const Tensor<std::uint8_t>& img, const char* what) {
  const Shape& s = img.shape();
  if (s.rank() == 3 && s[2] == 3) return img.contiguous();
  BIQA_CHECK(s.rank() == 2 || (s.rank() == 3 && s[2] == 1), ErrorCode::invalid_argument, what,
             ": expected H×W×3 or grey, got ", s.to_string());
  return replicate_to_rgb(img.reshape({s[0], s[1]}).contiguous());
}

}  // namespace detail

class DgiqaScorer : public QualityModel, public DepthGuidedModel {
 public:
  static const ModelInfo& card() {
    static const ModelInfo info = [] {
      ModelInfo i;
      i.name = "dgiqa";
      i.full_name = "DGIQA (Depth-Guided IQA, arXiv 2505.24002)";
      i.summary = "Two Swin-T branches (image, Depth Anything depth image), Transformer-CNN bridges, "
                  "depth-guided cross-attention and refinement; mean of 10 crop scores";
      i.reference = "Depth-Guided Image Quality Assessment, arXiv 2505.24002 (uf-robopi/DGIQA)";
      i.lower_is_better = false;
      i.range_min = 0;
      i.range_max = 1;
      i.bounded = true;
      i.input_policy = "depth: Depth Anything V1 on the full image (bicubic to a x14 grid >= 518); both "
                       "images: shorter side to 384 (OpenCV uint8 bilinear), ImageNet mean/std; 10 "
                       "random 224x224 crops (CPython random seeded 42), the same for both; mean of "
                       "the sigmoid outputs";
      i.stochastic = false;
      i.seed = 42;
      i.training_data = "KADID-10k or KonIQ-10k (the authors' two checkpoints)";
      i.weights_licence = "unstated: the DGIQA repository has no licence file; Depth Anything V1 code "
                          "Apache-2.0, its weights' terms unverified";
      i.weights_source = "the authors' checkpoints (Dropbox link in uf-robopi/DGIQA's README) and "
                         "LiheYoung/depth_anything_vit{s,b,l}14 on Hugging Face (docs/models.md)";
      i.needs_weights_file = true;
      return i;
    }();
    return info;
  }

  DgiqaScorer(DGIQA network, std::shared_ptr<const DepthAnything> depth, DgiqaOptions options)
      : net_(std::move(network)), depth_(std::move(depth)), options_(std::move(options)) {
    BIQA_CHECK(options_.crops > 0 || options_.protocol == CropProtocol::boxes, ErrorCode::invalid_argument,
               "DGIQA: the crop count must be positive");
    BIQA_CHECK(options_.protocol != CropProtocol::boxes || !options_.boxes.empty(), ErrorCode::invalid_argument,
               "DGIQA: the boxes crop protocol needs at least one box");
  }

  const ModelInfo& info() const override { return card(); }
  const DGIQA& network() const { return net_; }
  bool has_depth_model() const { return depth_ != nullptr; }
  const DgiqaOptions& options() const { return options_; }

  /// The depth image DGIQA uses for `rgb` (H×W×3 uint8): Depth Anything's map, min-max scaled to 8 bits.
  Tensor<std::uint8_t> depth_image_for(const Tensor<std::uint8_t>& rgb, Context& ctx) const {
    BIQA_CHECK(depth_, ErrorCode::invalid_argument,
               "DGIQA: no Depth Anything weights were given; pass them (--depth-weights) or supply "
               "the depth image (--depth)");
    return depth_image(*depth_, rgb, ctx);
  }

  /// The whole path on an 8-bit RGB image; `depth` (same size, grey or 3 channels) skips the depth
  /// network.
  DgiqaResult run(const Tensor<std::uint8_t>& rgb_in, const Tensor<std::uint8_t>* depth, Context& ctx) const {
    const Tensor<std::uint8_t> rgb = detail::expand_grey(rgb_in, "DGIQA image");
    DgiqaResult r;
    r.depth_image = depth ? detail::expand_grey(*depth, "DGIQA depth image") : depth_image_for(rgb, ctx);
    BIQA_CHECK(r.depth_image.size(0) == rgb.size(0) && r.depth_image.size(1) == rgb.size(1),
               ErrorCode::invalid_argument, "DGIQA: the depth image is ", r.depth_image.size(0), "×",
               r.depth_image.size(1), " but the image is ", rgb.size(0), "×", rgb.size(1));

    const auto resize = [&](const Tensor<std::uint8_t>& x) {
      return options_.short_side > 0 ? transforms::resize_shortest_side_u8(x, options_.short_side) : x;
    };
    const Tensor<float> rgb_chw = transforms::normalize_u8_to_chw(resize(rgb));
    const Tensor<float> depth_chw = transforms::normalize_u8_to_chw(resize(r.depth_image));
    r.resized_height = rgb_chw.size(1);
    r.resized_width = rgb_chw.size(2);

    const std::int64_t size = net_.config().swin.img_size[0];
    BIQA_CHECK(net_.config().swin.img_size[1] == size, ErrorCode::unsupported, "DGIQA: non-square crops");
    switch (options_.protocol) {
      case CropProtocol::authors: {
        transforms::PythonCropOptions o;
        o.count = options_.crops, o.size = size, o.seed = options_.seed;
        o.prior_random_draws = options_.prior_random_draws;
        r.boxes = transforms::python_random_crops(r.resized_height, r.resized_width, o);
        break;
      }
      case CropProtocol::grid:
        r.boxes = detail::grid_crops(r.resized_height, r.resized_width, options_.crops, size);
        break;
      case CropProtocol::boxes: r.boxes = options_.boxes; break;
    }
    const Tensor<float> rgb_crops = detail::cut_crops(rgb_chw, r.boxes);
    const Tensor<float> depth_crops = detail::cut_crops(depth_chw, r.boxes);

    const DGIQA::Outputs out = net_.forward_on(rgb_crops, depth_crops, ctx);
    float sum = 0.0f;
    for (std::int64_t k = 0; k < out.scores.numel(); ++k) {
      r.crop_scores.push_back(out.scores.data()[k]);
      r.crop_logits.push_back(out.logits.data()[k]);
      sum += out.scores.data()[k];
    }
    r.score = static_cast<double>(sum / static_cast<float>(out.scores.numel()));
    r.attention = DGIQA::rgb_attention_map(out);
    return r;
  }

  double score(const Tensor<float>& image, Context& ctx) const override {
    return run(detail::to_u8_rgb(image, "DGIQA image"), nullptr, ctx).score;
  }

  /// Values: the score, each crop's score and window; maps: the depth image and the attention the
  /// RGB positions receive, pasted into each crop's window of the resized image and averaged where
  /// windows overlap (zero where no window lies).
  Explanation explain(const Tensor<float>& image, Context& ctx) const override {
    return explain(run(detail::to_u8_rgb(image, "DGIQA image"), nullptr, ctx), ctx);
  }

  double score_with_depth(const Tensor<std::uint8_t>& rgb, const Tensor<std::uint8_t>& depth,
                          Context& ctx) const override {
    return run(rgb, &depth, ctx).score;
  }
  Explanation explain_with_depth(const Tensor<std::uint8_t>& rgb, const Tensor<std::uint8_t>& depth,
                                 Context& ctx) const override {
    return explain(run(rgb, &depth, ctx), ctx);
  }

  static Explanation explain(const DgiqaResult& r, Context& ctx) {
    Explanation e;
    e.values.emplace_back("score", r.score);
    for (std::size_t k = 0; k < r.crop_scores.size(); ++k) {
      const std::string p = "crop" + std::to_string(k) + ".";
      e.values.emplace_back(p + "score", r.crop_scores[k]);
      e.values.emplace_back(p + "logit", r.crop_logits[k]);
      e.values.emplace_back(p + "top", static_cast<double>(r.boxes[k].top));
      e.values.emplace_back(p + "left", static_cast<double>(r.boxes[k].left));
      e.values.emplace_back(p + "size", static_cast<double>(r.boxes[k].height));
    }
    Tensor<float> depth({r.depth_image.size(0), r.depth_image.size(1)});
    for (std::int64_t i = 0; i < depth.numel(); ++i) depth.data()[i] = r.depth_image.data()[i * 3] / 255.0f;
    e.maps.emplace_back("depth", depth);
    e.maps.emplace_back("attention", attention_over_image(r, ctx));
    return e;
  }

  /// The per-crop attention maps upsampled (bilinear) to their windows, averaged over covering
  /// windows, scaled so that the largest value is 1: [resized_height, resized_width].
  static Tensor<float> attention_over_image(const DgiqaResult& r, Context& ctx) {
    Tensor<float> acc = Tensor<float>::zeros({r.resized_height, r.resized_width});
    Tensor<float> cover = Tensor<float>::zeros({r.resized_height, r.resized_width});
    const std::int64_t k = r.attention.size(0);
    for (std::int64_t i = 0; i < k; ++i) {
      const auto& b = r.boxes[static_cast<std::size_t>(i)];
      const Tensor<float> m = ops::interpolate(r.attention.slice(0, i, i + 1).unsqueeze(1).contiguous(), b.height,
                                               b.width, ctx);
      for (std::int64_t y = 0; y < b.height; ++y)
        for (std::int64_t x = 0; x < b.width; ++x) {
          const std::int64_t o = (b.top + y) * r.resized_width + b.left + x;
          acc.data()[o] += m.data()[y * b.width + x];
          cover.data()[o] += 1.0f;
        }
    }
    float hi = 0.0f;
    for (std::int64_t i = 0; i < acc.numel(); ++i) {
      if (cover.data()[i] > 0) acc.data()[i] /= cover.data()[i];
      hi = std::max(hi, acc.data()[i]);
    }
    if (hi > 0)
      for (std::int64_t i = 0; i < acc.numel(); ++i) acc.data()[i] /= hi;
    return acc;
  }

 private:
  DGIQA net_;
  std::shared_ptr<const DepthAnything> depth_;
  DgiqaOptions options_;
};

/// Depth Anything V1 from a checkpoint (.safetensors or .pth with the published keys): the variant
/// from `encoder` ("vits", "vitb", "vitl") or else from the weight shapes and the file's
/// biqa.config metadata.
inline std::shared_ptr<const DepthAnything> load_depth_anything(const std::string& path,
                                                                const std::string& encoder = "") {
  io::WeightStore store = io::open_weights(path);
  DepthAnything::Config config;
  if (!encoder.empty()) {
    config = DepthAnything::Config::named(encoder);
  } else {
    config = DepthAnything::Config::from_weights(store);
    if (auto it = store.file().metadata.find("biqa.config"); it != store.file().metadata.end())
      config.update(json::parse(it->second, path + " metadata biqa.config"));
  }
  auto model = std::make_shared<DepthAnything>(config);
  model->load(store);
  store.finish();
  return model;
}

}  // namespace biqa::models

/// ---- registry entry: `biqa::load_model("dgiqa")`, `biqa score -m dgiqa` ----
namespace biqa::models::detail {

inline const ModelInfo& dgiqa_card() {
  static const ModelInfo info = [] {
    ModelInfo i = models::DgiqaScorer::card();
    i.settings = {
        {"depth_weights", "Depth Anything V1 checkpoint (depth_anything_vit{s,b,l}14); required unless "
                          "depth images are supplied"},
        {"depth_encoder", "vits, vitb or vitl (default: read from the depth weights)"},
        {"crops", "number of 224x224 crops (default 10)"},
        {"crop_protocol", "authors (CPython random, default), grid (deterministic spread)"},
        {"seed", "seed of the authors' crop protocol (default 42)"},
        {"prior_random_draws", "random() calls before the first crop: 4 = albumentations 1.3.x, 1 = "
                               "1.4.18-1.4.20, 0 = newer (default)"},
        {"short_side", "shorter side after the resize (default 384; 0 = no resize)"},
        {"config", "DGIQA config JSON file (sizes the weights do not show)"},
    };
    return i;
  }();
  return info;
}

inline std::shared_ptr<const QualityModel> load_dgiqa_scorer(const LoadOptions& o) {
  check_settings(o, dgiqa_card());
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "dgiqa needs the authors' checkpoint: --weights FILE (docs/models.md says where to get it)");
  models::DgiqaOptions opt;
  opt.crops = static_cast<int>(setting_int(o, "crops", opt.crops));
  opt.protocol = models::parse_crop_protocol(setting(o, "crop_protocol", "authors"));
  BIQA_CHECK(opt.protocol != models::CropProtocol::boxes, ErrorCode::invalid_argument,
             "dgiqa: explicit boxes are given through the API (DgiqaOptions::boxes)");
  opt.seed = setting_int(o, "seed", opt.seed);
  opt.prior_random_draws = static_cast<int>(setting_int(o, "prior_random_draws", 0));
  opt.short_side = setting_int(o, "short_side", opt.short_side);
  BIQA_CHECK(opt.short_side >= 0, ErrorCode::invalid_argument, "dgiqa: short_side must be >= 0");
  json::Value config;
  if (auto c = setting_json_file(o, "config")) config = std::move(*c);
  models::DGIQA net = models::load_dgiqa(o.weights, config);
  std::shared_ptr<const models::DepthAnything> depth;
  if (const std::string d = setting(o, "depth_weights"); !d.empty())
    depth = models::load_depth_anything(d, setting(o, "depth_encoder"));
  return std::make_shared<const models::DgiqaScorer>(std::move(net), std::move(depth), std::move(opt));
}

inline const bool dgiqa_registered = register_model({&dgiqa_card, &load_dgiqa_scorer, 30});

}  // namespace biqa::models::detail
