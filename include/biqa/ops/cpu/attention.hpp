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
#include <type_traits>
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

namespace detail {

/// One row of logits (the products q·kᵀ of one query) → probabilities: × scale, + the mask row
/// (stride ms), causal blocking past query qi, softmax. A fully blocked row gives NaN, as in PyTorch.
inline void attention_softmax_row(float* row, std::int64_t m, float scale, const float* mrow, std::int64_t ms,
                                  bool causal, std::int64_t qi) {
  float mx = -std::numeric_limits<float>::infinity();
  if (!causal && (!mrow || ms == 1)) {  // the common cases, vectorised (NaN logits give a NaN row either way)
    Eigen::Map<Eigen::ArrayXf> l(row, static_cast<Eigen::Index>(m));
    l *= scale;
    if (mrow) l += Eigen::Map<const Eigen::ArrayXf>(mrow, static_cast<Eigen::Index>(m));  // Swin's bias and mask
    if (m > 0) mx = l.maxCoeff();
  } else {
    for (std::int64_t j = 0; j < m; ++j) {
      float l = row[j] * scale;
      if (mrow) l += mrow[j * ms];
      if (causal && j > qi) l = -std::numeric_limits<float>::infinity();
      row[j] = l;
      mx = std::max(mx, l);
    }
  }
  const float inv = 1.0f / exp_shifted_sum(row, m, mx);
  for (std::int64_t j = 0; j < m; ++j) row[j] *= inv;
}

/// Attention over few keys (Swin's 49-token windows, DGIQA's 7 × 7 maps) without the GEMM kernel,
/// whose packing and edge tiles cost more than the products there (64 windows × 3 heads of 49
/// tokens ran at 21 GFLOP/s): the keys fit in NK packets, so a query's logits are NK accumulators
/// over D broadcast steps, and a row of the output NV accumulators over M steps.
namespace small_attention {

using packed::Packet;
inline constexpr int packet = packed::packet_size;
inline constexpr int max_packets = 8;  ///< keys up to 7 packets (8 ran 5% slower than the GEMM path at 128 keys), values up to 8

/// o[r][·] = Σ_s a[r][s] · panel[s][·] for R rows of a (row stride as, `steps` columns) and a
/// panel [steps][NP packets]: the logits (a = queries, panel = kᵀ) and the output (a =
/// probabilities, panel = v) alike. o holds R × NP packets.
template <int NP, int R>
void rows_times_panel(const float* a, std::int64_t as, std::int64_t steps, const float* panel, float* o) {
  using namespace Eigen::internal;
  Packet acc[R][NP];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NP; ++c) acc[r][c] = pset1<Packet>(0.0f);
  for (std::int64_t s = 0; s < steps; ++s, panel += NP * packet) {
    Packet row[NP];
    for (int c = 0; c < NP; ++c) row[c] = pload<Packet>(panel + c * packet);
    for (int r = 0; r < R; ++r) {
      const Packet x = pset1<Packet>(a[r * as + s]);
      for (int c = 0; c < NP; ++c) acc[r][c] = pmadd(x, row[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < NP; ++c) pstore(o + (r * NP + c) * packet, acc[r][c]);
}

/// Calls f(std::integral_constant<int, K>) for the runtime k in [1, max_packets].
template <typename F>
void dispatch(int k, F&& f) {
  switch (k) {
    case 1: return f(std::integral_constant<int, 1>());
    case 2: return f(std::integral_constant<int, 2>());
    case 3: return f(std::integral_constant<int, 3>());
    case 4: return f(std::integral_constant<int, 4>());
    case 5: return f(std::integral_constant<int, 5>());
    case 6: return f(std::integral_constant<int, 6>());
    case 7: return f(std::integral_constant<int, 7>());
    default: return f(std::integral_constant<int, 8>());
  }
}

/// Rows per step: as many as keep the accumulators within about half of the vector registers.
constexpr int rows_for(int packets) {
  return std::max(1, std::min(4, packed::vector_registers / 2 / packets));
}

/// rows_times_panel with a panel of `packets` packets (at most max_packets) for one register
/// block of rows: rows_for(packets) of them when `rows_left` has as many, else one. Returns the
/// rows done; o holds them, a row every `packets` packets.
inline int rows_times_panel_block(int packets, std::int64_t rows_left, const float* a, std::int64_t as,
                                  std::int64_t steps, const float* panel, float* o) {
  int done = 1;
  dispatch(packets, [&](auto panel_packets) {
    constexpr int NP = decltype(panel_packets)::value, R = rows_for(NP);
    if (rows_left >= R) {
      rows_times_panel<NP, R>(a, as, steps, panel, o);
      done = R;
    } else {
      rows_times_panel<NP, 1>(a, as, steps, panel, o);
    }
  });
  return done;
}

}  // namespace small_attention
}  // namespace detail

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

  namespace sa = detail::small_attention;
  const std::int64_t nk = (m + sa::packet - 1) / sa::packet, nv = (dv + sa::packet - 1) / sa::packet;
  if (sa::packet >= 4 && m > 0 && nk < sa::max_packets && nv <= sa::max_packets) {
    // Few keys: per (batch, head), kᵀ and v copied into zero-padded whole packets, then each block of
    // query rows through logits → softmax → values. Tasks are (batch, head) pairs, each head's
    // queries split in parts when there are fewer pairs than twice the threads.
    const std::int64_t mp = nk * sa::packet, dvp = nv * sa::packet;
    const std::int64_t parts = std::clamp<std::int64_t>((2 * ctx.resolved_threads() + b * heads - 1) / (b * heads), 1,
                                                        (n + 3) / 4);
    const std::int64_t part_rows = (n + parts - 1) / parts;
    parallel_for(ctx, b * heads * parts, 1, [&](std::int64_t t0, std::int64_t t1) {
      constexpr int rows_max = 4;
      Tensor<float> scratch({d * mp + m * dvp + rows_max * (mp + dvp)});  // aligned for pload/pstore
      float* const kt = scratch.data();
      float* const vp = kt + d * mp;
      float* const srow = vp + m * dvp;
      float* const orow = srow + rows_max * mp;
      std::fill(kt, srow, 0.0f);
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t h = t / parts, bi = h / heads, hi = h % heads;
        const std::int64_t row_begin = t % parts * part_rows, row_end = std::min(n, row_begin + part_rows);
        const float* qp = q.data() + bi * q.stride(0) + hi * q.stride(1);
        const float* kp = k.data() + bi * k.stride(0) + hi * k.stride(1);
        const float* vsrc = v.data() + bi * v.stride(0) + hi * v.stride(1);
        for (std::int64_t j = 0; j < m; ++j)
          for (std::int64_t e = 0; e < d; ++e) kt[e * mp + j] = kp[j * k.stride(2) + e];
        for (std::int64_t j = 0; j < m; ++j) std::copy(vsrc + j * v.stride(2), vsrc + j * v.stride(2) + dv, vp + j * dvp);
        float* op = out.data() + (bi * heads + hi) * n * dv;
        for (std::int64_t i0 = row_begin; i0 < row_end;) {
          const int rows = sa::rows_times_panel_block(static_cast<int>(nk), row_end - i0, qp + i0 * q.stride(2),
                                                      q.stride(2), d, kt, srow);
          for (int r = 0; r < rows; ++r) {
            const std::int64_t qi = i0 + r;
            const float* mrow = mask.defined() ? mask.data() + bi * mask.stride(0) + hi * mask.stride(1) + qi * mask.stride(2)
                                               : nullptr;
            detail::attention_softmax_row(srow + r * mp, m, scale, mrow, mask.defined() ? mask.stride(3) : 0, opt.causal, qi);
          }
          for (int r0 = 0; r0 < rows;) {  // the value product in its own row blocks
            const int done = sa::rows_times_panel_block(static_cast<int>(nv), rows - r0, srow + r0 * mp, mp, m, vp, orow);
            for (int r = 0; r < done; ++r) std::copy(orow + r * dvp, orow + r * dvp + dv, op + (i0 + r0 + r) * dv);
            r0 += done;
          }
          i0 += rows;
        }
      }
    });
    return out;
  }
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
        const std::int64_t qi = r0 + i;
        const float* mrow = mask.defined() ? mask.data() + bi * mask.stride(0) + hi * mask.stride(1) +
                                                 qi * mask.stride(2)
                                           : nullptr;
        detail::attention_softmax_row(logits.data() + i * m, m, scale, mrow, mask.defined() ? mask.stride(3) : 0,
                                      opt.causal, qi);
      }
      float* op = out.data() + ((bi * heads + hi) * n + r0) * dv;
      detail::packed_gemm(rows, dv, {logits.data(), m, 1}, detail::packed::PackedB{kv + kt_size, m, dv}, 0,
                          op, dv);
    }
  });
  return out;
}

}  // namespace biqa::ops
