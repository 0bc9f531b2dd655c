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
/// forward() takes the rows it computes (all of them, or the class token only).

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <Eigen/Core>

#include "biqa/core/context.hpp"
#include "biqa/core/eigen_interop.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/linear.hpp"
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

  struct Result {
    Tensor<float> out;          ///< [B, rows, E]: rows of (A1 − α·A2) V (or the previous sign)
    Tensor<float> cls_weights;  ///< [B, L]: row 0 of the combined attention matrix
  };

  /// The two softmax maps before they are combined (for looking at them; forward() keeps neither).
  struct Maps {
    Tensor<float> a1;  // [B, L]: A1's row (every row of A1 is this one)
    Tensor<float> a2;  ///< [B, rows, L]: the rows of A2 that forward() computed
  };

  /// d [B, E], f [B, L, E], s [B, L, E]; `cls_only`: only row 0 (the class token). `maps`, when
  /// given, receives A1 and A2.
  Result forward(const Tensor<float>& d_in, const Tensor<float>& f_in, const Tensor<float>& s_in, Sign sign,
                 bool cls_only, Context& ctx, Maps* maps = nullptr) const {
    using Mat = RowMajorMatrix<float>;
    using Map = Eigen::Map<const Mat>;
    const std::int64_t b = f_in.size(0), l = f_in.size(1), e = dim_;
    BIQA_CHECK(d_in.dim() == 2 && d_in.size(0) == b && d_in.size(1) == e && f_in.dim() == 3 && f_in.size(2) == e &&
                   s_in.dim() == 3 && s_in.size(0) == b && s_in.size(1) == l && s_in.size(2) == e,
               ErrorCode::invalid_argument, "DR.Experts differential attention: prior ", d_in.shape().to_string(),
               ", tokens ", f_in.shape().to_string(), ", keys ", s_in.shape().to_string());
    const Tensor<float> d = d_in.contiguous(), f = f_in.contiguous();
    const Tensor<float> q1 = w_q1_.forward(d, ctx);  // [B, E]
    const Tensor<float> k1 = w_k1_.forward(s_in, ctx).contiguous();  // [B, L, E]
    const Tensor<float> k2 = w_k2_.forward(f, ctx).contiguous();
    const Tensor<float> q2 = w_q2_.forward(cls_only ? f.slice(1, 0, 1).contiguous() : f, ctx).contiguous();
    // V = f W_tokensᵀ + (d W_priorᵀ + bias), the second term one row per image.
    const Tensor<float> vt = ops::matmul(f.reshape({b * l, e}), v_tokens_t_, ctx).contiguous();
    const std::int64_t rows = cls_only ? 1 : l;
    const float scale = 1.0f / std::sqrt(static_cast<float>(e));
    Result res;
    res.out = Tensor<float>({b, rows, e});
    res.cls_weights = Tensor<float>({b, l});
    if (maps) maps->a1 = Tensor<float>({b, l}), maps->a2 = Tensor<float>({b, rows, l});
    const Map wp(v_prior_.data(), e, e);
    const Eigen::Map<const Eigen::RowVectorXf> bv(w_v_.bias().contiguous().data(), e);
    for (std::int64_t i = 0; i < b; ++i) {
      const Eigen::RowVectorXf vprior = Eigen::Map<const Eigen::RowVectorXf>(d.data() + i * e, e) * wp.transpose() + bv;
      Mat v = Map(vt.data() + i * l * e, l, e);
      v.rowwise() += vprior;
      // A1's one row and A2's rows, softmaxed.
      Eigen::RowVectorXf a1 = Eigen::Map<const Eigen::RowVectorXf>(q1.data() + i * e, e) *
                              Map(k1.data() + i * l * e, l, e).transpose() * scale;
      softmax_row(a1.data(), l);
      Mat a2 = Map(q2.data() + i * rows * e, rows, e) * Map(k2.data() + i * l * e, l, e).transpose() * scale;
      for (std::int64_t r = 0; r < rows; ++r) softmax_row(a2.data() + r * l, l);
      if (maps) {
        Eigen::Map<Eigen::RowVectorXf>(maps->a1.data() + i * l, l) = a1;
        Eigen::Map<Mat>(maps->a2.data() + i * rows * l, rows, l) = a2;
      }
      Mat c(rows, l);
      if (sign == Sign::current) c = (-alpha_ * a2).rowwise() + a1;
      else c = a2.rowwise() - alpha_ * a1;
      Eigen::Map<Mat>(res.out.data() + i * rows * e, rows, e).noalias() = c * v;
      Eigen::Map<Eigen::RowVectorXf>(res.cls_weights.data() + i * l, l) = c.row(0);
    }
    return res;
  }

  float alpha() const { return alpha_; }

 private:
  static void softmax_row(float* p, std::int64_t n) {
    float m = p[0];
    for (std::int64_t j = 1; j < n; ++j) m = std::max(m, p[j]);
    double sum = 0;
    for (std::int64_t j = 0; j < n; ++j) {
      p[j] = std::exp(p[j] - m);
      sum += p[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (std::int64_t j = 0; j < n; ++j) p[j] *= inv;
  }

  std::int64_t dim_ = 0;
  nn::Linear w_q1_, w_q2_, w_k1_, w_k2_, w_v_;
  Tensor<float> v_prior_, v_tokens_t_;
  float alpha_ = 0.5f;
};

}  // namespace biqa::models::dr_experts
