// models::DSMix and models::DSMPredictor against the PyTorch reference written from the spec
// (tools/reference/make_dsmix_fixtures.py: torchvision Bottleneck ResNet and timm 0.9.16
// VisionTransformer(class_token=False), shrunken, random weights). Tolerance: max|out − ref| /
// max|ref| ≤ 1e-4 in float32 for features, crop scores, scores and maps; the crop geometry is exact.

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "biqa/core/error.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/dsmix.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;
using models::DSMix;
using models::DSMPredictor;

namespace {

std::string fixture(const std::string& name) { return test::fixture_path("models/dsmix/" + name); }

io::WeightFile io_file(const std::string& name) { return io::load_weights(fixture(name)); }
Tensor<float> io_tensor(const io::WeightFile& f, const std::string& name) { return f.to_float(f.at("io." + name)); }

// The fixture's weights only (its io.* tensors dropped), through the strict loader.
DSMix load_fixture(const std::string& name) {
  io::WeightFile f = io_file(name);
  std::erase_if(f.tensors, [](const io::TensorRecord& r) { return r.name.rfind("io.", 0) == 0; });
  io::WeightStore store(std::move(f));
  DSMix::Config c;
  c.update(models::detail::metadata_config(store));
  DSMix m = DSMix::load(store.scope("encoder"), store.scope("head"), c);
  store.finish();
  return m;
}

void check_image_path(const DSMix& m, const io::WeightFile& f, const std::string& label) {
  Context ctx(2);
  const models::DSMixResult r = m.run(io_tensor(f, "image"), ctx);
  test::check_parity(label + " features", r.features, io_tensor(f, "features"));
  Tensor<float> crop_scores({5});
  for (int i = 0; i < 5; ++i) crop_scores.data()[i] = r.crop_scores[static_cast<std::size_t>(i)];
  test::check_parity(label + " crop scores", crop_scores, io_tensor(f, "crop_scores"));
  Tensor<float> score({1});
  score.data()[0] = static_cast<float>(r.score);
  test::check_parity(label + " score", score, io_tensor(f, "score"));
  test::check_parity(label + " batch", m.forward(io_tensor(f, "crops_batch"), ctx), io_tensor(f, "batch_scores"));
}

}  // namespace

TEST_CASE("DSMix with an MLP head matches the reference on an image and a crop batch", "[dsmix]") {
  const DSMix m = load_fixture("dsmix_mlp.safetensors");
  CHECK(m.config().crop_size == 32);
  CHECK(m.regression_head().widths() == std::vector<std::int64_t>{16, 1});
  CHECK(m.encoder().config().layers == std::array<std::int64_t, 4>{1, 2, 1, 1});
  check_image_path(m, io_file("dsmix_mlp.safetensors"), "dsmix_mlp");
}

TEST_CASE("DSMix with a single Linear head on an image smaller than the crop", "[dsmix]") {
  const DSMix m = load_fixture("dsmix_linear.safetensors");
  CHECK(m.regression_head().widths() == std::vector<std::int64_t>{1});
  check_image_path(m, io_file("dsmix_linear.safetensors"), "dsmix_linear (29x50 image, 32 crops)");
}

TEST_CASE("DSMix loads the canonical file, the .pth and a head with separate encoder weights alike", "[dsmix]") {
  const io::WeightFile ref = io_file("dsmix_mlp.safetensors");
  Context ctx(1);
  const Tensor<float> batch = io_tensor(ref, "crops_batch"), want = io_tensor(ref, "batch_scores");
  // The canonical file holds io.* tensors too: the strict loader must name them.
  try {
    models::load_dsmix(fixture("dsmix_mlp.safetensors"));
    FAIL("io.* keys were not reported");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("io.image") != std::string::npos);
  }
  json::Value crop32 = json::parse(R"({"crop_size": 32})", "test");
  const DSMix pth = models::load_dsmix(fixture("dsmix_mlp.pth"), "", crop32);
  test::check_parity("dsmix .pth", pth.forward(batch, ctx), want);
  const DSMix split = models::load_dsmix(fixture("head_only.safetensors"), fixture("encoder_tv.pth"));
  CHECK(split.config().crop_size == 32);  // from the head file's metadata
  test::check_parity("dsmix head + torchvision encoder", split.forward(batch, ctx), want);
  // The head alone is not enough.
  CHECK_THROWS_WITH(models::load_dsmix(fixture("head_only.safetensors")), Catch::Contains("encoder="));
  // A full file plus an encoder file is ambiguous.
  CHECK_THROWS_WITH(models::load_dsmix(fixture("dsmix_mlp.pth"), fixture("encoder_tv.pth")),
                    Catch::Contains("already holds encoder"));
}

TEST_CASE("DSMix reports missing and mismatched keys by name", "[dsmix]") {
  io::WeightFile f = io_file("dsmix_mlp.safetensors");
  std::erase_if(f.tensors, [](const io::TensorRecord& r) {
    return r.name.rfind("io.", 0) == 0 || r.name == "encoder.layer3.0.bn2.running_var";
  });
  io::WeightStore store(std::move(f));
  try {
    DSMix::load(store.scope("encoder"), store.scope("head"), DSMix::Config());
    store.finish();
    FAIL("a missing key went unnoticed");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("encoder.layer3.0.bn2.running_var") != std::string::npos);
  }
  io::WeightStore no_head(io_file("encoder_tv.pth"));
  CHECK_THROWS_WITH(DSMix::load(no_head.root(), no_head.scope("head"), DSMix::Config()),
                    Catch::Contains("head.0.weight"));
}

TEST_CASE("DSMPredictor matches the reference at the trained size and a wider input", "[dsmix]") {
  io::WeightFile f = io_file("dsm.safetensors");
  const Tensor<float> x = io_tensor(f, "input"), y = io_tensor(f, "output");
  const Tensor<float> xw = io_tensor(f, "input_wide"), yw = io_tensor(f, "output_wide");
  std::erase_if(f.tensors, [](const io::TensorRecord& r) { return r.name.rfind("io.", 0) == 0; });
  io::WeightStore store(std::move(f));
  const DSMPredictor p =
      DSMPredictor::load(store.scope("encoder"), store.scope("decoder"), models::detail::metadata_config(store));
  store.finish();
  CHECK(p.patch_size() == 8);
  CHECK_FALSE(p.config().vit.class_token);
  Context ctx(2);
  test::check_parity("dsm 32x32", p.forward(x, ctx), y);
  test::check_parity("dsm 48x40", p.forward(xw, ctx), yw);
  CHECK_THROWS_AS(p.forward(Tensor<float>::zeros({1, 3, 30, 32}), ctx), Error);  // not a multiple of 8
}

TEST_CASE("DSMix five crops follow torchvision's geometry on odd and small sizes", "[dsmix]") {
  const io::WeightFile f = io::load_weights(fixture("crops.safetensors"));
  const json::Value cases = json::parse(f.metadata.at("cases"), "cases");
  for (const auto& c : cases.as_array()) {
    const std::string name = c["name"].as_string();
    const std::int64_t h = c["h"].as_int(), w = c["w"].as_int(), size = c["size"].as_int();
    INFO(name << ": " << h << "x" << w << ", crop " << size);
    Tensor<float> image({1, 1, h, w});
    for (std::int64_t i = 0; i < h * w; ++i) image.data()[i] = static_cast<float>(i + 1);
    const Tensor<float> crops = models::five_crops(image, size).contiguous();  // [5, 1, size, size]
    REQUIRE(crops.shape() == Shape{5, 1, size, size});
    if (f.find(name + ".crops")) {
      const Tensor<float> ref = f.to_float(f.at(name + ".crops"));
      CHECK(test::parity_error(crops, ref) == 0.0);
    } else {
      const Tensor<float> row = f.to_float(f.at(name + ".first_row")), col = f.to_float(f.at(name + ".first_col"));
      for (std::int64_t k = 0; k < 5; ++k)
        for (std::int64_t i = 0; i < size; ++i) {
          CHECK(crops.data()[(k * size) * size + i] == row.data()[k * size + i]);
          CHECK(crops.data()[(k * size + i) * size] == col.data()[k * size + i]);
        }
      // 227 rows: torchvision's centre starts at round(1.5) = 2, not 227 // 2 - 112 = 1.
      CHECK(models::five_crop_boxes(h, w, size)[4][0] == 2);
    }
  }
}
