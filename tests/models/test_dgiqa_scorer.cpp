// models::DgiqaScorer: the authors' whole inference path (single_image_inference.py: depth image
// from Depth Anything, shortest-side resize, normalisation, CPython-random crops, DGIQA, mean) on a
// small picture with shrunken random networks (tools/reference/make_dgiqa_pipeline_fixtures.py):
// the depth image (uint8, mismatches counted), the crop windows (exact), the per-crop scores and the
// image score (1e-4 relative / 1e-5 absolute); plus the crop protocols, a supplied depth image, the
// registry entry and the CLI's error paths.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "biqa/core/error.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/dgiqa_scorer.hpp"
#include "biqa/models/registry.hpp"
#include "support/dgiqa_pipeline.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;

using test::make_scorer;
using test::Pipeline;
using test::pipeline;

TEST_CASE("DGIQA pipeline equals the authors' inference script", "[dgiqa][models][pipeline]") {
  const Pipeline& p = pipeline();
  const models::DgiqaScorer scorer = make_scorer({});
  Context ctx(2);
  const models::DgiqaResult r = scorer.run(p.image, nullptr, ctx);

  // Depth image: Depth Anything, bilinear back to the image size, min-max, uint8 truncation. A
  // value exactly at an integer boundary may flip by one; none is expected on this picture.
  REQUIRE(r.depth_image.shape() == p.depth_image.shape());
  std::int64_t flips = 0, worse = 0;
  for (std::int64_t i = 0; i < r.depth_image.numel(); ++i) {
    const int d = std::abs(int(r.depth_image.data()[i]) - int(p.depth_image.data()[i]));
    flips += d == 1;
    worse += d > 1;
  }
  INFO("depth image: " << flips << " of " << r.depth_image.numel() << " values differ by one");
  CHECK(worse == 0);
  CHECK(double(flips) / double(r.depth_image.numel()) <= 0.001);

  const Tensor<float> resized = p.file.to_float(p.file.at("io.resized"));
  CHECK(r.resized_height == std::int64_t(resized.data()[0]));
  CHECK(r.resized_width == std::int64_t(resized.data()[1]));

  const Tensor<float> boxes = p.file.to_float(p.file.at("io.boxes"));  // [K, 2]: top, left
  REQUIRE(r.boxes.size() == std::size_t(boxes.size(0)));
  for (std::size_t k = 0; k < r.boxes.size(); ++k) {
    CHECK(r.boxes[k].top == std::int64_t(boxes.data()[k * 2]));
    CHECK(r.boxes[k].left == std::int64_t(boxes.data()[k * 2 + 1]));
  }

  const Tensor<float> ref = p.file.to_float(p.file.at("io.crop_scores"));
  Tensor<float> got({static_cast<std::int64_t>(r.crop_scores.size())});
  for (std::size_t k = 0; k < r.crop_scores.size(); ++k) got.data()[k] = r.crop_scores[k];
  test::check_parity("crop scores", got, ref);
  CHECK(r.score == Approx(p.config["score"].as_number()).margin(1e-5));

  // The attention maps: one per crop, each a distribution over the 7×7 positions.
  REQUIRE(r.attention.shape() == Shape({ref.numel(), 7, 7}));
  for (std::int64_t k = 0; k < ref.numel(); ++k) {
    double sum = 0;
    for (std::int64_t i = 0; i < 49; ++i) sum += r.attention.data()[k * 49 + i];
    CHECK(sum == Approx(1.0).margin(1e-4));
  }
}

TEST_CASE("DGIQA pipeline with a supplied depth image skips the depth network", "[dgiqa][models][pipeline]") {
  const Pipeline& p = pipeline();
  const models::DgiqaScorer scorer = make_scorer({});
  Context ctx(1);
  const auto with = scorer.run(p.image, &p.depth_image, ctx);
  const Tensor<float> ref = p.file.to_float(p.file.at("io.crop_scores"));
  for (std::size_t k = 0; k < with.crop_scores.size(); ++k)
    CHECK(with.crop_scores[k] == Approx(ref.data()[k]).epsilon(1e-4));

  // A grey depth image is expanded to three channels; a wrongly sized one is refused.
  const Tensor<std::uint8_t> grey = p.depth_image.select(2, 0).contiguous();
  const auto g = scorer.run(p.image, &grey, ctx);
  CHECK(g.score == Approx(with.score).margin(1e-7));
  const Tensor<std::uint8_t> small = p.depth_image.slice(0, 0, 10).contiguous();
  CHECK_THROWS_WITH(scorer.run(p.image, &small, ctx), Catch::Contains("the depth image is 10"));
}

TEST_CASE("DGIQA crop protocols", "[dgiqa][models][pipeline]") {
  Context ctx(1);
  const Pipeline& p = pipeline();
  SECTION("grid: deterministic, inside the image, centre crop for one") {
    const auto boxes = models::detail::grid_crops(64, 82, 4, 56);
    REQUIRE(boxes.size() == 4);
    CHECK(boxes[0].top == 0);
    CHECK(boxes[0].left == 0);
    CHECK(boxes[3].top == 8);
    CHECK(boxes[3].left == 26);
    const auto one = models::detail::grid_crops(64, 82, 1, 56);
    CHECK(one[0].top == 4);
    CHECK(one[0].left == 13);
    CHECK_THROWS_AS(models::detail::grid_crops(50, 82, 1, 56), Error);
  }
  SECTION("explicit boxes reproduce the authors' windows") {
    models::DgiqaOptions o;
    o.protocol = models::CropProtocol::boxes;
    const Tensor<float> b = p.file.to_float(p.file.at("io.boxes"));
    for (std::int64_t k = 0; k < b.size(0); ++k)
      o.boxes.push_back({std::int64_t(b.data()[k * 2]), std::int64_t(b.data()[k * 2 + 1]), 56, 56});
    const auto r = make_scorer(o).run(p.image, &p.depth_image, ctx);
    CHECK(r.score == Approx(p.config["score"].as_number()).margin(1e-5));
    o.boxes = {{0, 40, 56, 56}};  // past the right edge of the 64×82 resized image
    CHECK_THROWS_WITH(make_scorer(o).run(p.image, &p.depth_image, ctx), Catch::Contains("does not lie inside"));
  }
  SECTION("prior random draws move the windows") {
    models::DgiqaOptions o;
    o.prior_random_draws = 4;
    const auto r = make_scorer(o).run(p.image, &p.depth_image, ctx);
    const Tensor<float> b = p.file.to_float(p.file.at("io.boxes"));
    bool same = true;
    for (std::size_t k = 0; k < r.boxes.size(); ++k)
      same = same && r.boxes[k].top == std::int64_t(b.data()[k * 2]) && r.boxes[k].left == std::int64_t(b.data()[k * 2 + 1]);
    CHECK_FALSE(same);
  }
}

TEST_CASE("DGIQA explanation: values and maps", "[dgiqa][models][pipeline]") {
  const Pipeline& p = pipeline();
  const models::DgiqaScorer scorer = make_scorer({});
  Context ctx(1);
  const auto r = scorer.run(p.image, &p.depth_image, ctx);
  const Explanation e = models::DgiqaScorer::explain(r, ctx);
  REQUIRE(!e.values.empty());
  CHECK(e.values[0].first == "score");
  CHECK(e.values[0].second == r.score);
  REQUIRE(e.maps.size() == 2);
  CHECK(e.maps[0].first == "depth");
  CHECK(e.maps[0].second.shape() == Shape({p.image.size(0), p.image.size(1)}));
  CHECK(e.maps[1].first == "attention");
  CHECK(e.maps[1].second.shape() == Shape({r.resized_height, r.resized_width}));
  float hi = 0;
  for (std::int64_t i = 0; i < e.maps[1].second.numel(); ++i) hi = std::max(hi, e.maps[1].second.data()[i]);
  CHECK(hi == Approx(1.0f));
}

TEST_CASE("DGIQA's scorer on a device this program has no backend for: one clear error", "[dgiqa][models][pipeline]") {
  const models::DgiqaScorer scorer = make_scorer({});
  Context ctx(1);
  ctx.device = DeviceType::cuda;  // the CPU test program does not include biqa/cuda.cuh
  try {
    scorer.run(pipeline().image, nullptr, ctx);
    FAIL("a CUDA run without the CUDA backend went through");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::unsupported);
    CHECK_THAT(e.what(), Catch::Contains("built without the cuda backend") && Catch::Contains("BIQA_WITH_CUDA"));
  }
  CHECK_THROWS_WITH(require_device(DeviceType::cuda), Catch::Contains("built without the cuda backend"));
  CHECK_THROWS_WITH(parse_device_type("gpu"), Catch::Contains("unknown device 'gpu'"));
  CHECK(parse_device_type("cuda") == DeviceType::cuda);
  const auto r = test::run_cli("score --device cuda " + test::data_path("io/exif/orient_1.jpg"));
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("built without the cuda backend"));
}

TEST_CASE("dgiqa in the registry: card, settings, clear errors", "[dgiqa][models][registry]") {
  const ModelInfo& info = model_info("dgiqa");
  CHECK(info.needs_weights_file);
  CHECK(info.bounded);
  CHECK_FALSE(info.settings.empty());
  CHECK_THROWS_WITH(load_model("dgiqa"), Catch::Contains("--weights"));
  LoadOptions o;
  o.weights = "unused.pth";
  o.settings["crop"] = "3";
  CHECK_THROWS_WITH(load_model("dgiqa", o), Catch::Contains("unknown setting 'crop'") && Catch::Contains("crops"));
  o.settings = {{"crops", "ten"}};
  CHECK_THROWS_WITH(load_model("dgiqa", o), Catch::Contains("expected an integer"));
  o.settings = {{"crop_protocol", "spiral"}};
  CHECK_THROWS_WITH(load_model("dgiqa", o), Catch::Contains("unknown crop protocol"));
  LoadOptions b;
  b.settings["crops"] = "3";
  CHECK_THROWS_WITH(load_model("brisque", b), Catch::Contains("takes none"));
}

TEST_CASE("biqa score / explain --model dgiqa: argument errors", "[dgiqa][cli]") {
  auto r = test::run_cli("score --model dgiqa " + test::data_path("io/exif/orient_1.jpg"));
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("--weights"));
  r = test::run_cli("score --model brisque --depth x.png " + test::data_path("io/exif/orient_1.jpg"));
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("dgiqa only"));
  r = test::run_cli("explain --model dgiqa --weights missing.pth " + test::data_path("io/exif/orient_1.jpg"));
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("missing.pth"));
}

namespace {

// Splits the fixture into the files a user has: the DGIQA state_dict, the Depth Anything weights
// (with their config as biqa.config metadata), a DGIQA config JSON and the image as a PNG.
struct UserFiles {
  test::TempDir dir;
  std::string weights, depth_weights, config, image;
};

std::unique_ptr<UserFiles> write_user_files() {
  const Pipeline& p = pipeline();
  auto u = std::make_unique<UserFiles>();
  std::vector<io::TensorBlob> dgiqa, depth;
  for (const auto& r : p.file.tensors) {
    for (auto [prefix, out] : {std::pair{std::string("dgiqa."), &dgiqa}, std::pair{std::string("depth."), &depth}})
      if (r.name.rfind(prefix, 0) == 0)
        out->push_back({r.name.substr(prefix.size()), r.dtype, r.shape, p.file.contiguous_bytes(r)});
  }
  u->weights = u->dir.file("dgiqa.safetensors");
  u->depth_weights = u->dir.file("depth.safetensors");
  u->config = u->dir.file("dgiqa.json");
  u->image = u->dir.file("image.png");
  io::write_safetensors(u->weights, dgiqa, {});
  io::write_safetensors(u->depth_weights, depth, {{"biqa.config", p.config["depth"].dump()}});
  const std::string cfg = p.config["dgiqa"].dump();
  io::write_file_bytes(u->config, cfg.data(), cfg.size());
  io::write_image(u->image, p.image);
  return u;
}

}  // namespace

TEST_CASE("biqa score --model dgiqa: the user's one command gives the authors' score", "[dgiqa][cli]") {
  const Pipeline& p = pipeline();
  const auto u = write_user_files();
  const std::string common = "--model dgiqa --weights '" + u->weights + "' --depth-weights '" + u->depth_weights +
                             "' --set config='" + u->config + "' --set short_side=64 --crops 4 ";
  auto r = test::run_cli("score --json " + common + "'" + u->image + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const json::Value j = json::parse(r.out.substr(r.out.find('[')), "score output");
  REQUIRE(j.as_array().size() == 1);
  CHECK(j.as_array()[0]["score"].as_number() == Approx(p.config["score"].as_number()).margin(1e-5));

  // explain: the crop windows and both heat maps.
  r = test::run_cli("explain --json --out '" + u->dir.file("maps") + "' " + common + "'" + u->image + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const json::Value e = json::parse(r.out.substr(r.out.find('{')), "explain output");
  CHECK(e["values"]["score"].as_number() == Approx(p.config["score"].as_number()).margin(1e-5));
  CHECK(e["values"]["crop0.left"].as_number() == 20);
  const auto depth_png = io::read_image_u8(e["maps"]["depth"]["png"].as_string());
  CHECK(depth_png.shape() == Shape({p.image.size(0), p.image.size(1), 3}));
  CHECK(std::filesystem::exists(e["maps"]["attention"]["png"].as_string()));

  // A precomputed depth image instead of the depth network (no --depth-weights).
  io::write_image(u->dir.file("depth.png"), p.depth_image);
  r = test::run_cli("score --json --model dgiqa --weights '" + u->weights + "' --set config='" + u->config +
                    "' --set short_side=64 --crops 4 --depth '" + u->dir.file("depth.png") + "' '" + u->image + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const json::Value d = json::parse(r.out.substr(r.out.find('[')), "score output");
  CHECK(d.as_array()[0]["score"].as_number() == Approx(p.config["score"].as_number()).margin(1e-5));

  // Without depth weights and without --depth: a clear error per image, exit status 2.
  r = test::run_cli("score --model dgiqa --weights '" + u->weights + "' --set config='" + u->config +
                    "' --set short_side=64 --crops 4 '" + u->image + "'");
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("no Depth Anything weights"));
}
