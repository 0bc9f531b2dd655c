// Whole backbones, batch 1 and 8, 1 and 2 threads, on weight files in $BIQA_BENCH_WEIGHTS
// (default ./bench-weights): resnet50.safetensors (torchvision), deit3_small.safetensors,
// vit_base_patch8.safetensors, swin_tiny.safetensors (timm), clip_b32.safetensors (open_clip
// ViT-B-32; BM_ClipImage runs the image tower, BM_ClipText the text tower on 77-token inputs). `benchmarks/compare` writes them with
// random weights and runs the same networks in PyTorch and onnxruntime; a missing file skips its
// benchmarks with a message. Reported: time per batch and the "ms/image" counter.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/resnet.hpp"
#include "biqa/nn/swin_transformer.hpp"
#include "biqa/nn/vision_transformer.hpp"

namespace {

using biqa::Tensor;

std::string weight_path(std::string name) {
  if (name == "clip_b32_text") name = "clip_b32";
  const char* dir = std::getenv("BIQA_BENCH_WEIGHTS");
  return (std::filesystem::path(dir ? dir : "bench-weights") / (name + ".safetensors")).string();
}

Tensor<float> random_images(std::int64_t batch, std::int64_t size) {
  Tensor<float> t({batch, 3, size, size});
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = n(rng);
  return t;
}

// A loaded network as a forward function; the weight store stays alive (zero-copy tensors).
struct Loaded {
  std::shared_ptr<biqa::io::WeightStore> store;
  std::function<Tensor<float>(const Tensor<float>&, biqa::Context&)> forward;
};

Loaded load(const std::string& name) {
  Loaded l;
  l.store = std::make_shared<biqa::io::WeightStore>(biqa::io::load_weights(weight_path(name)));
  const auto root = l.store->root();
  if (name == "resnet50") {
    auto net = std::make_shared<biqa::nn::ResNet>(biqa::nn::ResNet::detect(biqa::nn::ResNet::Config::for_depth(50), root));
    net->load(root);
    l.forward = [net](const Tensor<float>& x, biqa::Context& ctx) { return net->forward(x, ctx); };
  } else if (name == "swin_tiny") {
    auto net = std::make_shared<biqa::nn::SwinTransformer>(
        biqa::nn::SwinTransformer::Config::from_weights(root, biqa::nn::SwinTransformer::Config(), true));
    net->load(root);
    l.forward = [net](const Tensor<float>& x, biqa::Context& ctx) {
      auto out = net->forward(x, ctx);
      return out.logits.defined() ? out.logits : out.stages.back();
    };
  } else if (name == "clip_b32" || name == "clip_b32_text") {
    auto net = std::make_shared<biqa::nn::Clip>(biqa::nn::Clip::Config::from_weights(root, biqa::nn::Clip::Config::vit_b_32()));
    net->load(root);
    if (name == "clip_b32") {
      l.forward = [net](const Tensor<float>& x, biqa::Context& ctx) { return net->encode_image(x, ctx); };
    } else {
      // The batch's token ids: start, 40 ordinary tokens, end, then padding (as a typical prompt).
      l.forward = [net](const Tensor<float>& x, biqa::Context& ctx) {
        Tensor<std::int64_t> ids = Tensor<std::int64_t>::zeros({x.size(0), 77});
        for (std::int64_t b = 0; b < x.size(0); ++b) {
          ids.data()[b * 77] = 49406;
          for (int t = 1; t <= 40; ++t) ids.data()[b * 77 + t] = 320 + t * 7 + b;
          ids.data()[b * 77 + 41] = 49407;
        }
        return net->encode_text(ids, ctx);
      };
    }
  } else {  // timm VisionTransformer variants
    auto net = std::make_shared<biqa::nn::VisionTransformer>(biqa::nn::VisionTransformer::Config::from_weights(root));
    net->load(root);
    l.forward = [net](const Tensor<float>& x, biqa::Context& ctx) { return net->forward(x, ctx); };
  }
  l.store->finish();
  return l;
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
  const Tensor<float> x = random_images(batch, 224);
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
void BM_ClipImage(benchmark::State& s) { run_model(s, "clip_b32"); }
void BM_ClipText(benchmark::State& s) { run_model(s, "clip_b32_text"); }
BENCHMARK(BM_ClipImage)->Apply(model_args);
BENCHMARK(BM_ClipText)->Apply(model_args);

}  // namespace
