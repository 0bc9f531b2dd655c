#pragma once
/// @file
/// models::DepthAnything: Depth Anything V1 (LiheYoung/Depth-Anything, depth_anything/dpt.py
/// DPT_DINOv2, vendored unchanged by DGIQA) — a DINOv2 ViT/14 encoder and a DPT head that turn an
/// ImageNet-normalised RGB batch into relative inverse depth (larger = nearer, ≥ 0).
///
///  encoder   DINOv2 ViT (nn::VisionTransformer: class token, LayerScale, LayerNorm eps 1e-6, qkv
///            bias, exact GELU). Position embeddings for another grid are resampled as DINOv2 does:
///            bicubic (A = −0.75, no antialias) driven by the scale factors (g + 0.1) / g0. The
///            outputs of the last four blocks each pass through the shared final norm; the class
///            token is dropped (use_clstoken = False) and the patch tokens become [D, gh, gw] maps.
///  DPT head  projects (1×1 convs D → oc[i]); resize_layers: ×4 and ×2 transposed convs, identity,
///            a 3×3 stride-2 conv; scratch.layer{1..4}_rn (3×3, no bias) to F channels; four fusion
///            blocks (residual conv units, bilinear align_corners=True resizes, 1×1 out_conv);
///            output_conv1 (F → F/2), a bilinear align_corners=True resize to 14·(gh, gw),
///            output_conv2 (3×3 → 32, ReLU, 1×1 → 1, ReLU), everything after refinenet1's 1×1
///            out_conv in row bands (Config::output_band_bytes); then the resize to the input
///            size and a final ReLU.
///
/// Variants (Config::vits / vitb / vitl): D = 384 / 768 / 1024, 12 / 12 / 24 blocks, 6 / 12 / 16
/// heads, F = 64 / 128 / 256, oc = [48, 96, 192, 384] / [96, 192, 384, 768] / [256, 512, 1024, 1024].
/// Config::from_weights reads any (also shrunken) configuration from the weight shapes.
///
/// Weights: the published depth_anything_vit{s,b,l}14 state_dict keys unchanged, "pretrained.*"
/// (the DINOv2 encoder; its mask_token only serves training) and "depth_head.*". The fusion block
/// refinenet4 has a resConfUnit1 that is stored but never used (it only fuses one input); its keys
/// are accepted and ignored.
///
/// DGIQA's depth image (depth_utils.DepthGenerator): depth_input() makes the network input from an
/// 8-bit image (double precision: /255, OpenCV bicubic resize to the ×14 grid of at least 518 on
/// each side, ImageNet normalisation, then float32), depth_map() runs the network and resizes the
/// prediction back to the image size (bilinear, align_corners=False), depth_to_u8() scales it to
/// [0, 255] as (d − min) / (max − min + 1e-8) · 255 in float32 and truncates, and depth_image()
/// does all of it and replicates the result to three channels.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/conv_transpose2d.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/vision_transformer.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/transforms/opencv_bicubic.hpp"

namespace biqa::models {

namespace dpt {

inline nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride = 1, bool bias = true) {
  nn::Conv2d::Config c;
  c.in_channels = in, c.out_channels = out;
  c.kernel_size = {k, k}, c.stride = {stride, stride}, c.padding = {k / 2, k / 2};
  c.bias = bias;
  return nn::Conv2d(c);
}

inline constexpr ops::InterpolateOptions align_corners_bilinear{ops::InterpolateMode::bilinear, true, false};

template <typename Device>
Tensor<float, Device> resize_align_corners(const Tensor<float, Device>& x, std::int64_t h, std::int64_t w, Context& ctx) {
  return ops::interpolate(x, h, w, ctx, align_corners_bilinear);
}

/// ResidualConvUnit (DPT's blocks.py, without BatchNorm): x + conv2(relu(conv1(relu(x)))), 3×3
/// convolutions with bias; the ReLUs leave x itself unchanged. Keys conv1.*, conv2.*.
class ResidualConvUnit {
 public:
  ResidualConvUnit() = default;
  explicit ResidualConvUnit(std::int64_t features) : conv1_(conv(features, features, 3)), conv2_(conv(features, features, 3)) {}

  void load(const io::WeightStore::Scope& scope) {
    conv1_.load(scope.scope("conv1"));
    conv2_.load(scope.scope("conv2"));
  }

  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    // The inner ReLU and the shortcut add run in the convolutions' output pass (Conv2dEpilogue).
    Tensor<float, Device> y = conv1_.forward(ops::relu(x, ctx), ctx, {{}, ops::Activation::relu});
    return conv2_.forward(y, ctx, {x, ops::Activation::identity});
  }

 private:
  nn::Conv2d conv1_, conv2_;
};

/// FeatureFusionBlock (deconv=False, bn=False, expand=False, align_corners=True):
///   y = x (+ resConfUnit1(skip)); y = resConfUnit2(y); bilinear align_corners=True to the given
///   size; out_conv (1×1, bias), here applied before the resize (equal up to rounding).
///   Keys resConfUnit1.*, resConfUnit2.*, out_conv.*.
class FeatureFusionBlock {
 public:
  FeatureFusionBlock() = default;
  explicit FeatureFusionBlock(std::int64_t features)
      : unit1_(features), unit2_(features), out_conv_(conv(features, features, 1)) {}

  /// with_skip false: the block only ever sees one input (DPT's refinenet4), so resConfUnit1 is
  /// not needed; its keys are ignored when the file has them.
  void load(const io::WeightStore::Scope& scope, bool with_skip = true) {
    if (with_skip) {
      unit1_.load(scope.scope("resConfUnit1"));
    } else {
      for (const char* k : {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"})
        scope.scope("resConfUnit1").ignore(k);
    }
    unit2_.load(scope.scope("resConfUnit2"));
    out_conv_.load(scope.scope("out_conv"));
    with_skip_ = with_skip;
  }

  /// x (and skip, same shape, or an undefined tensor) [B, F, h, w] → [B, F, out_h, out_w]. Taken
  /// by value: inputs passed as rvalues are released as soon as they are used.
  template <typename Device>
  Tensor<float, Device> forward(Tensor<float, Device> x, Tensor<float, Device> skip, std::int64_t out_h,
                                std::int64_t out_w, Context& ctx) const {
    return resize_align_corners(fuse(std::move(x), std::move(skip), ctx), out_h, out_w, ctx);
  }

  /// Everything before the resize: out_conv(resConfUnit2(x (+ resConfUnit1(skip)))), [B, F, h, w]
  /// (the head's last block resizes in bands).
  template <typename Device>
  Tensor<float, Device> fuse(Tensor<float, Device> x, Tensor<float, Device> skip, Context& ctx) const {
    Tensor<float, Device> y;
    if (skip.defined()) {
      BIQA_CHECK(with_skip_, ErrorCode::invalid_argument,
                 "dpt::FeatureFusionBlock: loaded without resConfUnit1, so it cannot fuse a second input");
      BIQA_CHECK(skip.shape() == x.shape(), ErrorCode::invalid_argument, "dpt::FeatureFusionBlock: inputs ",
                 x.shape().to_string(), " and ", skip.shape().to_string(), " differ");
      y = unit1_.forward(std::exchange(skip, {}), ctx);
      ops::add_inplace(y, std::exchange(x, {}), ctx);  // x + res (addition commutes exactly)
      y = unit2_.forward(y, ctx);
    } else {
      y = unit2_.forward(std::exchange(x, {}), ctx);
    }
    // out_conv (1×1) before the resize, not after as in the authors' code: both are linear and the
    // bilinear weights of each output sum to 1, so the order changes only rounding, while the
    // convolution sees a quarter of the pixels and the upsampled map exists once, not twice
    // (Depth Anything vitl at 518: 90 MB less at the head's peak).
    return out_conv_.forward(y, ctx);
  }

 private:
  ResidualConvUnit unit1_, unit2_;
  nn::Conv2d out_conv_;
  bool with_skip_ = true;
};

/// DPTHead (nclass = 1, use_bn = False, use_clstoken = False). Keys projects.{0..3},
/// resize_layers.{0,1,3}, scratch.layer{1..4}_rn, scratch.refinenet{1..4}, scratch.output_conv1,
/// scratch.output_conv2.{0,2}.
class DptHead {
 public:
  struct Config {
    std::int64_t in_channels = 1024;  // the encoder's embed_dim
    std::int64_t features = 256;
    std::array<std::int64_t, 4> out_channels{256, 512, 1024, 1024};
    std::int64_t patch_size = 14;  ///< the output map is patch_size × the token grid
    /// The stages after refinenet1's fusion (its ×2 resize, output_conv1, the resize to
    /// patch_size × the grid, output_conv2) run in row bands whose resized F/2-channel features
    /// take about this many bytes, so neither full-size map exists (vitl at 518: 90 and 137 MB);
    /// 0 runs them whole. The result does not depend on it.
    std::int64_t output_band_bytes = std::int64_t(4) << 20;
  };

  DptHead() = default;
  explicit DptHead(const Config& c) : config_(c) {
    BIQA_CHECK(c.in_channels > 0 && c.features > 1 && c.patch_size > 0 &&
                   std::all_of(c.out_channels.begin(), c.out_channels.end(), [](std::int64_t v) { return v > 0; }),
               ErrorCode::invalid_argument, "dpt::DptHead: channel counts must be positive (features ≥ 2)");
    const auto& oc = c.out_channels;
    for (int i = 0; i < 4; ++i) projects_[i] = conv(c.in_channels, oc[i], 1);
    nn::ConvTranspose2d::Config up4{oc[0], oc[0], {4, 4}, {4, 4}};
    nn::ConvTranspose2d::Config up2{oc[1], oc[1], {2, 2}, {2, 2}};
    up4_ = nn::ConvTranspose2d(up4);
    up2_ = nn::ConvTranspose2d(up2);
    down2_ = conv(oc[3], oc[3], 3, 2);
    for (int i = 0; i < 4; ++i) layer_rn_[i] = conv(oc[i], c.features, 3, 1, false);
    for (int i = 0; i < 4; ++i) refinenet_[i] = FeatureFusionBlock(c.features);
    output_conv1_ = conv(c.features, c.features / 2, 3);
    output_conv2a_ = conv(c.features / 2, 32, 3);
    output_conv2b_ = conv(32, 1, 1);
  }

  void load(const io::WeightStore::Scope& scope) {
    for (int i = 0; i < 4; ++i) projects_[i].load(scope.scope("projects").scope(i));
    up4_.load(scope.scope("resize_layers").scope(0));
    up2_.load(scope.scope("resize_layers").scope(1));
    down2_.load(scope.scope("resize_layers").scope(3));
    const io::WeightStore::Scope scratch = scope.scope("scratch");
    for (int i = 0; i < 4; ++i) layer_rn_[i].load(scratch.scope("layer" + std::to_string(i + 1) + "_rn"));
    for (int i = 0; i < 4; ++i) refinenet_[i].load(scratch.scope("refinenet" + std::to_string(i + 1)), i != 3);
    output_conv1_.load(scratch.scope("output_conv1"));
    output_conv2a_.load(scratch.scope("output_conv2").scope(0));
    output_conv2b_.load(scratch.scope("output_conv2").scope(2));
    loaded_ = true;
  }

  /// tokens: four patch-token maps [B, gh·gw, in_channels] (row-major over the grid, class token
  /// dropped) → depth [B, 1, patch·gh, patch·gw].
  /// Taken by value: a map passed as an rvalue is released once its level is built.
  template <typename Device>
  Tensor<float, Device> forward(std::vector<Tensor<float, Device>> tokens, std::int64_t gh, std::int64_t gw,
                                Context& ctx) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "dpt::DptHead: forward() before load()");
    BIQA_CHECK(tokens.size() == 4, ErrorCode::invalid_argument, "dpt::DptHead: needs 4 token maps, got ", tokens.size());
    std::array<Tensor<float, Device>, 4> level;
    const std::int64_t batch = tokens[0].dim() == 3 ? tokens[0].size(0) : -1;
    for (int i = 0; i < 4; ++i) {
      const Tensor<float, Device>& t = tokens[static_cast<std::size_t>(i)];
      BIQA_CHECK(t.dim() == 3 && t.size(1) == gh * gw && t.size(2) == config_.in_channels &&
                     t.size(0) == batch,
                 ErrorCode::invalid_argument, "dpt::DptHead: token map ", i, " is ", t.shape().to_string(),
                 ", expected [B, ", gh * gw, ", ", config_.in_channels, "]");
      const Tensor<float, Device> map = t.transpose(1, 2).contiguous().reshape({t.size(0), config_.in_channels, gh, gw});
      Tensor<float, Device> y = projects_[i].forward(map, ctx);
      if (i == 0) y = up4_.forward(y, ctx);
      else if (i == 1) y = up2_.forward(y, ctx);
      else if (i == 3) y = down2_.forward(y, ctx);
      level[i] = layer_rn_[i].forward(y, ctx);
      tokens[static_cast<std::size_t>(i)] = Tensor<float, Device>();
    }
    auto size = [](const Tensor<float, Device>& t) { return std::array<std::int64_t, 2>{t.size(2), t.size(3)}; };
    const auto s3 = size(level[2]), s2 = size(level[1]), s1 = size(level[0]);
    // Each level is released as soon as its fusion block has used it.
    Tensor<float, Device> path = refinenet_[3].forward(std::exchange(level[3], {}), {}, s3[0], s3[1], ctx);
    path = refinenet_[2].forward(std::move(path), std::exchange(level[2], {}), s2[0], s2[1], ctx);
    path = refinenet_[1].forward(std::move(path), std::exchange(level[1], {}), s1[0], s1[1], ctx);
    // refinenet1 resizes by 2 (scale_factor 2); the resize, output_conv1 and the output stage after
    // it run together in row bands (output_stage).
    path = refinenet_[0].fuse(std::move(path), std::exchange(level[0], {}), ctx);
    return output_stage(std::move(path), 2 * s1[0], 2 * s1[1], config_.patch_size * gh, config_.patch_size * gw, ctx);
  }

  const Config& config() const { return config_; }

 private:
  /// From refinenet1's fused map y [B, F, h1, w1]: resize to mh × mw (refinenet1's ×2),
  /// output_conv1 (3×3), resize to h × w, output_conv2 (3×3 with ReLU, 1×1 with ReLU). On the CPU
  /// this runs band by band, so neither full-size map (F channels at mh × mw, F/2 at h × w: 90 and
  /// 137 MB for vitl at 518) ever exists. A band of output rows needs one feature row above and
  /// below it (the 3×3 kernel), those rows need some rows of output_conv1's map (the resize's
  /// taps), and they in turn one more row of the ×2 map each side. Each convolution pads its band
  /// as it pads the whole map; the rows next to a band's edge that this padding spoils are computed
  /// but not kept (at the map's own edges they are the padded rows, as on the whole map), so every
  /// kept row equals the whole-map computation bit for bit.
  template <typename Device>
  Tensor<float, Device> output_stage(Tensor<float, Device> y, std::int64_t mh, std::int64_t mw, std::int64_t h,
                                     std::int64_t w, Context& ctx) const {
    const auto whole = [&] {
      Tensor<float, Device> out = output_conv1_.forward(resize_align_corners(std::exchange(y, {}), mh, mw, ctx), ctx);
      out = resize_align_corners(out, h, w, ctx);
      out = output_conv2a_.forward(out, ctx, {{}, ops::Activation::relu});
      return output_conv2b_.forward(out, ctx, {{}, ops::Activation::relu});
    };
    if constexpr (!nn::on_host<Device>) {
      return whole();
    } else {
      const std::int64_t mid = config_.features / 2;
      const std::int64_t row_bytes = y.size(0) * mid * w * std::int64_t(sizeof(float));
      const std::int64_t band =
          config_.output_band_bytes > 0 ? std::clamp<std::int64_t>(config_.output_band_bytes / row_bytes, 1, h) : h;
      if (band >= h) return whole();
      Tensor<float> depth({y.size(0), 1, h, w});
      for (std::int64_t r0 = 0; r0 < h; r0 += band) {
        const std::int64_t r1 = std::min(h, r0 + band);
        // Feature rows [f0, f1) at h × w; output_conv1 rows [c0, c1) at mh × mw; ×2 rows [p0, p1).
        const std::int64_t f0 = std::max<std::int64_t>(0, r0 - 1), f1 = std::min(h, r1 + 1);
        const auto [c0, c1] = ops::interpolate_input_rows(mh, h, f0, f1, align_corners_bilinear);
        const std::int64_t p0 = std::max<std::int64_t>(0, c0 - 1), p1 = std::min(mh, c1 + 1);
        const Tensor<float> up = ops::interpolate_rows(y, mh, mw, p0, p1, ctx, align_corners_bilinear);
        const Tensor<float> conv1 = output_conv1_.forward(up, ctx).slice(2, c0 - p0, c1 - p0).contiguous();
        Tensor<float> f = ops::interpolate_rows(conv1, mh, c0, h, w, f0, f1, ctx, align_corners_bilinear);
        f = output_conv2a_.forward(f, ctx, {{}, ops::Activation::relu});
        f = output_conv2b_.forward(f, ctx, {{}, ops::Activation::relu});
        depth.slice(2, r0, r1).assign(f.slice(2, r0 - f0, r1 - f0));
      }
      return depth;
    }
  }

  Config config_;
  std::array<nn::Conv2d, 4> projects_, layer_rn_;
  nn::ConvTranspose2d up4_, up2_;
  nn::Conv2d down2_;
  std::array<FeatureFusionBlock, 4> refinenet_;
  nn::Conv2d output_conv1_, output_conv2a_, output_conv2b_;
  bool loaded_ = false;
};

}  // namespace dpt

class DepthAnything {
 public:
  struct Config {
    std::string encoder = "vitl";  // "vits", "vitb", "vitl", or "custom" for other shapes
    std::int64_t embed_dim = 1024;
    std::int64_t depth = 24;
    std::int64_t num_heads = 16;
    double mlp_ratio = 4.0;
    std::int64_t patch_size = 14;
    std::int64_t img_size = 518;  ///< the square the stored pos_embed covers (37 × 37 patches)
    std::int64_t features = 256;
    std::array<std::int64_t, 4> out_channels{256, 512, 1024, 1024};

    static Config vits() { return {"vits", 384, 12, 6, 4.0, 14, 518, 64, {48, 96, 192, 384}}; }
    static Config vitb() { return {"vitb", 768, 12, 12, 4.0, 14, 518, 128, {96, 192, 384, 768}}; }
    static Config vitl() { return {"vitl", 1024, 24, 16, 4.0, 14, 518, 256, {256, 512, 1024, 1024}}; }
    static Config named(const std::string& encoder) {
      if (encoder == "vits") return vits();
      if (encoder == "vitb") return vitb();
      if (encoder == "vitl") return vitl();
      fail(ErrorCode::invalid_argument, "DepthAnything: unknown encoder '", encoder, "' (vits, vitb or vitl)");
    }

    /// JSON keys: "encoder" (a preset to start from), then any of embed_dim, depth, num_heads,
    /// mlp_ratio, patch_size, img_size, features, out_channels [4] over it.
    Config& update(const json::Value& j) {
      if (j.is_null()) return *this;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "DepthAnything config must be a JSON object");
      if (auto* v = j.find("encoder")) *this = named(v->as_string());
      bool custom = false;
      auto num = [&](const char* k, std::int64_t& dst) {
        if (auto* v = j.find(k)) dst = v->as_int(), custom = true;
      };
      num("embed_dim", embed_dim);
      num("depth", depth);
      num("num_heads", num_heads);
      num("patch_size", patch_size);
      num("img_size", img_size);
      num("features", features);
      if (auto* v = j.find("mlp_ratio")) mlp_ratio = v->as_number(), custom = true;
      if (auto* v = j.find("out_channels")) {
        BIQA_CHECK(v->is_array() && v->as_array().size() == 4, ErrorCode::invalid_argument,
                   "DepthAnything config: out_channels must be a list of 4 numbers");
        for (int i = 0; i < 4; ++i) out_channels[i] = v->as_array()[static_cast<std::size_t>(i)].as_int();
        custom = true;
      }
      if (custom) encoder = preset_name();
      return *this;
    }
    static Config from_json(const json::Value& j) { return Config().update(j); }

    /// Everything from the shapes of "pretrained.*" and "depth_head.*". num_heads is not visible in
    /// the shapes: heads of 64 channels are assumed, as in every DINOv2 ViT (0 when embed_dim is not
    /// a multiple of 64; update() must then supply it). Missing keys are left to the strict load.
    static Config from_weights(const io::WeightStore& store) {
      Config c = vitl();
      auto shape = [&](const std::string& k) -> const Shape* {
        const io::TensorRecord* r = store.record(k);
        return r ? &r->shape : nullptr;
      };
      BIQA_CHECK(shape("pretrained.patch_embed.proj.weight") && shape("pretrained.patch_embed.proj.weight")->rank() == 4,
                 ErrorCode::key, store.path(), ": no pretrained.patch_embed.proj.weight [D, 3, 14, 14]; "
                 "not a Depth Anything V1 checkpoint");
      const Shape& pe = *shape("pretrained.patch_embed.proj.weight");
      c.embed_dim = pe[0];
      c.patch_size = pe[2];
      std::int64_t depth = 0;
      const std::string prefix = "pretrained.blocks.";
      for (const auto& k : store.keys_with_prefix(prefix)) {
        const auto dot = k.find('.', prefix.size());
        const std::string idx = k.substr(prefix.size(), dot - prefix.size());
        if (!idx.empty() && std::all_of(idx.begin(), idx.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
          depth = std::max<std::int64_t>(depth, std::stoll(idx) + 1);
      }
      c.depth = depth;
      c.num_heads = c.embed_dim % 64 == 0 ? c.embed_dim / 64 : 0;  // 0: unknown, the config must say
      if (const Shape* s = shape("pretrained.blocks.0.mlp.fc1.weight"); s && s->rank() == 2 && c.embed_dim > 0)
        c.mlp_ratio = static_cast<double>((*s)[0]) / static_cast<double>(c.embed_dim);
      if (const Shape* s = shape("pretrained.pos_embed"); s && s->rank() == 3) {
        const auto g = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>((*s)[1] - 1))));
        if (g * g + 1 == (*s)[1]) c.img_size = g * c.patch_size;
      }
      if (const Shape* s = shape("depth_head.scratch.layer1_rn.weight"); s && s->rank() == 4) c.features = (*s)[0];
      for (int i = 0; i < 4; ++i)
        if (const Shape* s = shape("depth_head.projects." + std::to_string(i) + ".weight"); s && s->rank() == 4)
          c.out_channels[i] = (*s)[0];
      c.encoder = c.preset_name();
      return c;
    }

    /// "vits" / "vitb" / "vitl" when the shapes are a published variant's, else "custom".
    std::string preset_name() const {
      for (const Config& p : {vits(), vitb(), vitl()})
        if (p.embed_dim == embed_dim && p.depth == depth && p.num_heads == num_heads && p.mlp_ratio == mlp_ratio &&
            p.patch_size == patch_size && p.img_size == img_size && p.features == features &&
            p.out_channels == out_channels)
          return p.encoder;
      return "custom";
    }

    /// The DINOv2 encoder as an nn::VisionTransformer.
    nn::VisionTransformer::Config encoder_config() const {
      nn::VisionTransformer::Config c;
      c.img_size = {img_size, img_size};
      c.patch_size = {patch_size, patch_size};
      c.embed_dim = embed_dim;
      c.depth = depth;
      c.num_heads = num_heads;
      c.mlp_ratio = mlp_ratio;
      c.qkv_bias = true;
      c.init_values = 1.0;  // LayerScale present (its value is an init only)
      c.num_classes = 0;
      c.dynamic_img_size = true;
      c.norm_eps = 1e-6f;
      c.pos_embed_antialias = false;
      c.pos_embed_interpolate_offset = 0.1;
      return c;
    }
    dpt::DptHead::Config head_config() const { return {embed_dim, features, out_channels, patch_size}; }
  };

  DepthAnything() = default;
  explicit DepthAnything(const Config& config) : config_(config) {
    BIQA_CHECK(config.depth >= 4, ErrorCode::invalid_argument, "DepthAnything: the encoder needs at least 4 blocks, got ",
               config.depth);
    BIQA_CHECK(config.num_heads > 0, ErrorCode::invalid_argument, "DepthAnything: num_heads unknown for embed_dim ",
               config.embed_dim, " (not a multiple of 64); give num_heads in the config");
    BIQA_CHECK(config.embed_dim % config.num_heads == 0, ErrorCode::invalid_argument,
               "DepthAnything: embed_dim ", config.embed_dim, " does not split into ", config.num_heads, " heads");
    BIQA_CHECK(config.img_size > 0 && config.patch_size > 0 && config.img_size % config.patch_size == 0,
               ErrorCode::invalid_argument, "DepthAnything: img_size ", config.img_size,
               " must be a positive multiple of patch_size ", config.patch_size);
    encoder_ = nn::VisionTransformer(config.encoder_config());
    head_ = dpt::DptHead(config.head_config());
  }

  /// Takes "pretrained.*" and "depth_head.*" from the store; the caller's store.finish() then
  /// reports every missing, mis-shaped or unexpected key.
  void load(io::WeightStore& store) { load(store.root()); }
  /// The same under a prefix (a file holding several networks).
  void load(const io::WeightStore::Scope& root) {
    encoder_.load(root.scope("pretrained"), nn::VisionTransformer::KeyNames::dinov2());
    head_.load(root.scope("depth_head"));
    loaded_ = true;
  }

  /// The encoder's taps: for each of the last four blocks, its output through the final norm,
  /// split into patch tokens [B, gh·gw, D] (returned) and the class token [B, D] (class_tokens).
  template <typename Device>
  std::vector<Tensor<float, Device>> encode(const Tensor<float, Device>& x, Context& ctx,
                                            std::vector<Tensor<float, Device>>* class_tokens = nullptr) const {
    check_input(x);
    const std::int64_t d = encoder_.depth();
    std::vector<Tensor<float, Device>> taps =
        encoder_.forward_intermediates(x, {d - 4, d - 3, d - 2, d - 1}, ctx, true);
    std::vector<Tensor<float, Device>> patches;
    if (class_tokens) class_tokens->clear();
    for (const Tensor<float, Device>& t : taps) {
      patches.push_back(encoder_.patch_tokens(t).contiguous());
      if (class_tokens) class_tokens->push_back(t.select(1, 0).contiguous());
    }
    return patches;
  }

  /// x [B, 3, H, W] (ImageNet-normalised, H and W multiples of 14) → relative inverse depth [B, H, W].
  /// patch_tokens / class_tokens, when given, receive encode()'s taps of the same pass.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx,
                                std::vector<Tensor<float, Device>>* patch_tokens = nullptr,
                                std::vector<Tensor<float, Device>>* class_tokens = nullptr) const {
    std::vector<Tensor<float, Device>> tokens = encode(x, ctx, class_tokens);
    if (patch_tokens) *patch_tokens = tokens;
    const std::int64_t b = x.size(0), h = x.size(2), w = x.size(3);
    const std::int64_t gh = h / config_.patch_size, gw = w / config_.patch_size;
    Tensor<float, Device> depth = head_.forward(std::move(tokens), gh, gw, ctx);  // the head frees each map after use
    if (depth.size(2) != h || depth.size(3) != w) depth = dpt::resize_align_corners(depth, h, w, ctx);
    ops::activate_inplace(depth, ops::Activation::relu, ctx);
    return depth.reshape({b, h, w});
  }

  /// The forward on the CUDA device, host tensors in and out; set by biqa/cuda.cuh.
  using HostForward = Tensor<float> (*)(const DepthAnything&, const Tensor<float>&, Context&);
  static inline HostForward cuda_forward = nullptr;

  /// forward() on ctx.device with host tensors in and out (what depth_map calls).
  Tensor<float> forward_on(const Tensor<float>& x, Context& ctx) const {
    if (ctx.device == DeviceType::cpu) return forward(x, ctx);
    if (!cuda_forward) fail_missing_backend(ctx.device, "Depth Anything");
    return cuda_forward(*this, x, ctx);
  }

  const Config& config() const { return config_; }
  const nn::VisionTransformer& encoder() const { return encoder_; }
  const dpt::DptHead& head() const { return head_; }

 private:
  template <typename Device>
  void check_input(const Tensor<float, Device>& x) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "DepthAnything: forward() before load()");
    BIQA_CHECK(x.dim() == 4 && x.size(1) == 3 && x.size(0) > 0, ErrorCode::invalid_argument,
               "DepthAnything: input must be [B, 3, H, W], got ", x.shape().to_string());
    const std::int64_t p = config_.patch_size;
    BIQA_CHECK(x.size(2) >= p && x.size(3) >= p && x.size(2) % p == 0 && x.size(3) % p == 0,
               ErrorCode::invalid_argument, "DepthAnything: input size ", x.size(2), "x", x.size(3),
               " is not a positive multiple of the patch size ", p);
  }

  Config config_;
  nn::VisionTransformer encoder_;
  dpt::DptHead head_;
  bool loaded_ = false;
};

// ------------------------------------------------------------------ DGIQA's depth image

struct DepthImageOptions {
  std::int64_t min_side = 518;  // Depth Anything's Resize(518, 518, keep_aspect_ratio, 'lower_bound')
  std::int64_t multiple = 14;   ///< ensure_multiple_of
  std::array<double, 3> mean{0.485, 0.456, 0.406};
  std::array<double, 3> std{0.229, 0.224, 0.225};
};

/// The network input size (H1, W1) for an h × w image: scale s = max(min_side/h, min_side/w); each
/// side becomes multiple·round_half_even(s·side / multiple), or the next multiple up when that
/// falls below min_side.
inline std::array<std::int64_t, 2> depth_input_size(std::int64_t h, std::int64_t w, const DepthImageOptions& opt = {}) {
  BIQA_CHECK(h > 0 && w > 0 && opt.min_side > 0 && opt.multiple > 0, ErrorCode::invalid_argument,
             "depth_input_size: bad image size ", h, "x", w);
  double sh = static_cast<double>(opt.min_side) / static_cast<double>(h);
  double sw = static_cast<double>(opt.min_side) / static_cast<double>(w);
  if (sw > sh) sh = sw;
  else sw = sh;
  auto constrain = [&](double x) {
    const double m = static_cast<double>(opt.multiple);
    auto y = static_cast<std::int64_t>(std::nearbyint(x / m) * m);  // numpy's round: half to even
    if (y < opt.min_side) y = static_cast<std::int64_t>(std::ceil(x / m) * m);
    return y;
  };
  return {constrain(sh * static_cast<double>(h)), constrain(sw * static_cast<double>(w))};
}

namespace detail {

inline void check_rgb(const Shape& s, const char* what) {
  BIQA_CHECK((s.rank() == 3 && (s[2] == 3 || s[2] == 1)) || s.rank() == 2, ErrorCode::invalid_argument, what,
             ": expected an H×W×3 (or grey H×W / H×W×1) image, got ", s.to_string());
  BIQA_CHECK(s[0] > 0 && s[1] > 0, ErrorCode::invalid_argument, what, ": empty image ", s.to_string());
}

/// From H×W×3 (or grey) values in [0, 1] as double: resize, normalise, float32 NCHW.
inline Tensor<float> depth_input_from_double(const Tensor<double>& rgb, const DepthImageOptions& opt) {
  const std::int64_t h = rgb.size(0), w = rgb.size(1);
  const auto [oh, ow] = depth_input_size(h, w, opt);
  const Tensor<double> r = transforms::resize_bicubic_opencv(rgb, oh, ow);
  Tensor<float> out({1, 3, oh, ow});
  const std::int64_t plane = oh * ow;
  for (std::int64_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c)
      out.data()[c * plane + i] = static_cast<float>((r.data()[i * 3 + c] - opt.mean[c]) / opt.std[c]);
  return out;
}

template <typename T, typename F>
Tensor<double> to_double_rgb(const Tensor<T>& img, const char* what, F scale) {
  check_rgb(img.shape(), what);
  const Tensor<T> c = img.contiguous();
  const std::int64_t h = c.size(0), w = c.size(1), ch = c.dim() == 3 ? c.size(2) : 1;
  Tensor<double> out({h, w, 3});
  for (std::int64_t i = 0; i < h * w; ++i)
    for (int k = 0; k < 3; ++k) out.data()[i * 3 + k] = scale(c.data()[i * ch + (ch == 3 ? k : 0)]);
  return out;
}

}  // namespace detail

/// uint8 RGB H×W×3 (grey H×W or H×W×1 is replicated, as OpenCV's colour decoding does) → the
/// network input [1, 3, H1, W1]: /255 in double, OpenCV bicubic to depth_input_size, ImageNet
/// normalisation in double, then float32.
inline Tensor<float> depth_input(const Tensor<std::uint8_t>& rgb, const DepthImageOptions& opt = {}) {
  return detail::depth_input_from_double(
      detail::to_double_rgb(rgb, "depth_input", [](std::uint8_t v) { return static_cast<double>(v) / 255.0; }), opt);
}
/// The same from a float RGB image in [0, 1] (its values are taken as they are, in double).
inline Tensor<float> depth_input(const Tensor<float>& rgb, const DepthImageOptions& opt = {}) {
  return detail::depth_input_from_double(
      detail::to_double_rgb(rgb, "depth_input", [](float v) { return static_cast<double>(v); }), opt);
}

/// The network's prediction for a batch-1 input made by depth_input, resized back to h × w
/// (bilinear, align_corners=False, no antialias): [h, w] float32.
inline Tensor<float> depth_map_from_input(const DepthAnything& model, const Tensor<float>& input, std::int64_t h,
                                          std::int64_t w, Context& ctx) {
  BIQA_CHECK(input.dim() == 4 && input.size(0) == 1, ErrorCode::invalid_argument,
             "depth_map: the input must be a batch of one [1, 3, H, W], got ", input.shape().to_string());
  const Tensor<float> d = model.forward_on(input, ctx);  // [1, H1, W1], on ctx.device
  const Tensor<float> r = ops::interpolate(d.unsqueeze(1), h, w, ctx);  // bilinear, align_corners=False
  return r.reshape({h, w});
}

/// The depth map of an image at its own size, [h, w] float32 (relative inverse depth).
template <typename T>
Tensor<float> depth_map(const DepthAnything& model, const Tensor<T>& rgb, Context& ctx, const DepthImageOptions& opt = {}) {
  detail::check_rgb(rgb.shape(), "depth_map");
  return depth_map_from_input(model, depth_input(rgb, opt), rgb.size(0), rgb.size(1), ctx);
}

/// (d − min) / (max − min + 1e-8) · 255 in float32, truncated to uint8 (NumPy's astype). The
/// denominator is formed in double and rounded to float32, as NumPy 1.x promotes a float32 scalar
/// plus a Python float.
inline Tensor<std::uint8_t> depth_to_u8(const Tensor<float>& map) {
  BIQA_CHECK(map.numel() > 0, ErrorCode::invalid_argument, "depth_to_u8: empty depth map");
  const Tensor<float> m = map.contiguous();
  const float* d = m.data();
  float lo = d[0], hi = d[0];
  for (std::int64_t i = 0; i < m.numel(); ++i) {
    BIQA_CHECK(std::isfinite(d[i]), ErrorCode::invalid_argument, "depth_to_u8: the depth map has a non-finite value");
    lo = std::min(lo, d[i]), hi = std::max(hi, d[i]);
  }
  const float den = static_cast<float>(static_cast<double>(hi - lo) + 1e-8);
  Tensor<std::uint8_t> out(m.shape());
  for (std::int64_t i = 0; i < m.numel(); ++i) {
    const float q = (d[i] - lo) / den;
    const float v = q * 255.0f;
    out.data()[i] = static_cast<std::uint8_t>(std::clamp(v, 0.0f, 255.0f));  // truncation toward zero
  }
  return out;
}

/// [h, w] uint8 → H×W×3 (the three channels equal).
inline Tensor<std::uint8_t> replicate_to_rgb(const Tensor<std::uint8_t>& grey) {
  BIQA_CHECK(grey.dim() == 2, ErrorCode::invalid_argument, "replicate_to_rgb: expected [H, W], got ",
             grey.shape().to_string());
  const Tensor<std::uint8_t> g = grey.contiguous();
  Tensor<std::uint8_t> out({g.size(0), g.size(1), 3});
  for (std::int64_t i = 0; i < g.numel(); ++i)
    for (int k = 0; k < 3; ++k) out.data()[i * 3 + k] = g.data()[i];
  return out;
}

/// DGIQA's depth image of an RGB image (DepthGenerator.__call__): H×W×3 uint8.
template <typename T>
Tensor<std::uint8_t> depth_image(const DepthAnything& model, const Tensor<T>& rgb, Context& ctx,
                                 const DepthImageOptions& opt = {}) {
  return replicate_to_rgb(depth_to_u8(depth_map(model, rgb, ctx, opt)));
}

}  // namespace biqa::models
