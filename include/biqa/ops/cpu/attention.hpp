#pragma once
/// @file
/// Scaled dot-product attention: softmax(q·kᵀ·scale + mask)·v on [B, H, N, D] tensors, with an
/// optional additive mask (broadcast to [B, H, N, M]; −inf blocks a pair), a causal option and a
/// custom scale. Boolean masks become additive ones through additive_mask_from_bool.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/packed_gemm.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::ops {

/// A template over the device of the mask, so that a layer passes one set of options on either.
template <typename Device = Cpu>
struct BasicAttentionOptions {
  /// Added to the logits; any shape that broadcasts to [B, H, N, M]. Undefined: no mask.
  Tensor<float, Device> mask;
  /// Query i sees keys j ≤ i only (applied on top of `mask`).
  bool causal = false;
  /// Logit scale; default 1/sqrt(D).
  std::optional<float> scale;
};
using AttentionOptions = BasicAttentionOptions<Cpu>;

/// A boolean mask (nonzero: may attend, as in F.scaled_dot_product_attention) as an additive
/// one: 0 where allowed, −inf where blocked.
template <typename B>
Tensor<float> additive_mask_from_bool(const Tensor<B>& allowed) {
  Tensor<float> m(allowed.shape());
  float* out = m.data();
  allowed.for_each_offset([&](std::int64_t off) {
    *out++ = allowed.data()[off] ? 0.0f : -std::numeric_limits<float>::infinity();
  });
  return m;
}

/// q [B, H, N, D], k [B, H, M, D], v [B, H, M, Dv] → [B, H, N, Dv]. Any strides (the usual head
/// split views are used without copying when the last axis is contiguous).
inline Tensor<float> scaled_dot_product_attention(const Tensor<float>& q_in, const Tensor<float>& k_in,
                                                  const Tensor<float>& v_in, Context& ctx,
                                                  const AttentionOptions& opt = {}) {
  BIQA_CHECK(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4, ErrorCode::invalid_argument,
             "attention needs q, k, v of rank 4 [B, H, N, D], got ", q_in.shape().to_string(), ", ",
             k_in.shape().to_string(), ", ", v_in.shape().to_string());
  const std::int64_t b = q_in.size(0), heads = q_in.size(1), n = q_in.size(2), d = q_in.size(3);
  const std::int64_t m = k_in.size(2), dv = v_in.size(3);
  BIQA_CHECK(k_in.size(0) == b && v_in.size(0) == b && k_in.size(1) == heads && v_in.size(1) == heads &&
                 k_in.size(3) == d && v_in.size(2) == m,
             ErrorCode::invalid_argument, "attention: q ", q_in.shape().to_string(), ", k ",
             k_in.shape().to_string(), " and v ", v_in.shape().to_string(), " do not agree");
  const auto unit_last = [](const Tensor<float>& t) { return t.stride(3) == 1 || t.size(3) == 1 ? t : t.contiguous(); };
  const Tensor<float> q = unit_last(q_in), k = unit_last(k_in), v = unit_last(v_in);
  Tensor<float> mask;
  if (opt.mask.defined()) mask = broadcast_to(opt.mask, Shape{b, heads, n, m});
  const float scale = opt.scale ? *opt.scale : 1.0f / std::sqrt(static_cast<float>(d));

  Tensor<float> out({b, heads, n, dv});
  if (out.numel() == 0) return out;
  // Every head's kᵀ and v packed once for the GEMM kernel, then shared by all its blocks of rows.
  const std::int64_t kt_size = detail::packed::packed_b_size(d, m), v_size = detail::packed::packed_b_size(m, dv);
  Tensor<float> packed_kv({b * heads, kt_size + v_size});
  parallel_for(ctx, b * heads, 1, [&](std::int64_t h0, std::int64_t h1) {
    for (std::int64_t h = h0; h < h1; ++h) {
      const std::int64_t bi = h / heads, hi = h % heads;
      float* dst = packed_kv.data() + h * (kt_size + v_size);
      const float* kp = k.data() + bi * k.stride(0) + hi * k.stride(1);
      const float* vp = v.data() + bi * v.stride(0) + hi * v.stride(1);
      detail::packed::pack_b_whole({kp, 1, k.stride(2)}, d, m, dst);  // kᵀ: element (e, j) = k[j, e]
      detail::packed::pack_b_whole({vp, v.stride(2), 1}, m, dv, dst + kt_size);
    }
  });
  // One task per (batch, head, block of query rows); each keeps an [rows, M] logits buffer.
  const std::int64_t block = std::clamp<std::int64_t>((std::int64_t(1) << 16) / std::max<std::int64_t>(m, 1), 1, n);
  const std::int64_t blocks = (n + block - 1) / block;
  parallel_for(ctx, b * heads * blocks, 1, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<float> logits(static_cast<std::size_t>(block * m));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t bi = t / (heads * blocks), hi = (t / blocks) % heads, r0 = (t % blocks) * block;
      const std::int64_t rows = std::min(block, n - r0);
      const float* qp = q.data() + bi * q.stride(0) + hi * q.stride(1) + r0 * q.stride(2);
      const float* kv = packed_kv.data() + (bi * heads + hi) * (kt_size + v_size);
      detail::packed_gemm(rows, m, {qp, q.stride(2), 1}, detail::packed::PackedB{kv, d, m}, 0,
                          logits.data(), m);
      for (std::int64_t i = 0; i < rows; ++i) {
        float* row = logits.data() + i * m;
        const std::int64_t qi = r0 + i;
        const float* mrow = mask.defined() ? mask.data() + bi * mask.stride(0) + hi * mask.stride(1) +
                                                 qi * mask.stride(2)
                                           : nullptr;
        const std::int64_t ms = mask.defined() ? mask.stride(3) : 0;
        float mx = -std::numeric_limits<float>::infinity();
        if (!mrow && !opt.causal) {  // the common case, vectorised (NaN logits give a NaN row either way)
          Eigen::Map<Eigen::ArrayXf> l(row, static_cast<Eigen::Index>(m));
          l *= scale;
          if (m > 0) mx = l.maxCoeff();
        } else {
          for (std::int64_t j = 0; j < m; ++j) {
            float l = row[j] * scale;
            if (mrow) l += mrow[j * ms];
            if (opt.causal && j > qi) l = -std::numeric_limits<float>::infinity();
            row[j] = l;
            mx = std::max(mx, l);
          }
        }
        const float inv = 1.0f / detail::exp_shifted_sum(row, m, mx);  // fully blocked row: NaN, as in PyTorch
        for (std::int64_t j = 0; j < m; ++j) row[j] *= inv;
      }
      float* op = out.data() + ((bi * heads + hi) * n + r0) * dv;
      detail::packed_gemm(rows, dv, {logits.data(), m, 1}, detail::packed::PackedB{kv + kt_size, m, dv}, 0,
                          op, dv);
    }
  });
  return out;
}

}  // namespace biqa::ops
