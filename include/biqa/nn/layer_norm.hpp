#pragma once
/// @file
/// nn::LayerNorm over the last axis, torch.nn.LayerNorm's state_dict ("weight", "bias" [dim]).
/// timm's ViTs use eps 1e-6, PyTorch's default is 1e-5: set it from the model.

#include <cstdint>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/norm.hpp"

namespace biqa::nn {

class LayerNorm {
 public:
  struct Config {
    std::int64_t dim = 0;  ///< normalized_shape (the last axis)
    float eps = 1e-5f;
    bool elementwise_affine = true;
    bool bias = true;  ///< only with elementwise_affine
  };

  LayerNorm() = default;
  explicit LayerNorm(const Config& config) : config_(config) {
    BIQA_CHECK(config.dim > 0, ErrorCode::invalid_argument, "nn::LayerNorm: dim must be positive");
  }
  LayerNorm(std::int64_t dim, float eps) : LayerNorm(Config{dim, eps}) {}

  void load(const io::WeightStore::Scope& scope) {
    if (config_.elementwise_affine) {
      weight_ = scope.take("weight", {config_.dim});
      if (config_.bias) bias_ = scope.take("bias", {config_.dim});
    }
    device_ = std::make_shared<DeviceWeights>();
    loaded_ = true;
  }

  /// x [..., dim] → same shape.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "nn::LayerNorm: forward() before load()");
    BIQA_CHECK(x.dim() >= 1 && x.size(-1) == config_.dim, ErrorCode::invalid_argument,
               "nn::LayerNorm(", config_.dim, "): input ", x.shape().to_string());
    return ops::layer_norm(x, device_->get<Device>(0, weight_), device_->get<Device>(1, bias_), ctx, config_.eps);
  }

  const Config& config() const { return config_; }
  const Tensor<float>& weight() const { return weight_; }
  const Tensor<float>& bias() const { return bias_; }

 private:
  Config config_;
  Tensor<float> weight_, bias_;
  bool loaded_ = false;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
