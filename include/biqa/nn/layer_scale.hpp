#pragma once
/// @file
/// nn::LayerScale (timm / DINOv2): x · gamma per channel; state_dict "gamma" [dim].

#include <cstdint>
#include <memory>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/elementwise.hpp"

namespace biqa::nn {

class LayerScale {
 public:
  struct Config {
    std::int64_t dim = 0;
  };

  LayerScale() = default;
  explicit LayerScale(const Config& config) : config_(config) {
    BIQA_CHECK(config.dim > 0, ErrorCode::invalid_argument, "nn::LayerScale: dim must be positive");
  }

  void load(const io::WeightStore::Scope& scope) { load(scope, "gamma"); }
  /// `name` under `scope` (facebookresearch's DeiT-III keeps it as "gamma_1" in the block).
  void load(const io::WeightStore::Scope& scope, const std::string& name) {
    gamma_ = scope.take(name, {config_.dim});
    device_ = std::make_shared<DeviceWeights>();
  }

  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(gamma_.defined(), ErrorCode::invalid_argument, "nn::LayerScale: forward() before load()");
    return ops::mul(x, device_->get<Device>(0, gamma_), ctx);
  }
  /// Scales a contiguous x [..., dim] in place (saves a copy inside residual blocks).
  template <typename Device>
  void apply_inplace(Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(gamma_.defined(), ErrorCode::invalid_argument, "nn::LayerScale: forward() before load()");
    ops::mul_inplace(x, device_->get<Device>(0, gamma_), ctx);
  }

  const Config& config() const { return config_; }
  const Tensor<float>& gamma() const { return gamma_; }

 private:
  Config config_;
  Tensor<float> gamma_;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
