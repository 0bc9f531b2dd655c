#include <catch2/catch.hpp>

#include <string>

#include "biqa/io/mapped_file.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/nn/resnet.hpp"
#include "support/helpers.hpp"
#include "support/nn_fixtures.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;


TEST_CASE("nn::ResNet matches torchvision (logits, pooled features, every stage)", "[nn][resnet]") {
  for (const char* name : {"resnet18_small", "resnet50_small", "resnet50_dilated_nofc"}) {
    biqa::test::LayerFixture f(name);
    const auto cfg = biqa::test::resnet_config_from(f.config());
    // What detect() reads from the weights agrees with the configuration that produced them.
    const auto detected = nn::ResNet::detect(cfg.block == nn::ResNetBlock::basic ? nn::ResNet::Config::for_depth(18)
                                                                                  : nn::ResNet::Config::for_depth(50),
                                             f.root());
    CHECK(detected.base_width == cfg.base_width);
    CHECK(detected.groups == cfg.groups);
    CHECK(detected.inner_width(0) == cfg.inner_width(0));
    CHECK(detected.num_classes == cfg.num_classes);

    // The CPU forward in the channel-blocked layout (the default with groups = 1) and through
    // im2col + GEMM on [N, C, H, W].
    nn::ResNet nets[2];
    for (bool blocked : {true, false}) {
      auto c = cfg;
      c.blocked_layout = blocked;
      nets[blocked ? 0 : 1] = nn::ResNet(c);
      nets[blocked ? 0 : 1].load(f.root());
      REQUIRE(nets[blocked ? 0 : 1].blocked_layout() == (blocked && cfg.groups == 1));
    }
    const Tensor<float> x = f.io("input");
    const Tensor<float> ref = f.io("output"), stem = f.io("stem");
    Tensor<float> layers[4];
    for (int s = 0; s < 4; ++s) layers[s] = f.io("layer" + std::to_string(s + 1));
    f.store().finish();
    for (const nn::ResNet& net : nets) {
      REQUIRE(net.has_fc() == (cfg.num_classes > 0));
      Context ctx(2);
      nn::ResNetStages st;
      const Tensor<float> out = net.forward(x, ctx, &st);
      const std::string label = std::string("nn/") + name + (net.blocked_layout() ? " blocked" : "");
      biqa::test::check_parity(label + " output", out, ref);
      biqa::test::check_parity(label + " stem", st.stem, stem);
      for (int s = 0; s < 4; ++s)
        biqa::test::check_parity(label + " layer" + std::to_string(s + 1), st.layers[s], layers[s]);
      // Without the stage outputs requested the result is the same.
      Context one(1);
      biqa::test::check_parity(label + " output (1 thread)", net.forward(x, one), ref);
    }
  }
}

TEST_CASE("nn::ResNet loads strictly and names missing and unexpected keys", "[nn][resnet]") {
  SECTION("a missing downsample BatchNorm statistic") {
    biqa::test::LayerFixture f("resnet50_small", "layer2.0.downsample.1.running_mean");
    nn::ResNet net(biqa::test::resnet_config_from(f.config()));
    net.load(f.root());
    f.store().ignore_prefix("io.");
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("layer2.0.downsample.1.running_mean [32]"));
  }
  SECTION("a missing classifier") {
    biqa::test::LayerFixture f("resnet18_small", "fc.weight");
    nn::ResNet net(biqa::test::resnet_config_from(f.config()));
    net.load(f.root());
    f.store().ignore_prefix("io.");
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("fc.weight [10, 16]"));
  }
  SECTION("fewer blocks than the weights hold") {
    biqa::test::LayerFixture f("resnet50_small");
    auto cfg = biqa::test::resnet_config_from(f.config());
    cfg.layers[1] = 1;
    nn::ResNet net(cfg);
    net.load(f.root());
    f.store().ignore_prefix("io.");
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("layer2.1.conv1.weight"));
  }
  SECTION("bad configurations and inputs") {
    REQUIRE_THROWS_AS(nn::ResNet::Config::for_depth(20), biqa::Error);
    auto basic = nn::ResNet::Config::for_depth(18);
    basic.replace_stride_with_dilation[2] = true;
    REQUIRE_THROWS_AS(nn::ResNet(basic), biqa::Error);
    biqa::test::LayerFixture f("resnet18_small");
    nn::ResNet net(biqa::test::resnet_config_from(f.config()));
    Context ctx;
    REQUIRE_THROWS_AS(net.forward(Tensor<float>::zeros({1, 3, 32, 32}), ctx), biqa::Error);  // before load
    net.load(f.root());
    REQUIRE_THROWS_AS(net.forward(Tensor<float>::zeros({1, 4, 32, 32}), ctx), biqa::Error);
  }
}

TEST_CASE("nn::ResNet loads under a key prefix (DSMix's \"encoder.\")", "[nn][resnet]") {
  auto file = biqa::io::load_weights(biqa::test::fixture_path("nn/resnet50_dilated_nofc.safetensors"));
  for (auto& r : file.tensors)
    if (r.name.rfind("io.", 0) != 0) r.name = "encoder." + r.name;
  biqa::io::WeightStore store(std::move(file));
  const auto scope = store.scope("encoder");
  auto cfg = nn::ResNet::detect(nn::ResNet::Config::for_depth(50), scope);
  REQUIRE(cfg.num_classes == 0);
  REQUIRE(cfg.groups == 2);
  cfg.layers = {1, 1, 1, 1};
  cfg.replace_stride_with_dilation = {false, true, true};
  nn::ResNet net(cfg);
  net.load(scope);
  const Tensor<float> x = store.take("io.input", std::nullopt), ref = store.take("io.output", std::nullopt);
  store.ignore_prefix("io.");
  store.finish();
  Context ctx(2);
  biqa::test::check_parity("nn/resnet50_dilated_nofc under encoder.", net.forward(x, ctx), ref);
}

TEST_CASE("biqa infer --model resnet18 runs the torchvision-layout fixture", "[nn][resnet][cli]") {
  biqa::test::TempDir tmp;
  biqa::test::LayerFixture f("resnet18_small");
  const Tensor<float> x = f.io("input"), ref = f.io("output"), layer3 = f.io("layer3");
  // The fixture file holds the io.* tensors too: write the weights alone and the input as .npy.
  std::vector<biqa::io::TensorBlob> blobs;
  for (const auto& key : f.store().keys())
    if (key.rfind("io.", 0) != 0) blobs.push_back(biqa::io::make_blob(key, f.store().take(key, std::nullopt)));
  biqa::io::write_safetensors(tmp.file("w.safetensors"), blobs, {});
  biqa::io::write_npy(tmp.file("x.npy"), x);

  const std::string common = "infer --model resnet18 --weights '" + tmp.file("w.safetensors") + "' --input '" +
                             tmp.file("x.npy") + "' --threads 2 --output ";
  auto r = biqa::test::run_cli(common + "'" + tmp.file("y.npy") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  biqa::test::check_parity("cli resnet18 logits", biqa::io::read_npy(tmp.file("y.npy")).to_float(), ref);

  r = biqa::test::run_cli(common + "'" + tmp.file("y.safetensors") + "'");
  REQUIRE(r.status == 0);
  const auto out = biqa::io::load_weights(tmp.file("y.safetensors"));
  REQUIRE(out.tensors.front().name == "logits");
  biqa::test::check_parity("cli resnet18 layer3", out.to_float(out.at("layer3")), layer3);

  // resnet50's bottlenecks do not fit resnet18 weights: every missing key is reported.
  r = biqa::test::run_cli("infer --model resnet50 --weights '" + tmp.file("w.safetensors") + "' --input '" +
                          tmp.file("x.npy") + "' --output '" + tmp.file("z.npy") + "'");
  REQUIRE(r.status == 2);
  REQUIRE_THAT(r.out, Catch::Contains("layer1.0.conv3.weight"));
}

TEST_CASE("biqa infer --model resnet50 takes layers and dilation from --config", "[nn][resnet][cli]") {
  biqa::test::TempDir tmp;
  biqa::test::LayerFixture f("resnet50_dilated_nofc");
  const Tensor<float> x = f.io("input"), ref = f.io("output"), layer4 = f.io("layer4");
  std::vector<biqa::io::TensorBlob> blobs;
  for (const auto& key : f.store().keys())
    if (key.rfind("io.", 0) != 0) blobs.push_back(biqa::io::make_blob(key, f.store().take(key, std::nullopt)));
  biqa::io::write_safetensors(tmp.file("w.safetensors"), blobs, {});
  biqa::io::write_npy(tmp.file("x.npy"), x);
  const std::string config = R"({"layers": [1, 1, 1, 1], "replace_stride_with_dilation": [false, true, true]})";
  biqa::io::write_file_bytes(tmp.file("c.json"), config.data(), config.size());
  const auto r = biqa::test::run_cli("infer --model resnet50 --weights '" + tmp.file("w.safetensors") + "' --config '" +
                                     tmp.file("c.json") + "' --input '" + tmp.file("x.npy") + "' --output '" +
                                     tmp.file("y.safetensors") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto out = biqa::io::load_weights(tmp.file("y.safetensors"));
  REQUIRE(out.tensors.front().name == "features");  // no fc in the weights
  biqa::test::check_parity("cli resnet50 dilated features", out.to_float(out.at("features")), ref);
  biqa::test::check_parity("cli resnet50 dilated layer4", out.to_float(out.at("layer4")), layer4);
}
