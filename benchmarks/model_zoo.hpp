#pragma once
// The benchmarked backbones, loaded from weight files in $BIQA_BENCH_WEIGHTS (default
// ./bench-weights): shared by bench_models (speed), bench_memory (load time, peak memory) and
// bench_cuda (speed on the GPU: load<Cuda>, with ops/cuda/dispatch.cuh included first).

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/depth_anything.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/resnet.hpp"
#include "biqa/nn/swin_transformer.hpp"
#include "biqa/nn/vision_transformer.hpp"

namespace bench {

using biqa::Tensor;

// The benchmarks' weights directory: $BIQA_BENCH_WEIGHTS, default ./bench-weights.
inline std::filesystem::path weights_dir() {
  const char* dir = std::getenv("BIQA_BENCH_WEIGHTS");
  return dir && *dir ? std::filesystem::path(dir) : std::filesystem::path("bench-weights");
}

// BIQA_BENCH_DTYPE=f16 or bf16 reads <name>.f16.safetensors (made with `biqa convert --dtype f16`).
inline std::string weight_path(std::string name) {
  if (name == "clip_b32_text") name = "clip_b32";
  const char* dtype = std::getenv("BIQA_BENCH_DTYPE");
  const std::string suffix = dtype && *dtype && std::string(dtype) != "f32" ? "." + std::string(dtype) : "";
  return (weights_dir() / (name + suffix + ".safetensors")).string();
}

// BIQA_BENCH_LOW_MEMORY=1: 16-bit weight matrices stay 16-bit (io::WeightStoreOptions::keep_half).
inline bool low_memory_requested() {
  const char* v = std::getenv("BIQA_BENCH_LOW_MEMORY");
  return v && std::string(v) == "1";
}

// BIQA_BENCH_WEIGHT_PACKING=auto|always|never: Context::weight_packing (default auto, as biqa's).
inline biqa::WeightPacking weight_packing_requested() {
  const char* v = std::getenv("BIQA_BENCH_WEIGHT_PACKING");
  return v && *v ? biqa::parse_weight_packing(v) : biqa::WeightPacking::automatic;
}

// The square input side a network is benchmarked at: 518 for Depth Anything (DGIQA's depth
// network, 37 × 37 patches of 14), 224 for the rest.
inline std::int64_t input_size(const std::string& name) { return name.rfind("depth_anything", 0) == 0 ? 518 : 224; }

// Standard normal values, reproducible from the seed.
inline Tensor<float> random_tensor(const biqa::Shape& shape, std::uint32_t seed) {
  Tensor<float> t(shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = n(rng);
  return t;
}

inline Tensor<float> random_images(std::int64_t batch, std::int64_t size) { return random_tensor({batch, 3, size, size}, 7); }

// A loaded network as a forward function on `Device`; the weight store stays alive (zero-copy
// tensors).
template <typename Device = biqa::Cpu>
struct BasicLoaded {
  using Input = Tensor<float, Device>;
  std::shared_ptr<biqa::io::WeightStore> store;
  std::function<Input(const Input&, biqa::Context&)> forward;
};
using Loaded = BasicLoaded<biqa::Cpu>;

template <typename Device = biqa::Cpu>
BasicLoaded<Device> load(const std::string& name) {
  using Input = Tensor<float, Device>;
  BasicLoaded<Device> l;
  biqa::io::WeightStoreOptions options;
  options.keep_half = low_memory_requested();
  l.store = std::make_shared<biqa::io::WeightStore>(biqa::io::load_weights(weight_path(name)), options);
  const auto root = l.store->root();
  if (name == "resnet50") {
    auto net = std::make_shared<biqa::nn::ResNet>(biqa::nn::ResNet::detect(biqa::nn::ResNet::Config::for_depth(50), root));
    net->load(root);
    l.forward = [net](const Input& x, biqa::Context& ctx) { return net->forward(x, ctx); };
  } else if (name == "swin_tiny") {
    auto net = std::make_shared<biqa::nn::SwinTransformer>(
        biqa::nn::SwinTransformer::Config::from_weights(root, biqa::nn::SwinTransformer::Config(), true));
    net->load(root);
    l.forward = [net](const Input& x, biqa::Context& ctx) {
      auto out = net->forward(x, ctx);
      return out.logits.defined() ? out.logits : out.stages.back();
    };
  } else if (name == "clip_b32" || name == "clip_b32_text") {
    auto net = std::make_shared<biqa::nn::Clip>(biqa::nn::Clip::Config::from_weights(root, biqa::nn::Clip::Config::vit_b_32()));
    net->load(root);
    if (name == "clip_b32") {
      l.forward = [net](const Input& x, biqa::Context& ctx) { return net->encode_image(x, ctx); };
    } else {
      // The batch's token ids: start, 40 ordinary tokens, end, then padding (as a typical prompt).
      // biqa runs the 42 positions up to the end token (the causal mask makes the padding
      // irrelevant); PyTorch and onnxruntime in benchmarks/compare run all 77.
      l.forward = [net](const Input& x, biqa::Context& ctx) {
        Tensor<std::int64_t> ids = Tensor<std::int64_t>::zeros({x.size(0), 77});
        for (std::int64_t b = 0; b < x.size(0); ++b) {
          ids.data()[b * 77] = 49406;
          for (int t = 1; t <= 40; ++t) ids.data()[b * 77 + t] = 320 + t * 7 + b;
          ids.data()[b * 77 + 41] = 49407;
        }
        return net->template encode_text<Device>(ids, ctx);
      };
    }
  } else if (name.rfind("depth_anything", 0) == 0) {  // depth_anything_vits / _vitb / _vitl
    auto net = std::make_shared<biqa::models::DepthAnything>(biqa::models::DepthAnything::Config::from_weights(*l.store));
    net->load(root);
    l.forward = [net](const Input& x, biqa::Context& ctx) { return net->forward(x, ctx); };
  } else {  // timm VisionTransformer variants
    auto net = std::make_shared<biqa::nn::VisionTransformer>(biqa::nn::VisionTransformer::Config::from_weights(root));
    net->load(root);
    l.forward = [net](const Input& x, biqa::Context& ctx) { return net->forward(x, ctx); };
  }
  l.store->finish();
  return l;
}

}  // namespace bench
