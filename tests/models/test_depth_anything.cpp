#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include "biqa/io/image.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/depth_anything.hpp"
#include "support/parity.hpp"

// Fixtures: tools/reference/make_depth_fixtures.py runs the DGIQA authors' vendored Depth Anything
// V1 / DINOv2 classes with random weights (shrunken widths and depths, patch 14). Tolerance: 1e-4
// relative (max|out − ref| / max|ref|) per module, as everywhere.

using biqa::Context;
using biqa::Tensor;
namespace models = biqa::models;
namespace io = biqa::io;
using DepthAnything = models::DepthAnything;
using ViT = biqa::nn::VisionTransformer;

namespace {

std::string model_fixture(const std::string& name) { return biqa::test::fixture_path("models/depth_anything_" + name + ".safetensors"); }

struct Fixture {
  io::WeightStore store;
  biqa::json::Value config;
  explicit Fixture(const std::string& name, const std::vector<std::string>& drop = {})
      : store(open(name, drop)) {
    config = biqa::json::parse(store.file().metadata.at("config"), name);
  }
  static io::WeightStore open(const std::string& name, const std::vector<std::string>& drop) {
    io::WeightFile file = io::load_weights(model_fixture(name));
    for (const auto& k : drop) {
      const auto before = file.tensors.size();
      std::erase_if(file.tensors, [&](const io::TensorRecord& r) { return r.name == k; });
      REQUIRE(file.tensors.size() + 1 == before);
    }
    return io::WeightStore(std::move(file));
  }
  Tensor<float> io(const std::string& name) { return store.take("io." + name, std::nullopt); }
  // Marks every io.* tensor read, so that finish() judges the weights only.
  void take_all_io() {
    for (const auto& k : store.keys_with_prefix("io.")) store.ignore(k);
  }
};

template <typename T>
Tensor<T> raw_tensor(const io::WeightFile& f, const std::string& name) {
  const io::TensorRecord& r = f.at(name);
  REQUIRE(r.dtype == biqa::dtype_v<T>);
  Tensor<T> t(r.shape);
  const auto bytes = f.contiguous_bytes(r);
  std::memcpy(t.data(), bytes.data(), bytes.size());
  return t;
}

DepthAnything::Config encoder_only_config(const biqa::json::Value& c) {
  DepthAnything::Config cfg;
  cfg.embed_dim = c["embed_dim"].as_int();
  cfg.depth = c["depth"].as_int();
  cfg.num_heads = c["num_heads"].as_int();
  cfg.img_size = c["img_size"].as_int();
  if (const auto* m = c.find("mlp_ratio")) cfg.mlp_ratio = m->as_number();
  return cfg;
}

}  // namespace

TEST_CASE("DepthAnything encoder: DINOv2 get_intermediate_layers(x, 4, return_class_token=True)",
          "[models][depth_anything]") {
  // Stored grid (no resampling), wider and taller grids (pos_embed resampled with the 0.1 offset).
  for (const char* name : {"encoder", "encoder_s2"}) {
    Fixture f(name);
    ViT vit(encoder_only_config(f.config).encoder_config());
    vit.load(f.store.root(), ViT::KeyNames::dinov2());
    const std::int64_t d = vit.depth();
    for (int threads : {1, 2}) {
      Context ctx(threads);
      for (const auto& in : f.config["inputs"].as_array()) {
        const std::string key = in.as_string();
        const Tensor<float> x = f.io(key);
        const auto taps = vit.forward_intermediates(x, {d - 4, d - 3, d - 2, d - 1}, ctx, true);
        for (int i = 0; i < 4; ++i) {
          const std::string label = std::string(name) + "/" + key + "/tap" + std::to_string(i) + "/threads=" + std::to_string(threads);
          biqa::test::check_parity(label + "/patches", vit.patch_tokens(taps[i]).contiguous(), f.io(key + ".block" + std::to_string(i)));
          biqa::test::check_parity(label + "/cls", taps[i].select(1, 0).contiguous(), f.io(key + ".cls" + std::to_string(i)));
        }
      }
    }
    f.store.finish();  // every encoder weight used, mask_token accepted
  }
}

TEST_CASE("DepthAnything encoder: the 37x37 position table resampled for 518x686, 532x518, 518x518",
          "[models][depth_anything]") {
  Fixture f("pos_embed");
  ViT vit(encoder_only_config(f.config).encoder_config());
  vit.load(f.store.root(), ViT::KeyNames::dinov2());
  Context ctx;
  for (const auto& g : f.config["grids"].as_array()) {
    const auto [gh, gw] = biqa::test::pair_of(g);
    const std::string key = "grid" + std::to_string(gh) + "x" + std::to_string(gw);
    biqa::test::check_parity("pos_embed/" + key, vit.pos_embed_for(gh, gw, ctx), f.io(key));
  }
  f.take_all_io();
  f.store.finish();
}

TEST_CASE("DPT pieces: ResidualConvUnit and FeatureFusionBlock (align_corners=True resizes)",
          "[models][depth_anything]") {
  Context ctx(2);
  {
    Fixture f("rcu");
    models::dpt::ResidualConvUnit rcu(f.config["features"].as_int());
    rcu.load(f.store.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store.finish();
    biqa::test::check_parity("dpt/rcu", rcu.forward(x, ctx), ref);
  }
  {
    Fixture f("fusion");
    models::dpt::FeatureFusionBlock block(f.config["features"].as_int());
    block.load(f.store.root());
    const Tensor<float> x = f.io("input"), skip = f.io("skip"), fused = f.io("fused"), single = f.io("single");
    f.store.finish();
    const auto [fh, fw] = biqa::test::pair_of(f.config["fused_size"]);
    biqa::test::check_parity("dpt/fusion/two_inputs_sized", block.forward(x, skip, fh, fw, ctx), fused);
    biqa::test::check_parity("dpt/fusion/one_input_x2", block.forward(x, {}, 2 * x.size(2), 2 * x.size(3), ctx), single);
    REQUIRE_THROWS_AS(block.forward(x, Tensor<float>::zeros({2, 6, 3, 5}), fh, fw, ctx), biqa::Error);
  }
}

TEST_CASE("DPT head: projections, transposed convs, refinenets, output convs", "[models][depth_anything]") {
  for (const char* name : {"head", "head_s2"}) {
    Fixture f(name);
    const auto& c = f.config;
    models::dpt::DptHead::Config hc;
    hc.in_channels = c["in_channels"].as_int();
    hc.features = c["features"].as_int();
    for (int i = 0; i < 4; ++i) hc.out_channels[i] = c["out_channels"].as_array()[static_cast<std::size_t>(i)].as_int();
    models::dpt::DptHead head(hc);
    head.load(f.store.root());
    std::vector<Tensor<float>> tokens;
    for (int i = 0; i < 4; ++i) tokens.push_back(f.io("tokens" + std::to_string(i)));
    const Tensor<float> ref = f.io("output");
    f.store.finish();  // refinenet4.resConfUnit1 is in the file and accepted
    const auto [gh, gw] = biqa::test::pair_of(c["grid"]);
    for (int threads : {1, 2}) {
      Context ctx(threads);
      biqa::test::check_parity(std::string("dpt/") + name + "/threads=" + std::to_string(threads),
                               head.forward(tokens, gh, gw, ctx), ref);
    }
    Context ctx;
    REQUIRE_THROWS_AS(head.forward(tokens, gh + 1, gw, ctx), biqa::Error);  // token count does not match
  }
}

TEST_CASE("DPT head: the stages after refinenet1 in row bands give the whole-map result", "[models][depth_anything]") {
  // Bands of 1 and 5 rows, and one larger than the map, against the whole map (0) and PyTorch:
  // refinenet1's ×2 resize, output_conv1, the resize and output_conv2, band by band.
  Tensor<float> whole;
  for (const std::int64_t band_rows : {0, 1, 5, 1000}) {
    Fixture f("head");
    const auto& c = f.config;
    models::dpt::DptHead::Config hc;
    hc.in_channels = c["in_channels"].as_int();
    hc.features = c["features"].as_int();
    for (int i = 0; i < 4; ++i) hc.out_channels[i] = c["out_channels"].as_array()[static_cast<std::size_t>(i)].as_int();
    std::vector<Tensor<float>> tokens;
    for (int i = 0; i < 4; ++i) tokens.push_back(f.io("tokens" + std::to_string(i)));
    const auto [gh, gw] = biqa::test::pair_of(c["grid"]);
    const std::int64_t row_bytes = tokens[0].size(0) * (hc.features / 2) * hc.patch_size * gw * std::int64_t(sizeof(float));
    hc.output_band_bytes = band_rows * row_bytes;
    models::dpt::DptHead head(hc);
    head.load(f.store.root());
    const Tensor<float> ref = f.io("output");
    f.store.finish();
    REQUIRE(hc.patch_size * gh > 5);  // several bands
    Context ctx(2);
    const Tensor<float> out = head.forward(tokens, gh, gw, ctx);
    biqa::test::check_parity("dpt/head/band_rows=" + std::to_string(band_rows), out, ref);
    if (band_rows == 0) whole = out;
    else CHECK(biqa::test::parity_error(out, whole) == 0.0);  // the same arithmetic, row by row
  }
}

TEST_CASE("DepthAnything: the whole DPT_DINOv2 network with a config read from the weights",
          "[models][depth_anything]") {
  for (const char* name : {"net", "net_s2"}) {
    Fixture f(name);
    const DepthAnything::Config cfg = DepthAnything::Config::from_weights(f.store);
    const auto& enc = f.config["encoder"];
    CHECK(cfg.embed_dim == enc["embed_dim"].as_int());
    CHECK(cfg.depth == enc["depth"].as_int());
    CHECK(cfg.img_size == enc["img_size"].as_int());
    CHECK(cfg.features == f.config["features"].as_int());
    CHECK(cfg.encoder == "custom");
    // num_heads is not in the shapes (heads of 64 assumed); the fixtures use other head sizes.
    DepthAnything::Config c2 = cfg;
    c2.num_heads = enc["num_heads"].as_int();
    if (const auto* m = enc.find("mlp_ratio")) CHECK(cfg.mlp_ratio == m->as_number());
    DepthAnything model(c2);
    model.load(f.store);
    const Tensor<float> x = f.io("input"), ref = f.io("depth");
    std::vector<Tensor<float>> ref_blocks, ref_cls;
    for (int i = 0; i < 4; ++i) {
      ref_blocks.push_back(f.io("input.block" + std::to_string(i)));
      ref_cls.push_back(f.io("input.cls" + std::to_string(i)));
    }
    f.store.finish();
    for (int threads : {1, 2}) {
      Context ctx(threads);
      std::vector<Tensor<float>> blocks, cls;
      const std::string label = std::string(name) + "/threads=" + std::to_string(threads);
      biqa::test::check_parity(label + "/depth", model.forward(x, ctx, &blocks, &cls), ref);
      for (int i = 0; i < 4; ++i) {
        biqa::test::check_parity(label + "/block" + std::to_string(i), blocks[static_cast<std::size_t>(i)], ref_blocks[static_cast<std::size_t>(i)]);
        biqa::test::check_parity(label + "/cls" + std::to_string(i), cls[static_cast<std::size_t>(i)], ref_cls[static_cast<std::size_t>(i)]);
      }
    }
  }
}

TEST_CASE("DepthAnything config: presets, JSON, preset detection", "[models][depth_anything]") {
  const auto l = DepthAnything::Config::vitl();
  CHECK(l.preset_name() == "vitl");
  CHECK(DepthAnything::Config::vits().preset_name() == "vits");
  CHECK(DepthAnything::Config::vitb().out_channels == std::array<std::int64_t, 4>{96, 192, 384, 768});
  const auto j = DepthAnything::Config::from_json(biqa::json::parse(R"({"encoder": "vitb"})", "cfg"));
  CHECK(j.encoder == "vitb");
  CHECK(j.features == 128);
  const auto k = DepthAnything::Config::from_json(
      biqa::json::parse(R"({"encoder": "vits", "depth": 6, "out_channels": [8, 16, 24, 32]})", "cfg"));
  CHECK(k.encoder == "custom");
  CHECK(k.embed_dim == 384);
  CHECK(k.depth == 6);
  REQUIRE_THROWS_WITH(DepthAnything::Config::named("vitg"), Catch::Contains("unknown encoder 'vitg'"));
  REQUIRE_THROWS_AS(DepthAnything::Config::from_json(biqa::json::parse(R"({"out_channels": [1, 2]})", "cfg")),
                    biqa::Error);
  DepthAnything::Config shallow = DepthAnything::Config::vits();
  shallow.depth = 3;
  REQUIRE_THROWS_WITH(DepthAnything{shallow}, Catch::Contains("at least 4 blocks"));
}

TEST_CASE("DepthAnything: missing and mis-shaped keys are named; refinenet4.resConfUnit1 is optional",
          "[models][depth_anything]") {
  const std::string missing = "depth_head.scratch.refinenet2.resConfUnit1.conv1.weight";
  {
    Fixture f("net_s2", {missing});
    DepthAnything::Config cfg = DepthAnything::Config::from_weights(f.store);
    cfg.num_heads = 3;
    DepthAnything model(cfg);
    model.load(f.store);
    f.take_all_io();
    REQUIRE_THROWS_WITH(f.store.finish(), Catch::Contains(missing + " [8, 8, 3, 3]"));
  }
  {
    // The unused unit may be absent too.
    const std::string p = "depth_head.scratch.refinenet4.resConfUnit1.";
    Fixture f("net_s2", {p + "conv1.weight", p + "conv1.bias", p + "conv2.weight", p + "conv2.bias"});
    DepthAnything::Config cfg = DepthAnything::Config::from_weights(f.store);
    cfg.num_heads = 3;
    DepthAnything model(cfg);
    model.load(f.store);
    f.take_all_io();
    REQUIRE_NOTHROW(f.store.finish());
  }
  {
    Fixture f("net_s2");
    DepthAnything::Config cfg = DepthAnything::Config::from_weights(f.store);
    cfg.num_heads = 3;
    cfg.features = 10;  // the file's head has 8
    DepthAnything model(cfg);
    model.load(f.store);
    f.take_all_io();
    REQUIRE_THROWS_WITH(f.store.finish(),
                        Catch::Contains("depth_head.scratch.layer1_rn.weight: file has [8, 4, 3, 3], expected [10, 4, 3, 3]"));
  }
  {
    // A published preset against a shrunken file: every block beyond the file's is missing.
    Fixture f("net_s2");
    DepthAnything model(DepthAnything::Config::vits());
    model.load(f.store);
    f.take_all_io();
    REQUIRE_THROWS_WITH(f.store.finish(), Catch::Contains("pretrained.pos_embed: file has [1, 5, 24], expected [1, 1370, 384]"));
  }
  {
    io::WeightStore empty(io::WeightFile{});
    REQUIRE_THROWS_WITH(DepthAnything::Config::from_weights(empty), Catch::Contains("not a Depth Anything V1 checkpoint"));
  }
}

TEST_CASE("DepthAnything rejects bad inputs", "[models][depth_anything]") {
  Fixture f("net_s2");
  DepthAnything::Config cfg = DepthAnything::Config::from_weights(f.store);
  cfg.num_heads = 3;
  DepthAnything model(cfg);
  Context ctx;
  REQUIRE_THROWS_WITH(model.forward(Tensor<float>::zeros({1, 3, 28, 28}), ctx), Catch::Contains("before load"));
  model.load(f.store);
  REQUIRE_THROWS_WITH(model.forward(Tensor<float>::zeros({1, 3, 30, 28}), ctx), Catch::Contains("multiple of the patch size"));
  REQUIRE_THROWS_AS(model.forward(Tensor<float>::zeros({1, 4, 28, 28}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(model.forward(Tensor<float>::zeros({3, 28, 28}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(models::depth_image(model, Tensor<std::uint8_t>::zeros({8, 8, 4}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(models::depth_image(model, Tensor<std::uint8_t>::zeros({0, 8, 3}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(models::depth_image(model, Tensor<std::uint8_t>::zeros({8, 8, 3, 1}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(models::depth_input_size(0, 5), biqa::Error);
  Tensor<float> nan_map = Tensor<float>::zeros({2, 2});
  nan_map.data()[1] = std::nanf("");
  REQUIRE_THROWS_AS(models::depth_to_u8(nan_map), biqa::Error);
}

TEST_CASE("DGIQA depth image: DepthGenerator's resize rule, network input, float map and uint8 image",
          "[models][depth_anything]") {
  const io::WeightFile gf = io::load_weights(model_fixture("generator"));
  const biqa::json::Value table = biqa::json::parse(gf.metadata.at("resize_table"), "resize_table");
  const biqa::json::Value cases = biqa::json::parse(gf.metadata.at("cases"), "cases");
  for (const auto& row : table.as_array()) {
    const auto& r = row.as_array();
    const auto size = models::depth_input_size(r[0].as_int(), r[1].as_int());
    INFO("image " << r[0].as_int() << "x" << r[1].as_int());
    CHECK(size[0] == r[2].as_int());
    CHECK(size[1] == r[3].as_int());
  }
  for (const auto& c : cases.as_array()) {
    const std::string key = c["name"].as_string();
    Fixture net(c["net"].as_string());
    DepthAnything::Config cfg = DepthAnything::Config::from_weights(net.store);
    cfg.num_heads = net.config["encoder"]["num_heads"].as_int();
    DepthAnything model(cfg);
    model.load(net.store);
    const Tensor<std::uint8_t> image = raw_tensor<std::uint8_t>(gf, key + ".image");
    const Tensor<std::uint8_t> ref_image = raw_tensor<std::uint8_t>(gf, key + ".depth_image");
    const Tensor<float> ref_map = gf.to_float(gf.at(key + ".depth_map"));

    // The network input: double-precision bicubic + normalisation, first and last rows.
    const Tensor<float> input = models::depth_input(image);
    const auto [ih, iw] = biqa::test::pair_of(c["input_size"]);
    REQUIRE(input.size(2) == ih);
    REQUIRE(input.size(3) == iw);
    biqa::test::check_parity("generator/" + key + "/input_top", input.select(0, 0).slice(1, 0, 4).contiguous(),
                             gf.to_float(gf.at(key + ".input_top")), 1e-6);
    biqa::test::check_parity("generator/" + key + "/input_bottom", input.select(0, 0).slice(1, ih - 4, ih).contiguous(),
                             gf.to_float(gf.at(key + ".input_bottom")), 1e-6);

    Context ctx(2);
    const Tensor<float> map = models::depth_map_from_input(model, input, image.size(0), image.size(1), ctx);
    biqa::test::check_parity("generator/" + key + "/depth_map", map, ref_map);
    const Tensor<std::uint8_t> out = models::replicate_to_rgb(models::depth_to_u8(map));
    REQUIRE(out.shape() == ref_image.shape());
    std::int64_t flips = 0, worst = 0;
    for (std::int64_t i = 0; i < out.numel(); ++i) {
      const std::int64_t d = std::abs(int(out.data()[i]) - int(ref_image.data()[i]));
      flips += d != 0;
      worst = std::max(worst, d);
    }
    if (std::getenv("BIQA_PARITY_REPORT"))
      std::printf("parity generator/%s/uint8: %lld of %lld values differ (max %lld)\n", key.c_str(),
                  static_cast<long long>(flips), static_cast<long long>(out.numel()), static_cast<long long>(worst));
    INFO(flips << " of " << out.numel() << " uint8 values differ, max difference " << worst);
    CHECK(worst <= 1);
    CHECK(flips * 100 <= out.numel());  // ±1 flips at truncation boundaries only, under 1%
    // The one-call form gives the same image.
    const Tensor<std::uint8_t> direct = models::depth_image(model, image, ctx);
    REQUIRE(std::memcmp(direct.data(), out.data(), static_cast<std::size_t>(out.numel())) == 0);
  }
}

TEST_CASE("depth_to_u8: min-max to 0..255 with truncation and the 1e-8 guard", "[models][depth_anything]") {
  const Tensor<float> map = Tensor<float>::from_vector({2, 2}, {0.5f, 1.0f, 2.5f, 4.5f});
  const Tensor<std::uint8_t> u = models::depth_to_u8(map);
  // (d − 0.5) / 4.0 · 255 = 0, 31.875, 127.5, 255 (as NumPy gives: 4 + 1e-8 rounds back to 4 in
  // float32, so the 1e-8 only matters for a flat map, which becomes all 0).
  CHECK(int(u.data()[0]) == 0);
  CHECK(int(u.data()[1]) == 31);
  CHECK(int(u.data()[2]) == 127);
  CHECK(int(u.data()[3]) == 255);
  const Tensor<std::uint8_t> flat = models::depth_to_u8(Tensor<float>::full({3, 3}, 2.0f));
  for (std::int64_t i = 0; i < flat.numel(); ++i) CHECK(int(flat.data()[i]) == 0);
}

TEST_CASE("biqa depth and biqa infer --model depth-anything", "[models][depth_anything][cli]") {
  biqa::test::TempDir tmp;
  const io::WeightFile gf = io::load_weights(model_fixture("generator"));
  const Tensor<std::uint8_t> image = raw_tensor<std::uint8_t>(gf, "b.image");
  const Tensor<std::uint8_t> ref_image = raw_tensor<std::uint8_t>(gf, "b.depth_image");
  io::write_image(tmp.file("in.png"), image);
  // Shrunken weights: the config (num_heads) travels in the file's biqa.config metadata.
  Fixture net("net_s2");
  std::vector<io::TensorBlob> blobs;
  for (const auto& k : net.store.keys())
    if (k.rfind("io.", 0) != 0) blobs.push_back(io::make_blob(k, net.store.file().to_float(*net.store.record(k))));
  io::write_safetensors(tmp.file("w.safetensors"), blobs, {{"biqa.config", R"({"num_heads": 3})"}});

  // --encoder vits against a shrunken file: a readable error naming the keys, exit code 2.
  auto r = biqa::test::run_cli("depth --weights '" + tmp.file("w.safetensors") + "' --encoder vits '" +
                               tmp.file("in.png") + "' '" + tmp.file("out.png") + "'");
  INFO(r.out);
  CHECK(r.status == 2);
  CHECK(r.out.find("pretrained.pos_embed: file has [1, 5, 24], expected [1, 1370, 384]") != std::string::npos);

  r = biqa::test::run_cli("depth --weights '" + tmp.file("w.safetensors") + "' --quiet '" + tmp.file("in.png") +
                          "' '" + tmp.file("out.png") + "' --raw '" + tmp.file("map.npy") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const Tensor<std::uint8_t> out = io::read_image_u8(tmp.file("out.png"));
  REQUIRE(out.shape() == ref_image.shape());
  std::int64_t flips = 0;
  for (std::int64_t i = 0; i < out.numel(); ++i) flips += std::abs(int(out.data()[i]) - int(ref_image.data()[i])) > 1 ? 1000 : out.data()[i] != ref_image.data()[i];
  CHECK(flips * 100 <= out.numel());
  biqa::test::check_parity("cli/depth/raw", io::read_npy(tmp.file("map.npy")).to_float(), gf.to_float(gf.at("b.depth_map")));

  io::write_npy(tmp.file("x.npy"), net.io("input"));
  r = biqa::test::run_cli("infer --model depth-anything --weights '" + tmp.file("w.safetensors") + "' --input '" +
                          tmp.file("x.npy") + "' --output '" + tmp.file("y.safetensors") + "' --threads 2");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const io::WeightFile y = io::load_weights(tmp.file("y.safetensors"));
  biqa::test::check_parity("cli/infer/depth", y.to_float(y.at("depth")), net.io("depth"));
  biqa::test::check_parity("cli/infer/block3", y.to_float(y.at("block3")), net.io("input.block3"));
}
