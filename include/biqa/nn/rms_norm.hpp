#pragma once
/// @file
/// nn::RMSNorm over the last axis (torch.nn.RMSNorm / timm RmsNorm): x / sqrt(mean(x²) + eps)
/// · weight; state_dict "weight" [dim] when affine.

#include <cstdint>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/norm.hpp"

namespace biqa::nn {

class RMSNorm {
 public:
  struct Config {
    std::int64_t dim = 0;
    float eps = 1e-6f;
    bool affine = true;
  };

  RMSNorm() = default;
  explicit RMSNorm(const Config& config) : config_(config) {
    BIQA_CHECK(config.dim > 0, ErrorCode::invalid_argument, "nn::RMSNorm: dim must be positive");
  }

  void load(const io::WeightStore::Scope& scope) {
    if (config_.affine) weight_ = scope.take("weight", {config_.dim});
    device_ = std::make_shared<DeviceWeights>();
    loaded_ = true;
  }

  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "nn::RMSNorm: forward() before load()");
    BIQA_CHECK(x.dim() >= 1 && x.size(-1) == config_.dim, ErrorCode::invalid_argument,
               "nn::RMSNorm(", config_.dim, "): input ", x.shape().to_string());
    return ops::rms_norm(x, device_->get<Device>(0, weight_), ctx, config_.eps);
  }

  const Config& config() const { return config_; }

 private:
  Config config_;
  Tensor<float> weight_;
  bool loaded_ = false;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
