// nn::SwinTransformer against timm 0.9.16 (fixtures from tools/reference/make_swin_fixtures.py),
// max|out − ref| / max|ref| ≤ 1e-4 in float32.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/nn/swin_transformer.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;
using biqa::nn::SwinTransformer;

namespace {

io::WeightFile fixture_file(const std::string& name) { return io::load_weights(test::fixture_path("nn/" + name)); }

// The fixture's weights alone (its "io.*" tensors dropped).
io::WeightFile weights_only(io::WeightFile file) {
  std::erase_if(file.tensors, [](const io::TensorRecord& r) { return r.name.rfind("io.", 0) == 0; });
  return file;
}

Tensor<float> io_tensor(const io::WeightFile& file, const std::string& name) {
  return file.to_float(file.at("io." + name));
}

SwinTransformer::Config fixture_config(const io::WeightFile& file) {
  return SwinTransformer::Config::from_json(json::parse(file.metadata.at("config"), "config"));
}

void check_stages(const std::string& label, const SwinTransformer::Outputs& out, const io::WeightFile& ref) {
  REQUIRE(out.stages.size() == 4);
  for (int s = 0; s < 4; ++s)
    test::check_parity(label + " layers_" + std::to_string(s), out.stages[static_cast<std::size_t>(s)],
                       io_tensor(ref, "layers_" + std::to_string(s)));
}

}  // namespace

TEST_CASE("SwinTransformer matches timm: stages and logits", "[nn][swin]") {
  const io::WeightFile file = fixture_file("swin_tiny.safetensors");
  const auto config = fixture_config(file);
  SwinTransformer model(config);
  io::WeightStore store(weights_only(file));
  model.load(store.root());
  store.finish();

  // Window clamp and shifts as timm builds them: stages 0, 1 shift by 2; stage 2 (4 = window)
  // never shifts; stage 3 (2 < window) uses a 2×2 window.
  using S = nn::swin_detail::Size2;
  CHECK(model.blocks(0)[1].shift_size() == S{2, 2});
  CHECK(model.blocks(1)[1].shift_size() == S{2, 2});
  CHECK(model.blocks(2)[1].shift_size() == S{0, 0});
  CHECK(model.blocks(2)[1].window_size() == S{4, 4});
  CHECK(model.blocks(3)[0].window_size() == S{2, 2});

  Context ctx;
  const auto out = model.forward(io_tensor(file, "input"), ctx);
  check_stages("swin_tiny", out, file);
  test::check_parity("swin_tiny logits", out.logits, io_tensor(file, "logits"));
}

TEST_CASE("SwinTransformer features_only weights (layers_N keys), padded and clamped windows", "[nn][swin]") {
  const io::WeightFile file = fixture_file("swin_features.safetensors");
  io::WeightStore store(weights_only(file));
  // The config from the weights alone (plus the image size and window) equals timm's.
  auto config = fixture_config(file);
  const auto derived = SwinTransformer::Config::from_weights(store.root(), SwinTransformer::Config(), false);
  CHECK(derived.features_only);
  CHECK(derived.embed_dim == config.embed_dim);
  CHECK(derived.depths == config.depths);
  CHECK(derived.num_heads == config.num_heads);
  CHECK(derived.mlp_ratio == config.mlp_ratio);
  CHECK(derived.qkv_bias == config.qkv_bias);
  CHECK(derived.patch_size == config.patch_size);

  config.features_only = true;
  SwinTransformer model(config);
  model.load(store.root());
  store.finish();
  using S = nn::swin_detail::Size2;
  CHECK(model.blocks(2)[1].window_size() == S{4, 5});
  CHECK(model.blocks(2)[1].shift_size() == S{0, 2});
  Context ctx;
  const auto out = model.forward(io_tensor(file, "input"), ctx);
  CHECK_FALSE(out.logits.defined());
  check_stages("swin_features", out, file);

  SECTION("the wrapper's keys need features_only") {
    config.features_only = false;
    SwinTransformer plain(config);
    io::WeightStore again(weights_only(file));
    CHECK_THROWS_WITH(plain.load(again.root()), Catch::Contains("features_only"));
  }
}

TEST_CASE("SwinTransformer loads the same weights under layers.N and layers_N", "[nn][swin]") {
  const io::WeightFile file = fixture_file("swin_tiny.safetensors");
  io::WeightFile renamed = weights_only(file);
  std::erase_if(renamed.tensors, [](const io::TensorRecord& r) {
    return r.name.rfind("norm.", 0) == 0 || r.name.rfind("head.", 0) == 0;
  });
  for (auto& r : renamed.tensors)
    if (r.name.rfind("layers.", 0) == 0) r.name[6] = '_';
  io::WeightStore store(std::move(renamed));
  auto config = SwinTransformer::Config::from_weights(store.root(), fixture_config(file), true);
  CHECK(config.features_only);
  CHECK(config.window_size == 4);
  SwinTransformer model(config);
  model.load(store.root());
  store.finish();
  Context ctx;
  check_stages("swin_tiny as layers_N", model.forward(io_tensor(file, "input"), ctx), file);
}

TEST_CASE("SwinTransformer checks stored relative_position_index and attn_mask buffers", "[nn][swin]") {
  const io::WeightFile file = fixture_file("swin_tiny.safetensors");
  const io::WeightFile buffers = fixture_file("swin_buffers.safetensors");  // keeps its mapping alive
  io::WeightFile merged = weights_only(file);
  for (const auto& r : buffers.tensors) merged.tensors.push_back(r);
  REQUIRE(std::any_of(buffers.tensors.begin(), buffers.tensors.end(),
                      [](const auto& r) { return r.name == "layers.0.blocks.1.attn_mask"; }));
  const auto config = fixture_config(file);
  Context ctx;

  SECTION("timm's buffers agree with the computed ones") {
    io::WeightStore store(merged);
    SwinTransformer model(config);
    model.load(store.root());
    store.finish();  // every buffer was read
    check_stages("swin_tiny with buffers", model.forward(io_tensor(file, "input"), ctx), file);
  }
  SECTION("a changed index is an error") {
    auto it = std::find_if(merged.tensors.begin(), merged.tensors.end(), [](const auto& r) {
      return r.name == "layers.1.blocks.0.attn.relative_position_index";
    });
    REQUIRE(it != merged.tensors.end());
    std::vector<std::byte> copy(it->data, it->data + it->nbytes());
    std::int64_t v;
    std::memcpy(&v, copy.data() + 8, 8);
    ++v;
    std::memcpy(copy.data() + 8, &v, 8);
    it->data = copy.data();
    io::WeightStore store(merged);
    SwinTransformer model(config);
    CHECK_THROWS_WITH(model.load(store.root()), Catch::Contains("layers.1.blocks.0.attn.relative_position_index"));
  }
  SECTION("a changed mask is an error") {
    auto it = std::find_if(merged.tensors.begin(), merged.tensors.end(),
                           [](const auto& r) { return r.name == "layers.0.blocks.1.attn_mask"; });
    REQUIRE(it != merged.tensors.end());
    std::vector<float> copy(it->nbytes() / 4);
    std::memcpy(copy.data(), it->data, it->nbytes());
    const auto blocked = std::find(copy.begin(), copy.end(), -100.0f);
    REQUIRE(blocked != copy.end());
    *blocked = 0.0f;
    it->data = reinterpret_cast<const std::byte*>(copy.data());
    io::WeightStore store(merged);
    SwinTransformer model(config);
    CHECK_THROWS_WITH(model.load(store.root()), Catch::Contains("layers.0.blocks.1.attn_mask"));
  }
}

TEST_CASE("SwinTransformer strict loading names the wrong keys", "[nn][swin]") {
  const io::WeightFile file = fixture_file("swin_tiny.safetensors");
  const auto config = fixture_config(file);

  SECTION("missing") {
    io::WeightFile w = weights_only(file);
    std::erase_if(w.tensors, [](const auto& r) { return r.name == "layers.2.downsample.reduction.weight"; });
    io::WeightStore store(std::move(w));
    SwinTransformer model(config);
    model.load(store.root());
    CHECK_THROWS_WITH(store.finish(), Catch::Contains("layers.2.downsample.reduction.weight"));
  }
  SECTION("wrong window: the bias tables have the wrong shape") {
    auto c = config;
    c.window_size = 3;
    io::WeightStore store(weights_only(file));
    SwinTransformer model(c);
    model.load(store.root());
    CHECK_THROWS_WITH(store.finish(), Catch::Contains("layers.0.blocks.0.attn.relative_position_bias_table"));
  }
  SECTION("unexpected") {
    io::WeightStore store(weights_only(file));
    auto c = config;
    c.features_only = true;  // norm and head stay unread
    SwinTransformer model(c);
    model.load(store.root());
    CHECK_THROWS_WITH(store.finish(), Catch::Contains("head.fc.weight"));
  }
  SECTION("the pre-0.9 layout (merging at the end of a stage) is named") {
    io::WeightFile w = weights_only(file);
    for (auto& r : w.tensors)
      for (int s = 1; s <= 3; ++s) {
        const std::string from = "layers." + std::to_string(s) + ".downsample.";
        if (r.name.rfind(from, 0) == 0) r.name = "layers." + std::to_string(s - 1) + ".downsample." + r.name.substr(from.size());
      }
    io::WeightStore store(std::move(w));
    SwinTransformer model(config);
    CHECK_THROWS_WITH(model.load(store.root()), Catch::Contains("pre-0.9 layout"));
  }
  SECTION("input size other than img_size") {
    io::WeightStore store(weights_only(file));
    SwinTransformer model(config);
    model.load(store.root());
    Context ctx;
    CHECK_THROWS_AS(model.forward(Tensor<float>::zeros({1, 3, 64, 64}), ctx), biqa::Error);
  }
}

TEST_CASE("biqa infer --model swin", "[nn][swin][cli]") {
  const io::WeightFile file = fixture_file("swin_tiny.safetensors");
  test::TempDir dir;
  std::vector<io::TensorBlob> blobs;
  for (const auto& r : weights_only(file).tensors) blobs.push_back(io::make_blob(r.name, file.to_float(r)));
  io::write_safetensors(dir.file("w.safetensors"), blobs);
  io::write_npy(dir.file("x.npy"), io_tensor(file, "input"));

  // No config: dimensions from the weight shapes, the image size from the input.
  const auto r = test::run_cli("infer --model swin --weights '" + dir.file("w.safetensors") + "' --input '" +
                               dir.file("x.npy") + "' --output '" + dir.file("y.safetensors") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const io::WeightFile y = io::load_weights(dir.file("y.safetensors"));
  REQUIRE(y.tensors.size() == 5);
  CHECK(y.tensors[0].name == "logits");
  test::check_parity("cli logits", y.to_float(y.at("logits")), io_tensor(file, "logits"));
  for (int s = 0; s < 4; ++s) {
    const std::string name = "layers_" + std::to_string(s);
    test::check_parity("cli " + name, y.to_float(y.at(name)), io_tensor(file, name));
  }

  // A config that contradicts the weights fails with the key named.
  {
    FILE* f = std::fopen(dir.file("c.json").c_str(), "w");
    std::fputs("{\"window_size\": 3}", f);
    std::fclose(f);
  }
  const auto bad = test::run_cli("infer --model swin --weights '" + dir.file("w.safetensors") + "' --config '" +
                                 dir.file("c.json") + "' --input '" + dir.file("x.npy") + "' --output '" +
                                 dir.file("z.npy") + "'");
  CHECK(bad.status == 2);
  CHECK(bad.out.find("relative_position_bias_table") != std::string::npos);
}

TEST_CASE("Swin windows written with views (the device path) equal the CPU's gather, roll and padding included",
          "[nn][swin]") {
  using S = nn::swin_detail::Size2;
  Context ctx(2);
  // 9×11 maps: a 4×4 window pads both axes (to 12×12); 3×11 divides both; shifts of 0, 1 and 2.
  for (const S win : {S{4, 4}, S{3, 11}}) {
    for (const S shift : {S{0, 0}, S{2, 1}, S{1, 2}}) {
      const Tensor<float> x = test::random_tensor({2, 9, 11, 5}, 7);
      const Tensor<float> gathered = nn::swin_detail::partition(x, win, shift, ctx);
      const Tensor<float> by_views = nn::swin_detail::partition_by_views(x, win, shift);
      INFO("window " << win[0] << "x" << win[1] << ", shift " << shift[0] << "," << shift[1]);
      REQUIRE(by_views.shape() == gathered.shape());
      REQUIRE(by_views.to_vector() == gathered.to_vector());  // copies only: equal bit for bit
      const Tensor<float> merged = nn::swin_detail::merge(gathered, 2, {9, 11}, win, shift, ctx);
      const Tensor<float> merged_by_views = nn::swin_detail::merge_by_views(gathered, 2, {9, 11}, win, shift);
      REQUIRE(merged_by_views.to_vector() == merged.to_vector());
      REQUIRE(merged.to_vector() == x.to_vector());  // merge undoes partition
    }
  }
}
