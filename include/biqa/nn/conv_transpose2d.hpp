#pragma once
/// @file
/// nn::ConvTranspose2d: torch.nn.ConvTranspose2d's state_dict ("weight" [C_in, C_out/groups, KH, KW],
/// "bias" [C_out]); the upsampling layers of DPT heads.

#include <array>
#include <cstdint>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/conv_transpose2d.hpp"

namespace biqa::nn {

class ConvTranspose2d {
 public:
  struct Config {
    std::int64_t in_channels = 0;
    std::int64_t out_channels = 0;
    std::array<std::int64_t, 2> kernel_size{1, 1};
    std::array<std::int64_t, 2> stride{1, 1};
    std::array<std::int64_t, 2> padding{0, 0};
    std::array<std::int64_t, 2> output_padding{0, 0};
    std::array<std::int64_t, 2> dilation{1, 1};
    std::int64_t groups = 1;
    bool bias = true;
  };

  ConvTranspose2d() = default;
  explicit ConvTranspose2d(const Config& config) : config_(config) {
    BIQA_CHECK(config.in_channels > 0 && config.out_channels > 0 && config.groups > 0 &&
                   config.in_channels % config.groups == 0 && config.out_channels % config.groups == 0,
               ErrorCode::invalid_argument, "nn::ConvTranspose2d: ", config.in_channels, " -> ",
               config.out_channels, " channels do not split into ", config.groups, " groups");
    BIQA_CHECK(config.kernel_size[0] > 0 && config.kernel_size[1] > 0, ErrorCode::invalid_argument,
               "nn::ConvTranspose2d: kernel size must be positive");
  }

  Shape weight_shape() const {
    return {config_.in_channels, config_.out_channels / config_.groups, config_.kernel_size[0],
            config_.kernel_size[1]};
  }

  /// Takes "weight" and, when configured with a bias, "bias".
  void load(const io::WeightStore::Scope& scope) {
    weight_ = scope.take("weight", weight_shape());
    bias_ = config_.bias ? scope.take("bias", {config_.out_channels}) : Tensor<float>();
    device_ = std::make_shared<DeviceWeights>();
  }

  /// x [N, C_in, H, W] → [N, C_out, OH, OW].
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(weight_.defined(), ErrorCode::invalid_argument, "nn::ConvTranspose2d: forward() before load()");
    return ops::conv_transpose2d(x, device_->get<Device>(0, weight_), device_->get<Device>(1, bias_), ctx, options());
  }

  ops::ConvTranspose2dOptions options() const {
    return {config_.stride, config_.padding, config_.output_padding, config_.dilation, config_.groups};
  }
  const Config& config() const { return config_; }
  const Tensor<float>& weight() const { return weight_; }
  const Tensor<float>& bias() const { return bias_; }  // undefined without a bias

 private:
  Config config_;
  Tensor<float> weight_, bias_;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
