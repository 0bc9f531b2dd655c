#pragma once
/// @file
/// nn::PatchEmbed, timm's PatchEmbed: a Conv2d with kernel = stride = patch ("proj.weight",
/// "proj.bias"), then tokens [B, gh·gw, E] (row-major over the grid) or NHWC / NCHW maps, then an
/// optional LayerNorm ("norm.*").

#include <array>
#include <cstdint>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/layer_norm.hpp"

namespace biqa::nn {

class PatchEmbed {
 public:
  enum class Output { tokens, nhwc, nchw };  // timm's flatten=True (NLC), output_fmt NHWC / NCHW

  struct Config {
    std::array<std::int64_t, 2> patch_size{16, 16};
    std::int64_t in_chans = 3;
    std::int64_t embed_dim = 768;
    bool bias = true;
    Output output = Output::tokens;
    bool norm = false;     ///< a LayerNorm on the embedding (tokens / NHWC only)
    float norm_eps = 1e-5f;
    std::array<std::int64_t, 2> img_size{0, 0};  ///< nonzero: inputs must have exactly this size
  };

  PatchEmbed() = default;
  explicit PatchEmbed(const Config& config) : config_(config) {
    BIQA_CHECK(config.patch_size[0] > 0 && config.patch_size[1] > 0 && config.in_chans > 0 &&
                   config.embed_dim > 0,
               ErrorCode::invalid_argument, "nn::PatchEmbed: sizes must be positive");
    BIQA_CHECK(!config.norm || config.output != Output::nchw, ErrorCode::invalid_argument,
               "nn::PatchEmbed: a norm needs channels last (tokens or NHWC output)");
    Conv2d::Config c;
    c.in_channels = config.in_chans;
    c.out_channels = config.embed_dim;
    c.kernel_size = config.patch_size;
    c.stride = config.patch_size;
    c.bias = config.bias;
    proj_ = Conv2d(c);
    if (config.norm) norm_ = LayerNorm(config.embed_dim, config.norm_eps);
  }

  void load(const io::WeightStore::Scope& scope) {
    proj_.load(scope.scope("proj"));
    if (config_.norm) norm_.load(scope.scope("norm"));
  }

  /// The patch grid (gh, gw) for an input of h × w; checks the size rules.
  std::array<std::int64_t, 2> grid_size(std::int64_t h, std::int64_t w) const {
    const auto [ph, pw] = config_.patch_size;
    if (config_.img_size[0] > 0)
      BIQA_CHECK(h == config_.img_size[0] && w == config_.img_size[1], ErrorCode::invalid_argument,
                 "nn::PatchEmbed: input size ", h, "x", w, " differs from the model's ",
                 config_.img_size[0], "x", config_.img_size[1]);
    BIQA_CHECK(h % ph == 0 && w % pw == 0, ErrorCode::invalid_argument, "nn::PatchEmbed: input size ",
               h, "x", w, " is not a multiple of the patch size ", ph, "x", pw);
    return {h / ph, w / pw};
  }

  /// x [B, C, H, W] → tokens [B, gh·gw, E], or [B, gh, gw, E] (nhwc), or [B, E, gh, gw] (nchw).
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(x.dim() == 4 && x.size(1) == config_.in_chans, ErrorCode::invalid_argument,
               "nn::PatchEmbed: input must be [B, ", config_.in_chans, ", H, W], got ",
               x.shape().to_string());
    const auto [gh, gw] = grid_size(x.size(2), x.size(3));
    Tensor<float, Device> y = proj_.forward(x, ctx);  // [B, E, gh, gw]
    if (config_.output == Output::nchw) return y;
    const std::int64_t b = x.size(0), e = config_.embed_dim;
    y = y.reshape({b, e, gh * gw}).transpose(1, 2).contiguous();
    if (config_.norm) y = norm_.forward(y, ctx);
    return config_.output == Output::tokens ? y : y.reshape({b, gh, gw, e});
  }

  const Config& config() const { return config_; }
  const Conv2d& proj() const { return proj_; }

 private:
  Config config_;
  Conv2d proj_;
  LayerNorm norm_;
};

}  // namespace biqa::nn
