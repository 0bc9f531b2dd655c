#pragma once
/// @file
/// nn::GroupNorm, torch.nn.GroupNorm's state_dict ("weight", "bias" [num_channels] when affine).

#include <cstdint>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/norm.hpp"

namespace biqa::nn {

class GroupNorm {
 public:
  struct Config {
    std::int64_t num_groups = 0;
    std::int64_t num_channels = 0;
    float eps = 1e-5f;
    bool affine = true;
  };

  GroupNorm() = default;
  explicit GroupNorm(const Config& config) : config_(config) {
    BIQA_CHECK(config.num_groups > 0 && config.num_channels > 0 &&
                   config.num_channels % config.num_groups == 0,
               ErrorCode::invalid_argument, "nn::GroupNorm: ", config.num_channels,
               " channels do not split into ", config.num_groups, " groups");
  }

  void load(const io::WeightStore::Scope& scope) {
    if (config_.affine) {
      weight_ = scope.take("weight", {config_.num_channels});
      bias_ = scope.take("bias", {config_.num_channels});
    }
    device_ = std::make_shared<DeviceWeights>();
    loaded_ = true;
  }

  /// x [N, C, ...] → same shape.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "nn::GroupNorm: forward() before load()");
    BIQA_CHECK(x.dim() >= 2 && x.size(1) == config_.num_channels, ErrorCode::invalid_argument,
               "nn::GroupNorm(", config_.num_channels, " channels): input ", x.shape().to_string());
    return ops::group_norm(x, config_.num_groups, device_->get<Device>(0, weight_), device_->get<Device>(1, bias_), ctx,
                           config_.eps);
  }

  const Config& config() const { return config_; }

 private:
  Config config_;
  Tensor<float> weight_, bias_;
  bool loaded_ = false;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
