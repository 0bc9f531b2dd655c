#pragma once
/// @file
/// nn::Conv2d: torch.nn.Conv2d's state_dict ("weight" [O, C/groups, KH, KW], "bias" [O]); zero
/// padding. A BatchNorm2d that follows it is folded in at load time with fold_batchnorm, so the
/// pair costs one convolution. On another device the (folded) weights are copied there on first use.
/// A network that keeps its activations in the channel-blocked layout (ops/cpu/conv2d_blocked.hpp)
/// calls use_blocked_layout() (before loading, so that the fold packs once) and forward_blocked()
/// instead of forward().

#include <array>
#include <cstdint>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/batch_norm.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/conv2d.hpp"
#include "biqa/ops/cpu/conv2d_blocked.hpp"

namespace biqa::nn {

class Conv2d {
 public:
  struct Config {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::array<std::int64_t, 2> kernel_size{1, 1};
    std::array<std::int64_t, 2> stride{1, 1};
    std::array<std::int64_t, 2> padding{0, 0};
    std::array<std::int64_t, 2> dilation{1, 1};
    std::int64_t groups = 1;
    bool bias = true;
  };

  Conv2d() = default;
  explicit Conv2d(const Config& config) : config_(config) {
    BIQA_CHECK(config.in_channels > 0 && config.out_channels > 0 && config.groups > 0 &&
                   config.in_channels % config.groups == 0 && config.out_channels % config.groups == 0,
               ErrorCode::invalid_argument, "nn::Conv2d: ", config.in_channels, " -> ",
               config.out_channels, " channels do not split into ", config.groups, " groups");
    BIQA_CHECK(config.kernel_size[0] > 0 && config.kernel_size[1] > 0, ErrorCode::invalid_argument,
               "nn::Conv2d: kernel size must be positive");
  }

  Shape weight_shape() const {
    return {config_.out_channels, config_.in_channels / config_.groups, config_.kernel_size[0],
            config_.kernel_size[1]};
  }

  /// Takes "weight" and, when configured with a bias, "bias".
  void load(const io::WeightStore::Scope& scope) {
    weight_ = scope.take("weight", weight_shape());
    packed_.reset();
    blocked_.reset();
    packed_once_ = std::make_shared<ops::PackedConv2dWeightOnce>();
    device_ = std::make_shared<DeviceWeights>();
    bias_ = config_.bias ? scope.take("bias", {config_.out_channels}) : Tensor<float>();
  }

  /// Merges an eval-mode BatchNorm applied to this convolution's output into its weight and bias
  /// (a bias is created if the convolution had none). The folded weight is this layer's own copy,
  /// so it is kept packed for the GEMM kernel instead: no extra memory, and no packing per call
  /// (ResNet-50 forward: 6% faster on one thread, 11% on two).
  void fold_batchnorm(const BatchNorm2d& bn) {
    BIQA_CHECK(loaded(), ErrorCode::invalid_argument, "nn::Conv2d: fold_batchnorm() before load()");
    BIQA_CHECK(bn.config().num_features == config_.out_channels, ErrorCode::invalid_argument,
               "nn::Conv2d: BatchNorm of ", bn.config().num_features, " features after a conv with ",
               config_.out_channels, " outputs");
    auto folded = ops::fold_batchnorm(weight(), bias_, bn.weight(), bn.bias(), bn.running_mean(),
                                      bn.running_var(), bn.config().eps);
    if (blocked_input_ >= 0) {  // straight into the blocked packing: packing twice doubled ResNet-50's load time
      blocked_ = std::make_shared<const ops::BlockedConv2dWeight>(folded.weight, blocked_input_ == 1);
      packed_.reset();
    } else {
      packed_ = std::make_shared<const ops::PackedConv2dWeight>(folded.weight, config_.groups);
      blocked_.reset();
    }
    weight_ = Tensor<float>();
    bias_ = std::move(folded.bias);
    device_ = std::make_shared<DeviceWeights>();
  }
  /// Loads the BatchNorm2d at `bn_scope` (weight, bias, running_mean, running_var,
  /// num_batches_tracked) and folds it in.
  void fold_batchnorm(const io::WeightStore::Scope& bn_scope, float eps = 1e-5f, bool affine = true) {
    BatchNorm2d bn({config_.out_channels, eps, affine});
    bn.load(bn_scope);
    fold_batchnorm(bn);
  }

  /// Keeps the weight packed for conv2d_blocked instead (and only so: the GEMM-packed or loaded
  /// copy is released), for a network that runs forward_blocked(). `plain_input`: the input will
  /// be a plain [N, C, H, W] tensor (a network's first convolution) rather than a blocked one.
  /// Only for groups = 1. Called before load(), it takes effect when fold_batchnorm() packs the
  /// folded weight (a convolution without a BatchNorm calls it again after load()); called after,
  /// it repacks the weight at once.
  void use_blocked_layout(bool plain_input = false) {
    BIQA_CHECK(config_.groups == 1, ErrorCode::invalid_argument, "nn::Conv2d: the blocked layout needs groups=1, not ",
               config_.groups);
    blocked_input_ = plain_input ? 0 : 1;
    if (!loaded()) return;
    blocked_ = std::make_shared<const ops::BlockedConv2dWeight>(weight(), !plain_input);
    packed_.reset();
    weight_ = Tensor<float>();
  }
  bool blocked_layout() const { return blocked_ != nullptr; }

  /// x blocked [N, ceil(C / b), H, W, b] (or plain [N, C, H, W] when use_blocked_layout was told so)
  /// → blocked [N, ceil(O / b), OH, OW, b]; the epilogue's residual blocked like the output.
  Tensor<float> forward_blocked(const Tensor<float>& x, Context& ctx, const ops::Conv2dEpilogue& epilogue = {}) const {
    BIQA_CHECK(blocked_, ErrorCode::invalid_argument, "nn::Conv2d: forward_blocked() without a weight packed by "
               "use_blocked_layout() (after load()) or by fold_batchnorm() (after use_blocked_layout())");
    return ops::conv2d_blocked(x, *blocked_, bias_, ctx, options(), epilogue);
  }

  /// x [N, C, H, W] → [N, O, OH, OW]; `epilogue` fuses what follows (a shortcut add, an
  /// activation) into the output pass.
  /// A weight read from the file is also kept packed (made on first use) under
  /// WeightPacking::always only: a convolution reuses its weight over every output position, so
  /// packing it per call costs little (a folded weight is always kept packed, it is a copy anyway).
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx,
                                const ops::BasicConv2dEpilogue<Device>& epilogue = {}) const {
    BIQA_CHECK(loaded(), ErrorCode::invalid_argument, "nn::Conv2d: forward() before load()");
    if constexpr (on_host<Device>) {
      if (blocked_) {  // through the blocked layout and back
        const Tensor<float> in = blocked_->blocked_input() ? ops::to_blocked(x, ctx) : x;
        ops::Conv2dEpilogue blocked_epilogue;
        if (epilogue.residual.defined()) blocked_epilogue.residual = ops::to_blocked(epilogue.residual, ctx);
        blocked_epilogue.activation = epilogue.activation;
        return ops::from_blocked(forward_blocked(in, ctx, blocked_epilogue), config_.out_channels, ctx);
      }
      if (packed_) return ops::conv2d(x, *packed_, bias_, ctx, options(), epilogue);
      if (ctx.weight_packing == WeightPacking::always) return ops::conv2d(x, packed_once_->get(weight_, config_.groups), bias_, ctx, options(), epilogue);
      return ops::conv2d(x, weight_, bias_, ctx, options(), epilogue);
    } else {
      return ops::conv2d(x, device_->get_from<Device>(0, [&] { return weight(); }), device_->get<Device>(1, bias_), ctx,
                         options(), epilogue);
    }
  }

  ops::Conv2dOptions options() const {
    return {config_.stride, config_.padding, config_.dilation, config_.groups};
  }
  const Config& config() const { return config_; }
  /// [O, C/groups, KH, KW] (after fold_batchnorm, unpacked from the packed copy: exact).
  Tensor<float> weight() const { return blocked_ ? blocked_->unpack() : packed_ ? packed_->unpack() : weight_; }
  const Tensor<float>& bias() const { return bias_; }  // undefined without a bias

 private:
  bool loaded() const { return weight_.defined() || packed_ || blocked_; }

  Config config_;
  Tensor<float> weight_, bias_;  ///< weight_: as loaded; undefined once packed_ holds it
  std::shared_ptr<const ops::PackedConv2dWeight> packed_;
  std::shared_ptr<const ops::BlockedConv2dWeight> blocked_;  ///< instead of packed_ and weight_
  int blocked_input_ = -1;  ///< use_blocked_layout(): 1 blocked input, 0 plain; -1 not asked
  std::shared_ptr<ops::PackedConv2dWeightOnce> packed_once_ = std::make_shared<ops::PackedConv2dWeightOnce>();
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
