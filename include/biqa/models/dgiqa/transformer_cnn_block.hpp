#pragma once
/// @file
/// DGIQA's Transformer-CNN Bridge (TransformerCnnBlock in the authors' model/DGIQA.py): for an
/// NCHW map X,
///   A = conv1(X)                                   1×1, in → out, bias
///   G = σ(attention.2(ReLU(attention.0(A))))       1×1 out → out/r → out: a per-pixel, per-channel gate
///   Y = ReLU(BN(conv2(A ⊙ G)))                     3×3, padding 1, bias; Dropout2d is the identity
/// The BatchNorm ("norm", eval statistics) is folded into conv2 at load time.

#include <cstdint>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/elementwise.hpp"

namespace biqa::models::dgiqa {

class TransformerCnnBlock {
 public:
  struct Config {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::int64_t reduction = 16;  // the gate's bottleneck is out_channels / reduction
  };

  TransformerCnnBlock() = default;
  explicit TransformerCnnBlock(const Config& config) : config_(config) {
    BIQA_CHECK(config.in_channels > 0 && config.out_channels > 0 && config.reduction > 0 &&
                   config.out_channels / config.reduction > 0,
               ErrorCode::invalid_argument, "dgiqa::TransformerCnnBlock: ", config.in_channels, " -> ",
               config.out_channels, " channels with gate reduction ", config.reduction, " leave no bottleneck");
    const std::int64_t out = config.out_channels, mid = out / config.reduction;
    conv1_ = nn::Conv2d({config.in_channels, out});
    gate_reduce_ = nn::Conv2d({out, mid});
    gate_expand_ = nn::Conv2d({mid, out});
    nn::Conv2d::Config c3{out, out};
    c3.kernel_size = {3, 3};
    c3.padding = {1, 1};
    conv2_ = nn::Conv2d(c3);
  }

  /// Runs the 3×3 convolution as a direct convolution in the channel-blocked layout
  /// (ops/cpu/conv2d_blocked.hpp) on the host; call before load(). DGIQA does for small maps.
  void use_blocked_layout() { conv2_.use_blocked_layout(); }
  bool blocked_layout() const { return conv2_.blocked_layout(); }

  /// Takes conv1.*, attention.0.*, attention.2.*, conv2.*, norm.* (BatchNorm2d, folded into conv2).
  void load(const io::WeightStore::Scope& scope) {
    conv1_.load(scope.scope("conv1"));
    gate_reduce_.load(scope.scope("attention").scope(0));
    gate_expand_.load(scope.scope("attention").scope(2));
    conv2_.load(scope.scope("conv2"));
    conv2_.fold_batchnorm(scope.scope("norm"), 1e-5f);
  }

  /// x [N, in, H, W] → [N, out, H, W].
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(x.dim() == 4 && x.size(1) == config_.in_channels, ErrorCode::invalid_argument,
               "dgiqa::TransformerCnnBlock: input must be [N, ", config_.in_channels, ", H, W], got ",
               x.shape().to_string());
    Tensor<float, Device> a = conv1_.forward(x, ctx);
    Tensor<float, Device> gate = gate_reduce_.forward(a, ctx);
    ops::activate_inplace(gate, ops::Activation::relu, ctx);
    gate = gate_expand_.forward(gate, ctx);
    ops::activate_inplace(gate, ops::Activation::sigmoid, ctx);
    ops::mul_inplace(a, gate, ctx);
    return conv2_.forward(a, ctx, {{}, ops::Activation::relu});
  }

  const Config& config() const { return config_; }

 private:
  Config config_;
  nn::Conv2d conv1_, gate_reduce_, gate_expand_, conv2_;
};

}  // namespace biqa::models::dgiqa
