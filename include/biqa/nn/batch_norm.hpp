#pragma once
/// @file
/// nn::BatchNorm2d in eval mode (running statistics), torch.nn.BatchNorm2d's state_dict: "weight",
/// "bias" (affine), "running_mean", "running_var"; "num_batches_tracked" is read past. Where a
/// convolution precedes it, fold it into that convolution instead (nn::Conv2d::fold_batchnorm).

#include <cstdint>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/norm.hpp"

namespace biqa::nn {

class BatchNorm2d {
 public:
  struct Config {
    std::int64_t num_features = 0;
    float eps = 1e-5f;
    bool affine = true;
  };

  BatchNorm2d() = default;
  explicit BatchNorm2d(const Config& config) : config_(config) {
    BIQA_CHECK(config.num_features > 0, ErrorCode::invalid_argument,
               "nn::BatchNorm2d: num_features must be positive");
  }

  void load(const io::WeightStore::Scope& scope) {
    const Shape c{config_.num_features};
    if (config_.affine) {
      weight_ = scope.take("weight", c);
      bias_ = scope.take("bias", c);
    }
    running_mean_ = scope.take("running_mean", c);
    running_var_ = scope.take("running_var", c);
    scope.ignore("num_batches_tracked");  // a training counter; eval mode does not use it
    device_ = std::make_shared<DeviceWeights>();
  }

  /// x [N, C, ...] → same shape.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(running_mean_.defined(), ErrorCode::invalid_argument, "nn::BatchNorm2d: forward() before load()");
    return ops::batch_norm(x, device_->get<Device>(0, running_mean_), device_->get<Device>(1, running_var_),
                           device_->get<Device>(2, weight_), device_->get<Device>(3, bias_), ctx, config_.eps);
  }

  const Config& config() const { return config_; }
  const Tensor<float>& weight() const { return weight_; }  // undefined when not affine
  const Tensor<float>& bias() const { return bias_; }
  const Tensor<float>& running_mean() const { return running_mean_; }
  const Tensor<float>& running_var() const { return running_var_; }

 private:
  Config config_;
  Tensor<float> weight_, bias_, running_mean_, running_var_;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
