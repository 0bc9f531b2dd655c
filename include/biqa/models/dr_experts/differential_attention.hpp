#pragma once
/// @file
/// DR.Experts' heterogeneous differential attention (the authors' `diff_attention`), one head of
/// width E, scale 1/√E, for one distortion prior d [B, E], the semantic tokens f [B, L, E] and the
/// bridging keys s [B, L, E]:
///   Q1 = W_q1(d) (the same query for every row), K1 = W_k1(s), Q2 = W_q2(f), K2 = W_k2(f),
///   V = W_v([d broadcast ‖ f]),  A1 = softmax(Q1 K1ᵀ/√E),  A2 = softmax(Q2 K2ᵀ/√E)
///   current code (since 2025-12-07):  (A1 − α·A2) V     previous code:  (A2 − α·A1) V
/// α ("alpha", a 0-d parameter) is used as it is. Keys "W_q1", "W_q2", "W_k1", "W_k2" (E → E) and
/// "W_v" (2E → E), all with bias.
///
/// Every row of A1 is the same, so any set of query rows needs one A1 row plus those rows of A2:
/// forward() takes the rows it computes (all of them, or the class token only). Written once
/// against ops::, so it runs on the device of its inputs.

#include <cmath>
#include <cstdint>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/gemm.hpp"

namespace biqa::models::dr_experts {

enum class Sign {
  current,   // A_dist − α·A_sem (the published code)
  previous,  // A_sem − α·A_dist (every commit before 2025-12-07)
};

class DifferentialAttention {
 public:
  DifferentialAttention() = default;
  explicit DifferentialAttention(std::int64_t dim) : dim_(dim) {
    BIQA_CHECK(dim > 0, ErrorCode::invalid_argument, "DR.Experts differential attention: width must be positive");
    for (auto* l : {&w_q1_, &w_q2_, &w_k1_, &w_k2_}) *l = nn::Linear(dim, dim);
    w_v_ = nn::Linear(2 * dim, dim);
  }

  void load(const io::WeightStore::Scope& scope) {
    w_q1_.load(scope.scope("W_q1"));
    w_q2_.load(scope.scope("W_q2"));
    w_k1_.load(scope.scope("W_k1"));
    w_k2_.load(scope.scope("W_k2"));
    w_v_.load(scope.scope("W_v"));
    alpha_ = scope.take("alpha", Shape{}).data()[0];
    device_ = std::make_shared<nn::DeviceWeights>();  // device copies of the weights loaded before
    // W_v acts on [prior ‖ tokens]: its two column blocks, so the prior's part is one vector.
    const Tensor<float> wv = w_v_.weight().contiguous();
    v_prior_ = Tensor<float>({dim_, dim_});
    v_tokens_t_ = Tensor<float>({dim_, dim_});
    for (std::int64_t r = 0; r < dim_; ++r)
      for (std::int64_t c = 0; c < dim_; ++c) {
        v_prior_.data()[r * dim_ + c] = wv.data()[r * 2 * dim_ + c];
        v_tokens_t_.data()[c * dim_ + r] = wv.data()[r * 2 * dim_ + dim_ + c];  // transposed: [in, out]
      }
  }

  /// Rows of (A1 − α·A2) V (or the previous sign) and the class row of the combined map, on the
  /// inputs' device.
  template <typename Device = Cpu>
  struct BasicResult {
    Tensor<float, Device> out;          ///< [B, rows, E]
    Tensor<float, Device> cls_weights;  ///< [B, L]: row 0 of the combined attention matrix
  };
  using Result = BasicResult<Cpu>;

  /// The two softmax maps before they are combined (for looking at them; forward() keeps neither).
  template <typename Device = Cpu>
  struct BasicMaps {
    Tensor<float, Device> a1;  ///< [B, L]: A1's row (every row of A1 is this one)
    Tensor<float, Device> a2;  ///< [B, rows, L]: the rows of A2 that forward() computed
  };
  using Maps = BasicMaps<Cpu>;

  /// d [B, E], f [B, L, E], s [B, L, E] on either device; `cls_only`: only row 0 (the class token).
  /// `maps`, when given, receives A1 and A2.
  template <typename Device>
  BasicResult<Device> forward(const Tensor<float, Device>& d_in, const Tensor<float, Device>& f_in,
                              const Tensor<float, Device>& s_in, Sign sign, bool cls_only, Context& ctx,
                              BasicMaps<Device>* maps = nullptr) const {
    const std::int64_t b = f_in.size(0), l = f_in.size(1), e = dim_;
    BIQA_CHECK(d_in.dim() == 2 && d_in.size(0) == b && d_in.size(1) == e && f_in.dim() == 3 && f_in.size(2) == e &&
                   s_in.dim() == 3 && s_in.size(0) == b && s_in.size(1) == l && s_in.size(2) == e,
               ErrorCode::invalid_argument, "DR.Experts differential attention: prior ", d_in.shape().to_string(),
               ", tokens ", f_in.shape().to_string(), ", keys ", s_in.shape().to_string());
    const Tensor<float, Device> d = d_in.contiguous(), f = f_in.contiguous();
    const Tensor<float, Device> q1 = w_q1_.forward(d, ctx).reshape({b, 1, e});  // one query row per image
    const Tensor<float, Device> k1 = w_k1_.forward(s_in, ctx);                   // [B, L, E]
    const Tensor<float, Device> k2 = w_k2_.forward(f, ctx);
    const Tensor<float, Device> q2 = w_q2_.forward(cls_only ? f.slice(1, 0, 1).contiguous() : f, ctx);
    // V = f W_tokensᵀ + (d W_priorᵀ + bias), the second term one row per image.
    Tensor<float, Device> v =
        ops::matmul(f.reshape({b * l, e}), device_->get<Device>(0, v_tokens_t_), ctx).reshape({b, l, e});
    ops::add_inplace(v,
                     ops::linear(d, device_->get<Device>(1, v_prior_), device_->get_from<Device>(2, [&] {
                       return w_v_.bias().contiguous();
                     }), ctx).reshape({b, 1, e}),
                     ctx);
    // A1's one row and A2's rows, softmaxed.
    const float scale = 1.0f / std::sqrt(static_cast<float>(e));
    const Tensor<float, Device> a1 = ops::softmax(ops::mul(ops::matmul(q1, k1.transpose(1, 2), ctx), scale, ctx), ctx);
    const Tensor<float, Device> a2 = ops::softmax(ops::mul(ops::matmul(q2, k2.transpose(1, 2), ctx), scale, ctx), ctx);
    if (maps) maps->a1 = a1.reshape({b, l}), maps->a2 = a2;
    const Tensor<float, Device> c = sign == Sign::current ? ops::sub(a1, ops::mul(a2, alpha_, ctx), ctx)
                                                          : ops::sub(a2, ops::mul(a1, alpha_, ctx), ctx);
    BasicResult<Device> res;
    res.out = ops::matmul(c, v, ctx);
    res.cls_weights = c.select(1, 0).contiguous();
    return res;
  }

  float alpha() const { return alpha_; }

 private:
  std::int64_t dim_ = 0;
  nn::Linear w_q1_, w_q2_, w_k1_, w_k2_, w_v_;
  Tensor<float> v_prior_, v_tokens_t_;
  float alpha_ = 0.5f;
  std::shared_ptr<nn::DeviceWeights> device_ = std::make_shared<nn::DeviceWeights>();
};

}  // namespace biqa::models::dr_experts
