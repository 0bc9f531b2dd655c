// NIQE: fit on pristine synthetic scenes, round trip through safetensors, scores that rise with
// the distortion level on held-out scenes.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "biqa/models/niqe.hpp"
#include "biqa/models/registry.hpp"
#include "models/nss_test_images.hpp"

using biqa::models::Niqe;

namespace {
const Niqe& fitted() {
  static const Niqe model = [] {
    std::vector<biqa::Tensor<float>> pristine;
    for (int s = 0; s < 4; ++s) pristine.push_back(biqa::test::quantize(biqa::test::synthetic_scene(288, 384, 200 + s)));
    return Niqe::fit(pristine, {}, {{"pristine_images", "synthetic scenes 200-203"}});
  }();
  return model;
}
}  // namespace

TEST_CASE("NIQE: save and load keep the pristine model", "[niqe][models]") {
  const std::string dir = biqa::test::make_scratch_dir("niqe_io");
  fitted().save(dir + "/niqe.safetensors");
  const auto loaded = biqa::load_model("niqe", {dir + "/niqe.safetensors", {}});
  const auto img = biqa::test::quantize(biqa::test::synthetic_scene(192, 192, 7));
  // f32 storage: the score agrees to float precision.
  CHECK(loaded->score(img) == Approx(fitted().score(img)).epsilon(1e-3));
  CHECK(loaded->info().lower_is_better);
  CHECK_THROWS_WITH(biqa::load_model("niqe", {dir + "/missing.safetensors", {}}), Catch::Contains("missing.safetensors"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("NIQE: scores rise with blur and noise on held-out scenes", "[niqe][models]") {
  const std::string dir = biqa::test::make_scratch_dir("niqe_levels");
  for (int s = 0; s < 2; ++s) {
    const auto set = biqa::test::distort_levels("h", biqa::test::synthetic_scene(288, 288, 300 + s), dir, 5);
    std::map<std::string, std::map<int, double>> score;
    for (const auto& im : set) score[im.kind][im.level] = fitted().score(im.image);
    const double ref = score["reference"][0];
    INFO("scene " << s << " reference " << ref);
    for (const std::string kind : {"blur", "noise"}) {
      INFO(kind << " levels: " << score[kind][1] << " " << score[kind][2] << " " << score[kind][3] << " " << score[kind][4]);
      CHECK(score[kind][4] > score[kind][2]);
      CHECK(score[kind][2] > ref);
    }
    CHECK(score["jpeg"][4] > ref);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("NIQE: too small images and missing models are clear errors", "[niqe][models]") {
  CHECK_THROWS_WITH(fitted().score(biqa::test::synthetic_scene(64, 64, 1)), Catch::Contains("at least 96"));
  CHECK_THROWS_WITH(biqa::load_model("niqe"), Catch::Contains("fit-niqe"));
}
