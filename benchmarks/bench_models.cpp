// Whole backbones, batch 1 and 8, 1 and 2 threads, on weight files in $BIQA_BENCH_WEIGHTS
// (default ./bench-weights): resnet50.safetensors (torchvision), deit3_small.safetensors,
// vit_base_patch8.safetensors, swin_tiny.safetensors (timm), clip_b32.safetensors (open_clip
// ViT-B-32; BM_ClipImage runs the image tower, BM_ClipText the text tower on 77-token inputs),
// depth_anything_vits / _vitl.safetensors (BM_DepthAnythingS / L, 518 × 518). `benchmarks/compare` writes the first five with
// random weights and runs the same networks in PyTorch and onnxruntime; a missing file skips its
// benchmarks with a message. Reported: time per batch and the "ms/image" counter; with
// $BIQA_BENCH_WEIGHTS/gmacs.json (written by benchmarks/compare: multiply-accumulates per image of
// each network's convolutions and linear layers, counted by PyTorch hooks, attention products not
// included), also "GFLOP/s" and "GEMM peak", that rate as a fraction of the best of 25
// 1024 × 1024 × 1024 products through ops::linear with a packed weight on the same threads.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/ops/cpu.hpp"
#include "model_zoo.hpp"

namespace {

using biqa::Tensor;
using bench::Loaded;
using bench::load;
using bench::random_images;
using bench::weight_path;

// Multiply-accumulates per image (gmacs.json beside the weights), 0 when not known.
double gmacs_per_image(const std::string& name) {
  static const std::map<std::string, double> table = [] {
    std::map<std::string, double> t;
    const std::filesystem::path path = bench::weights_dir() / "gmacs.json";
    if (!std::filesystem::is_regular_file(path)) return t;
    const biqa::json::Value parsed = biqa::json::parse_file(path.string());
    for (const auto& [model, v] : parsed.as_object()) t[model] = v.as_number();
    return t;
  }();
  const auto it = table.find(name);
  return it == table.end() ? 0.0 : it->second;
}

// GFLOP/s of a 1024³ product through ops::linear with a packed weight, best of 25, per thread count
// (best of many: the VM has slow phases of a second or so, which one product can fall into).
double gemm_peak_gflops(int threads) {
  static std::map<int, double> peaks;
  if (auto it = peaks.find(threads); it != peaks.end()) return it->second;
  const std::int64_t n = 1024;
  Tensor<float> x({n, n}), w({n, n});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < n * n; ++i) x.data()[i] = u(rng), w.data()[i] = u(rng);
  const biqa::ops::PackedLinearWeight packed(w);
  biqa::Context ctx(threads);
  double best = 1e30;
  for (int i = 0; i < 26; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(biqa::ops::linear(x, packed, Tensor<float>(), ctx).data());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) best = std::min(best, s);  // the first call starts the thread pool
  }
  return peaks[threads] = 2.0 * double(n) * double(n) * double(n) / best * 1e-9;
}

void run_model(benchmark::State& state, const std::string& name) {
  if (!std::filesystem::exists(weight_path(name))) {
    state.SkipWithError(("no " + weight_path(name) + " (run benchmarks/compare, or set BIQA_BENCH_WEIGHTS)").c_str());
    return;
  }
  static std::map<std::string, Loaded> cache;  // load each model once per process
  auto it = cache.find(name);
  if (it == cache.end()) it = cache.emplace(name, load(name)).first;
  const std::int64_t batch = state.range(0);
  biqa::Context ctx;
  ctx.threads = static_cast<int>(state.range(1));
  ctx.weight_packing = bench::weight_packing_requested();
  const Tensor<float> x = random_images(batch, bench::input_size(name));
  it->second.forward(x, ctx);  // warm-up: first-touch of the weights, thread pool start
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) benchmark::DoNotOptimize(it->second.forward(x, ctx).data());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  state.counters["ms/image"] = benchmark::Counter(
      1e-3 * double(batch), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  if (const double gmacs = gmacs_per_image(name); gmacs > 0.0 && seconds > 0.0) {
    const double gflops = 2.0 * gmacs * double(batch) * double(state.iterations()) / seconds;
    state.counters["GFLOP/s"] = gflops;
    state.counters["GEMM peak"] = gflops / gemm_peak_gflops(ctx.threads);
  }
}

void model_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"});
  for (int batch : {1, 8})
    for (int t : {1, 2}) b->Args({batch, t});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
}

void BM_ResNet50(benchmark::State& s) { run_model(s, "resnet50"); }
void BM_DeiT3Small(benchmark::State& s) { run_model(s, "deit3_small"); }
void BM_ViTBase8(benchmark::State& s) { run_model(s, "vit_base_patch8"); }
void BM_SwinTiny(benchmark::State& s) { run_model(s, "swin_tiny"); }
BENCHMARK(BM_ResNet50)->Apply(model_args);
BENCHMARK(BM_DeiT3Small)->Apply(model_args);
BENCHMARK(BM_ViTBase8)->Apply(model_args);
BENCHMARK(BM_SwinTiny)->Apply(model_args);
// DGIQA's depth network at its 518 × 518 input (1,370 tokens), batch 1 only: weights
// depth_anything_vits.safetensors / depth_anything_vitl.safetensors, the authors' DPT_DINOv2
// state_dict (random ones as tools/reference/check_full_size_depth.py builds them; `biqa convert`
// turns a released .pth into safetensors).
void depth_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "threads"});
  for (int t : {1, 2}) b->Args({1, t});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MeasureProcessCPUTime();
}
void BM_DepthAnythingS(benchmark::State& s) { run_model(s, "depth_anything_vits"); }
void BM_DepthAnythingL(benchmark::State& s) { run_model(s, "depth_anything_vitl"); }
BENCHMARK(BM_DepthAnythingS)->Apply(depth_args);
BENCHMARK(BM_DepthAnythingL)->Apply(depth_args);

void BM_ClipImage(benchmark::State& s) { run_model(s, "clip_b32"); }
void BM_ClipText(benchmark::State& s) { run_model(s, "clip_b32_text"); }
BENCHMARK(BM_ClipImage)->Apply(model_args);
BENCHMARK(BM_ClipText)->Apply(model_args);

}  // namespace
