// The CUDA ops against double-precision references computed here on the host, and the device
// memory and error paths. Tolerances: 1e-5 relative to the largest reference value for the
// elementwise and row ops, 1e-4 for the products (cuBLAS sums in another order than the CPU).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/ops/cuda.cuh"
#include "ops/cuda/support.hpp"

using biqa::Cpu;
using biqa::Cuda;
using biqa::Shape;
using biqa::Tensor;

using biqa::test::error_against;
using biqa::test::random_tensor;

TEST_CASE("cuda: host -> device -> host copies are exact, any shape", "[cuda]") {
  for (const Shape& s : {Shape{0}, Shape{1}, Shape{3, 5}, Shape{2, 3, 1025}}) {
    const Tensor<float> h = random_tensor(s, 1);
    const Tensor<float> back = biqa::cuda::to_host(biqa::cuda::to_device(h));
    REQUIRE(back.shape() == s);
    for (std::int64_t i = 0; i < h.numel(); ++i) REQUIRE(back.data()[i] == h.data()[i]);
  }
  // A non-contiguous host view is copied in row-major order.
  const Tensor<float> h = random_tensor({4, 6}, 2);
  const Tensor<float> t = biqa::cuda::to_host(biqa::cuda::to_device(h.transpose(0, 1)));
  REQUIRE(t.shape() == Shape{6, 4});
  CHECK(t.data()[1] == h.data()[6]);
}

TEST_CASE("cuda: add and the activations match their formulas", "[cuda]") {
  const Tensor<float> a = random_tensor({7, 300}, 3, 3.0f), b = random_tensor({7, 300}, 4);
  const auto da = biqa::cuda::to_device(a), db = biqa::cuda::to_device(b);
  std::vector<double> sum(a.numel()), relu(a.numel()), gelu(a.numel()), quick(a.numel());
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data()[i];
    sum[i] = x + b.data()[i];
    relu[i] = x > 0 ? x : 0.0;
    gelu[i] = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    quick[i] = x / (1.0 + std::exp(-1.702 * x));
  }
  CHECK(error_against(biqa::cuda::to_host(biqa::cuda::add(da, db)), sum) <= 1e-6);
  CHECK(error_against(biqa::cuda::to_host(biqa::cuda::relu(da)), relu) == 0.0);
  CHECK(error_against(biqa::cuda::to_host(biqa::cuda::gelu(da)), gelu) <= 1e-5);
  CHECK(error_against(biqa::cuda::to_host(biqa::cuda::quick_gelu(da)), quick) <= 1e-5);
  CHECK_THROWS_AS(biqa::cuda::add(da, biqa::cuda::to_device(random_tensor({7, 299}, 5))), biqa::Error);
}

TEST_CASE("cuda: softmax and LayerNorm over the last axis", "[cuda]") {
  for (const std::int64_t cols : {1, 31, 197, 785, 3000}) {
    const Tensor<float> x = random_tensor({5, cols}, 6, 4.0f), w = random_tensor({cols}, 7), b = random_tensor({cols}, 8);
    std::vector<double> sm(x.numel()), ln(x.numel());
    for (std::int64_t r = 0; r < 5; ++r) {
      const float* row = x.data() + r * cols;
      const double mx = *std::max_element(row, row + cols);
      double s = 0.0, mean = 0.0, var = 0.0;
      for (std::int64_t j = 0; j < cols; ++j) s += std::exp(row[j] - mx), mean += row[j];
      mean /= double(cols);
      for (std::int64_t j = 0; j < cols; ++j) var += (row[j] - mean) * (row[j] - mean);
      var /= double(cols);
      for (std::int64_t j = 0; j < cols; ++j) {
        sm[r * cols + j] = std::exp(row[j] - mx) / s;
        ln[r * cols + j] = (row[j] - mean) / std::sqrt(var + 1e-6) * w.data()[j] + b.data()[j];
      }
    }
    const auto dx = biqa::cuda::to_device(x);
    CHECK(error_against(biqa::cuda::to_host(biqa::cuda::softmax(dx)), sm) <= 1e-5);
    CHECK(error_against(biqa::cuda::to_host(biqa::cuda::layer_norm(dx, biqa::cuda::to_device(w),
                                                                    biqa::cuda::to_device(b), 1e-6f)),
                         ln) <= 1e-5);
  }
}

TEST_CASE("cuda: linear (cuBLAS) equals x·Wᵀ + b in PyTorch's layout", "[cuda]") {
  struct Case { std::int64_t m, n, k; bool bias; };
  for (const Case c : {Case{1, 1, 1, true}, Case{197, 1152, 384, true}, Case{50, 3072, 768, false}, Case{3, 5, 0, true}}) {
    const Tensor<float> x = random_tensor({c.m, c.k}, 9), w = random_tensor({c.n, c.k}, 10), b = random_tensor({c.n}, 11);
    std::vector<double> ref(static_cast<std::size_t>(c.m * c.n));
    for (std::int64_t i = 0; i < c.m; ++i)
      for (std::int64_t j = 0; j < c.n; ++j) {
        double s = c.bias ? b.data()[j] : 0.0;
        for (std::int64_t p = 0; p < c.k; ++p) s += double(x.data()[i * c.k + p]) * w.data()[j * c.k + p];
        ref[i * c.n + j] = s;
      }
    const Tensor<float, Cuda> bias = c.bias ? biqa::cuda::to_device(b) : Tensor<float, Cuda>();
    const Tensor<float> y =
        biqa::cuda::to_host(biqa::cuda::linear(biqa::cuda::to_device(x), biqa::cuda::to_device(w), bias));
    REQUIRE(y.shape() == Shape{c.m, c.n});
    CHECK(error_against(y, ref) <= 1e-4);
  }
  CHECK_THROWS_AS(biqa::cuda::linear(biqa::cuda::to_device(random_tensor({2, 3}, 12)),
                                     biqa::cuda::to_device(random_tensor({4, 5}, 13)), Tensor<float, Cuda>()),
                  biqa::Error);
}

namespace {
// softmax(q·kᵀ·scale + mask)·v in double from the float inputs (any layouts; mask undefined or of any
// shape that broadcasts to [B, H, N, M]), row-major [B, H, N, Dv]. Causal: key j > query i blocked.
std::vector<double> attention_reference(const Tensor<float>& q_in, const Tensor<float>& k_in, const Tensor<float>& v_in,
                                        const Tensor<float>& mask_in, bool causal, double scale) {
  const Tensor<float> q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const Tensor<float> mask = mask_in.defined() ? mask_in.contiguous() : Tensor<float>();
  const std::int64_t h = q.size(1), n = q.size(2), d = q.size(3), m = k.size(2), dv = v.size(3);
  std::int64_t ms[4] = {0, 0, 0, 0};  // the mask's strides as [B, H, N, M], 0 along broadcast axes
  if (mask.defined())
    for (int a = 3, t = mask.dim() - 1, stride = 1; t >= 0; --a, --t) {
      ms[a] = mask.size(t) == 1 ? 0 : stride;
      stride *= static_cast<int>(mask.size(t));
    }
  std::vector<double> ref(static_cast<std::size_t>(q.size(0) * h * n * dv)), p(static_cast<std::size_t>(m));
  for (std::int64_t bh = 0; bh < q.size(0) * h; ++bh)
    for (std::int64_t i = 0; i < n; ++i) {
      double mx = -INFINITY, sum = 0.0;
      for (std::int64_t j = 0; j < m; ++j) {
        double s = 0.0;
        for (std::int64_t e = 0; e < d; ++e)
          s += double(q.data()[(bh * n + i) * d + e]) * k.data()[(bh * m + j) * d + e];
        s *= scale;
        if (mask.defined()) s += mask.data()[bh / h * ms[0] + bh % h * ms[1] + i * ms[2] + j * ms[3]];
        p[j] = causal && j > i ? -INFINITY : s;
        mx = std::max(mx, p[j]);
      }
      for (std::int64_t j = 0; j < m; ++j) sum += p[j] = std::exp(p[j] - mx);
      for (std::int64_t e = 0; e < dv; ++e) {
        double o = 0.0;
        for (std::int64_t j = 0; j < m; ++j) o += p[j] / sum * v.data()[(bh * m + j) * dv + e];
        ref[(bh * n + i) * dv + e] = o;
      }
    }
  return ref;
}
}  // namespace

TEST_CASE("cuda: attention, plain and causal, equals softmax(q·kᵀ/√d)·v", "[cuda]") {
  struct Case { std::int64_t b, h, n, m, d, dv; bool causal; };
  for (const Case c : {Case{1, 2, 5, 7, 8, 4, false}, Case{2, 3, 197, 197, 64, 64, false}, Case{1, 4, 77, 77, 16, 16, true},
                       Case{1, 1, 3, 6, 4, 5, true}}) {
    const Tensor<float> q = random_tensor({c.b, c.h, c.n, c.d}, 20), k = random_tensor({c.b, c.h, c.m, c.d}, 21),
                        v = random_tensor({c.b, c.h, c.m, c.dv}, 22);
    const std::vector<double> ref = attention_reference(q, k, v, Tensor<float>(), c.causal, 1.0 / std::sqrt(double(c.d)));
    const Tensor<float> out = biqa::cuda::to_host(biqa::cuda::scaled_dot_product_attention(
        biqa::cuda::to_device(q), biqa::cuda::to_device(k), biqa::cuda::to_device(v), c.causal));
    REQUIRE(out.shape() == Shape{c.b, c.h, c.n, c.dv});
    CHECK(error_against(out, ref) <= 1e-4);
  }
}

TEST_CASE("cuda: fused and materialised attention agree with a double-precision reference and each other", "[cuda]") {
  namespace cuda = biqa::cuda;
  // mask: 0 none; 1 per head [1, H, N, M] (Swin's position bias) with some −inf; 2 per image
  // [B, 1, N, M]; 3 key padding [B, 1, 1, M] (the last keys −inf); 4 a transposed [M, N] view.
  // views: q, k, v as head-split views of [B, N, H, D] (k with its last axis strided) instead of
  // contiguous tensors. Key 0 is never blocked, so that no row is fully masked.
  struct Case { std::int64_t b, h, n, m, d, dv; bool causal; int mask; bool views; };
  for (const Case c : {Case{2, 3, 49, 49, 32, 32, false, 1, false}, Case{2, 3, 49, 49, 32, 32, false, 2, true},
                       Case{1, 4, 197, 197, 64, 64, false, 0, true}, Case{1, 2, 77, 77, 64, 64, true, 0, false},
                       Case{1, 2, 77, 77, 64, 64, true, 4, true}, Case{1, 2, 785, 785, 64, 64, false, 0, false},
                       Case{1, 1, 50, 785, 128, 128, false, 3, false}, Case{1, 2, 197, 197, 128, 32, true, 1, true},
                       Case{1, 2, 33, 65, 16, 80, false, 2, false}, Case{2, 1, 785, 49, 32, 64, false, 0, true}}) {
    std::mt19937 rng(static_cast<std::uint32_t>(c.n * 131 + c.m * 7 + c.d + c.mask));
    Tensor<float> q, k, v;
    Tensor<float, Cuda> dq, dk, dv;
    if (c.views) {
      const Tensor<float> qb = random_tensor({c.b, c.n, c.h, c.d}, rng), kb = random_tensor({c.b, c.h, c.d, c.m}, rng),
                          vb = random_tensor({c.b, c.m, c.h, c.dv}, rng);
      q = qb.permute({0, 2, 1, 3}), k = kb.transpose(2, 3), v = vb.permute({0, 2, 1, 3});
      dq = cuda::to_device(qb).permute({0, 2, 1, 3}), dk = cuda::to_device(kb).transpose(2, 3),
      dv = cuda::to_device(vb).permute({0, 2, 1, 3});
    } else {
      q = random_tensor({c.b, c.h, c.n, c.d}, rng), k = random_tensor({c.b, c.h, c.m, c.d}, rng),
      v = random_tensor({c.b, c.h, c.m, c.dv}, rng);
      dq = cuda::to_device(q), dk = cuda::to_device(k), dv = cuda::to_device(v);
    }
    Tensor<float> mask;
    Tensor<float, Cuda> dmask;
    if (c.mask == 1 || c.mask == 2) {
      mask = random_tensor(c.mask == 1 ? Shape{1, c.h, c.n, c.m} : Shape{c.b, 1, c.n, c.m}, rng);
      for (std::int64_t i = 0; i < mask.numel(); ++i)
        if (i % c.m != 0 && i % 5 == 1) mask.data()[i] = -INFINITY;
      dmask = cuda::to_device(mask);
    } else if (c.mask == 3) {
      mask = Tensor<float>::zeros({c.b, 1, 1, c.m});
      for (std::int64_t bi = 0; bi < c.b; ++bi)
        for (std::int64_t j = c.m - 40 - 30 * bi; j < c.m; ++j) mask.data()[bi * c.m + j] = -INFINITY;
      dmask = cuda::to_device(mask);
    } else if (c.mask == 4) {
      const Tensor<float> mt = random_tensor({c.m, c.n}, rng);
      mask = mt.transpose(0, 1);
      dmask = cuda::to_device(mt).transpose(0, 1);
    }
    const std::vector<double> ref =
        attention_reference(q, k, v, mask, c.causal, double(1.0f / std::sqrt(static_cast<float>(c.d))));
    const Tensor<float> fused = cuda::to_host(cuda::detail::attention_fused(dq, dk, dv, c.causal, std::nullopt, dmask));
    const Tensor<float> materialised =
        cuda::to_host(cuda::detail::attention_materialised(dq, dk, dv, c.causal, std::nullopt, dmask));
    const Tensor<float> chosen =
        cuda::to_host(cuda::scaled_dot_product_attention(dq, dk, dv, c.causal, std::nullopt, dmask));
    INFO("B " << c.b << ", H " << c.h << ", N " << c.n << ", M " << c.m << ", D " << c.d << ", Dv " << c.dv
              << (c.causal ? ", causal" : "") << ", mask " << c.mask << (c.views ? ", views" : ""));
    REQUIRE(fused.shape() == Shape{c.b, c.h, c.n, c.dv});
    CHECK(error_against(fused, ref) <= 1e-5);
    CHECK(error_against(materialised, ref) <= 1e-4);  // cuBLAS's products, as the other product tests
    CHECK(error_against(fused, materialised) <= 1e-4);
    CHECK(error_against(chosen, fused) == 0.0);  // head dims ≤ 128: the fused kernel (deterministic)
  }
  // A custom scale; and no keys at all: zeros, as in PyTorch (an empty softmax times an empty v).
  {
    const Tensor<float> q = random_tensor({1, 2, 30, 24}, 40), k = random_tensor({1, 2, 40, 24}, 41),
                        v = random_tensor({1, 2, 40, 8}, 42);
    const Tensor<float> out = cuda::to_host(cuda::detail::attention_fused(cuda::to_device(q), cuda::to_device(k),
                                                                           cuda::to_device(v), false, 0.7f));
    CHECK(error_against(out, attention_reference(q, k, v, Tensor<float>(), false, 0.7f)) <= 1e-5);
    const Tensor<float, Cuda> no_k = cuda::to_device(Tensor<float>({1, 2, 0, 24})),
                              no_v = cuda::to_device(Tensor<float>({1, 2, 0, 8}));
    const Tensor<float> none = cuda::to_host(cuda::scaled_dot_product_attention(cuda::to_device(q), no_k, no_v));
    REQUIRE(none.shape() == Shape{1, 2, 30, 8});
    for (std::int64_t i = 0; i < none.numel(); ++i) REQUIRE(none.data()[i] == 0.0f);
  }
  // A fully masked row is NaN on both paths, the other rows as before.
  {
    const Tensor<float> q = random_tensor({1, 1, 4, 16}, 43), k = random_tensor({1, 1, 70, 16}, 44),
                        v = random_tensor({1, 1, 70, 16}, 45);
    Tensor<float> mask = random_tensor({4, 70}, 46);
    for (std::int64_t j = 0; j < 70; ++j) mask.data()[2 * 70 + j] = -INFINITY;
    const Tensor<float, Cuda> dq = cuda::to_device(q), dk = cuda::to_device(k), dv = cuda::to_device(v),
                              dmask = cuda::to_device(mask);
    const Tensor<float> fused = cuda::to_host(cuda::detail::attention_fused(dq, dk, dv, false, std::nullopt, dmask));
    const Tensor<float> materialised =
        cuda::to_host(cuda::detail::attention_materialised(dq, dk, dv, false, std::nullopt, dmask));
    for (std::int64_t i = 0; i < 4; ++i)
      for (std::int64_t e = 0; e < 16; ++e) {
        CHECK(std::isnan(fused.data()[i * 16 + e]) == (i == 2));
        CHECK(std::isnan(materialised.data()[i * 16 + e]) == (i == 2));
      }
    CHECK(error_against(fused, materialised) <= 1e-4);  // NaNs at the same places, left out
  }
  // Head dims above 128: the materialised path, and the fused one refuses them.
  struct Dims { std::int64_t d, dv; };
  for (const Dims w : {Dims{129, 129}, Dims{64, 129}, Dims{129, 16}}) {
    const Tensor<float> q = random_tensor({1, 2, 40, w.d}, 47), k = random_tensor({1, 2, 50, w.d}, 48),
                        v = random_tensor({1, 2, 50, w.dv}, 49);
    const Tensor<float, Cuda> dq = cuda::to_device(q), dk = cuda::to_device(k), dv = cuda::to_device(v);
    const Tensor<float> out = cuda::to_host(cuda::scaled_dot_product_attention(dq, dk, dv, true));
    const double scale = 1.0f / std::sqrt(static_cast<float>(w.d));
    CHECK(error_against(out, attention_reference(q, k, v, Tensor<float>(), true, scale)) <= 1e-4);
    CHECK(error_against(out, cuda::to_host(cuda::detail::attention_materialised(dq, dk, dv, true))) == 0.0);
    CHECK_THROWS_AS(cuda::detail::attention_fused(dq, dk, dv, true), biqa::Error);
  }
  // A mask that does not broadcast to [B, H, N, M] is an error on the fused path too.
  CHECK_THROWS_AS(cuda::detail::attention_fused(cuda::to_device(random_tensor({1, 2, 5, 8}, 50)),
                                                cuda::to_device(random_tensor({1, 2, 6, 8}, 51)),
                                                cuda::to_device(random_tensor({1, 2, 6, 8}, 52)), false, std::nullopt,
                                                cuda::to_device(random_tensor({5, 5}, 53))),
                  biqa::Error);
}

TEST_CASE("cuda: conv2d with stride, padding, dilation and groups equals the direct sum", "[cuda]") {
  struct Case { std::int64_t n, c, h, w, o, k, s, p, d, g; bool bias; };
  for (const Case t : {Case{1, 3, 17, 20, 8, 7, 2, 3, 1, 1, true}, Case{2, 16, 14, 14, 32, 3, 1, 1, 1, 1, false},
                       Case{1, 8, 9, 11, 8, 3, 1, 2, 2, 8, true}, Case{1, 12, 10, 10, 6, 1, 1, 0, 1, 3, true},
                       // depthwise with two outputs per channel (the direct kernel); pointwise over a
                       // batch (one strided product), with and without bias
                       Case{2, 4, 9, 8, 8, 3, 2, 1, 1, 4, false}, Case{3, 16, 7, 9, 24, 1, 1, 0, 1, 1, true},
                       Case{2, 8, 5, 5, 8, 1, 1, 0, 1, 1, false}}) {
    const Tensor<float> x = random_tensor({t.n, t.c, t.h, t.w}, 30), wt = random_tensor({t.o, t.c / t.g, t.k, t.k}, 31),
                        b = random_tensor({t.o}, 32);
    const std::int64_t oh = (t.h + 2 * t.p - t.d * (t.k - 1) - 1) / t.s + 1, ow = (t.w + 2 * t.p - t.d * (t.k - 1) - 1) / t.s + 1;
    const std::int64_t cg = t.c / t.g, og = t.o / t.g;
    std::vector<double> ref(static_cast<std::size_t>(t.n * t.o * oh * ow));
    for (std::int64_t n = 0; n < t.n; ++n)
      for (std::int64_t o = 0; o < t.o; ++o)
        for (std::int64_t y = 0; y < oh; ++y)
          for (std::int64_t xx = 0; xx < ow; ++xx) {
            double s = t.bias ? b.data()[o] : 0.0;
            for (std::int64_t ci = 0; ci < cg; ++ci)
              for (std::int64_t ky = 0; ky < t.k; ++ky)
                for (std::int64_t kx = 0; kx < t.k; ++kx) {
                  const std::int64_t iy = y * t.s - t.p + ky * t.d, ix = xx * t.s - t.p + kx * t.d;
                  if (iy < 0 || iy >= t.h || ix < 0 || ix >= t.w) continue;
                  s += double(x.data()[((n * t.c + (o / og) * cg + ci) * t.h + iy) * t.w + ix]) *
                       wt.data()[((o * cg + ci) * t.k + ky) * t.k + kx];
                }
            ref[((n * t.o + o) * oh + y) * ow + xx] = s;
          }
    biqa::cuda::Conv2dOptions opt;
    opt.stride = {t.s, t.s};
    opt.padding = {t.p, t.p};
    opt.dilation = {t.d, t.d};
    opt.groups = t.g;
    const Tensor<float, Cuda> bias = t.bias ? biqa::cuda::to_device(b) : Tensor<float, Cuda>();
    const Tensor<float> out =
        biqa::cuda::to_host(biqa::cuda::conv2d(biqa::cuda::to_device(x), biqa::cuda::to_device(wt), bias, opt));
    REQUIRE(out.shape() == Shape{t.n, t.o, oh, ow});
    CHECK(error_against(out, ref) <= 1e-4);
  }
}

TEST_CASE("cuda: without a usable device, device memory is a biqa::Error with CUDA's message", "[no-device]") {
  if (biqa::cuda::device_count() > 0) {
    SUCCEED("a device is present: nothing to check here");
    return;
  }
  try {
    Tensor<float, Cuda> t({16});
    FAIL("allocating device memory without a device did not throw");
  } catch (const biqa::Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("CUDA: cudaMalloc failed: ") != std::string::npos);
    CHECK(e.code() == biqa::ErrorCode::unsupported);
  }
  CHECK_THROWS_AS(biqa::cuda::to_device(random_tensor({3}, 14)), biqa::Error);
  CHECK_FALSE(biqa::cuda::unavailable_reason().empty());
}
