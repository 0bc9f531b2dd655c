// The nn layers and backbones on the device: the same PyTorch fixtures as the CPU layer tests
// (tests/nn/*.cpp), each layer loaded once, run on the CPU and on the GPU. Tolerances: the GPU
// within 1e-4 of PyTorch's output (max|out − ref| / max|ref|, as the CPU tests) and within 1e-4
// of the CPU's own result (cuBLAS and the CPU kernels sum in other orders). The [no-device] cases
// check that every layer's device forward compiles with the device types and that its CPU
// instantiation still gives the CPU result.

#include "biqa/ops/cuda/dispatch.cuh"  // first: the layers' ops:: calls must see the device overloads

#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "biqa/io/weights.hpp"
#include "biqa/nn/batch_norm.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/group_norm.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/rms_norm.hpp"
#include "biqa/nn/swin_transformer.hpp"
#include "biqa/nn/vision_transformer.hpp"
#include "ops/cuda/support.hpp"
#include "support/nn_fixtures.hpp"

using biqa::Context;
using biqa::Cpu;
using biqa::Cuda;
using biqa::Tensor;
using biqa::to_device;
namespace nn = biqa::nn;
namespace io = biqa::io;
namespace test = biqa::test;

namespace {

constexpr double kTolerance = 1e-4;

// Runs `forward` (a callable over a device tag and the input on that device) on both devices and
// checks each result against PyTorch's and the GPU's against the CPU's.
template <typename Forward>
void check_on_device(const std::string& label, const Tensor<float>& x, const Tensor<float>& ref, Forward&& forward) {
  Context ctx(2);
  const Tensor<float> cpu = forward(Cpu{}, x, ctx);
  const Tensor<float> gpu = to_device<Cpu>(forward(Cuda{}, to_device<Cuda>(x), ctx));
  test::check_parity(label + " (GPU vs PyTorch)", gpu, ref, kTolerance);
  INFO(label << ": GPU against CPU");
  REQUIRE(test::error_against(gpu, cpu) <= kTolerance);
}

template <typename Layer>
void check_layer(const std::string& label, const Layer& layer, const Tensor<float>& x, const Tensor<float>& ref) {
  check_on_device(label, x, ref, [&](auto device, const auto& input, Context& ctx) {
    (void)device;
    return layer.forward(input, ctx);
  });
}

io::WeightFile fixture_file(const std::string& name) {
  return io::load_weights(test::fixture_path("nn/" + name + ".safetensors"));
}
io::WeightFile weights_only(io::WeightFile file) {
  std::erase_if(file.tensors, [](const io::TensorRecord& r) { return r.name.rfind("io.", 0) == 0; });
  return file;
}
Tensor<float> io_float(const io::WeightFile& file, const std::string& name) { return file.to_float(file.at("io." + name)); }

}  // namespace

TEST_CASE("nn layers: device forwards compile; their CPU instantiation is the CPU forward", "[cuda][nn][no-device]") {
  // Taking the address instantiates each device forward in full (its body, not only its type).
  [[maybe_unused]] auto linear = &nn::Linear::forward<Cuda>;
  [[maybe_unused]] auto conv = &nn::Conv2d::forward<Cuda>;
  [[maybe_unused]] auto deconv = &nn::ConvTranspose2d::forward<Cuda>;
  [[maybe_unused]] auto bn = &nn::BatchNorm2d::forward<Cuda>;
  [[maybe_unused]] auto ln = &nn::LayerNorm::forward<Cuda>;
  [[maybe_unused]] auto gn = &nn::GroupNorm::forward<Cuda>;
  [[maybe_unused]] auto rms = &nn::RMSNorm::forward<Cuda>;
  [[maybe_unused]] auto mlp = &nn::Mlp::forward<Cuda>;
  [[maybe_unused]] auto attn = &nn::Attention::forward<Cuda>;
  [[maybe_unused]] auto block = &nn::TransformerBlock::forward<Cuda>;
  [[maybe_unused]] auto embed = &nn::PatchEmbed::forward<Cuda>;
  [[maybe_unused]] auto resnet = &nn::ResNet::forward<Cuda>;
  [[maybe_unused]] auto vit = &nn::VisionTransformer::forward<Cuda>;
  [[maybe_unused]] auto swin = &nn::SwinTransformer::forward<Cuda>;
  [[maybe_unused]] auto clip_image = &nn::Clip::encode_image<Cuda>;
  using Mha = nn::MultiheadAttention;
  [[maybe_unused]] auto mha = static_cast<Tensor<float, Cuda> (Mha::*)(
      const Tensor<float, Cuda>&, const Tensor<float, Cuda>&, const Tensor<float, Cuda>&, Context&, const Mha::Masks&)
                                              const>(&Mha::forward<Cuda>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const nn::Clip&>().encode_text<Cuda>(
                                    std::declval<const Tensor<std::int64_t>&>(), std::declval<Context&>())),
                                Tensor<float, Cuda>>);

  // The device copies are made only off the CPU: on the CPU the weight is used where it is.
  test::LayerFixture f("linear_bias");
  nn::Linear layer = test::linear_from(f.config());
  layer.load(f.root());
  const Tensor<float> x = f.io("input"), ref = f.io("output");
  Context ctx(1);
  test::check_parity("nn/linear_bias (template on the CPU)", layer.forward(x, ctx), ref);
  nn::DeviceWeights weights;
  const Tensor<float> host = x;
  REQUIRE(weights.get<Cpu>(0, host).data() == host.data());
  REQUIRE(weights.copies() == 0);
}

TEST_CASE("nn layers on the device match PyTorch and the CPU", "[cuda][nn]") {
  for (const char* name : {"linear_bias", "linear_nobias"}) {
    test::LayerFixture f(name);
    nn::Linear layer = test::linear_from(f.config());
    layer.load(f.root());
    check_layer(std::string("nn/") + name, layer, f.io("input"), f.io("output"));
  }
  for (const char* name : {"conv2d_stride2", "conv2d_groups_dilated"}) {
    test::LayerFixture f(name);
    nn::Conv2d layer = test::conv_from(f.config());
    layer.load(f.root());
    check_layer(std::string("nn/") + name, layer, f.io("input"), f.io("output"));
  }
  {
    test::LayerFixture f("conv2d_bn");  // the folded weight, unpacked for the device
    nn::Conv2d layer = test::conv_from(f.config());
    layer.load(f.root().scope("conv"));
    layer.fold_batchnorm(f.root().scope("bn"), static_cast<float>(f.config()["bn_eps"].as_number()));
    check_layer("nn/conv2d_bn", layer, f.io("input"), f.io("output"));
  }
  for (const char* name : {"conv_transpose2d", "conv_transpose2d_groups_nobias"}) {
    test::LayerFixture f(name);
    nn::ConvTranspose2d layer = test::deconv_from(f.config());
    layer.load(f.root());
    check_layer(std::string("nn/") + name, layer, f.io("input"), f.io("output"));
  }
  {
    test::LayerFixture f("batch_norm2d");
    nn::BatchNorm2d bn({f.config()["num_features"].as_int(), static_cast<float>(f.config()["eps"].as_number())});
    bn.load(f.root());
    check_layer("nn/batch_norm2d", bn, f.io("input"), f.io("output"));
  }
  {
    test::LayerFixture f("layer_norm");
    nn::LayerNorm ln(f.config()["dim"].as_int(), static_cast<float>(f.config()["eps"].as_number()));
    ln.load(f.root());
    check_layer("nn/layer_norm", ln, f.io("input"), f.io("output"));
  }
  {
    test::LayerFixture f("group_norm");
    nn::GroupNorm gn({f.config()["num_groups"].as_int(), f.config()["num_channels"].as_int(),
                      static_cast<float>(f.config()["eps"].as_number())});
    gn.load(f.root());
    check_layer("nn/group_norm", gn, f.io("input"), f.io("output"));
  }
  {
    test::LayerFixture f("rms_norm");
    nn::RMSNorm rn({f.config()["dim"].as_int(), static_cast<float>(f.config()["eps"].as_number())});
    rn.load(f.root());
    check_layer("nn/rms_norm", rn, f.io("input"), f.io("output"));
  }
  for (const char* name : {"mlp_gelu", "mlp_tanh_norm"}) {
    test::LayerFixture f(name);
    nn::Mlp mlp = test::mlp_from(f.config());
    mlp.load(f.root());
    check_layer(std::string("nn/") + name, mlp, f.io("input"), f.io("output"));
  }
  for (const char* name : {"attention_qkv_bias", "attention_no_qkv_bias"}) {
    test::LayerFixture f(name);
    const auto& c = f.config();
    nn::Attention attn({c["dim"].as_int(), c["num_heads"].as_int(), c["qkv_bias"].as_bool()});
    attn.load(f.root());
    check_layer(std::string("nn/") + name, attn, f.io("input"), f.io("output"));
  }
  for (const char* name : {"block", "block_layer_scale"}) {
    test::LayerFixture f(name);
    nn::TransformerBlock block = test::block_from(f.config());
    block.load(f.root());
    check_layer(std::string("nn/") + name, block, f.io("input"), f.io("output"));
  }
  for (const char* name : {"patch_embed", "patch_embed_norm_nhwc"}) {
    test::LayerFixture f(name);
    nn::PatchEmbed embed = test::embed_from(f.config());
    embed.load(f.root());
    check_layer(std::string("nn/") + name, embed, f.io("input"), f.io("output"));
  }
}

TEST_CASE("nn::MultiheadAttention on the device: masks, cross attention, unbatched", "[cuda][nn][mha]") {
  for (const char* name : {"mha_seq_first_causal", "mha_batch_first_masks", "mha_cross", "mha_kdim_vdim_nobias",
                           "mha_unbatched"}) {
    test::LayerFixture f(name);
    nn::MultiheadAttention mha = test::mha_from(f.config());
    mha.load(f.root());
    nn::MultiheadAttention::Masks masks;
    if (f.has_io("attn_mask")) masks.attn_mask = f.io("attn_mask");
    if (f.has_io("attn_mask_bool")) masks.attn_mask_bool = test::as_bool(f.io("attn_mask_bool"));
    if (f.has_io("key_padding_mask")) masks.key_padding_mask = test::as_bool(f.io("key_padding_mask"));
    const bool self = f.has_io("input");
    const Tensor<float> q = self ? f.io("input") : f.io("query");
    const Tensor<float> k = self ? q : f.io("key"), v = self ? q : f.io("value");
    const Tensor<float> ref = f.io("output");
    Context ctx(2);
    const Tensor<float> cpu = mha.forward(q, k, v, ctx, masks);
    const Tensor<float, Cuda> dq = to_device<Cuda>(q);
    const Tensor<float, Cuda> dk = self ? dq : to_device<Cuda>(k), dv = self ? dq : to_device<Cuda>(v);
    const Tensor<float> gpu = to_device<Cpu>(mha.forward(dq, dk, dv, ctx, masks));
    test::check_parity(std::string("nn/") + name + " (GPU vs PyTorch)", gpu, ref, kTolerance);
    REQUIRE(test::error_against(gpu, cpu) <= kTolerance);
  }
}

TEST_CASE("Backbones on the device: ResNet, ViT, Swin and CLIP match PyTorch and the CPU", "[cuda][nn][backbone]") {
  for (const char* name : {"resnet18_small", "resnet50_small", "resnet50_dilated_nofc"}) {
    test::LayerFixture f(name);
    nn::ResNet net(test::resnet_config_from(f.config()));
    net.load(f.root());
    const Tensor<float> x = f.io("input");
    check_layer(std::string("nn/") + name, net, x, f.io("output"));
    Context ctx(2);
    nn::BasicResNetStages<Cuda> stages;
    net.forward(to_device<Cuda>(x), ctx, &stages);
    test::check_parity(std::string("nn/") + name + " stem (GPU)", to_device<Cpu>(stages.stem), f.io("stem"), kTolerance);
    for (int s = 0; s < 4; ++s)
      test::check_parity(std::string("nn/") + name + " layer" + std::to_string(s + 1) + " (GPU)",
                         to_device<Cpu>(stages.layers[s]), f.io("layer" + std::to_string(s + 1)), kTolerance);
  }
  for (const char* name : {"deit3", "avg_no_cls", "dinov2", "dinov2_offset", "reg_tokens", "fc_norm", "head_pre_norm"}) {
    test::LayerFixture f(std::string("vit_") + name);
    nn::VisionTransformer vit(nn::VisionTransformer::Config::from_json(f.config()));
    vit.load(f.root());
    const Tensor<float> x = f.io("input");
    check_layer(std::string("vit/") + name, vit, x, f.io("output"));
    Context ctx(2);
    const Tensor<float> features = to_device<Cpu>(vit.forward_features(to_device<Cuda>(x), ctx));
    test::check_parity(std::string("vit/") + name + " features (GPU)", features, f.io("features"), kTolerance);
  }
  {
    const io::WeightFile file = fixture_file("swin_tiny");
    nn::SwinTransformer swin(
        nn::SwinTransformer::Config::from_json(biqa::json::parse(file.metadata.at("config"), "config")));
    io::WeightStore store(weights_only(file));
    swin.load(store.root());
    Context ctx(2);
    const auto out = swin.forward(to_device<Cuda>(io_float(file, "input")), ctx);
    for (int s = 0; s < 4; ++s)
      test::check_parity("swin_tiny layers_" + std::to_string(s) + " (GPU)",
                         to_device<Cpu>(out.stages[static_cast<std::size_t>(s)]),
                         io_float(file, "layers_" + std::to_string(s)), kTolerance);
    test::check_parity("swin_tiny logits (GPU)", to_device<Cpu>(out.logits), io_float(file, "logits"), kTolerance);
  }
  for (const char* name : {"clip_quickgelu", "clip_gelu", "clip_avg", "clip_avg_final_ln"}) {
    const io::WeightFile file = fixture_file(name);
    io::WeightStore store(weights_only(file));
    const auto config = nn::Clip::Config::from_weights(
        store.root(), nn::Clip::Config::from_json(biqa::json::parse(file.metadata.at("config"), "config")));
    nn::Clip clip(config);
    clip.load(store.root());
    Context ctx(2);
    const Tensor<float> image = to_device<Cpu>(clip.encode_image(to_device<Cuda>(io_float(file, "image")), ctx));
    test::check_parity(std::string(name) + " image_features (GPU)", image, io_float(file, "image_features"), kTolerance);
    const auto& ids_record = file.at("io.text");
    Tensor<std::int64_t> ids(ids_record.shape);
    std::memcpy(ids.data(), ids_record.data, static_cast<std::size_t>(ids.numel()) * sizeof(std::int64_t));
    const Tensor<float> text = to_device<Cpu>(clip.encode_text<Cuda>(ids, ctx));
    test::check_parity(std::string(name) + " text_features (GPU)", text, io_float(file, "text_features"), kTolerance);
  }
}
