#pragma once
/// @file
/// models::DGIQA, the network of "Depth-Guided Image Quality Assessment" (the authors' class DGIQA in
/// uf-robopi/DGIQA model/DGIQA.py), for one 224×224 RGB crop and the same crop of its depth image
/// (three identical channels, ImageNet-normalised like the RGB one):
///   backbone, depth_backbone   two timm Swin-T features_only extractors (own weights): four NHWC
///                              stage outputs before the final norm
///   tcb{1..4}, tcb{1..4}_depth one Transformer-CNN Bridge per stage and branch
///   scale alignment            every bridge output resized to the smallest RGB map (7×7) with
///                              bilinear interpolation, align_corners=False, no antialias; the
///                              channels concatenated in stage order (960 = 64+128+256+512)
///   depth_guided_cross_attention  depth as the query, RGB as key and value (16 heads of 60)
///   refinement_attention       self-attention over the 49 positions of the result
///   dilated_stack              Conv3×3 d2 → BN → ReLU → Conv3×3 d4 → BN → ReLU (BNs folded at load)
///   mean over positions → fc (1024 → 1) → sigmoid
/// Weights: the authors' plain state_dict (482 keys), loaded strictly. Accepted as well: the
/// pre-release names tsb{k}, tsb{k}_depth, cross_spatialattention., spatialattention. (spec §5.3)
/// and the Swin buffers a timm 0.9.0–0.9.5 checkpoint stores (checked against the computed ones).
/// Config holds every size, so a shrunken network (smaller Swin, bridges, heads) runs through the
/// same code; sizes the weights determine are read from them (Config::from_weights).

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/dgiqa/depth_car_attention.hpp"
#include "biqa/models/dgiqa/transformer_cnn_block.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/swin_transformer.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/ops/cpu/pool.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::models {

class DGIQA {
 public:
  struct Config {
    /// timm's swin_tiny_patch4_window7_224 as features_only at 224×224 (both branches).
    nn::SwinTransformer::Config swin = default_swin();
    std::vector<std::int64_t> bridge_channels{64, 128, 256, 512};  ///< one per Swin stage
    std::int64_t bridge_reduction = 16;
    std::int64_t attention_heads = 16;
    std::int64_t ffn_dim = 0;  ///< 0: 4 × the fused width
    std::int64_t stack_channels = 1024;
    std::array<std::int64_t, 2> dilations{2, 4};

    std::int64_t fused_channels() const {
      std::int64_t c = 0;
      for (auto b : bridge_channels) c += b;
      return c;
    }

    static nn::SwinTransformer::Config default_swin() {
      nn::SwinTransformer::Config s;
      s.features_only = true;
      s.num_classes = 0;
      return s;
    }

    /// Fields present in `j` override `base`: "swin" (an object with timm's names, see
    /// nn::SwinTransformer::Config::from_json), "bridge_channels", "bridge_reduction",
    /// "attention_heads", "ffn_dim", "stack_channels", "dilations".
    static Config from_json(const json::Value& j) { return from_json(j, Config()); }
    static Config from_json(const json::Value& j, Config base) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "DGIQA config: expected a JSON object");
      const auto ints = [](const json::Value& a) {
        std::vector<std::int64_t> out;
        for (const auto& e : a.as_array()) out.push_back(e.as_int());
        return out;
      };
      if (const auto* v = j.find("swin")) {
        base.swin = nn::SwinTransformer::Config::from_json(*v, base.swin);
        base.swin.features_only = true;
      }
      if (const auto* v = j.find("bridge_channels")) base.bridge_channels = ints(*v);
      if (const auto* v = j.find("bridge_reduction")) base.bridge_reduction = v->as_int();
      if (const auto* v = j.find("attention_heads")) base.attention_heads = v->as_int();
      if (const auto* v = j.find("ffn_dim")) base.ffn_dim = v->as_int();
      if (const auto* v = j.find("stack_channels")) base.stack_channels = v->as_int();
      if (const auto* v = j.find("dilations")) {
        const auto d = ints(*v);
        BIQA_CHECK(d.size() == 2, ErrorCode::invalid_argument, "DGIQA config: dilations must have 2 entries");
        base.dilations = {d[0], d[1]};
      }
      return base;
    }

    /// Sizes the weights under `root` determine override `base`: the Swin dimensions (from
    /// "backbone.", window size included), bridge widths and gate reduction, FFN width, stack
    /// width. The image size, attention heads and dilations are not in the weights.
    static Config from_weights(const io::WeightStore::Scope& root) { return from_weights(root, Config()); }
    static Config from_weights(const io::WeightStore::Scope& root, Config base) {
      BIQA_CHECK(root.has_scope("backbone"), ErrorCode::format, "DGIQA: no ", root.full_name("backbone"),
                 ".* weights (the RGB Swin transformer); is this a DGIQA state_dict?");
      base.swin = nn::SwinTransformer::Config::from_weights(root.scope("backbone"), base.swin, true);
      base.swin.features_only = true;
      base.bridge_channels.clear();
      for (std::size_t s = 0; s < base.swin.depths.size(); ++s) {
        const auto bridge = root.scope(bridge_name(root, s, false));
        const auto* conv1 = bridge.record("conv1.weight");
        BIQA_CHECK(conv1 && conv1->shape.rank() == 4, ErrorCode::format, "DGIQA: ",
                   bridge.full_name("conv1.weight"), " [out, in, 1, 1] is missing");
        base.bridge_channels.push_back(conv1->shape[0]);
        if (s == 0) {
          const auto* gate = bridge.record("attention.0.weight");
          BIQA_CHECK(gate && gate->shape.rank() == 4 && gate->shape[0] > 0, ErrorCode::format, "DGIQA: ",
                     bridge.full_name("attention.0.weight"), " [out/r, out, 1, 1] is missing");
          base.bridge_reduction = conv1->shape[0] / gate->shape[0];
        }
      }
      const auto cross = root.scope(pick(root, "depth_guided_cross_attention", "cross_spatialattention"));
      if (const auto* fc = cross.record("fc.0.weight"); fc && fc->shape.rank() == 2) base.ffn_dim = fc->shape[0];
      if (const auto* c = root.record("dilated_stack.0.weight"); c && c->shape.rank() == 4)
        base.stack_channels = c->shape[0];
      return base;
    }
  };

  /// What forward() returns. logits and scores always; cross_attention_probs always (cheap); the
  /// rest with ForwardOptions::intermediates.
  /// On the inputs' device, except cross_attention_probs (on the host: it is for explanation).
  template <typename Device = Cpu>
  struct BasicOutputs {
    Tensor<float, Device> logits;  ///< [N], before the sigmoid
    Tensor<float, Device> scores;  ///< [N], sigmoid(logits)
    /// Depth queries over RGB positions, averaged over the heads: [N, L, L], L = h·w of the fused
    /// map (49 at 224), positions row-major.
    Tensor<float> cross_attention_probs;
    std::array<std::int64_t, 2> fused_size{0, 0};  ///< (h, w) of the fused map: 7×7 at 224
    std::vector<Tensor<float, Device>> rgb_stages, depth_stages;    ///< [N, H_s, W_s, C_s] (NHWC)
    std::vector<Tensor<float, Device>> rgb_bridges, depth_bridges;  ///< [N, bridge_s, H_s, W_s]
    Tensor<float, Device> fused_rgb, fused_depth;                   ///< [N, fused, h, w]
    Tensor<float, Device> cross_attention, refined;                 ///< [N, fused, h, w]
    Tensor<float, Device> dilated;                                  ///< [N, stack, h, w]
  };
  using Outputs = BasicOutputs<Cpu>;
  struct ForwardOptions {
    bool intermediates = false;
  };

  DGIQA() = default;
  explicit DGIQA(const Config& config) : config_(config) {
    const std::size_t stages = config.swin.depths.size();
    BIQA_CHECK(config.swin.features_only, ErrorCode::invalid_argument, "DGIQA: the Swin config must be features_only");
    BIQA_CHECK(stages > 0 && config.bridge_channels.size() == stages, ErrorCode::invalid_argument,
               "DGIQA: ", config.bridge_channels.size(), " bridge widths for ", stages, " Swin stages");
    backbone_ = nn::SwinTransformer(config.swin);
    depth_backbone_ = nn::SwinTransformer(config.swin);
    for (std::size_t s = 0; s < stages; ++s) {
      const dgiqa::TransformerCnnBlock::Config b{config.swin.embed_dim << s, config.bridge_channels[s],
                                                 config.bridge_reduction};
      bridges_.emplace_back(b);
      depth_bridges_.emplace_back(b);
      if (small_map(config.swin, static_cast<int>(s))) {
        bridges_.back().use_blocked_layout();
        depth_bridges_.back().use_blocked_layout();
      }
    }
    const std::int64_t fused = config.fused_channels();
    dgiqa::DepthCarAttention::Config a{fused, config.attention_heads, config.ffn_dim, 1e-5f,
                                       dgiqa::DepthCarAttention::KeyNames::cross()};
    cross_ = dgiqa::DepthCarAttention(a);
    a.names = dgiqa::DepthCarAttention::KeyNames::refinement();
    refine_ = dgiqa::DepthCarAttention(a);
    for (int i = 0; i < 2; ++i) {
      const std::int64_t d = config.dilations[static_cast<std::size_t>(i)];
      BIQA_CHECK(d > 0, ErrorCode::invalid_argument, "DGIQA: dilations must be positive");
      nn::Conv2d::Config c{i == 0 ? fused : config.stack_channels, config.stack_channels};
      c.kernel_size = {3, 3};
      c.padding = {d, d};
      c.dilation = {d, d};
      stack_[static_cast<std::size_t>(i)] = nn::Conv2d(c);
      if (small_map(config.swin, static_cast<int>(stages) - 1)) stack_[static_cast<std::size_t>(i)].use_blocked_layout();
    }
    fc_ = nn::Linear(config.stack_channels, 1, true);
  }

  /// Takes the whole state_dict under `root` (both spellings of spec §5.3). Call the store's
  /// finish() afterwards for the strict check (load_dgiqa does).
  void load(const io::WeightStore::Scope& root) {
    backbone_.load(root.scope("backbone"));
    depth_backbone_.load(root.scope("depth_backbone"));
    for (std::size_t s = 0; s < bridges_.size(); ++s) {
      bridges_[s].load(root.scope(bridge_name(root, s, false)));
      depth_bridges_[s].load(root.scope(bridge_name(root, s, true)));
    }
    cross_.load(root.scope(pick(root, "depth_guided_cross_attention", "cross_spatialattention")));
    refine_.load(root.scope(pick(root, "refinement_attention", "spatialattention")));
    const auto stack = root.scope("dilated_stack");
    stack_[0].load(stack.scope(0));
    stack_[0].fold_batchnorm(stack.scope(1), 1e-5f);
    stack_[1].load(stack.scope(3));
    stack_[1].fold_batchnorm(stack.scope(4), 1e-5f);
    fc_.load(root.scope("fc"));
    loaded_ = true;
  }

  /// rgb, depth [N, 3, H, W] (H, W = the Swin img_size), both ImageNet-normalised, on either device.
  template <typename Device>
  BasicOutputs<Device> forward(const Tensor<float, Device>& rgb, const Tensor<float, Device>& depth,
                               Context& ctx) const {
    return forward(rgb, depth, ctx, ForwardOptions());
  }
  template <typename Device>
  BasicOutputs<Device> forward(const Tensor<float, Device>& rgb, const Tensor<float, Device>& depth, Context& ctx,
                               const ForwardOptions& options) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "DGIQA: forward() before load()");
    const auto [ih, iw] = config_.swin.img_size;
    BIQA_CHECK(rgb.dim() == 4 && rgb.shape() == depth.shape() && rgb.size(1) == config_.swin.in_chans &&
                   rgb.size(2) == ih && rgb.size(3) == iw,
               ErrorCode::invalid_argument, "DGIQA: image and depth must both be [N, ", config_.swin.in_chans,
               ", ", ih, ", ", iw, "], got ", rgb.shape().to_string(), " and ", depth.shape().to_string());
    BasicOutputs<Device> out;
    const std::vector<Tensor<float, Device>> rgb_stages = backbone_.forward_stages(rgb, ctx);
    const std::vector<Tensor<float, Device>> depth_stages = depth_backbone_.forward_stages(depth, ctx);
    std::vector<Tensor<float, Device>> rgb_bridges, depth_bridges;
    for (std::size_t s = 0; s < bridges_.size(); ++s) {
      rgb_bridges.push_back(bridges_[s].forward(ops::permute_contiguous(rgb_stages[s], {0, 3, 1, 2}), ctx));
      depth_bridges.push_back(depth_bridges_[s].forward(ops::permute_contiguous(depth_stages[s], {0, 3, 1, 2}), ctx));
    }
    // The smallest RGB map's size, used for both branches (as the authors' code takes it).
    std::int64_t h = rgb_bridges[0].size(2), w = rgb_bridges[0].size(3);
    for (const auto& b : rgb_bridges) h = std::min(h, b.size(2)), w = std::min(w, b.size(3));
    const Tensor<float, Device> fused_rgb = fuse(rgb_bridges, h, w, ctx), fused_depth = fuse(depth_bridges, h, w, ctx);

    const Tensor<float, Device> crossed = cross_.forward(
        dgiqa::map_to_tokens(fused_depth), dgiqa::map_to_tokens(fused_rgb), ctx, &out.cross_attention_probs);
    const Tensor<float, Device> refined = refine_.forward(crossed, crossed, ctx);
    const Tensor<float, Device> refined_map = dgiqa::tokens_to_map(refined, h, w);
    Tensor<float, Device> y = stack_[0].forward(refined_map, ctx, {{}, ops::Activation::relu});
    y = stack_[1].forward(y, ctx, {{}, ops::Activation::relu});
    const std::int64_t n = rgb.size(0);
    const Tensor<float, Device> pooled = ops::adaptive_avg_pool2d(y, 1, 1, ctx).reshape({n, config_.stack_channels});
    out.fused_size = {h, w};
    out.logits = fc_.forward(pooled, ctx).reshape({n});
    out.scores = ops::activate(out.logits, ops::Activation::sigmoid, ctx);

    if (options.intermediates) {
      out.rgb_stages = rgb_stages;
      out.depth_stages = depth_stages;
      out.rgb_bridges = std::move(rgb_bridges);
      out.depth_bridges = std::move(depth_bridges);
      out.fused_rgb = fused_rgb;
      out.fused_depth = fused_depth;
      out.cross_attention = dgiqa::tokens_to_map(crossed, h, w);
      out.refined = refined_map;
      out.dilated = y;
    }
    return out;
  }

  /// The outputs with every tensor on the host.
  template <typename Device>
  static Outputs on_host(const BasicOutputs<Device>& o) {
    const auto host = [](const std::vector<Tensor<float, Device>>& v) {
      std::vector<Tensor<float>> h;
      for (const auto& t : v) h.push_back(to_device<Cpu>(t));
      return h;
    };
    const auto one = [](const Tensor<float, Device>& t) { return t.defined() ? to_device<Cpu>(t) : Tensor<float>(); };
    Outputs out;
    out.logits = one(o.logits), out.scores = one(o.scores);
    out.cross_attention_probs = o.cross_attention_probs;
    out.fused_size = o.fused_size;
    out.rgb_stages = host(o.rgb_stages), out.depth_stages = host(o.depth_stages);
    out.rgb_bridges = host(o.rgb_bridges), out.depth_bridges = host(o.depth_bridges);
    out.fused_rgb = one(o.fused_rgb), out.fused_depth = one(o.fused_depth);
    out.cross_attention = one(o.cross_attention), out.refined = one(o.refined), out.dilated = one(o.dilated);
    return out;
  }

  /// The forward on the CUDA device, host tensors in and out; set by biqa/cuda.cuh.
  using HostForward = Outputs (*)(const DGIQA&, const Tensor<float>&, const Tensor<float>&, Context&,
                                  const ForwardOptions&);
  static inline HostForward cuda_forward = nullptr;

  /// forward() on ctx.device with host tensors in and out (what the scorer calls).
  Outputs forward_on(const Tensor<float>& rgb, const Tensor<float>& depth, Context& ctx) const {
    return forward_on(rgb, depth, ctx, ForwardOptions());
  }
  Outputs forward_on(const Tensor<float>& rgb, const Tensor<float>& depth, Context& ctx,
                     const ForwardOptions& options) const {
    if (ctx.device == DeviceType::cpu) return forward(rgb, depth, ctx, options);
    if (!cuda_forward) fail_missing_backend(ctx.device, "DGIQA");
    return cuda_forward(*this, rgb, depth, ctx, options);
  }

  const Config& config() const { return config_; }

  /// For explanation: the attention each RGB position receives from the depth queries, averaged
  /// over the queries (and heads), as a map [N, h, w] that sums to 1 per crop.
  template <typename Device>
  static Tensor<float> rgb_attention_map(const BasicOutputs<Device>& out) {
    const Tensor<float>& p = out.cross_attention_probs;
    BIQA_CHECK(p.defined() && p.dim() == 3, ErrorCode::invalid_argument, "DGIQA: no cross-attention probabilities");
    const std::int64_t n = p.size(0), l = p.size(1), s = p.size(2);
    const auto [h, w] = out.fused_size;
    BIQA_CHECK(h * w == s, ErrorCode::invalid_argument, "DGIQA: ", s, " key positions for a ", h, "x", w, " map");
    Tensor<float> map = Tensor<float>::zeros({n, h, w});
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t q = 0; q < l; ++q)
        for (std::int64_t k = 0; k < s; ++k) map.data()[i * s + k] += p.data()[(i * l + q) * s + k] / static_cast<float>(l);
    return map;
  }

  /// The scope name a checkpoint uses: `name`, or its pre-release `alias` when only that exists.
  static std::string pick(const io::WeightStore::Scope& root, const std::string& name, const std::string& alias) {
    return !root.has_scope(name) && root.has_scope(alias) ? alias : name;
  }
  /// tcb{k} / tcb{k}_depth (k = stage + 1), or tsb{k} / tsb{k}_depth.
  static std::string bridge_name(const io::WeightStore::Scope& root, std::size_t stage, bool depth) {
    const std::string k = std::to_string(stage + 1) + (depth ? "_depth" : "");
    return pick(root, "tcb" + k, "tsb" + k);
  }

 private:
  /// Whether Swin stage `stage`'s map has at most 14 × 14 positions: the 3×3 convolutions on such
  /// maps (the last bridges and the dilated stack) run as direct convolutions in the channel-blocked
  /// layout, converted in and out, which beat im2col + GEMM there (the dilated stack's 960 → 1024
  /// and 1024 → 1024 at 7 × 7: 11.4 and 12.0 ms → 8.3 and 8.5 on one thread, docs/performance.md);
  /// on larger maps the conversions cost more than the direct kernel saves.
  static bool small_map(const nn::SwinTransformer::Config& swin, int stage) {
    const std::int64_t h = swin.img_size[0] / swin.patch_size >> stage, w = swin.img_size[1] / swin.patch_size >> stage;
    return h * w <= 14 * 14;
  }

  template <typename Device>
  static Tensor<float, Device> fuse(const std::vector<Tensor<float, Device>>& maps, std::int64_t h, std::int64_t w,
                                    Context& ctx) {
    ops::InterpolateOptions opt;
    opt.mode = ops::InterpolateMode::bilinear;
    opt.align_corners = false;
    opt.antialias = false;
    std::vector<Tensor<float, Device>> resized;
    for (const auto& m : maps)
      resized.push_back(m.size(2) == h && m.size(3) == w ? m : ops::interpolate(m, h, w, ctx, opt));
    return ops::concat(resized, 1);
  }

  Config config_;
  nn::SwinTransformer backbone_, depth_backbone_;
  std::vector<dgiqa::TransformerCnnBlock> bridges_, depth_bridges_;
  dgiqa::DepthCarAttention cross_, refine_;
  std::array<nn::Conv2d, 2> stack_;
  nn::Linear fc_;
  bool loaded_ = false;
};

/// Builds and strictly loads a DGIQA from a state_dict: sizes from the weights, the rest (image
/// size, attention heads, dilations) from `config` (JSON, see DGIQA::Config::from_json; null: the
/// published network). Throws biqa::Error naming every missing, mis-shaped or unexpected key.
inline DGIQA load_dgiqa(io::WeightStore& store, const json::Value& config = {}) {
  const auto root = store.root();
  const DGIQA::Config c = DGIQA::Config::from_weights(root, DGIQA::Config::from_json(config));
  DGIQA model(c);
  model.load(root);
  store.finish();
  return model;
}
inline DGIQA load_dgiqa(const std::string& path, const json::Value& config = {}) {
  io::WeightStore store = io::open_weights(path);
  return load_dgiqa(store, config);
}

}  // namespace biqa::models
