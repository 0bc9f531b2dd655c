#pragma once
/// @file
/// Element-wise activations (GELU erf/tanh, QuickGELU, ReLU, PReLU, SELU, SiLU, sigmoid, tanh) and
/// softmax / log_softmax along an axis, with PyTorch's definitions.
/// The in-place maps over contiguous data run on Eigen's packet math (vectorised exp, expm1, tanh and
/// erf, each within a few ulp of the libm value), which is what makes GELU and softmax cheap next
/// to the GEMMs; scalar:: keeps the libm definitions for single values and strided lines.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::ops {

namespace scalar {
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
inline float gelu_tanh(float x) {
  const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);  // sqrt(2/pi)
  return 0.5f * x * (1.0f + std::tanh(inner));
}
inline float quick_gelu(float x) { return x * sigmoid(1.702f * x); }
inline float silu(float x) { return x * sigmoid(x); }
inline float selu(float x) {
  constexpr float alpha = 1.6732632423543772848f, scale = 1.0507009873554804934f;
  return scale * (x > 0.0f ? x : alpha * std::expm1(x));
}
inline float relu(float x) { return x < 0.0f ? 0.0f : x; }  // NaN stays NaN, as in PyTorch

inline float apply(Activation a, float x) {
  switch (a) {
    case Activation::identity: return x;
    case Activation::relu: return relu(x);
    case Activation::gelu: return gelu(x);
    case Activation::gelu_tanh: return gelu_tanh(x);
    case Activation::quick_gelu: return quick_gelu(x);
    case Activation::silu: return silu(x);
    case Activation::sigmoid: return sigmoid(x);
    case Activation::selu: return selu(x);
    case Activation::tanh: return std::tanh(x);
  }
  return x;
}
}  // namespace scalar

namespace detail {
inline constexpr std::int64_t elementwise_grain = std::int64_t(1) << 15;

/// Σ exp(p[i] − shift), storing each term in p[i]; vectorised. Softmax callers pass shift = max, so
/// the sum is ≥ 1 and terms below e^-87 cannot change it: they are stored as exact zeros, which keeps
/// −inf (masked) logits at probability 0 (Eigen's exp returns 2.9e-39 there, not 0).
/// Written on Eigen's packets because Eigen 3.4 does not vectorise select(): the array form of this
/// loop called libm's expf once per element (7% of a DeiT forward). The tail runs as one padded
/// packet, so every term goes through the same exp. The sum runs in a fixed lane order: Eigen's
/// vectorised sum starts at the first aligned element, so its rounding would depend on where the
/// buffer happens to lie.
inline float exp_shifted_sum(float* p, std::int64_t n, float shift) {
  using namespace Eigen::internal;
  using Packet = packet_traits<float>::type;
  constexpr int size = packet_traits<float>::size;
  const Packet shift_p = pset1<Packet>(shift), floor_p = pset1<Packet>(-87.0f);
  Packet acc = pset1<Packet>(0.0f);
  const auto term = [&](Packet x) {
    x = psub(x, shift_p);
    return pandnot(pexp(x), pcmp_lt(x, floor_p));  // zero where x < −87 (and for a −inf logit)
  };
  std::int64_t i = 0;
  for (; i + size <= n; i += size) {
    const Packet e = term(ploadu<Packet>(p + i));
    pstoreu(p + i, e);
    acc = padd(acc, e);
  }
  if (i < n) {
    float tail[size];
    for (int j = 0; j < size; ++j) tail[j] = i + j < n ? p[i + j] : -std::numeric_limits<float>::infinity();
    const Packet e = term(ploadu<Packet>(tail));
    pstoreu(tail, e);
    acc = padd(acc, e);
    for (std::int64_t j = 0; i + j < n; ++j) p[i + j] = tail[j];
  }
  float lanes[size];
  pstoreu(lanes, acc);
  for (int width = size / 2; width >= 1; width /= 2)  // pairwise: (0+1)+(2+3) ... as a fixed tree
    for (int j = 0; j < width; ++j) lanes[j] = lanes[2 * j] + lanes[2 * j + 1];
  return lanes[0];
}
}  // namespace detail

namespace detail {
/// max(x, 0) on Eigen packets, NaN kept: lanes where x < 0 are cleared to +0, the rest (NaN
/// included) pass unchanged. Eigen 3.4's select() has no vectorised path.
inline void relu_span(float* p, std::int64_t n) {
  using namespace Eigen::internal;
  using Packet = packet_traits<float>::type;
  constexpr int size = packet_traits<float>::size;
  const Packet zero = pset1<Packet>(0.0f);
  std::int64_t i = 0;
  for (; i + size <= n; i += size) {
    const Packet x = ploadu<Packet>(p + i);
    pstoreu(p + i, pandnot(x, pcmp_lt(x, zero)));
  }
  for (; i < n; ++i) p[i] = scalar::relu(p[i]);
}

/// Applies `a` to p[0, n) in place, on the calling thread; the loop behind activate_inplace and
/// the epilogues that fuse an activation into another op's output pass.
inline void activate_span(float* p, std::int64_t n, Activation a) {
  using A = Eigen::Map<Eigen::ArrayXf>;
  A v(p, static_cast<Eigen::Index>(n));
  switch (a) {  // one loop per activation, so each inner loop is a direct call
    case Activation::identity: return;
    case Activation::relu: return relu_span(p, n);
    case Activation::gelu: v = 0.5f * v * (1.0f + (v * 0.70710678118654752f).erf()); return;
    case Activation::gelu_tanh:
      // 0.5·(1 + tanh(u)) written as 1 / (1 + e^(−2u)): it reaches exactly 0 and 1 in the tails on
      // every target. Eigen 3.4's vectorised tanh stops at ±(1 − 2^-22) on AArch64 (its clamp
      // assumes an unfused multiply-add, NEON's is fused), which gave gelu_tanh(−1e30) = −1.2e23.
      v = v / (1.0f + (-1.5957691216057307f * (v + 0.044715f * v.cube())).exp());  // 2·sqrt(2/π)
      return;
    case Activation::quick_gelu: v = v / (1.0f + (-1.702f * v).exp()); return;
    case Activation::silu: v = v / (1.0f + (-v).exp()); return;
    case Activation::sigmoid: v = 1.0f / (1.0f + (-v).exp()); return;
    case Activation::selu: {
      constexpr float alpha = 1.6732632423543772848f, scale = 1.0507009873554804934f;
      v = scale * (v > 0.0f).select(v, alpha * v.expm1());
      return;
    }
    case Activation::tanh: v = v.tanh(); return;
  }
}
}  // namespace detail

/// Applies `a` to every element of a contiguous tensor, in place.
inline void activate_inplace(Tensor<float>& x, Activation a, Context& ctx) {
  BIQA_CHECK(x.is_contiguous(), ErrorCode::invalid_argument,
             "activate_inplace needs a contiguous tensor, got strides of a view of ",
             x.shape().to_string());
  if (a == Activation::identity) return;
  float* d = x.data();
  parallel_for(ctx, x.numel(), detail::elementwise_grain,
               [&](std::int64_t b, std::int64_t e) { detail::activate_span(d + b, e - b, a); });
}

inline Tensor<float> activate(const Tensor<float>& x, Activation a, Context& ctx) {
  Tensor<float> y = x.clone();
  activate_inplace(y, a, ctx);
  return y;
}

inline Tensor<float> relu(const Tensor<float>& x, Context& ctx) { return activate(x, Activation::relu, ctx); }
/// Exact (erf) GELU, or the tanh approximation (approximate='tanh').
inline Tensor<float> gelu(const Tensor<float>& x, Context& ctx, bool tanh_approximation = false) {
  return activate(x, tanh_approximation ? Activation::gelu_tanh : Activation::gelu, ctx);
}
/// CLIP's x·sigmoid(1.702x).
inline Tensor<float> quick_gelu(const Tensor<float>& x, Context& ctx) { return activate(x, Activation::quick_gelu, ctx); }
inline Tensor<float> silu(const Tensor<float>& x, Context& ctx) { return activate(x, Activation::silu, ctx); }
inline Tensor<float> sigmoid(const Tensor<float>& x, Context& ctx) { return activate(x, Activation::sigmoid, ctx); }
inline Tensor<float> selu(const Tensor<float>& x, Context& ctx) { return activate(x, Activation::selu, ctx); }

/// PReLU: x for x ≥ 0, w·x otherwise; `weight` has one value, or one per channel (axis 1).
inline Tensor<float> prelu(const Tensor<float>& x_in, const Tensor<float>& weight, Context& ctx) {
  const std::int64_t channels = x_in.dim() >= 2 ? x_in.size(1) : 1;
  BIQA_CHECK(weight.numel() == 1 || weight.numel() == channels, ErrorCode::invalid_argument,
             "prelu: ", weight.numel(), " weights for input ", x_in.shape().to_string(),
             " (expected 1 or ", channels, ")");
  Tensor<float> y = x_in.clone();
  const Tensor<float> w = weight.contiguous();
  std::int64_t inner = 1;
  for (int i = 2; i < y.dim(); ++i) inner *= y.size(i);
  const std::int64_t lines = y.numel() / std::max<std::int64_t>(inner, 1);
  float* d = y.data();
  parallel_for(ctx, lines, std::max<std::int64_t>(1, detail::elementwise_grain / std::max<std::int64_t>(inner, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t l = b; l < e; ++l) {
                   const float a = w.data()[w.numel() == 1 ? 0 : l % channels];
                   float* p = d + l * inner;
                   for (std::int64_t i = 0; i < inner; ++i) p[i] = p[i] >= 0.0f ? p[i] : a * p[i];
                 }
               });
  return y;
}

namespace detail {
/// Runs f(line pointer, count, stride) over every 1-d line along `axis` of a contiguous tensor.
template <typename F>
void for_each_line(Tensor<float>& t, int axis, const Context& ctx, F f) {
  const int a = t.shape().normalize_axis(axis);
  std::int64_t inner = 1;
  for (int i = a + 1; i < t.dim(); ++i) inner *= t.size(i);
  const std::int64_t n = t.size(a);
  const std::int64_t lines = n == 0 ? 0 : t.numel() / n;
  float* d = t.data();
  parallel_for(ctx, lines, std::max<std::int64_t>(1, elementwise_grain / std::max<std::int64_t>(n, 1)),
               [&](std::int64_t b, std::int64_t e) {
                 for (std::int64_t l = b; l < e; ++l) {
                   const std::int64_t outer = l / inner, in = l % inner;
                   f(d + outer * n * inner + in, n, inner);
                 }
               });
}
}  // namespace detail

/// softmax along `axis` (default: the last), max-subtracted so large logits do not overflow.
inline void softmax_inplace(Tensor<float>& x, Context& ctx, int axis = -1) {
  BIQA_CHECK(x.is_contiguous(), ErrorCode::invalid_argument, "softmax_inplace needs a contiguous tensor");
  if (x.dim() == 0) {
    x.data()[0] = 1.0f;
    return;
  }
  detail::for_each_line(x, axis, ctx, [](float* p, std::int64_t n, std::int64_t s) {
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, p[i * s]);
    if (s == 1) {  // the usual last-axis case: vectorised
      Eigen::Map<Eigen::ArrayXf>(p, static_cast<Eigen::Index>(n)) *= 1.0f / detail::exp_shifted_sum(p, n, mx);
      return;
    }
    float sum = 0.0f;
    for (std::int64_t i = 0; i < n; ++i) {
      const float e = std::exp(p[i * s] - mx);
      p[i * s] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (std::int64_t i = 0; i < n; ++i) p[i * s] *= inv;
  });
}

inline Tensor<float> softmax(const Tensor<float>& x, Context& ctx, int axis = -1) {
  Tensor<float> y = x.clone();
  softmax_inplace(y, ctx, axis);
  return y;
}

/// log(softmax(x)) computed as x − max − log Σ exp(x − max), without forming the softmax.
inline Tensor<float> log_softmax(const Tensor<float>& x, Context& ctx, int axis = -1) {
  Tensor<float> y = x.clone();
  if (y.dim() == 0) {
    y.data()[0] = 0.0f;
    return y;
  }
  detail::for_each_line(y, axis, ctx, [](float* p, std::int64_t n, std::int64_t s) {
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t i = 0; i < n; ++i) mx = std::max(mx, p[i * s]);
    double sum = 0.0;
    for (std::int64_t i = 0; i < n; ++i) sum += std::exp(double(p[i * s] - mx));
    const float lse = mx + static_cast<float>(std::log(sum));
    for (std::int64_t i = 0; i < n; ++i) p[i * s] -= lse;
  });
  return y;
}

}  // namespace biqa::ops
