#pragma once
/// @file
/// nn::VisionTransformer, timm's VisionTransformer (timm 0.9.16, models/vision_transformer.py):
///   patch_embed → [cls_token, reg_token…] + pos_embed → norm_pre → blocks → norm → pool → fc_norm → head
/// configured with timm's constructor argument names (Config, Config::from_json). Covers ViT / DeiT /
/// DeiT-III (LayerScale, no_embed_class), class-token-free ViTs with average pooling, and DINOv2
/// encoders (class token, LayerScale, patch 14, pos_embed resampled to the input's grid).
///
/// State_dict keys are timm's; KeyNames renames them for checkpoints that use other names (DINOv2
/// inside Depth Anything: load(store.scope("pretrained"), KeyNames::dinov2())).
///
/// Position embeddings for another input size (dynamic_img_size): the patch part of pos_embed is
/// resized bicubically as timm's resample_abs_pos_embed does (F.interpolate(size=grid, bicubic,
/// antialias=True, timm 0.9.16's default, which _pos_embed does not override)); the class / register
/// entries, present when no_embed_class is false, are kept as they are. DINOv2's own code maps with
/// a scale factor instead (Config::pos_embed_interpolate_offset).

#include <algorithm>
#include <array>
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
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/patch_embed.hpp"
#include "biqa/nn/transformer_block.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/ops/cpu/pool.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::nn {

class VisionTransformer {
 public:
  enum class GlobalPool { token, avg, none };  // timm's 'token', 'avg', ''

  struct Config {
    std::array<std::int64_t, 2> img_size{224, 224};
    std::array<std::int64_t, 2> patch_size{16, 16};
    std::int64_t in_chans = 3;
    std::int64_t num_classes = 1000;  ///< 0: no head (forward returns the pooled features)
    GlobalPool global_pool = GlobalPool::token;
    std::int64_t embed_dim = 768;
    std::int64_t depth = 12;
    std::int64_t num_heads = 12;
    double mlp_ratio = 4.0;
    bool qkv_bias = true;
    std::optional<double> init_values;  ///< set: LayerScale in every block (its value is an init only)
    bool class_token = true;
    bool no_embed_class = false;  ///< pos_embed covers the patches only (DeiT-III)
    std::int64_t reg_tokens = 0;
    bool pre_norm = false;             ///< norm_pre after the embedding; the patch conv has no bias
    std::optional<bool> fc_norm;       // unset: on when global_pool is 'avg' (then `norm` is absent)
    bool dynamic_img_size = false;     ///< any multiple of the patch size; pos_embed resampled
    float norm_eps = 1e-6f;            // timm's ViT LayerNorm
    bool pos_embed_antialias = true;   // resample_abs_pos_embed's default in timm 0.9.16
    /// Nonzero: resample as facebookresearch/dinov2 (and Depth Anything) do, F.interpolate with
    /// scale_factor (grid + offset) / old grid instead of a size; they use 0.1 with antialias false.
    double pos_embed_interpolate_offset = 0.0;

    bool use_fc_norm() const { return fc_norm.value_or(global_pool == GlobalPool::avg); }
    std::int64_t num_prefix_tokens() const { return (class_token ? 1 : 0) + reg_tokens; }
    std::array<std::int64_t, 2> grid() const { return {img_size[0] / patch_size[0], img_size[1] / patch_size[1]}; }

    /// timm's deit3_small_patch16_224 (img_size 384 for deit3_small_patch16_384).
    static Config deit3_small(std::int64_t img = 224) {
      Config c;
      c.img_size = {img, img};
      c.embed_dim = 384, c.depth = 12, c.num_heads = 6;
      c.init_values = 1e-6, c.no_embed_class = true;
      return c;
    }
    /// timm's vit_small_patch14_dinov2 (the encoder of Depth Anything ViT-S): 518², patch 14.
    static Config dinov2_small() {
      Config c;
      c.img_size = {518, 518}, c.patch_size = {14, 14};
      c.embed_dim = 384, c.depth = 12, c.num_heads = 6;
      c.init_values = 1e-5, c.num_classes = 0, c.dynamic_img_size = true;
      return c;
    }

    /// Reads timm's argument names from a JSON object, over the values already in *this; other keys
    /// are left to the caller. img_size / patch_size: a number or [h, w]; init_values / fc_norm: null
    /// allowed; global_pool: "token", "avg" or "".
    Config& update(const json::Value& j) {
      if (j.is_null()) return *this;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "VisionTransformer config must be a JSON object");
      auto pair = [](const json::Value& v) -> std::array<std::int64_t, 2> {
        if (v.is_number()) return {v.as_int(), v.as_int()};
        BIQA_CHECK(v.is_array() && v.as_array().size() == 2, ErrorCode::invalid_argument,
                   "VisionTransformer config: a size must be a number or [h, w]");
        return {v.as_array()[0].as_int(), v.as_array()[1].as_int()};
      };
      if (auto* v = j.find("img_size")) img_size = pair(*v);
      if (auto* v = j.find("patch_size")) patch_size = pair(*v);
      if (auto* v = j.find("in_chans")) in_chans = v->as_int();
      if (auto* v = j.find("num_classes")) num_classes = v->as_int();
      if (auto* v = j.find("embed_dim")) embed_dim = v->as_int();
      if (auto* v = j.find("depth")) depth = v->as_int();
      if (auto* v = j.find("num_heads")) num_heads = v->as_int();
      if (auto* v = j.find("mlp_ratio")) mlp_ratio = v->as_number();
      if (auto* v = j.find("qkv_bias")) qkv_bias = v->as_bool();
      if (auto* v = j.find("init_values")) init_values = v->is_null() ? std::nullopt : std::optional<double>(v->as_number());
      if (auto* v = j.find("class_token")) class_token = v->as_bool();
      if (auto* v = j.find("no_embed_class")) no_embed_class = v->as_bool();
      if (auto* v = j.find("reg_tokens")) reg_tokens = v->as_int();
      if (auto* v = j.find("pre_norm")) pre_norm = v->as_bool();
      if (auto* v = j.find("fc_norm")) fc_norm = v->is_null() ? std::nullopt : std::optional<bool>(v->as_bool());
      if (auto* v = j.find("dynamic_img_size")) dynamic_img_size = v->as_bool();
      if (auto* v = j.find("norm_eps")) norm_eps = static_cast<float>(v->as_number());
      if (auto* v = j.find("pos_embed_antialias")) pos_embed_antialias = v->as_bool();
      if (auto* v = j.find("pos_embed_interpolate_offset")) pos_embed_interpolate_offset = v->as_number();
      if (auto* v = j.find("global_pool")) {
        const std::string& p = v->as_string();
        BIQA_CHECK(p == "token" || p == "avg" || p.empty(), ErrorCode::invalid_argument,
                   "VisionTransformer config: global_pool must be 'token', 'avg' or '', got '", p, "'");
        global_pool = p == "token" ? GlobalPool::token : p == "avg" ? GlobalPool::avg : GlobalPool::none;
      }
      return *this;
    }
    static Config from_json(const json::Value& j) { return Config().update(j); }

    /// What a timm checkpoint's shapes say (depth, widths, patch, tokens, head, LayerScale, pooling,
    /// the trained grid), then the JSON over it (what it states wins; the strict load reports any
    /// disagreement with the file), then what no shape shows: timm's heads of 64 channels unless
    /// num_heads is given. Starts from deit3_small_patch16_224.
    static Config from_weights(const io::WeightStore::Scope& w, const json::Value& j = json::Value()) {
      BIQA_CHECK(j.is_null() || j.is_object(), ErrorCode::invalid_argument,
                 "VisionTransformer config must be a JSON object");
      Config c = deit3_small();
      auto given = [&](const char* k) { return j.is_object() && j.find(k) != nullptr; };
      auto is_square = [](std::int64_t n, std::int64_t& root) {
        if (n <= 0) return false;
        root = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
        return root * root == n;
      };

      std::int64_t depth = 0;  // the number of blocks.N
      const std::string blocks = w.full_name("blocks.");
      for (const auto& k : w.store().keys_with_prefix(blocks)) {
        const auto dot = k.find('.', blocks.size());
        depth = std::max<std::int64_t>(depth, std::stoll(k.substr(blocks.size(), dot - blocks.size())) + 1);
      }
      c.depth = depth;
      if (auto* r = w.record("patch_embed.proj.weight"); r && r->shape.rank() == 4) {
        c.embed_dim = r->shape[0];
        c.in_chans = r->shape[1];
        c.patch_size = {r->shape[2], r->shape[3]};
        c.pre_norm = !w.has("patch_embed.proj.bias") && w.has("norm_pre.weight");
      }
      c.class_token = w.has("cls_token");
      const auto* reg = w.record("reg_token");
      c.reg_tokens = reg && reg->shape.rank() == 3 ? reg->shape[1] : 0;
      const auto* head = w.record("head.weight");
      c.num_classes = head && head->shape.rank() == 2 ? head->shape[0] : 0;
      if (w.has("blocks.0.ls1.gamma")) c.init_values = c.init_values.value_or(1e-6);
      else c.init_values.reset();
      if (auto* r = w.record("blocks.0.mlp.fc1.weight"); r && r->shape.rank() == 2 && c.embed_dim > 0)
        c.mlp_ratio = static_cast<double>(r->shape[0]) / static_cast<double>(c.embed_dim);
      c.qkv_bias = depth == 0 || w.has("blocks.0.attn.qkv.bias");
      c.global_pool = c.class_token ? GlobalPool::token : GlobalPool::avg;
      if (w.has("fc_norm.weight")) c.fc_norm = true;
      else if (w.has("norm.weight")) c.fc_norm = false;

      c.update(j);

      if (!given("num_heads")) {
        BIQA_CHECK(c.embed_dim % 64 == 0, ErrorCode::invalid_argument, "VisionTransformer: embed_dim ",
                   c.embed_dim, " is not a multiple of 64; give num_heads in the config");
        c.num_heads = c.embed_dim / 64;
      }
      // The pos_embed length tells whether it covers the prefix tokens and, without an img_size,
      // the (square) grid it was trained on.
      if (auto* r = w.record("pos_embed"); r && r->shape.rank() == 3) {
        const std::int64_t len = r->shape[1], prefix = c.num_prefix_tokens();
        std::int64_t g = 0;
        if (given("img_size")) {
          const auto [gh, gw] = c.grid();
          if (!given("no_embed_class") && prefix > 0 && (len == gh * gw || len == gh * gw + prefix))
            c.no_embed_class = len == gh * gw;
        } else {
          if (!given("no_embed_class")) {
            if (prefix > 0 && is_square(len - prefix, g)) c.no_embed_class = false;
            else if (is_square(len, g)) c.no_embed_class = true;
          }
          if (is_square(len - (c.no_embed_class ? 0 : prefix), g))
            c.img_size = {g * c.patch_size[0], g * c.patch_size[1]};
        }
      }
      return c;
    }
  };

  /// Names of the model's parameters and submodules in a checkpoint (timm's by default).
  struct KeyNames {
    std::string patch_embed = "patch_embed";
    std::string cls_token = "cls_token";
    std::string reg_token = "reg_token";
    std::string pos_embed = "pos_embed";
    std::string norm_pre = "norm_pre";
    std::string blocks = "blocks";
    std::string norm = "norm";
    std::string fc_norm = "fc_norm";
    std::string head = "head";
    std::vector<std::string> ignored;  ///< present in checkpoints, unused at inference
    TransformerBlock::KeyNames block;  ///< LayerScale names inside each block

    static KeyNames timm() { return KeyNames(); }
    /// facebookresearch/dinov2 (and Depth Anything's "pretrained." encoder): the register tokens are
    /// "register_tokens"; "mask_token" only serves masked-image training.
    static KeyNames dinov2() {
      KeyNames k;
      k.reg_token = "register_tokens";
      k.ignored = {"mask_token"};
      return k;
    }
    /// facebookresearch/deit's models_v2 (DeiT-III, as DR.Experts' backbone): LayerScale as
    /// "blocks.N.gamma_1" / "gamma_2".
    static KeyNames deit3_models_v2() {
      KeyNames k;
      k.block.ls1 = "gamma_1";
      k.block.ls2 = "gamma_2";
      return k;
    }
  };

  VisionTransformer() = default;
  explicit VisionTransformer(const Config& config) : config_(config) {
    const Config& c = config;
    BIQA_CHECK(c.embed_dim > 0 && c.depth >= 0 && c.num_heads > 0 && c.in_chans > 0 && c.reg_tokens >= 0 &&
                   c.num_classes >= 0 && c.patch_size[0] > 0 && c.patch_size[1] > 0,
               ErrorCode::invalid_argument, "nn::VisionTransformer: sizes must be positive");
    BIQA_CHECK(c.img_size[0] % c.patch_size[0] == 0 && c.img_size[1] % c.patch_size[1] == 0 &&
                   c.img_size[0] > 0 && c.img_size[1] > 0,
               ErrorCode::invalid_argument, "nn::VisionTransformer: img_size ", c.img_size[0], "x",
               c.img_size[1], " is not a positive multiple of patch_size ", c.patch_size[0], "x", c.patch_size[1]);
    BIQA_CHECK(c.class_token || c.global_pool != GlobalPool::token, ErrorCode::invalid_argument,
               "nn::VisionTransformer: global_pool 'token' needs class_token");
    PatchEmbed::Config pc;
    pc.patch_size = c.patch_size;
    pc.in_chans = c.in_chans;
    pc.embed_dim = c.embed_dim;
    pc.bias = !c.pre_norm;
    if (!c.dynamic_img_size) pc.img_size = c.img_size;  // timm's strict_img_size
    patch_embed_ = PatchEmbed(pc);
    if (c.pre_norm) norm_pre_ = LayerNorm(c.embed_dim, c.norm_eps);
    TransformerBlock::Config bc;
    bc.dim = c.embed_dim;
    bc.num_heads = c.num_heads;
    bc.mlp_ratio = c.mlp_ratio;
    bc.qkv_bias = c.qkv_bias;
    bc.layer_scale = c.init_values.has_value();
    bc.norm_eps = c.norm_eps;
    blocks_.reserve(static_cast<std::size_t>(c.depth));
    for (std::int64_t i = 0; i < c.depth; ++i) blocks_.emplace_back(bc);
    if (c.use_fc_norm()) fc_norm_ = LayerNorm(c.embed_dim, c.norm_eps);
    else norm_ = LayerNorm(c.embed_dim, c.norm_eps);
    if (c.num_classes > 0) head_ = Linear(c.embed_dim, c.num_classes);
  }

  void load(const io::WeightStore::Scope& scope) { load(scope, KeyNames::timm()); }
  void load(const io::WeightStore::Scope& scope, const KeyNames& keys) {
    const Config& c = config_;
    const std::int64_t e = c.embed_dim;
    patch_embed_.load(scope.scope(keys.patch_embed));
    if (c.class_token) cls_token_ = scope.take(keys.cls_token, {1, 1, e});
    if (c.reg_tokens > 0) reg_token_ = scope.take(keys.reg_token, {1, c.reg_tokens, e});
    const auto [gh, gw] = c.grid();
    pos_embed_ = scope.take(keys.pos_embed, {1, gh * gw + (c.no_embed_class ? 0 : c.num_prefix_tokens()), e});
    if (c.pre_norm) norm_pre_.load(scope.scope(keys.norm_pre));
    const io::WeightStore::Scope blocks = scope.scope(keys.blocks);
    for (std::size_t i = 0; i < blocks_.size(); ++i) blocks_[i].load(blocks.scope(static_cast<int>(i)), keys.block);
    if (c.use_fc_norm()) fc_norm_.load(scope.scope(keys.fc_norm));
    else norm_.load(scope.scope(keys.norm));
    if (c.num_classes > 0) head_.load(scope.scope(keys.head));
    for (const auto& k : keys.ignored)
      if (scope.has(k)) scope.ignore(k);
    device_ = std::make_shared<DeviceWeights>();
    loaded_ = true;
  }

  /// The patch grid for an input of h × w (checks timm's size rules).
  std::array<std::int64_t, 2> grid_size(std::int64_t h, std::int64_t w) const { return patch_embed_.grid_size(h, w); }

  /// The position embeddings for a patch grid gh × gw: [1, gh·gw (+ prefix unless no_embed_class), E].
  /// On the CPU unless asked for another device (pos_embed_for<Cuda>).
  template <typename Device = Cpu>
  Tensor<float, Device> pos_embed_for(std::int64_t gh, std::int64_t gw, Context& ctx) const {
    const auto [oh, ow] = config_.grid();
    const Tensor<float, Device> pos_embed = device_->get<Device>(0, pos_embed_);
    if (gh == oh && gw == ow) return pos_embed;
    const std::int64_t np = config_.no_embed_class ? 0 : config_.num_prefix_tokens(), e = config_.embed_dim;
    const Tensor<float, Device> grid =
        pos_embed.slice(1, np, np + oh * ow).reshape({1, oh, ow, e}).permute({0, 3, 1, 2});
    ops::InterpolateOptions opt;
    opt.mode = ops::InterpolateMode::bicubic;
    opt.antialias = config_.pos_embed_antialias;
    const double off = config_.pos_embed_interpolate_offset;
    Tensor<float, Device> resized = off == 0.0 ? ops::interpolate(grid, gh, gw, ctx, opt)
                                       : ops::interpolate_by_scale(grid, (double(gh) + off) / double(oh),
                                                                   (double(gw) + off) / double(ow), ctx, opt);
    BIQA_CHECK(resized.size(2) == gh && resized.size(3) == gw, ErrorCode::invalid_argument,
               "nn::VisionTransformer: pos_embed resampled to ", resized.size(2), "x", resized.size(3),
               " instead of ", gh, "x", gw, " (pos_embed_interpolate_offset ", off, ")");
    resized = resized.permute({0, 2, 3, 1}).contiguous().reshape({1, gh * gw, e});
    if (np == 0) return resized;
    return ops::concat(std::vector<Tensor<float, Device>>{pos_embed.slice(1, 0, np), resized}, 1);
  }

  /// Patch embedding, prefix tokens and position embeddings, norm_pre: x [B, C, H, W] → [B, N, E].
  template <typename Device>
  Tensor<float, Device> embed(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "nn::VisionTransformer: forward() before load()");
    BIQA_CHECK(x.dim() == 4, ErrorCode::invalid_argument, "nn::VisionTransformer: input must be [B, C, H, W], got ",
               x.shape().to_string());
    const auto [gh, gw] = grid_size(x.size(2), x.size(3));
    Tensor<float, Device> t = patch_embed_.forward(x, ctx);  // [B, gh·gw, E], contiguous
    const std::int64_t b = t.size(0), e = config_.embed_dim;
    const Tensor<float, Device> pos = pos_embed_for<Device>(gh, gw, ctx);
    std::vector<Tensor<float, Device>> parts;
    if (config_.class_token) parts.push_back(ops::broadcast_to(device_->get<Device>(1, cls_token_), {b, 1, e}));
    if (config_.reg_tokens > 0)
      parts.push_back(ops::broadcast_to(device_->get<Device>(2, reg_token_), {b, config_.reg_tokens, e}));
    if (config_.no_embed_class) {  // DeiT-III: embed the patches, then prepend the prefix tokens
      ops::add_inplace(t, pos, ctx);
      if (!parts.empty()) parts.push_back(t), t = ops::concat(parts, 1);
    } else {
      if (!parts.empty()) parts.push_back(t), t = ops::concat(parts, 1);
      ops::add_inplace(t, pos, ctx);
    }
    if (config_.pre_norm) t = norm_pre_.forward(t, ctx);
    return t;
  }

  /// All tokens after the final norm (timm's forward_features), [B, prefix + gh·gw, E]. `take`
  /// (block indices; negative ones count from the end) receives those blocks' outputs in the order
  /// asked, passed through `norm` when norm_taken (timm's get_intermediate_layers(norm=True)).
  template <typename Device>
  Tensor<float, Device> forward_features(const Tensor<float, Device>& x, Context& ctx,
                                         const std::vector<std::int64_t>& take = {},
                                         std::vector<Tensor<float, Device>>* taken = nullptr,
                                         bool norm_taken = false) const {
    Tensor<float, Device> t = run_blocks(x, ctx, take, taken, norm_taken, depth());
    return final_norm(t, ctx);
  }

  /// The outputs of the given blocks (timm's forward_intermediates / get_intermediate_layers with the
  /// prefix tokens kept); stops after the last block needed.
  template <typename Device>
  std::vector<Tensor<float, Device>> forward_intermediates(const Tensor<float, Device>& x,
                                                           const std::vector<std::int64_t>& indices, Context& ctx,
                                                           bool norm = false) const {
    std::int64_t last = -1;
    for (std::int64_t i : indices) last = std::max(last, block_index(i));
    std::vector<Tensor<float, Device>> taken;
    run_blocks(x, ctx, indices, &taken, norm, last + 1);
    return taken;
  }

  /// Pooling ('token': the class token, 'avg': mean of the non-prefix tokens, '': none), fc_norm,
  /// then the head unless pre_logits or num_classes is 0.
  template <typename Device>
  Tensor<float, Device> forward_head(const Tensor<float, Device>& features, Context& ctx,
                                     bool pre_logits = false) const {
    BIQA_CHECK(features.dim() == 3 && features.size(2) == config_.embed_dim, ErrorCode::invalid_argument,
               "nn::VisionTransformer::forward_head: features must be [B, N, ", config_.embed_dim, "], got ",
               features.shape().to_string());
    Tensor<float, Device> p;
    if (config_.global_pool == GlobalPool::token) p = features.select(1, 0).contiguous();
    else if (config_.global_pool == GlobalPool::avg) p = mean_of_patches(features, ctx);
    else p = features;
    if (config_.use_fc_norm()) p = fc_norm_.forward(p, ctx);
    if (pre_logits || config_.num_classes == 0) return p;
    return head_.forward(p, ctx);
  }

  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    return forward_head(forward_features(x, ctx), ctx);
  }

  /// The patch tokens of [B, N, E] tokens (drops the class / register tokens), a view.
  template <typename Device>
  Tensor<float, Device> patch_tokens(const Tensor<float, Device>& tokens) const {
    return tokens.slice(1, config_.num_prefix_tokens(), tokens.size(1));
  }

  const Config& config() const { return config_; }
  std::int64_t depth() const { return static_cast<std::int64_t>(blocks_.size()); }
  std::int64_t num_prefix_tokens() const { return config_.num_prefix_tokens(); }
  const PatchEmbed& patch_embed() const { return patch_embed_; }
  const TransformerBlock& block(std::int64_t i) const { return blocks_.at(static_cast<std::size_t>(block_index(i))); }
  const Tensor<float>& pos_embed() const { return pos_embed_; }
  const Tensor<float>& cls_token() const { return cls_token_; }

 private:
  std::int64_t block_index(std::int64_t i) const {
    const std::int64_t d = depth();
    BIQA_CHECK(i >= -d && i < d, ErrorCode::invalid_argument, "nn::VisionTransformer: block index ", i,
               " out of range for depth ", d);
    return i < 0 ? i + d : i;
  }

  /// `norm` unless the model uses fc_norm (then timm's norm is an Identity).
  template <typename Device>
  Tensor<float, Device> final_norm(const Tensor<float, Device>& t, Context& ctx) const {
    return config_.use_fc_norm() ? t : norm_.forward(t, ctx);
  }

  template <typename Device>
  Tensor<float, Device> run_blocks(const Tensor<float, Device>& x, Context& ctx, const std::vector<std::int64_t>& take,
                                   std::vector<Tensor<float, Device>>* taken, bool norm_taken,
                                   std::int64_t stop) const {
    std::vector<std::int64_t> want;
    for (std::int64_t i : take) want.push_back(block_index(i));
    BIQA_CHECK(want.empty() || taken, ErrorCode::invalid_argument,
               "nn::VisionTransformer: block outputs requested without a place to put them");
    if (taken) taken->assign(want.size(), Tensor<float, Device>());
    Tensor<float, Device> t = embed(x, ctx);
    for (std::int64_t i = 0; i < stop; ++i) {
      t = blocks_[static_cast<std::size_t>(i)].forward(t, ctx);
      for (std::size_t k = 0; k < want.size(); ++k)
        if (want[k] == i) (*taken)[k] = norm_taken ? final_norm(t, ctx) : t;
    }
    return t;
  }

  /// The mean of the patch tokens per image: in double on the CPU (as the parity fixtures), as an
  /// average pool on another device.
  template <typename Device>
  Tensor<float, Device> mean_of_patches(const Tensor<float, Device>& features, Context& ctx) const {
    const Tensor<float, Device> f = patch_tokens(features).contiguous();
    const std::int64_t b = f.size(0), n = f.size(1), e = f.size(2);
    BIQA_CHECK(n > 0, ErrorCode::invalid_argument, "nn::VisionTransformer: no patch tokens to average");
    if constexpr (!on_host<Device>) {
      return ops::adaptive_avg_pool2d(f.permute({0, 2, 1}).reshape({b, e, n, 1}), 1, 1, ctx).reshape({b, e});
    } else {
      Tensor<float> out({b, e});
      for (std::int64_t i = 0; i < b; ++i) {
        std::vector<double> acc(static_cast<std::size_t>(e), 0.0);
        const float* src = f.data() + i * n * e;
        for (std::int64_t j = 0; j < n; ++j)
          for (std::int64_t k = 0; k < e; ++k) acc[static_cast<std::size_t>(k)] += src[j * e + k];
        for (std::int64_t k = 0; k < e; ++k)
          out.data()[i * e + k] = static_cast<float>(acc[static_cast<std::size_t>(k)] / double(n));
      }
      return out;
    }
  }

  Config config_;
  PatchEmbed patch_embed_;
  Tensor<float> cls_token_, reg_token_, pos_embed_;
  LayerNorm norm_pre_, norm_, fc_norm_;
  std::vector<TransformerBlock> blocks_;
  Linear head_;
  bool loaded_ = false;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();  // pos_embed, cls, reg
};

}  // namespace biqa::nn
