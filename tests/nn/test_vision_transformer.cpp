#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "biqa/io/mapped_file.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/nn/vision_transformer.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;
using ViT = nn::VisionTransformer;

namespace {

std::vector<std::int64_t> out_indices(const biqa::json::Value& config) {
  std::vector<std::int64_t> v;
  for (const auto& i : config["out_indices"].as_array()) v.push_back(i.as_int());
  return v;
}

// The fixture's state_dict alone (no "io.*" tensors), as a checkpoint file would hold it.
std::string weights_only(const std::string& name, const biqa::test::TempDir& tmp) {
  const biqa::io::WeightFile f = biqa::io::load_weights(biqa::test::fixture_path("nn/vit_" + name + ".safetensors"));
  std::vector<biqa::io::TensorBlob> blobs;
  for (const auto& r : f.tensors)
    if (r.name.rfind("io.", 0) != 0) blobs.push_back(biqa::io::make_blob(r.name, f.to_float(r)));
  const std::string path = tmp.file(name + "_weights.safetensors");
  biqa::io::write_safetensors(path, blobs, {});
  return path;
}

const char* const kCases[] = {"deit3", "avg_no_cls", "dinov2", "dinov2_offset", "reg_tokens", "fc_norm", "head_pre_norm"};

}  // namespace

TEST_CASE("nn::VisionTransformer matches timm's VisionTransformer", "[nn][vit]") {
  for (const char* name : kCases) {
    biqa::test::LayerFixture f(std::string("vit_") + name);
    const ViT vit = [&] {
      ViT v(ViT::Config::from_json(f.config()));
      v.load(f.root());
      return v;
    }();
    const Tensor<float> x = f.io("input"), out = f.io("output"), features = f.io("features"),
                        pre_logits = f.io("pre_logits");
    const auto indices = out_indices(f.config());
    std::vector<Tensor<float>> blocks, blocks_normed;
    for (auto i : indices) {
      blocks.push_back(f.io("block" + std::to_string(i)));
      blocks_normed.push_back(f.io("block" + std::to_string(i) + "_normed"));
    }
    f.store().finish();
    for (int threads : {1, 3}) {
      Context ctx(threads);
      const std::string label = std::string("vit/") + name + "/threads=" + std::to_string(threads);
      std::vector<Tensor<float>> taken;
      const Tensor<float> feats = vit.forward_features(x, ctx, indices, &taken);
      biqa::test::check_parity(label + "/features", feats, features);
      for (std::size_t k = 0; k < indices.size(); ++k)
        biqa::test::check_parity(label + "/block" + std::to_string(indices[k]), taken[k], blocks[k]);
      biqa::test::check_parity(label + "/pre_logits", vit.forward_head(feats, ctx, true), pre_logits);
      biqa::test::check_parity(label + "/output", vit.forward(x, ctx), out);
      const auto normed = vit.forward_intermediates(x, indices, ctx, /*norm=*/true);
      for (std::size_t k = 0; k < indices.size(); ++k)
        biqa::test::check_parity(label + "/block_normed" + std::to_string(indices[k]), normed[k], blocks_normed[k]);
    }
  }
}

TEST_CASE("nn::VisionTransformer block indices count from the end and keep the order asked", "[nn][vit]") {
  biqa::test::LayerFixture f("vit_deit3");
  ViT vit(ViT::Config::from_json(f.config()));
  vit.load(f.root());
  const Tensor<float> x = f.io("input"), b0 = f.io("block0"), b1 = f.io("block1");
  Context ctx(1);
  const auto taken = vit.forward_intermediates(x, {-1, 0}, ctx);
  REQUIRE(taken.size() == 2);
  biqa::test::check_parity("vit/deit3/block-1", taken[0], b1);
  biqa::test::check_parity("vit/deit3/block0", taken[1], b0);
  REQUIRE_THROWS_WITH(vit.forward_intermediates(x, {2}, ctx), Catch::Contains("block index 2 out of range"));
  REQUIRE(vit.patch_tokens(taken[0]).size(1) == 16);
}

TEST_CASE("nn::VisionTransformer loads strictly", "[nn][vit]") {
  {  // LayerScale keys without init_values
    biqa::test::LayerFixture f("vit_deit3");
    auto cfg = ViT::Config::from_json(f.config());
    cfg.init_values.reset();
    ViT vit(cfg);
    vit.load(f.root());
    for (const char* n : {"input", "output", "features", "pre_logits", "block0", "block1", "block0_normed", "block1_normed"})
      f.io(n);
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("unexpected keys") && Catch::Contains("blocks.0.ls1.gamma"));
  }
  {  // a missing class token
    biqa::test::LayerFixture f("vit_fc_norm", "cls_token");
    ViT vit(ViT::Config::from_json(f.config()));
    vit.load(f.root());
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("cls_token [1, 1, 16]"));
  }
  {  // no_embed_class wrong: pos_embed has one entry fewer than expected
    biqa::test::LayerFixture f("vit_deit3");
    auto cfg = ViT::Config::from_json(f.config());
    cfg.no_embed_class = false;
    ViT vit(cfg);
    vit.load(f.root());
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("pos_embed"));
  }
  {  // a fixed-size model refuses other input sizes; a dynamic one wants multiples of the patch
    biqa::test::LayerFixture f("vit_deit3");
    ViT vit(ViT::Config::from_json(f.config()));
    vit.load(f.root());
    Context ctx(1);
    REQUIRE_THROWS_WITH(vit.forward(Tensor<float>({1, 3, 20, 20}), ctx), Catch::Contains("differs from the model's 16x16"));
    biqa::test::LayerFixture d("vit_dinov2");
    ViT dyn(ViT::Config::from_json(d.config()));
    dyn.load(d.root());
    REQUIRE_THROWS_WITH(dyn.forward(Tensor<float>({1, 3, 30, 28}), ctx), Catch::Contains("not a multiple of the patch size"));
  }
  REQUIRE_THROWS_WITH(ViT::Config::from_json(biqa::json::parse(R"({"global_pool": "map"})", "cfg")),
                      Catch::Contains("global_pool must be"));
  {
    ViT::Config c;
    c.class_token = false;
    REQUIRE_THROWS_WITH(ViT(c), Catch::Contains("needs class_token"));
  }
}

TEST_CASE("nn::VisionTransformer loads DINOv2 checkpoints under other key names", "[nn][vit]") {
  // Depth Anything keeps its DINOv2 encoder under "pretrained." with an unused "mask_token".
  biqa::io::WeightFile src = biqa::io::load_weights(biqa::test::fixture_path("nn/vit_dinov2.safetensors"));
  biqa::io::WeightFile renamed;
  renamed.path = src.path;
  renamed.keep_alive = src.keep_alive;
  renamed.metadata = src.metadata;
  for (auto r : src.tensors) {
    if (r.name.rfind("io.", 0) != 0) r.name = "pretrained." + r.name;
    renamed.tensors.push_back(r);
  }
  const Tensor<float> mask({1, 16});
  renamed.tensors.push_back(biqa::io::TensorRecord{"pretrained.mask_token", biqa::DType::f32, {1, 16},
                                                   biqa::Shape({1, 16}).contiguous_strides(),
                                                   reinterpret_cast<const std::byte*>(mask.data())});
  biqa::io::WeightStore store(std::move(renamed));
  const auto config = biqa::json::parse(store.file().metadata.at("config"), "config");
  ViT vit(ViT::Config::from_json(config));
  vit.load(store.scope("pretrained"), ViT::KeyNames::dinov2());
  const Tensor<float> x = store.take("io.input", std::nullopt), ref = store.take("io.features", std::nullopt);
  for (const auto& k : store.keys_with_prefix("io.")) store.ignore(k);
  store.finish();
  Context ctx(2);
  biqa::test::check_parity("vit/dinov2/renamed", vit.forward_features(x, ctx), ref);
}

TEST_CASE("biqa infer --model vit matches timm", "[nn][vit][cli]") {
  biqa::test::TempDir tmp;
  for (const char* name : {"deit3", "avg_no_cls", "dinov2"}) {
    biqa::test::LayerFixture f(std::string("vit_") + name);
    const std::string weights = weights_only(name, tmp);
    // the fixture's input as .npy, its config as a file (with the out_indices to return)
    const std::string input = tmp.file(std::string(name) + "_input.npy"), cfg = tmp.file(std::string(name) + ".json");
    biqa::io::write_npy(input, f.io("input"));
    const std::string text = f.config().dump();
    biqa::io::write_file_bytes(cfg, text.data(), text.size());
    const std::string out = tmp.file(std::string(name) + "_out.safetensors");
    const auto r = biqa::test::run_cli("infer --model vit --weights '" + weights + "' --config '" + cfg +
                                       "' --input '" + input + "' --output '" + out + "' --threads 2");
    INFO(r.out);
    REQUIRE(r.status == 0);
    biqa::io::WeightFile got = biqa::io::load_weights(out);
    const bool has_head = f.store().contains("head.weight");
    biqa::test::check_parity(std::string("cli/") + name + "/output", got.to_float(got.at("output")),
                             f.io(has_head ? "output" : "pre_logits"));
    biqa::test::check_parity(std::string("cli/") + name + "/tokens", got.to_float(got.at("tokens")), f.io("features"));
    for (auto i : out_indices(f.config())) {
      const std::string b = "block" + std::to_string(i);
      biqa::test::check_parity("cli/" + std::string(name) + "/" + b, got.to_float(got.at(b)), f.io(b));
    }
  }
  // dims from the weight shapes (deit3: no_embed_class from pos_embed's length, LayerScale from
  // ls1.gamma, the head from head.weight); only num_heads is given
  biqa::test::LayerFixture f("vit_deit3");
  const std::string input = tmp.file("plain.npy"), out = tmp.file("plain_out.npy");
  biqa::io::write_npy(input, f.io("input"));
  const std::string weights = weights_only("deit3", tmp);
  auto write_text = [](const std::string& path, const std::string& text) {
    biqa::io::write_file_bytes(path, text.data(), text.size());
  };
  const std::string heads = tmp.file("heads.json"), wrong = tmp.file("wrong.json");
  write_text(heads, R"({"num_heads": 4})");
  auto r = biqa::test::run_cli("infer --model vit --weights '" + weights + "' --config '" + heads + "' --input '" +
                               input + "' --output '" + out + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  biqa::test::check_parity("cli/deit3/derived", biqa::io::read_npy(out).to_float(), f.io("output"));
  // a config that contradicts the weights fails with the keys named
  write_text(wrong, R"({"num_heads": 4, "mlp_ratio": 4.0})");
  r = biqa::test::run_cli("infer --model vit --weights '" + weights + "' --config '" + wrong + "' --input '" + input +
                          "' --output '" + out + "'");
  INFO(r.out);
  REQUIRE(r.status == 2);
  REQUIRE_THAT(r.out, Catch::Contains("blocks.0.mlp.fc1.weight"));
}
