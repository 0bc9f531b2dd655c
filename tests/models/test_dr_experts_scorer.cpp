// models::DrExpertsScorer and the "dr_experts" registry entry: the crop protocols (deterministic
// centre + corners by default, the seeded random protocol), the upscale of small images, the score
// as the mean of the network's crop scores, explain()'s values and maps, and setting errors. The
// network is the shrunken random one of test_dr_experts.cpp (32×32 crops, the trainer checkpoint).

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/dr_experts_scorer.hpp"
#include "biqa/models/registry.hpp"
#include "support/helpers.hpp"

using namespace biqa;

namespace {

// A config file for the trainer checkpoint fixture (head counts are not in its shapes).
std::string config_file(const test::TempDir& dir) {
  const auto f = io::load_weights(test::data_path("models/dr_experts_list_io.safetensors"));
  const std::string path = (dir.path() / "drx.json").string();
  std::ofstream(path) << f.metadata.at("biqa.config");
  return path;
}

LoadOptions options(const test::TempDir& dir) {
  LoadOptions o;
  o.weights = test::data_path("models/dr_experts_list_trainer.pth");
  o.settings["config"] = config_file(dir);
  return o;
}

Tensor<float> image(std::int64_t h, std::int64_t w, unsigned seed) {
  Tensor<float> t({h, w, 3});
  unsigned s = seed;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    s = s * 1664525u + 1013904223u;
    t.data()[i] = static_cast<float>((s >> 8) & 0xFFFF) / 65535.0f;
  }
  return t;
}

}  // namespace

TEST_CASE("dr_experts scorer: five crops by default, score = mean of the network's crop scores", "[dr_experts]") {
  test::TempDir dir;
  const auto model = load_model("dr_experts", options(dir));
  const auto& scorer = dynamic_cast<const models::DrExpertsScorer&>(*model);
  Context ctx(2);
  const Tensor<float> img = image(40, 52, 1);
  const auto r = scorer.run(img, ctx);
  REQUIRE(r.crops.size() == 5);
  CHECK(r.crops[0].box.top == 4);
  CHECK(r.crops[0].box.left == 10);
  CHECK(r.crops[4].box.top == 8);
  CHECK(r.crops[4].box.left == 20);
  // The same crops cut by hand, ImageNet-normalised, through the network.
  Tensor<float> batch({5, 3, 32, 32});
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
  for (std::int64_t k = 0; k < 5; ++k)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < 32; ++y)
        for (std::int64_t x = 0; x < 32; ++x) {
          const auto& b = r.crops[static_cast<std::size_t>(k)].box;
          batch.data()[((k * 3 + c) * 32 + y) * 32 + x] = (img.data()[((b.top + y) * 52 + b.left + x) * 3 + c] - mean[c]) / stdv[c];
        }
  const auto out = scorer.network().forward(batch, ctx);
  double sum = 0;
  for (int k = 0; k < 5; ++k) {
    CHECK(r.crop_scores[static_cast<std::size_t>(k)] == Approx(out.scores.data()[k]).epsilon(1e-5));
    sum += out.scores.data()[k];
  }
  CHECK(r.score == Approx(sum / 5).epsilon(1e-5));
  CHECK(model->score(img, ctx) == Approx(r.score).epsilon(1e-6));
}

TEST_CASE("dr_experts scorer: small images are scaled up, the random protocol is seeded", "[dr_experts]") {
  test::TempDir dir;
  Context ctx(1);
  {
    const auto model = load_model("dr_experts", options(dir));
    const auto& scorer = dynamic_cast<const models::DrExpertsScorer&>(*model);
    const auto r = scorer.run(image(20, 30, 2), ctx);  // shorter side 20 < 32 → 32 × 48
    CHECK(r.resized_height == 32);
    CHECK(r.resized_width == 48);
    CHECK(std::isfinite(r.score));
  }
  auto o = options(dir);
  o.settings["crop_protocol"] = "authors";
  o.settings["preset"] = "kadid";  // flips, 15 crops
  o.settings["seed"] = "3";
  const auto a = load_model("dr_experts", o);
  const auto b = load_model("dr_experts", o);
  o.settings["seed"] = "4";
  const auto c = load_model("dr_experts", o);
  const Tensor<float> img = image(50, 60, 5);
  const auto& sa = dynamic_cast<const models::DrExpertsScorer&>(*a);
  const auto ra = sa.run(img, ctx);
  CHECK(ra.crops.size() == 15);
  CHECK(a->score(img, ctx) == b->score(img, ctx));
  CHECK(a->score(img, ctx) != c->score(img, ctx));
  bool flipped = false;
  for (const auto& cr : ra.crops) flipped = flipped || cr.hflip || cr.vflip;
  CHECK(flipped);
}

TEST_CASE("dr_experts scorer: explain gives the expert weights, DA-CLIP similarities and attention maps",
          "[dr_experts]") {
  test::TempDir dir;
  const auto model = load_model("dr_experts", options(dir));
  Context ctx(1);
  const auto e = model->explain(image(36, 44, 7), ctx);
  int weights = 0, sims = 0;
  for (const auto& [k, v] : e.values) {
    weights += k.rfind("expert_weight.", 0) == 0;
    sims += k.rfind("daclip_similarity.", 0) == 0;
    if (k.rfind("daclip_similarity.", 0) == 0) CHECK(std::fabs(v) <= 1.0 + 1e-6);
  }
  CHECK(weights == 10);
  CHECK(sims == 10);
  REQUIRE(e.maps.size() == 10);
  CHECK(e.maps[0].first == "attention.motion-blurry");
  CHECK(e.maps[0].second.shape() == Shape{36, 44});
}

TEST_CASE("dr_experts scorer: bad settings are errors", "[dr_experts]") {
  test::TempDir dir;
  auto o = options(dir);
  o.settings["preset"] = "imagenet";
  CHECK_THROWS_AS(load_model("dr_experts", o), Error);
  o = options(dir);
  o.settings["crop_protocol"] = "grid";
  CHECK_THROWS_AS(load_model("dr_experts", o), Error);
  o = options(dir);
  o.settings["sign"] = "plus";
  CHECK_THROWS_AS(load_model("dr_experts", o), Error);
  o = options(dir);
  o.settings["colour"] = "1";
  CHECK_THROWS_AS(load_model("dr_experts", o), Error);
  CHECK_THROWS_AS(load_model("dr_experts", LoadOptions{}), Error);
}

TEST_CASE("biqa score / explain / info --model dr_experts", "[dr_experts][cli]") {
  test::TempDir dir;
  const std::string png = dir.file("pic.png");
  io::write_image(png, image(40, 52, 3));
  LoadOptions o = options(dir);
  const std::string common = "--model dr_experts --weights '" + o.weights + "' --set config='" + o.settings["config"] + "' ";
  const double want = load_model("dr_experts", o)->score(io::read_image(png));

  auto r = test::run_cli("score " + common + "--format jsonl '" + png + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::vector<json::Value> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty() && line[0] == '{') rows.push_back(json::parse(line, "biqa score output"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["score"].as_number() == Approx(want).epsilon(1e-5));

  r = test::run_cli("explain " + common + "--json --out '" + dir.file("maps") + "' '" + png + "'");
  REQUIRE(r.status == 0);
  const json::Value e = json::parse(r.out, "explain output");
  CHECK(e["values"]["score"].as_number() == Approx(want).epsilon(1e-5));
  CHECK(e["values"].as_object().size() >= 21);  // score, 10 expert weights, 10 DA-CLIP similarities
  REQUIRE(e["maps"].as_object().size() == 10);
  const json::Value& m = e["maps"]["attention.motion-blurry"];
  CHECK(std::filesystem::exists(m["png"].as_string()));
  CHECK(std::filesystem::exists(m["overlay_png"].as_string()));

  r = test::run_cli("info dr_experts");
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("sign") && Catch::Contains("crop_protocol"));
  // An unknown setting and a missing checkpoint are usage/input errors, not crashes.
  CHECK(test::run_cli("score " + common + "--set nonsense=1 '" + png + "'").status != 0);
  CHECK(test::run_cli("score --model dr_experts --weights '" + dir.file("missing.pth") + "' '" + png + "'").status == 2);
}
