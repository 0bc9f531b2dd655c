// Whole backbones, batch 1 and 8, 1 and 2 threads, on weight files in $BIQA_BENCH_WEIGHTS
// (default ./bench-weights): resnet50.safetensors (torchvision), deit3_small.safetensors,
// vit_base_patch8.safetensors, swin_tiny.safetensors (timm), clip_b32.safetensors (open_clip
// ViT-B-32; BM_ClipImage runs the image tower, BM_ClipText the text tower on 77-token inputs),
// depth_anything_vits / _vitl.safetensors (BM_DepthAnythingS / L, 518 × 518). `benchmarks/compare` writes the first five with
// random weights and runs the same networks in PyTorch and onnxruntime; a missing file skips its
// benchmarks with a message. Reported: time per batch and the "ms/image" counter.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "model_zoo.hpp"

namespace {

using biqa::Tensor;
using bench::Loaded;
using bench::load;
using bench::random_images;
using bench::weight_path;

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
  for (auto _ : state) benchmark::DoNotOptimize(it->second.forward(x, ctx).data());
  state.counters["ms/image"] = benchmark::Counter(
      1e-3 * double(batch), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
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
