#pragma once
/// @file
/// models::DSMix and models::DSMPredictor (DSMix, ECCV 2024; spec shared/specs/dsmix.md). The
/// authors published no code or weights, so the checkpoint layout below is biqa's canonical one, in
/// torchvision / timm key names so that a PyTorch re-implementation saves compatible files
/// (tools/reference/make_dsmix_fixtures.py holds such a reference):
///
/// DSMix, the quality model:
///   encoder.*  torchvision ResNet (ResNet-50 at full size, without fc): the global-average-pooled
///              layer4 feature (2048-d)
///   head.*     the regression head on that feature: nn.Sequential(Linear, ReLU, ..., Linear(·, 1))
///              (canonical: head.0 = Linear(2048, 512), head.2 = Linear(512, 1)) or one
///              nn.Linear(D, 1) (head.weight / head.bias); depth and widths come from the shapes
///   score      five crops of crop_size (centre and corners, torchvision's FiveCrop geometry with
///              zero padding for small images: five_crop_boxes below) of the ImageNet-normalised
///              image, the mean of the five head outputs.
/// A head-only file (head.* keys, or the fc1/fc2 or weight/bias of `biqa train-head`) combines
/// with encoder weights from another file (a torchvision resnet50 state_dict; its fc is ignored).
///
/// DSMPredictor, the distortion-sensitivity-map network used in pre-training:
///   encoder.*  timm VisionTransformer with class_token=False, global_pool='' (ViT-B/8: patch 8,
///              dim 768, depth 12, 12 heads, pos_embed for 28×28 tokens, final `norm`); the encoder.
///              prefix may be absent (plain timm keys)
///   decoder.*  a per-token MLP → 1 value (same layouts as the head), giving [N, 1, H/8, W/8];
///              any input size that is a multiple of the patch (pos_embed resampled as timm's
///              dynamic_img_size does).
///
/// Config: the safetensors metadata entry "biqa.config" (JSON): "crop_size", "mean", "std",
/// "head_activation" / "decoder_activation" ("relu" default, "gelu"), "vit" (timm
/// VisionTransformer arguments for what the shapes do not show, such as num_heads).

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/resnet.hpp"
#include "biqa/nn/vision_transformer.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"
#include "biqa/transforms/crop.hpp"
#include "biqa/transforms/normalize.hpp"
#include "biqa/transforms/to_tensor.hpp"

namespace biqa::models {

inline ops::Activation parse_head_activation(const std::string& s, const char* what) {
  if (s == "relu") return ops::Activation::relu;
  if (s == "gelu") return ops::Activation::gelu;
  fail(ErrorCode::invalid_argument, what, ": activation must be 'relu' or 'gelu', got '", s, "'");
}

/// Linear layers with an activation between consecutive ones, read from any of three layouts under
/// a scope: nn.Sequential ("0.weight", "2.weight", ...: the Linear indices, activations between),
/// one nn.Linear ("weight", "bias"), timm's Mlp ("fc1.*", "fc2.*", also what `biqa train-head`
/// writes). Widths come from the shapes; every layer must have a bias.
class MlpHead {
 public:
  MlpHead() = default;

  static MlpHead load(const io::WeightStore::Scope& scope, ops::Activation activation, const std::string& what) {
    std::vector<std::string> names;
    if (scope.has("weight")) {
      names.push_back("");
    } else if (scope.has("fc1.weight")) {
      names = {"fc1", "fc2"};
    } else {
      std::set<int> indices;
      const std::string prefix = scope.full_name("");
      for (const auto& k : scope.store().keys_with_prefix(prefix)) {
        const std::string rest = k.substr(prefix.size());
        const auto dot = rest.find('.');
        if (dot == std::string::npos || dot == 0 || rest.find_first_not_of("0123456789") != dot) continue;
        if (rest.substr(dot + 1) == "weight") indices.insert(std::stoi(rest.substr(0, dot)));
      }
      for (int i : indices) names.push_back(std::to_string(i));
    }
    BIQA_CHECK(!names.empty(), ErrorCode::key, scope.store().path(), ": ", what, ": no layers under '",
               scope.prefix(), "' (expected ", scope.prefix(), "0.weight, ", scope.prefix(), "weight or ",
               scope.prefix(), "fc1.weight)");
    MlpHead h;
    h.activation_ = activation;
    for (const auto& n : names) {
      const auto sub = n.empty() ? scope : scope.scope(n);
      const auto* r = sub.record("weight");
      BIQA_CHECK(r && r->shape.rank() == 2, ErrorCode::key, scope.store().path(), ": ", what, ": '",
                 sub.full_name("weight"), "' must be a [out, in] matrix");
      BIQA_CHECK(h.layers_.empty() || h.layers_.back().config().out_features == r->shape[1], ErrorCode::key,
                 scope.store().path(), ": ", what, ": '", sub.full_name("weight"), "' takes ", r->shape[1],
                 " inputs but the layer before gives ", h.layers_.back().config().out_features);
      nn::Linear l(r->shape[1], r->shape[0]);
      l.load(sub);
      h.layers_.push_back(std::move(l));
    }
    return h;
  }

  /// x [M, in] → [M, out], on either device.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(!layers_.empty(), ErrorCode::invalid_argument, "MlpHead: forward() before load()");
    Tensor<float, Device> h = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      h = layers_[i].forward(h, ctx);
      if (i + 1 < layers_.size()) ops::activate_inplace(h, activation_, ctx);
    }
    return h;
  }

  std::int64_t in_features() const { return layers_.front().config().in_features; }
  std::int64_t out_features() const { return layers_.back().config().out_features; }
  /// Every layer's output width, the last one included.
  std::vector<std::int64_t> widths() const {
    std::vector<std::int64_t> w;
    for (const auto& l : layers_) w.push_back(l.config().out_features);
    return w;
  }

 private:
  std::vector<nn::Linear> layers_;
  ops::Activation activation_ = ops::Activation::relu;
};

/// The five crop windows (top, left) of `size` in an h × w image, in torchvision's FiveCrop order:
/// top-left, top-right, bottom-left, bottom-right, centre. The centre follows torchvision's
/// center_crop: round((h − size) / 2) with ties to even when the crop fits (so 227 rows start at 2,
/// not at 227 // 2 − 112 = 1), −((size − h) // 2) when it does not. Windows reaching outside the
/// image read zeros (torchvision's crop pads).
inline std::array<std::array<std::int64_t, 2>, 5> five_crop_boxes(std::int64_t h, std::int64_t w, std::int64_t size) {
  BIQA_CHECK(h > 0 && w > 0 && size > 0, ErrorCode::invalid_argument, "five_crop_boxes: sizes must be positive");
  return {{{0, 0},
           {0, w - size},
           {h - size, 0},
           {h - size, w - size},
           {transforms::detail::center_offset(h, size), transforms::detail::center_offset(w, size)}}};
}

/// [N, C, H, W] → [5N, C, size, size]: each image's five crops, in five_crop_boxes order.
inline Tensor<float> five_crops(const Tensor<float>& x, std::int64_t size) {
  BIQA_CHECK(x.dim() == 4, ErrorCode::invalid_argument, "five_crops: input must be [N, C, H, W], got ",
             x.shape().to_string());
  std::vector<Tensor<float>> parts;
  for (std::int64_t n = 0; n < x.size(0); ++n) {
    const Tensor<float> img = x.slice(0, n, n + 1);
    for (const auto& [top, left] : five_crop_boxes(x.size(2), x.size(3), size))
      parts.push_back(transforms::crop(img, top, left, size, size));
  }
  return ops::concat(parts, 0);
}

struct DSMixConfig {
  std::int64_t crop_size = 224;
  transforms::MeanStd mean_std = transforms::imagenet_mean_std();
  ops::Activation head_activation = ops::Activation::relu;

  /// Fields present in `j` replace those of *this.
  DSMixConfig& update(const json::Value& j) {
    if (j.is_null()) return *this;
    BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "DSMix config: expected a JSON object");
    auto three = [](const json::Value& v, const char* name) {
      BIQA_CHECK(v.is_array() && v.as_array().size() == 3, ErrorCode::invalid_argument, "DSMix config: '", name,
                 "' must be an array of 3 numbers");
      std::vector<float> out;
      for (const auto& e : v.as_array()) out.push_back(static_cast<float>(e.as_number()));
      return out;
    };
    if (auto* v = j.find("crop_size")) crop_size = v->as_int();
    if (auto* v = j.find("mean")) mean_std.mean = three(*v, "mean");
    if (auto* v = j.find("std")) mean_std.std = three(*v, "std");
    if (auto* v = j.find("head_activation")) head_activation = parse_head_activation(v->as_string(), "DSMix config");
    BIQA_CHECK(crop_size > 0, ErrorCode::invalid_argument, "DSMix config: crop_size must be positive");
    return *this;
  }
};

/// What one image's scoring produced.
struct DSMixResult {
  double score = 0;                 ///< mean of crop_scores
  std::vector<float> crop_scores;   ///< five_crop_boxes order
  Tensor<float> features;           ///< [5, D] pooled encoder features
  std::array<std::array<std::int64_t, 2>, 5> boxes{};  ///< (top, left) of each crop
};

class DSMix {
 public:
  using Config = DSMixConfig;

  DSMix() = default;

  /// The encoder under `encoder` (torchvision keys; block counts from the keys, widths from the
  /// shapes; an fc layer is left unread and marked as ignored) and the head under `head`.
  static DSMix load(const io::WeightStore::Scope& encoder, const io::WeightStore::Scope& head, Config config) {
    DSMix m;
    m.config_ = std::move(config);
    m.encoder_ = nn::ResNet(detect_resnet(encoder));
    m.encoder_.load(encoder);
    for (const char* k : {"fc.weight", "fc.bias"})
      if (encoder.has(k)) encoder.ignore(k);
    m.head_ = MlpHead::load(head, m.config_.head_activation, "DSMix head");
    BIQA_CHECK(m.head_.in_features() == m.encoder_.config().num_features(), ErrorCode::key,
               "DSMix: the head takes ", m.head_.in_features(), " features but the encoder gives ",
               m.encoder_.config().num_features());
    BIQA_CHECK(m.head_.out_features() == 1, ErrorCode::key, "DSMix: the head must output 1 value, not ",
               m.head_.out_features());
    return m;
  }

  /// torchvision ResNet config from the keys under `scope`: bottleneck when layer1.0.conv3 exists,
  /// block counts from layerN.i, widths from the shapes; no fc.
  static nn::ResNet::Config detect_resnet(const io::WeightStore::Scope& scope) {
    nn::ResNet::Config c;
    c.block = scope.has("layer1.0.conv3.weight") ? nn::ResNetBlock::bottleneck : nn::ResNetBlock::basic;
    for (int s = 0; s < 4; ++s) {
      std::int64_t n = 0;
      while (scope.has("layer" + std::to_string(s + 1) + "." + std::to_string(n) + ".conv1.weight")) ++n;
      BIQA_CHECK(n > 0, ErrorCode::key, scope.store().path(), ": DSMix encoder: no '",
                 scope.full_name("layer" + std::to_string(s + 1) + ".0.conv1.weight"),
                 "' (a torchvision ResNet state_dict is expected there)");
      c.layers[static_cast<std::size_t>(s)] = n;
    }
    c = nn::ResNet::detect(c, scope);
    c.num_classes = 0;
    return c;
  }

  /// crops [N, 3, S, S] (normalised) → pooled features [N, D], on either device.
  template <typename Device>
  Tensor<float, Device> features(const Tensor<float, Device>& crops, Context& ctx) const {
    return encoder_.forward(crops, ctx);
  }
  /// features [N, D] → scores [N].
  template <typename Device>
  Tensor<float, Device> head(const Tensor<float, Device>& features, Context& ctx) const {
    const Tensor<float, Device> s = head_.forward(features, ctx);
    return s.reshape({s.size(0)});
  }
  /// crops [N, 3, S, S] → scores [N].
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& crops, Context& ctx) const {
    return head(features(crops, ctx), ctx);
  }

  /// features() on the CUDA device, host tensors in and out; set by biqa/cuda.cuh.
  using HostFeatures = Tensor<float> (*)(const DSMix&, const Tensor<float>&, Context&);
  static inline HostFeatures cuda_features = nullptr;

  /// features() on ctx.device with host tensors in and out (what run() calls).
  Tensor<float> features_on(const Tensor<float>& crops, Context& ctx) const {
    if (ctx.device == DeviceType::cpu) return features(crops, ctx);
    if (!cuda_features) fail_missing_backend(ctx.device, "DSMix");
    return cuda_features(*this, crops, ctx);
  }

  /// image H×W×3 (or grey H×W×1 / H×W) in [0, 1] → normalised [5, 3, S, S] crops.
  Tensor<float> crops(const Tensor<float>& image) const {
    return five_crops(transforms::normalize(to_rgb_batch(image), config_.mean_std), config_.crop_size);
  }

  DSMixResult run(const Tensor<float>& image, Context& ctx) const {
    DSMixResult r;
    const Tensor<float> c = crops(image);
    r.boxes = five_crop_boxes(image.size(0), image.size(1), config_.crop_size);
    r.features = features_on(c, ctx);
    const Tensor<float> s = head(r.features, ctx).contiguous();
    double sum = 0;
    for (std::int64_t i = 0; i < s.numel(); ++i) r.crop_scores.push_back(s.data()[i]), sum += s.data()[i];
    r.score = sum / static_cast<double>(s.numel());
    return r;
  }

  double score(const Tensor<float>& image, Context& ctx) const { return run(image, ctx).score; }

  const Config& config() const { return config_; }
  const nn::ResNet& encoder() const { return encoder_; }
  const MlpHead& regression_head() const { return head_; }

  /// [1, 3, H, W] from H×W×3, H×W×1 or H×W (grey replicated).
  static Tensor<float> to_rgb_batch(const Tensor<float>& image) {
    const Shape& s = image.shape();
    BIQA_CHECK((s.rank() == 3 && (s[2] == 3 || s[2] == 1)) || s.rank() == 2, ErrorCode::invalid_argument,
               "DSMix: expected an H×W×3 (or grey) image, got ", s.to_string());
    if (s.rank() == 3 && s[2] == 3) return transforms::to_tensor(image);
    const Tensor<float> g = transforms::to_tensor(image.reshape({s[0], s[1], 1}).contiguous());
    return ops::concat<float>({g, g, g}, 1);
  }

 private:
  Config config_;
  nn::ResNet encoder_;
  MlpHead head_;
};

namespace detail {
inline json::Value metadata_config(const io::WeightStore& store) {
  const auto it = store.file().metadata.find("biqa.config");
  if (it == store.file().metadata.end()) return json::Value();
  return json::parse(it->second, store.path() + " metadata biqa.config");
}
inline bool has_prefix(const io::WeightStore& store, const std::string& p) {
  return !store.keys_with_prefix(p + ".").empty();
}
}  // namespace detail

/// DSMix from files: `path` holds encoder.* and head.*, or (with `encoder_path`) only the head
/// (head.*, or a `biqa train-head` file), the encoder then coming from `encoder_path` (encoder.* or
/// plain torchvision keys). Config: `path`'s biqa.config metadata, then `config` over it. Both files
/// are loaded strictly.
inline DSMix load_dsmix(const std::string& path, const std::string& encoder_path = "",
                        const json::Value& config = json::Value()) {
  io::WeightStore store = io::open_weights(path);
  DSMix::Config c;
  c.update(detail::metadata_config(store));
  c.update(config);
  DSMix m;
  if (encoder_path.empty()) {
    BIQA_CHECK(detail::has_prefix(store, "encoder"), ErrorCode::key, path,
               ": no encoder.* keys; a head-only file needs the encoder weights given separately "
               "(--set encoder=resnet50.pth)");
    m = DSMix::load(store.scope("encoder"), store.scope("head"), c);
  } else {
    BIQA_CHECK(!detail::has_prefix(store, "encoder"), ErrorCode::invalid_argument, path,
               " already holds encoder.* weights; leave out the separate encoder file ", encoder_path);
    io::WeightStore enc = io::open_weights(encoder_path);
    const auto enc_scope = detail::has_prefix(enc, "encoder") ? enc.scope("encoder") : enc.root();
    const auto head_scope = detail::has_prefix(store, "head") ? store.scope("head") : store.root();
    m = DSMix::load(enc_scope, head_scope, c);
    enc.finish();
  }
  store.finish();
  return m;
}

class DSMPredictor {
 public:
  struct Config {
    nn::VisionTransformer::Config vit;
    ops::Activation decoder_activation = ops::Activation::relu;
  };

  DSMPredictor() = default;

  /// `encoder`: timm keys of the ViT; `decoder`: the per-token MLP. `config` may hold "vit" (timm
  /// arguments over what the shapes say) and "decoder_activation".
  static DSMPredictor load(const io::WeightStore::Scope& encoder, const io::WeightStore::Scope& decoder,
                           const json::Value& config = json::Value()) {
    BIQA_CHECK(config.is_null() || config.is_object(), ErrorCode::invalid_argument,
               "DSMPredictor config: expected a JSON object");
    const json::Value* vit_json = config.is_object() ? config.find("vit") : nullptr;
    DSMPredictor p;
    Config& c = p.config_;
    c.vit = nn::VisionTransformer::Config::from_weights(encoder, vit_json ? *vit_json : json::Value());
    BIQA_CHECK(!c.vit.class_token && c.vit.reg_tokens == 0, ErrorCode::key, encoder.store().path(),
               ": DSMPredictor: the ViT must have no class or register tokens (found '",
               encoder.full_name(c.vit.class_token ? "cls_token" : "reg_token"), "')");
    BIQA_CHECK(!c.vit.use_fc_norm() && c.vit.num_classes == 0, ErrorCode::key, encoder.store().path(),
               ": DSMPredictor: expected timm's ViT with global_pool='' and no head (a final '",
               encoder.full_name("norm.weight"), "', no fc_norm / head)");
    c.vit.global_pool = nn::VisionTransformer::GlobalPool::none;
    if (!(vit_json && vit_json->find("dynamic_img_size"))) c.vit.dynamic_img_size = true;
    if (const json::Value* a = config.is_object() ? config.find("decoder_activation") : nullptr)
      c.decoder_activation = parse_head_activation(a->as_string(), "DSMPredictor config");
    p.vit_ = nn::VisionTransformer(c.vit);
    p.vit_.load(encoder);
    p.decoder_ = MlpHead::load(decoder, c.decoder_activation, "DSMPredictor decoder");
    BIQA_CHECK(p.decoder_.in_features() == c.vit.embed_dim && p.decoder_.out_features() == 1, ErrorCode::key,
               encoder.store().path(), ": DSMPredictor: the decoder maps ", p.decoder_.in_features(), " → ",
               p.decoder_.out_features(), ", expected ", c.vit.embed_dim, " → 1");
    return p;
  }

  /// x [N, 3, H, W] (H, W multiples of the patch) → the predicted DSM [N, 1, H/p, W/p], on either device.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    const auto [gh, gw] = vit_.grid_size(x.size(2), x.size(3));
    const Tensor<float, Device> tokens = vit_.forward_features(x, ctx).contiguous();  // [N, gh·gw, E]
    const std::int64_t n = tokens.size(0), e = tokens.size(2);
    const Tensor<float, Device> v = decoder_.forward(tokens.reshape({n * gh * gw, e}), ctx);
    return v.contiguous().reshape({n, 1, gh, gw});
  }

  /// image H×W×3 in [0, 1] → its DSM [H/p, W/p] (ImageNet normalisation, the image's own size,
  /// which must be a multiple of the patch).
  Tensor<float> predict(const Tensor<float>& image, Context& ctx,
                        const transforms::MeanStd& ms = transforms::imagenet_mean_std()) const {
    const Tensor<float> m = forward(transforms::normalize(DSMix::to_rgb_batch(image), ms), ctx);
    return m.reshape({m.size(2), m.size(3)});
  }

  const Config& config() const { return config_; }
  std::int64_t patch_size() const { return config_.vit.patch_size[0]; }

 private:
  Config config_;
  nn::VisionTransformer vit_;
  MlpHead decoder_;
};

/// DSMPredictor from a file: encoder.* (or plain timm keys) and decoder.*; config from the file's
/// biqa.config metadata unless `config` is given.
inline DSMPredictor load_dsm_predictor(const std::string& path, const json::Value& config = json::Value()) {
  io::WeightStore store = io::open_weights(path);
  const json::Value c = config.is_null() ? detail::metadata_config(store) : config;
  BIQA_CHECK(detail::has_prefix(store, "decoder"), ErrorCode::key, path,
             ": no decoder.* keys (a DSM predictor file holds encoder.* and decoder.*)");
  const auto enc = detail::has_prefix(store, "encoder") ? store.scope("encoder") : store.root();
  DSMPredictor p = DSMPredictor::load(enc, store.scope("decoder"), c);
  store.finish();
  return p;
}

}  // namespace biqa::models
