// The CUDA ops against double-precision references computed here on the host, and the device
// memory and error paths. Tolerances: 1e-5 relative to the largest reference value for the
// elementwise and row ops, 1e-4 for the products (cuBLAS sums in another order than the CPU).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
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

TEST_CASE("cuda: attention, plain and causal, equals softmax(q·kᵀ/√d)·v", "[cuda]") {
  struct Case { std::int64_t b, h, n, m, d, dv; bool causal; };
  for (const Case c : {Case{1, 2, 5, 7, 8, 4, false}, Case{2, 3, 197, 197, 64, 64, false}, Case{1, 4, 77, 77, 16, 16, true},
                       Case{1, 1, 3, 6, 4, 5, true}}) {
    const Tensor<float> q = random_tensor({c.b, c.h, c.n, c.d}, 20), k = random_tensor({c.b, c.h, c.m, c.d}, 21),
                        v = random_tensor({c.b, c.h, c.m, c.dv}, 22);
    std::vector<double> ref(static_cast<std::size_t>(c.b * c.h * c.n * c.dv));
    std::vector<double> p(static_cast<std::size_t>(c.m));
    for (std::int64_t bh = 0; bh < c.b * c.h; ++bh)
      for (std::int64_t i = 0; i < c.n; ++i) {
        double mx = -INFINITY, sum = 0.0;
        for (std::int64_t j = 0; j < c.m; ++j) {
          double s = 0.0;
          for (std::int64_t e = 0; e < c.d; ++e) s += double(q.data()[(bh * c.n + i) * c.d + e]) * k.data()[(bh * c.m + j) * c.d + e];
          p[j] = c.causal && j > i ? -INFINITY : s / std::sqrt(double(c.d));
          mx = std::max(mx, p[j]);
        }
        for (std::int64_t j = 0; j < c.m; ++j) sum += p[j] = std::exp(p[j] - mx);
        for (std::int64_t e = 0; e < c.dv; ++e) {
          double o = 0.0;
          for (std::int64_t j = 0; j < c.m; ++j) o += p[j] / sum * v.data()[(bh * c.m + j) * c.dv + e];
          ref[(bh * c.n + i) * c.dv + e] = o;
        }
      }
    const Tensor<float> out = biqa::cuda::to_host(biqa::cuda::scaled_dot_product_attention(
        biqa::cuda::to_device(q), biqa::cuda::to_device(k), biqa::cuda::to_device(v), c.causal));
    REQUIRE(out.shape() == Shape{c.b, c.h, c.n, c.dv});
    CHECK(error_against(out, ref) <= 1e-4);
  }
}

TEST_CASE("cuda: conv2d with stride, padding, dilation and groups equals the direct sum", "[cuda]") {
  struct Case { std::int64_t n, c, h, w, o, k, s, p, d, g; bool bias; };
  for (const Case t : {Case{1, 3, 17, 20, 8, 7, 2, 3, 1, 1, true}, Case{2, 16, 14, 14, 32, 3, 1, 1, 1, 1, false},
                       Case{1, 8, 9, 11, 8, 3, 1, 2, 2, 8, true}, Case{1, 12, 10, 10, 6, 1, 1, 0, 1, 3, true}}) {
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
