// The hot ops at the shapes the models run them: GEMM (linear layers of ViT-S/16, ViT-B/8, CLIP
// ViT-B/32), the convolutions of ResNet-50, attention at 197 and 784 tokens, LayerNorm, softmax.
// Every benchmark takes threads as its last argument and reports GFLOP/s, so the numbers compare
// directly with the GEMM peak measured by BM_Linear at the square shape.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/ops/cpu.hpp"

namespace {

using biqa::Shape;
using biqa::Tensor;

Tensor<float> random_tensor(const Shape& shape, std::uint32_t seed) {
  Tensor<float> t(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  float* p = t.data();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
  return t;
}

biqa::Context context_for(const benchmark::State& state, int threads_arg) {
  biqa::Context ctx;
  ctx.threads = static_cast<int>(state.range(threads_arg));
  return ctx;
}

void set_flops(benchmark::State& state, double flops) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// y[M, N] = x[M, K] · W[N, K]ᵀ + b: args M, N, K, threads.
void BM_Linear(benchmark::State& state) {
  const std::int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  biqa::Context ctx = context_for(state, 3);
  const Tensor<float> x = random_tensor({m, k}, 1), w = random_tensor({n, k}, 2), b = random_tensor({n}, 3);
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::linear(x, w, b, ctx).data());
  set_flops(state, 2.0 * double(m) * double(n) * double(k));
}

// The same product with the weight packed once beforehand, as nn::Linear holds it.
void BM_LinearPacked(benchmark::State& state) {
  const std::int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  biqa::Context ctx = context_for(state, 3);
  const Tensor<float> x = random_tensor({m, k}, 1), b = random_tensor({n}, 3);
  const biqa::ops::PackedLinearWeight w(random_tensor({n, k}, 2));
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::linear(x, w, b, ctx).data());
  set_flops(state, 2.0 * double(m) * double(n) * double(k));
}

void linear_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "threads"});
  const std::int64_t shapes[][3] = {
      {1024, 1024, 1024},  // square: the GEMM peak reference
      {197, 1152, 384},    // ViT-S/16 qkv
      {197, 1536, 384},    // ViT-S/16 fc1
      {197, 384, 1536},    // ViT-S/16 fc2
      {784, 3072, 768},    // ViT-B/8 fc1 (DSMix, no class token)
      {50, 3072, 768},     // CLIP ViT-B/32 fc1
      {77, 2048, 512},     // CLIP text fc1
      {1, 1000, 2048},     // ResNet-50 classifier, batch 1
      {4, 1000, 2048},     // the same, 4 rows (the largest taken as dot products)
      {8, 1000, 2048},     // the same, 8 rows (the GEMM kernel)
  };
  for (const auto& s : shapes)
    for (int t : {1, 2}) b->Args({s[0], s[1], s[2], t});
}
BENCHMARK(BM_Linear)->Apply(linear_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LinearPacked)->Apply(linear_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();

// ResNet-50 convolutions at batch 1 (224 input): args Cin, Cout, H (= W), kernel, stride, threads.
void BM_Conv2d(benchmark::State& state) {
  const std::int64_t cin = state.range(0), cout = state.range(1), h = state.range(2), k = state.range(3),
                     stride = state.range(4);
  biqa::Context ctx = context_for(state, 5);
  const Tensor<float> x = random_tensor({1, cin, h, h}, 1), w = random_tensor({cout, cin, k, k}, 2),
                      b = random_tensor({cout}, 3);
  biqa::ops::Conv2dOptions opt;
  opt.stride = {stride, stride};
  opt.padding = {k / 2, k / 2};
  const std::int64_t out = biqa::ops::conv_output_size(h, k, stride, k / 2, 1);
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::conv2d(x, w, b, ctx, opt).data());
  set_flops(state, 2.0 * double(cout) * double(out * out) * double(cin * k * k));
}

void conv_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"Cin", "Cout", "H", "k", "s", "threads"});
  const std::int64_t shapes[][5] = {
      {3, 64, 224, 7, 2},     // stem
      {64, 64, 56, 3, 1},     // layer1 3x3
      {256, 64, 56, 1, 1},    // layer1 1x1 reduce
      {128, 128, 56, 3, 2},   // layer2 first 3x3 (stride 2)
      {256, 256, 14, 3, 1},   // layer3 3x3
      {1024, 256, 14, 1, 1},  // layer3 1x1 reduce
      {512, 512, 7, 3, 1},    // layer4 3x3
  };
  for (const auto& s : shapes)
    for (int t : {1, 2}) b->Args({s[0], s[1], s[2], s[3], s[4], t});
}
BENCHMARK(BM_Conv2d)->Apply(conv_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();

// softmax(q·kᵀ/√d)·v for [1, heads, tokens, 64]: args tokens, heads, threads.
void BM_Attention(benchmark::State& state) {
  const std::int64_t n = state.range(0), heads = state.range(1), d = 64;
  biqa::Context ctx = context_for(state, 2);
  const Tensor<float> q = random_tensor({1, heads, n, d}, 1), k = random_tensor({1, heads, n, d}, 2),
                      v = random_tensor({1, heads, n, d}, 3);
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::scaled_dot_product_attention(q, k, v, ctx).data());
  set_flops(state, 4.0 * double(heads) * double(n) * double(n) * double(d));
}
BENCHMARK(BM_Attention)
    ->ArgNames({"tokens", "heads", "threads"})
    ->Args({197, 6, 1})->Args({197, 6, 2})     // ViT-S/16
    ->Args({785, 12, 1})->Args({785, 12, 2})   // ViT-B/8 with a class token
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// Swin-T's window attention: [windows, heads, 49, 32] with its additive bias and shift mask
// [windows, heads, 49, 49] (the few-keys path of scaled_dot_product_attention): args windows,
// heads, threads. Swin-T at 224 runs 64 × 3, 16 × 6, 4 × 12 and 1 × 24 (2, 2, 6 and 2 blocks).
void BM_WindowAttention(benchmark::State& state) {
  const std::int64_t windows = state.range(0), heads = state.range(1), n = 49, d = 32;
  biqa::Context ctx = context_for(state, 2);
  const Tensor<float> q = random_tensor({windows, heads, n, d}, 1), k = random_tensor({windows, heads, n, d}, 2),
                      v = random_tensor({windows, heads, n, d}, 3);
  biqa::ops::AttentionOptions opt;
  opt.mask = random_tensor({windows, heads, n, n}, 4);
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::scaled_dot_product_attention(q, k, v, ctx, opt).data());
  set_flops(state, 4.0 * double(windows * heads) * double(n) * double(n) * double(d));
}
BENCHMARK(BM_WindowAttention)
    ->ArgNames({"windows", "heads", "threads"})
    ->Args({64, 3, 1})->Args({64, 3, 2})->Args({4, 12, 1})->Args({4, 12, 2})
    ->Unit(benchmark::kMicrosecond)->UseRealTime();

// LayerNorm over the last axis of [tokens, dim]: args tokens, dim, threads.
void BM_LayerNorm(benchmark::State& state) {
  const std::int64_t n = state.range(0), c = state.range(1);
  biqa::Context ctx = context_for(state, 2);
  const Tensor<float> x = random_tensor({n, c}, 1), w = random_tensor({c}, 2), b = random_tensor({c}, 3);
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::layer_norm(x, w, b, ctx).data());
  state.SetBytesProcessed(state.iterations() * n * c * 2 * std::int64_t(sizeof(float)));
}
BENCHMARK(BM_LayerNorm)
    ->ArgNames({"tokens", "dim", "threads"})
    ->Args({197, 384, 1})->Args({197, 384, 2})->Args({3136, 96, 1})->Args({3136, 96, 2})
    ->Unit(benchmark::kMicrosecond)->UseRealTime();

// Softmax over the last axis of [heads, tokens, tokens]: args heads, tokens, threads.
void BM_Softmax(benchmark::State& state) {
  const std::int64_t h = state.range(0), n = state.range(1);
  biqa::Context ctx = context_for(state, 2);
  const Tensor<float> x = random_tensor({h, n, n}, 1);
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::softmax(x, ctx).data());
  state.SetBytesProcessed(state.iterations() * h * n * n * 2 * std::int64_t(sizeof(float)));
}
BENCHMARK(BM_Softmax)
    ->ArgNames({"heads", "tokens", "threads"})
    ->Args({6, 197, 1})->Args({6, 197, 2})->Args({12, 785, 1})->Args({12, 785, 2})
    ->Unit(benchmark::kMicrosecond)->UseRealTime();

// GELU (erf) over [tokens, 4·dim], the MLP hidden of a ViT block: args tokens, hidden, threads.
void BM_Gelu(benchmark::State& state) {
  const std::int64_t n = state.range(0), c = state.range(1);
  biqa::Context ctx = context_for(state, 2);
  const Tensor<float> x = random_tensor({n, c}, 1);
  for (auto _ : state) benchmark::DoNotOptimize(biqa::ops::gelu(x, ctx).data());
  state.SetBytesProcessed(state.iterations() * n * c * 2 * std::int64_t(sizeof(float)));
}
BENCHMARK(BM_Gelu)
    ->ArgNames({"tokens", "hidden", "threads"})
    ->Args({197, 1536, 1})->Args({197, 1536, 2})->Args({785, 3072, 1})->Args({785, 3072, 2})
    ->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
