#pragma once
/// @file
/// DR.Experts' dynamic distortion weighting (DDWM; the authors' DeepInterestNet →
/// AttentionPoolingLayer → ActivationUnit): per token, the expert feature r and the semantic
/// feature f (both [.., E]) give an unnormalised weight
///   w = fc([r, f, r − f]),   fc = Linear(3E, d0) → PReLU → Linear(d0, d1) → PReLU → … → Linear(dk, 1)
/// with one PReLU slope per layer. Keys (under "decoder.AttentionActivate.active_unit.fc"): "0", "2",
/// … the Linears, "1", "3", … the PReLU "weight" [1]. The hidden sizes come from the weights (the
/// authors fix them at 384, 32, 16 whatever E is).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::models::dr_experts {

class DistortionWeighting {
 public:
  DistortionWeighting() = default;
  /// `hidden`: d0 … dk (the published model: 384, 32, 16).
  DistortionWeighting(std::int64_t dim, std::vector<std::int64_t> hidden) : dim_(dim), hidden_(std::move(hidden)) {
    std::int64_t in = 3 * dim;
    for (auto h : hidden_) {
      BIQA_CHECK(h > 0, ErrorCode::invalid_argument, "DR.Experts DDWM: hidden sizes must be positive");
      linears_.emplace_back(in, h);
      in = h;
    }
    linears_.emplace_back(in, 1);
  }

  /// The hidden sizes the Linears under `fc` have ("0.weight", "2.weight", … up to the one of width 1).
  static std::vector<std::int64_t> hidden_sizes(const io::WeightStore::Scope& fc) {
    std::vector<std::int64_t> h;
    for (int i = 0;; i += 2) {
      const auto* r = fc.record(std::to_string(i) + ".weight");
      BIQA_CHECK(r && r->shape.rank() == 2, ErrorCode::format, "DR.Experts DDWM: ",
                 fc.full_name(std::to_string(i) + ".weight"), " [out, in] is missing");
      if (r->shape[0] == 1 && !fc.has(std::to_string(i + 1) + ".weight")) break;
      h.push_back(r->shape[0]);
    }
    return h;
  }

  void load(const io::WeightStore::Scope& fc) {
    slopes_.clear();
    device_ = std::make_shared<nn::DeviceWeights>();  // device copies of the slopes loaded before
    for (std::size_t k = 0; k < linears_.size(); ++k) {
      linears_[k].load(fc.scope(static_cast<int>(2 * k)));
      if (k + 1 < linears_.size()) slopes_.push_back(fc.take(std::to_string(2 * k + 1) + ".weight", {1}));
    }
  }

  /// r, f [M, E] → w [M], on the inputs' device.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& r, const Tensor<float, Device>& f, Context& ctx) const {
    BIQA_CHECK(r.dim() == 2 && r.size(1) == dim_ && f.shape() == r.shape(), ErrorCode::invalid_argument,
               "DR.Experts DDWM: expert ", r.shape().to_string(), " and semantic ", f.shape().to_string(),
               " features must both be [M, ", dim_, "]");
    const std::int64_t m = r.size(0);
    Tensor<float, Device> h = ops::concat(std::vector<Tensor<float, Device>>{r, f, ops::sub(r, f, ctx)}, 1);
    for (std::size_t k = 0; k < linears_.size(); ++k) {
      h = linears_[k].forward(h, ctx);
      if (k < slopes_.size()) h = ops::prelu(h, device_->get<Device>(static_cast<int>(k), slopes_[k]), ctx);
    }
    return h.reshape({m});
  }

 private:
  std::int64_t dim_ = 0;
  std::vector<std::int64_t> hidden_;
  std::vector<nn::Linear> linears_;
  std::vector<Tensor<float>> slopes_;
  std::shared_ptr<nn::DeviceWeights> device_ = std::make_shared<nn::DeviceWeights>();
};

}  // namespace biqa::models::dr_experts
