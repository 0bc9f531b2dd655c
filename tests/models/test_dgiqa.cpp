// models::DGIQA and its layers against the authors' classes (model/DGIQA.py of uf-robopi/DGIQA, timm
// 0.9.16, random weights; fixtures from tools/reference/make_dgiqa_fixtures.py): every module and
// the logit within max|out − ref| / max|ref| ≤ 1e-4 in float32.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/dgiqa.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;
using models::DGIQA;
using models::dgiqa::DepthCarAttention;
using models::dgiqa::TransformerCnnBlock;

namespace {

io::WeightFile fixture(const std::string& name) {
  return io::load_weights(test::fixture_path("models/dgiqa/" + name + ".safetensors"));
}

Tensor<float> io_tensor(const io::WeightFile& f, const std::string& name) { return f.to_float(f.at("io." + name)); }

io::WeightFile weights_only(io::WeightFile f) {
  std::erase_if(f.tensors, [](const io::TensorRecord& r) { return r.name.rfind("io.", 0) == 0; });
  return f;
}

json::Value config_of(const io::WeightFile& f) { return json::parse(f.metadata.at("biqa.config"), "biqa.config"); }

// Replaces the first `from` in every key that starts with it.
void rename_prefix(io::WeightFile& f, const std::string& from, const std::string& to) {
  for (auto& r : f.tensors)
    if (r.name.rfind(from, 0) == 0) r.name = to + r.name.substr(from.size());
}

void check_network(const std::string& label, const io::WeightFile& file, bool all_intermediates) {
  io::WeightStore store(weights_only(file));
  const DGIQA model = models::load_dgiqa(store, config_of(file));
  Context ctx(2);
  const auto out = model.forward(io_tensor(file, "image"), io_tensor(file, "depth"), ctx, DGIQA::ForwardOptions{true});
  const auto check = [&](const std::string& name, const Tensor<float>& t) {
    test::check_parity(label + " " + name, t, io_tensor(file, name));
  };
  if (all_intermediates) {
    for (std::size_t s = 0; s < 4; ++s) {
      const std::string k = std::to_string(s);
      check("rgb_stage_" + k, out.rgb_stages[s]);
      check("depth_stage_" + k, out.depth_stages[s]);
      check("rgb_bridge_" + k, out.rgb_bridges[s]);
      check("depth_bridge_" + k, out.depth_bridges[s]);
    }
    check("dilated", out.dilated);
  }
  check("fused_rgb", out.fused_rgb);
  check("fused_depth", out.fused_depth);
  check("cross_attention", out.cross_attention);
  check("cross_attention_probs", out.cross_attention_probs);
  check("refined", out.refined);
  check("logits", out.logits);
  check("scores", out.scores);

  // The explanation map: attention received per RGB position, a distribution per crop.
  const Tensor<float> map = DGIQA::rgb_attention_map(out);
  REQUIRE(map.shape() == Shape{out.logits.size(0), out.fused_size[0], out.fused_size[1]});
  for (std::int64_t i = 0; i < map.size(0); ++i) {
    double sum = 0;
    for (std::int64_t j = 0; j < map.size(1) * map.size(2); ++j) sum += map.data()[i * map.size(1) * map.size(2) + j];
    CHECK(sum == Approx(1.0).epsilon(1e-5));
  }
}

}  // namespace

TEST_CASE("DGIQA TransformerCnnBlock matches the authors' class", "[models][dgiqa]") {
  const io::WeightFile file = fixture("tcb");
  io::WeightStore store(file);
  const auto cases = json::parse(file.metadata.at("cases"), "cases");
  REQUIRE(cases.as_array().size() == 8);
  Context ctx(2);
  for (const auto& c : cases.as_array()) {
    const std::string name = c["name"].as_string();
    const Tensor<float> x = store.take("io." + name + ".input", std::nullopt);
    const Tensor<float> expected = store.take("io." + name + ".output", std::nullopt);
    for (const bool blocked : {false, true}) {  // im2col + GEMM, and the direct blocked convolution
      TransformerCnnBlock block({c["in"].as_int(), c["out"].as_int(), 16});
      if (blocked) block.use_blocked_layout();
      block.load(store.root().scope(name));
      REQUIRE(block.blocked_layout() == blocked);
      test::check_parity(name + (blocked ? " blocked" : ""), block.forward(x, ctx), expected);
    }
  }
  store.finish();  // every weight was read
}

TEST_CASE("DGIQA attention layers (cross and refinement) match the authors' classes", "[models][dgiqa]") {
  const io::WeightFile file = fixture("attention");
  io::WeightStore store(file);
  const auto cases = json::parse(file.metadata.at("cases"), "cases");
  REQUIRE(cases.as_array().size() == 4);
  Context ctx(2);
  for (const auto& c : cases.as_array()) {
    const std::string name = c["name"].as_string();
    const bool cross = c["kind"].as_string() == "cross";
    DepthCarAttention layer({c["dim"].as_int(), c["heads"].as_int(), 0, 1e-5f,
                             cross ? DepthCarAttention::KeyNames::cross() : DepthCarAttention::KeyNames::refinement()});
    layer.load(store.root().scope(name));
    const auto io = [&](const std::string& k) { return store.take("io." + name + "." + k, std::nullopt); };
    const Tensor<float> q = io(cross ? "query" : "input");
    const Tensor<float> q_tokens = models::dgiqa::map_to_tokens(q);
    Tensor<float> probs;
    Tensor<float> y;
    if (cross) {
      y = layer.forward(q_tokens, models::dgiqa::map_to_tokens(io("key_value")), ctx, &probs);
      test::check_parity(name + " probs", probs, io("probs"));
    } else {
      y = layer.forward(q_tokens, q_tokens, ctx);
    }
    test::check_parity(name, models::dgiqa::tokens_to_map(y, q.size(2), q.size(3)), io("output"));
  }
  store.finish();
}

TEST_CASE("DGIQA whole network matches the authors' class (shrunken, every intermediate)", "[models][dgiqa]") {
  const io::WeightFile a = fixture("network_a");
  check_network("network_a", a, true);
  {
    io::WeightStore store(weights_only(a));
    const auto c = DGIQA::Config::from_weights(store.root(), DGIQA::Config::from_json(config_of(a)));
    CHECK(c.swin.embed_dim == 4);
    CHECK(c.swin.patch_size == 1);
    CHECK(c.swin.window_size == 4);
    CHECK(c.swin.depths == std::vector<std::int64_t>{2, 2, 2, 1});
    CHECK(c.bridge_channels == std::vector<std::int64_t>{8, 8, 8, 8});
    CHECK(c.bridge_reduction == 4);
    CHECK(c.stack_channels == 16);
    CHECK(c.attention_heads == 4);
  }
  check_network("network_b", fixture("network_b"), false);  // 7×7 fused map, as at 224
}

TEST_CASE("DGIQA defaults describe the published network", "[models][dgiqa]") {
  const DGIQA::Config c;
  CHECK(c.fused_channels() == 960);
  CHECK(c.swin.img_size == nn::SwinTransformer::Size2{224, 224});
  CHECK(c.swin.embed_dim == 96);
  CHECK(c.swin.features_only);
  CHECK(c.attention_heads == 16);
  CHECK(c.stack_channels == 1024);
  CHECK_NOTHROW(DGIQA(c));
}

TEST_CASE("DGIQA loader: pre-release names, timm buffers, strict errors", "[models][dgiqa][bad-input]") {
  const io::WeightFile file = fixture("network_b");
  const json::Value config = config_of(file);
  Context ctx;
  const Tensor<float> expected = io_tensor(file, "logits");
  const auto logits = [&](const DGIQA& m) {
    return m.forward(io_tensor(file, "image"), io_tensor(file, "depth"), ctx).logits;
  };

  SECTION("tsb*, cross_spatialattention., spatialattention. load as the released names") {
    io::WeightFile w = weights_only(file);
    for (int k = 1; k <= 4; ++k) {
      rename_prefix(w, "tcb" + std::to_string(k) + "_depth.", "tsb" + std::to_string(k) + "_depth.");
      rename_prefix(w, "tcb" + std::to_string(k) + ".", "tsb" + std::to_string(k) + ".");
    }
    rename_prefix(w, "depth_guided_cross_attention.", "cross_spatialattention.");
    rename_prefix(w, "refinement_attention.", "spatialattention.");
    io::WeightStore store(std::move(w));
    test::check_parity("network_b with pre-release names", logits(models::load_dgiqa(store, config)), expected);
  }

  const io::WeightFile a = fixture("network_a");
  const io::WeightFile buffers = fixture("network_a_buffers");
  SECTION("timm 0.9.0-0.9.5 buffers are accepted and checked") {
    io::WeightFile w = weights_only(a);
    for (const auto& r : buffers.tensors) w.tensors.push_back(r);
    REQUIRE(std::any_of(buffers.tensors.begin(), buffers.tensors.end(),
                        [](const auto& r) { return r.name == "backbone.layers_0.blocks.1.attn_mask"; }));
    io::WeightStore store(std::move(w));
    const DGIQA m = models::load_dgiqa(store, config_of(a));
    test::check_parity("network_a with buffers",
                       m.forward(io_tensor(a, "image"), io_tensor(a, "depth"), ctx).logits, io_tensor(a, "logits"));
  }
  SECTION("a stored mask that differs from the computed one is an error") {
    io::WeightFile w = weights_only(a);
    for (const auto& r : buffers.tensors) w.tensors.push_back(r);
    auto it = std::find_if(w.tensors.begin(), w.tensors.end(),
                           [](const auto& r) { return r.name == "backbone.layers_1.blocks.1.attn_mask"; });
    REQUIRE(it != w.tensors.end());
    std::vector<float> copy(it->nbytes() / 4);
    std::memcpy(copy.data(), it->data, it->nbytes());
    const auto blocked = std::find(copy.begin(), copy.end(), -100.0f);
    REQUIRE(blocked != copy.end());
    *blocked = 0.0f;
    it->data = reinterpret_cast<const std::byte*>(copy.data());
    io::WeightStore store(std::move(w));
    CHECK_THROWS_WITH(models::load_dgiqa(store, config_of(a)), Catch::Contains("backbone.layers_1.blocks.1.attn_mask"));
  }
  SECTION("a missing key is named") {
    io::WeightFile w = weights_only(file);
    std::erase_if(w.tensors, [](const auto& r) { return r.name == "tcb3_depth.conv2.weight"; });
    io::WeightStore store(std::move(w));
    CHECK_THROWS_WITH(models::load_dgiqa(store, config), Catch::Contains("tcb3_depth.conv2.weight"));
  }
  SECTION("an unexpected key is named") {
    io::WeightFile w = weights_only(file);
    auto extra = *std::find_if(w.tensors.begin(), w.tensors.end(), [](const auto& r) { return r.name == "fc.bias"; });
    extra.name = "fc_extra.bias";
    w.tensors.push_back(extra);
    io::WeightStore store(std::move(w));
    CHECK_THROWS_WITH(models::load_dgiqa(store, config), Catch::Contains("fc_extra.bias"));
  }
  SECTION("heads that do not divide the fused width") {
    io::WeightStore store(weights_only(file));
    json::Value c = config_of(file);  // a fresh object: Values share their contents
    c.set("attention_heads", 5);
    CHECK_THROWS_WITH(models::load_dgiqa(store, c), Catch::Contains("heads"));
  }
  SECTION("not a DGIQA state_dict") {
    io::WeightFile w = weights_only(file);
    rename_prefix(w, "backbone.", "rgb.");
    io::WeightStore store(std::move(w));
    CHECK_THROWS_WITH(models::load_dgiqa(store, config), Catch::Contains("backbone"));
  }
  SECTION("inputs of the wrong size") {
    io::WeightStore store(weights_only(file));
    const DGIQA m = models::load_dgiqa(store, config);
    const Tensor<float> small = Tensor<float>::zeros({1, 3, 32, 32});
    CHECK_THROWS_WITH(m.forward(small, small, ctx), Catch::Contains("[N, 3, 56, 56]"));
  }
}

TEST_CASE("cli: biqa infer --model dgiqa takes image and depth, writes score and logit", "[models][dgiqa][tools]") {
  const io::WeightFile file = fixture("network_b");
  test::TempDir dir;
  std::vector<io::TensorBlob> weights;
  for (const auto& r : weights_only(file).tensors)
    weights.push_back({r.name, r.dtype, r.shape, file.contiguous_bytes(r)});
  io::write_safetensors(dir.file("w.safetensors"), weights, {{"biqa.config", file.metadata.at("biqa.config")}});
  io::write_safetensors(dir.file("in.safetensors"),
                        {io::make_blob("image", io_tensor(file, "image")), io::make_blob("depth", io_tensor(file, "depth"))});
  const auto r = test::run_cli("infer --model dgiqa --weights '" + dir.file("w.safetensors") + "' --input '" +
                               dir.file("in.safetensors") + "' --output '" + dir.file("out.safetensors") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const io::WeightFile out = io::load_weights(dir.file("out.safetensors"));
  test::check_parity("cli score", out.to_float(out.at("score")), io_tensor(file, "scores"));
  test::check_parity("cli logit", out.to_float(out.at("logit")), io_tensor(file, "logits"));

  const auto missing = test::run_cli("infer --model dgiqa --weights '" + dir.file("w.safetensors") + "' --input '" +
                                     dir.file("w.safetensors") + "' --output '" + dir.file("o.safetensors") + "'");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.out, Catch::Contains("\"image\" and \"depth\""));
}
