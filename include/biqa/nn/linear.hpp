#pragma once
/// @file
/// nn::Linear: y = x·Wᵀ + b, torch.nn.Linear's state_dict ("weight" [out, in], "bias" [out]).
/// On the CPU the weight is kept in the GEMM kernel's packed layout, made on the first forward, as
/// Context::weight_packing says (by default when it is mapped from its file, whose pages are then
/// given back). In the low-memory mode (io::WeightStoreOptions::keep_half) a 16-bit weight stays
/// 16-bit and is widened for each forward. On another device the weights are copied there on first
/// use (nn::DeviceWeights).

#include <cstdint>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/detail/weight_packing.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/gemm.hpp"

namespace biqa::nn {

class Linear {
 public:
  struct Config {
    std::int64_t in_features = 0;
    std::int64_t out_features = 0;
    bool bias = true;
  };

  Linear() = default;
  explicit Linear(const Config& config) : config_(config) {
    BIQA_CHECK(config.in_features > 0 && config.out_features > 0, ErrorCode::invalid_argument,
               "nn::Linear: features must be positive, got ", config.in_features, " -> ",
               config.out_features);
  }
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true)
      : Linear(Config{in_features, out_features, bias}) {}

  /// Takes "weight" [out, in] and, when configured with a bias, "bias" [out].
  void load(const io::WeightStore::Scope& scope) {
    weight_ = scope.take_stored("weight", {config_.out_features, config_.in_features});
    packed_ = std::make_shared<ops::PackedOnce>();
    device_ = std::make_shared<DeviceWeights>();
    bias_ = config_.bias ? scope.take("bias", {config_.out_features}) : Tensor<float>();
  }

  /// x [..., in] → [..., out], on the CPU or another device.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(weight_.defined(), ErrorCode::invalid_argument, "nn::Linear: forward() before load()");
    if constexpr (on_host<Device>) {
      return detail::linear_rows(x, weight_, *packed_, bias_, ctx);
    } else {
      return ops::linear(x, device_->get_from<Device>(0, [&] { return weight_.to_float(); }),
                         device_->get<Device>(1, bias_), ctx);
    }
  }

  const Config& config() const { return config_; }
  /// [out, in] as float32 (a widened copy when held 16-bit).
  Tensor<float> weight() const { return weight_.to_float(); }
  /// The weight as held: float32, or its stored f16/bf16 form in the low-memory mode.
  const io::StoredWeight& stored_weight() const { return weight_; }
  const Tensor<float>& bias() const { return bias_; }  // undefined without a bias
  /// True once a forward has made the packed copy of the weight (Context::weight_packing).
  bool holds_packed_weight() const { return packed_->made(); }

 private:
  Config config_;
  io::StoredWeight weight_;
  Tensor<float> bias_;
  std::shared_ptr<ops::PackedOnce> packed_ = std::make_shared<ops::PackedOnce>();
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
