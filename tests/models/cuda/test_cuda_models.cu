// The models on the device: the fixtures of the CPU model tests (the authors' classes on random
// weights), each model loaded once and run on the CPU and on the GPU. Tolerances as
// tests/nn/cuda/test_cuda_layers.cu: within 1e-4 of the reference and of the CPU's result
// (max|out − ref| / max|ref|). The [no-device] case checks that the device forwards compile.

#include "biqa/ops/cuda/dispatch.cuh"  // first: the models' ops:: calls must see the device overloads

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/depth_anything.hpp"
#include "biqa/models/dgiqa.hpp"
#include "biqa/models/dr_experts.hpp"
#include "biqa/models/dsmix.hpp"
#include "biqa/models/exiqa.hpp"
#include "ops/cuda/support.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Cpu;
using biqa::Cuda;
using biqa::Tensor;
using biqa::to_device;
namespace io = biqa::io;
namespace models = biqa::models;
namespace test = biqa::test;

namespace {

constexpr double kTolerance = 1e-4;

io::WeightFile fixture(const std::string& rel) { return io::load_weights(test::fixture_path("models/" + rel)); }
io::WeightFile weights_only(io::WeightFile f) {
  std::erase_if(f.tensors, [](const io::TensorRecord& r) { return r.name.rfind("io.", 0) == 0; });
  return f;
}
Tensor<float> io_tensor(const io::WeightFile& f, const std::string& name) { return f.to_float(f.at("io." + name)); }

// The GPU's result against the reference and against the CPU's.
void check_gpu(const std::string& label, const Tensor<float, Cuda>& gpu_out, const Tensor<float>& cpu,
               const Tensor<float>& ref) {
  const Tensor<float> gpu = to_device<Cpu>(gpu_out);
  test::check_parity(label + " (GPU vs reference)", gpu, ref, kTolerance);
  INFO(label << ": GPU against CPU");
  REQUIRE(test::error_against(gpu, cpu) <= kTolerance);
}

}  // namespace

TEST_CASE("models: device forwards compile", "[cuda][models][no-device]") {
  // Taking the address instantiates each device forward in full.
  using Dgiqa = models::DGIQA;
  [[maybe_unused]] auto dgiqa = static_cast<Dgiqa::BasicOutputs<Cuda> (Dgiqa::*)(
      const Tensor<float, Cuda>&, const Tensor<float, Cuda>&, Context&, const Dgiqa::ForwardOptions&) const>(
      &Dgiqa::forward<Cuda>);
  [[maybe_unused]] auto depth = &models::DepthAnything::forward<Cuda>;
  [[maybe_unused]] auto dsmix = &models::DSMix::forward<Cuda>;
  [[maybe_unused]] auto dsm = &models::DSMPredictor::forward<Cuda>;
  [[maybe_unused]] auto exiqa = &models::ExIQA::forward<Cuda>;
  using Drx = models::DRExperts;
  [[maybe_unused]] auto drx = static_cast<Drx::Outputs (Drx::*)(const Tensor<float, Cuda>&, Context&, const Drx::Options&)
                                              const>(&Drx::forward<Cuda>);
  SUCCEED("DGIQA, Depth Anything, DSMix, DSMPredictor, ExIQA and DR.Experts instantiate for Tensor<float, Cuda>");
}

TEST_CASE("DGIQA on the device: every intermediate, the logits and the attention", "[cuda][models][dgiqa]") {
  for (const char* name : {"network_a", "network_b"}) {
    const io::WeightFile file = fixture(std::string("dgiqa/") + name + ".safetensors");
    io::WeightStore store(weights_only(file));
    const models::DGIQA model =
        models::load_dgiqa(store, biqa::json::parse(file.metadata.at("biqa.config"), "biqa.config"));
    Context ctx(2);
    const Tensor<float> rgb = io_tensor(file, "image"), depth = io_tensor(file, "depth");
    const models::DGIQA::ForwardOptions all{true};
    const auto cpu = model.forward(rgb, depth, ctx, all);
    const auto gpu = model.forward(to_device<Cuda>(rgb), to_device<Cuda>(depth), ctx, all);
    const std::string label = std::string("dgiqa/") + name;
    check_gpu(label + " fused_rgb", gpu.fused_rgb, cpu.fused_rgb, io_tensor(file, "fused_rgb"));
    check_gpu(label + " fused_depth", gpu.fused_depth, cpu.fused_depth, io_tensor(file, "fused_depth"));
    check_gpu(label + " cross_attention", gpu.cross_attention, cpu.cross_attention, io_tensor(file, "cross_attention"));
    check_gpu(label + " refined", gpu.refined, cpu.refined, io_tensor(file, "refined"));
    check_gpu(label + " logits", gpu.logits, cpu.logits, io_tensor(file, "logits"));
    check_gpu(label + " scores", gpu.scores, cpu.scores, io_tensor(file, "scores"));
    test::check_parity(label + " cross_attention_probs (GPU)", gpu.cross_attention_probs,
                       io_tensor(file, "cross_attention_probs"), kTolerance);
  }
}

TEST_CASE("Depth Anything on the device: the whole network", "[cuda][models][depth_anything]") {
  for (const char* name : {"net", "net_s2"}) {
    const io::WeightFile file = fixture(std::string("depth_anything_") + name + ".safetensors");
    const auto config = biqa::json::parse(file.metadata.at("config"), name);
    io::WeightStore store(weights_only(file));
    models::DepthAnything::Config cfg = models::DepthAnything::Config::from_weights(store);
    cfg.num_heads = config["encoder"]["num_heads"].as_int();
    models::DepthAnything model(cfg);
    model.load(store);
    store.finish();
    Context ctx(2);
    const Tensor<float> x = io_tensor(file, "input");
    check_gpu(std::string("depth_anything/") + name, model.forward(to_device<Cuda>(x), ctx), model.forward(x, ctx),
              io_tensor(file, "depth"));
  }
}

TEST_CASE("DSMix and DSMPredictor on the device", "[cuda][models][dsmix]") {
  {
    const io::WeightFile file = fixture("dsmix/dsmix_mlp.safetensors");
    io::WeightStore store(weights_only(file));
    models::DSMix::Config c;
    c.update(models::detail::metadata_config(store));
    const models::DSMix m = models::DSMix::load(store.scope("encoder"), store.scope("head"), c);
    store.finish();
    Context ctx(2);
    const Tensor<float> crops = io_tensor(file, "crops_batch");
    check_gpu("dsmix_mlp batch", m.forward(to_device<Cuda>(crops), ctx), m.forward(crops, ctx),
              io_tensor(file, "batch_scores"));
  }
  {
    const io::WeightFile file = fixture("dsmix/dsm.safetensors");
    io::WeightStore store(weights_only(file));
    const models::DSMPredictor p = models::DSMPredictor::load(store.scope("encoder"), store.scope("decoder"),
                                                              models::detail::metadata_config(store));
    store.finish();
    Context ctx(2);
    for (const char* which : {"input", "input_wide"}) {
      const Tensor<float> x = io_tensor(file, which);
      check_gpu(std::string("dsm ") + which, p.forward(to_device<Cuda>(x), ctx), p.forward(x, ctx),
                io_tensor(file, std::string(which) == "input" ? "output" : "output_wide"));
    }
  }
}

TEST_CASE("DR.Experts on the device: backbone, DA-CLIP tower and bridging there, experts on the host",
          "[cuda][models][dr_experts]") {
  const io::WeightFile file = fixture("dr_experts_shared.safetensors");
  Context ctx(2);
  io::WeightStore store(weights_only(file));
  // The subtraction sign the fixture's expert weights were made with (tests/models/test_dr_experts.cpp).
  const models::DRExperts model = models::load_dr_experts(
      store, ctx, biqa::json::parse(biqa::cat("{\"sign\":\"current\",", file.metadata.at("biqa.config").substr(1)),
                                    "biqa.config"));
  models::DRExperts::Options opt;
  opt.intermediates = true;
  const Tensor<float> x = io_tensor(file, "input");
  const auto cpu = model.forward(x, ctx, opt);
  const auto gpu = model.forward(to_device<Cuda>(x), ctx, opt);
  const auto check = [&](const std::string& name, const Tensor<float>& g, const Tensor<float>& c) {
    test::check_parity("dr_experts " + name + " (GPU vs reference)", g, io_tensor(file, name), kTolerance);
    REQUIRE(test::error_against(g, c) <= kTolerance);
  };
  check("features", gpu.features, cpu.features);
  check("degradation", gpu.degradation, cpu.degradation);
  check("hidden", gpu.hidden, cpu.hidden);
  check("priors", gpu.priors, cpu.priors);
  check("expert_weights", gpu.expert_weights, cpu.expert_weights);
  REQUIRE(test::error_against(gpu.scores, cpu.scores) <= kTolerance);
}
