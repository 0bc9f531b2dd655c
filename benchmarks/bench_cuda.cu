// The backbones of bench_models on the GPU (built with -DBIQA_WITH_CUDA=ON and
// -DBIQA_BUILD_BENCHMARKS=ON): batch 1 and 64, the same weight files ($BIQA_BENCH_WEIGHTS), each
// iteration a forward of a device batch followed by a wait for the device. The first forward,
// which copies the weights to the device, is left out. `benchmarks/compare --device cuda` runs it
// against PyTorch on the same GPU. BIQA_BENCH_PRECISION=tf32|fp16|bf16 sets the products'
// precision (Context::matmul_precision; fp32 when unset). BM_CudaAttention times the two
// attention paths on the models' shapes.

#include "biqa/ops/cuda/dispatch.cuh"  // first: the layers' ops:: calls must see the device overloads

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "model_zoo.hpp"

namespace {

using biqa::Cuda;
using biqa::Tensor;

void run_model(benchmark::State& state, const std::string& name) {
  if (const std::string why = biqa::cuda::unavailable_reason(); !why.empty()) {
    state.SkipWithError(("no usable CUDA device: " + why).c_str());
    return;
  }
  if (!std::filesystem::exists(bench::weight_path(name))) {
    state.SkipWithError(("no " + bench::weight_path(name) + " (run benchmarks/compare, or set BIQA_BENCH_WEIGHTS)").c_str());
    return;
  }
  static std::map<std::string, bench::BasicLoaded<Cuda>> cache;  // load each model once per process
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, bench::load<Cuda>(name)).first;
  const std::int64_t batch = state.range(0);
  biqa::Context ctx;
  if (const char* precision = std::getenv("BIQA_BENCH_PRECISION"); precision && *precision)
    ctx.matmul_precision = biqa::parse_matmul_precision(precision);
  const Tensor<float, Cuda> x = biqa::to_device<Cuda>(bench::random_images(batch, bench::input_size(name)));
  it->second.forward(x, ctx);  // warm-up: the weights' device copies, cuBLAS's handle
  biqa::cuda::synchronize();
  for (auto _ : state) {
    benchmark::DoNotOptimize(it->second.forward(x, ctx).data());
    biqa::cuda::synchronize();
  }
  state.counters["ms/image"] = benchmark::Counter(
      1e-3 * double(batch), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void model_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch"});
  for (int batch : {1, 64}) b->Args({batch});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
void depth_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch"});
  b->Args({1});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

void BM_ResNet50(benchmark::State& s) { run_model(s, "resnet50"); }
void BM_DeiT3Small(benchmark::State& s) { run_model(s, "deit3_small"); }
void BM_ViTBase8(benchmark::State& s) { run_model(s, "vit_base_patch8"); }
void BM_SwinTiny(benchmark::State& s) { run_model(s, "swin_tiny"); }
void BM_ClipImage(benchmark::State& s) { run_model(s, "clip_b32"); }
void BM_ClipText(benchmark::State& s) { run_model(s, "clip_b32_text"); }
void BM_DepthAnythingS(benchmark::State& s) { run_model(s, "depth_anything_vits"); }
void BM_DepthAnythingL(benchmark::State& s) { run_model(s, "depth_anything_vitl"); }
BENCHMARK(BM_ResNet50)->Apply(model_args);
BENCHMARK(BM_DeiT3Small)->Apply(model_args);
BENCHMARK(BM_ViTBase8)->Apply(model_args);
BENCHMARK(BM_SwinTiny)->Apply(model_args);
BENCHMARK(BM_ClipImage)->Apply(model_args);
BENCHMARK(BM_ClipText)->Apply(model_args);
BENCHMARK(BM_DepthAnythingS)->Apply(depth_args);
BENCHMARK(BM_DepthAnythingL)->Apply(depth_args);

// The two attention paths on the models' shapes, so that a GPU run can set the rule that picks
// one (cuda::scaled_dot_product_attention: fused for head dims up to 128). Args: batch·heads,
// tokens, head dim; 0 the fused kernel, 1 the materialised scores.
void BM_CudaAttention(benchmark::State& state) {
  if (const std::string why = biqa::cuda::unavailable_reason(); !why.empty()) {
    state.SkipWithError(("no usable CUDA device: " + why).c_str());
    return;
  }
  const std::int64_t bh = state.range(0), n = state.range(1), d = state.range(2);
  const bool fused = state.range(3) == 0;
  const auto device_random = [&](std::uint32_t seed) {
    return biqa::to_device<Cuda>(bench::random_tensor({1, bh, n, d}, seed));
  };
  const Tensor<float, Cuda> q = device_random(1), k = device_random(2), v = device_random(3);
  const auto attend = [&] {
    return fused ? biqa::cuda::detail::attention_fused(q, k, v) : biqa::cuda::detail::attention_materialised(q, k, v);
  };
  attend();
  biqa::cuda::synchronize();
  for (auto _ : state) {
    benchmark::DoNotOptimize(attend().data());
    biqa::cuda::synchronize();
  }
  state.SetLabel(fused ? "fused" : "materialised");
}
void attention_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bh", "tokens", "dim", "materialised"});
  struct Shape { std::int64_t heads, tokens, dim; };
  // Swin-T stage 1 windows (64 per 224² image, 3 heads), DeiT-S, ViT-B/8, CLIP ViT-B/32 image and text.
  for (const Shape s : {Shape{64 * 3, 49, 32}, Shape{6, 197, 64}, Shape{12, 785, 64}, Shape{12, 50, 64}, Shape{8, 77, 64}})
    for (std::int64_t batch : {1, 64})
      for (int path : {0, 1}) b->Args({batch * s.heads, s.tokens, s.dim, path});
  b->Unit(benchmark::kMicrosecond)->UseRealTime();
}
BENCHMARK(BM_CudaAttention)->Apply(attention_args);

}  // namespace
