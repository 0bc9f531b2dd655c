#pragma once
/// @file
/// One query row of scaled dot-product attention computed over its keys a tile at a time, with an
/// online softmax (the fused kernel of ops/cuda/attention.cuh): a running state of the largest
/// logit so far and Σ exp(logit − max), and Dv accumulators Σ exp(logit − max)·v in the caller's
/// array, rescaled when the max grows; the finish divides by the sum. Shares of a row's keys run
/// separately merge with online_softmax_merge.
///
/// The results are those of the materialised softmax (ops/cpu/attention.hpp, cuda::kernels::
/// softmax_rows): logit = (q·k)·scale + mask; a key blocked by the causal rule (j > i) is skipped;
/// a −inf logit adds nothing; a row whose keys are all −inf (or blocked) comes out NaN, as in
/// PyTorch; a NaN or +inf logit makes its row NaN.

#include <math.h>

#include <cstdint>

#include "biqa/ops/cuda/bodies/host_device.hpp"

// Full unrolling in the kernels, so that per-thread arrays indexed by the loops stay in registers.
#if defined(__CUDA_ARCH__)
#define BIQA_ATTENTION_UNROLL _Pragma("unroll")
#else
#define BIQA_ATTENTION_UNROLL
#endif

namespace biqa::cuda::bodies {

/// Keys per call of attend_tile at most (the size of its logits array).
inline constexpr int attention_max_tile = 32;

/// The running softmax of one query row (or of one share of its keys).
struct OnlineSoftmax {
  float max = -INFINITY;  ///< the largest logit seen (NaN logits aside); −inf while every one was −inf
  float sum = 0.0f;       ///< Σ exp(logit − max) over the keys seen
};

/// The offset the exponentials are taken from: the max, or 0 while every logit is −inf (so that a
/// −inf logit gives exp(−inf) = 0 instead of exp(−inf + inf) = NaN).
BIQA_HOST_DEVICE inline float online_softmax_shift(float max) { return max == -INFINITY ? 0.0f : max; }

/// Logits of the query q[e·qs] (e < d) against keys k + j·ks (j < count): s[j] = (q·k_j)·scale, plus
/// mask[j·ms] when `mask` is not null. Keys j ≥ valid (causal blocking, past the last key) are not
/// read and get −inf.
BIQA_HOST_DEVICE inline void attention_logits(const float* q, std::int64_t qs, const float* k, std::int64_t ks, int d,
                                              int count, int valid, float scale, const float* mask, std::int64_t ms,
                                              float* s) {
  // The dimension outermost: each query element is read once per tile, and the keys' sums are
  // independent chains (each still summed in the order e = 0, 1, …).
  BIQA_ATTENTION_UNROLL
  for (int j = 0; j < count; ++j) s[j] = 0.0f;
  BIQA_ATTENTION_UNROLL
  for (int e = 0; e < d; ++e) {
    const float qe = q[e * qs];
    BIQA_ATTENTION_UNROLL
    for (int j = 0; j < count; ++j)
      if (j < valid) s[j] += qe * k[j * ks + e];
  }
  BIQA_ATTENTION_UNROLL
  for (int j = 0; j < count; ++j) {
    if (j < valid) {
      s[j] *= scale;
      if (mask) s[j] += mask[j * ms];
    } else {
      s[j] = -INFINITY;
    }
  }
}

/// Folds the logits s[j] of keys j < valid (of `count`) with their value rows v + j·vs into the
/// state and acc [dv]: one rescale of the earlier keys' terms by exp(old max − new max) per call.
BIQA_HOST_DEVICE inline void online_softmax_tile(OnlineSoftmax& st, float* acc, int dv, const float* s, int count,
                                                 int valid, const float* v, std::int64_t vs) {
  float mx = st.max;
  BIQA_ATTENTION_UNROLL
  for (int j = 0; j < count; ++j)
    if (j < valid) mx = fmaxf(mx, s[j]);  // NaN aside, as the materialised softmax's max
  const float shift = online_softmax_shift(mx);
  const float rescale = expf(st.max - shift);  // 0 for the first keys seen (old max −inf), 1 when the max stays
  float sum = st.sum * rescale;
  BIQA_ATTENTION_UNROLL
  for (int c = 0; c < dv; ++c) acc[c] *= rescale;
  BIQA_ATTENTION_UNROLL
  for (int j = 0; j < count; ++j) {
    if (j < valid) {
      const float p = expf(s[j] - shift);
      sum += p;
      BIQA_ATTENTION_UNROLL
      for (int c = 0; c < dv; ++c) acc[c] += p * v[j * vs + c];
    }
  }
  st.max = mx;
  st.sum = sum;
}

/// One query row q[e·qs] (e < d) against a tile of keys: k + j·ks and v + j·vs for j < valid (≤
/// count ≤ attention_max_tile), the mask values at mask[j·ms] (mask may be null); attention_logits,
/// then online_softmax_tile.
BIQA_HOST_DEVICE inline void attend_tile(OnlineSoftmax& st, float* acc, const float* q, std::int64_t qs, const float* k,
                                         std::int64_t ks, const float* v, std::int64_t vs, int d, int dv, int count,
                                         int valid, float scale, const float* mask, std::int64_t ms) {
  float s[attention_max_tile];
  attention_logits(q, qs, k, ks, d, count, valid, scale, mask, ms, s);
  online_softmax_tile(st, acc, dv, s, count, valid, v, vs);
}

/// Merges the state b (acc_b [dv]) of another share of the same row's keys into a (acc_a).
BIQA_HOST_DEVICE inline void online_softmax_merge(OnlineSoftmax& a, float* acc_a, const OnlineSoftmax& b,
                                                  const float* acc_b, int dv) {
  const float mx = fmaxf(a.max, b.max), shift = online_softmax_shift(mx);
  const float ca = expf(a.max - shift), cb = expf(b.max - shift);
  a.sum = a.sum * ca + b.sum * cb;
  BIQA_ATTENTION_UNROLL
  for (int c = 0; c < dv; ++c) acc_a[c] = acc_a[c] * ca + acc_b[c] * cb;
  a.max = mx;
}

/// The row's output: out[c] = acc[c] / sum for c < dv (NaN when no key had a finite logit: 0 · inf).
/// The loop runs over `count` ≥ dv (the kernels' padded width, so that it unrolls).
BIQA_HOST_DEVICE inline void online_softmax_finish(const OnlineSoftmax& st, const float* acc, int count, int dv,
                                                   float* out) {
  const float inv = 1.0f / st.sum;
  BIQA_ATTENTION_UNROLL
  for (int c = 0; c < count; ++c)
    if (c < dv) out[c] = acc[c] * inv;
}

}  // namespace biqa::cuda::bodies
