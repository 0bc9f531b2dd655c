// ExIQA's distortion-identification scores (the paper's interval rule, RMSE) and its
// multi-distortion recipes.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "biqa/distortions/multi_distortion.hpp"
#include "biqa/metrics/distortion_id.hpp"

using namespace biqa;

namespace {
Tensor<float> row(std::initializer_list<float> v) {
  Tensor<float> t({1, static_cast<std::int64_t>(v.size())});
  std::int64_t i = 0;
  for (float x : v) t.data()[i++] = x;
  return t;
}
}  // namespace

TEST_CASE("distortion_id_scores: intervals centred on the true level, edges at 0 and 1", "[metrics][exiqa]") {
  // truth 0.4: [0.3, 0.5); truth 0: [0, 0.1); truth 1: [0.9, 1]
  const auto s = metrics::distortion_id_scores(row({0.31f, 0.29f, 0.5f, 0.05f, 0.1f, 0.95f, 1.0f, 0.85f}),
                                               row({0.4f, 0.4f, 0.4f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f}));
  CHECK(s.pairs == 8);
  CHECK(s.accuracy == Approx(4.0 / 8.0));  // 0.31, 0.05, 0.95, 1.0
  const double sq = 0.09 * 0.09 + 0.11 * 0.11 + 0.1 * 0.1 + 0.05 * 0.05 + 0.1 * 0.1 + 0.05 * 0.05 + 0 + 0.15 * 0.15;
  CHECK(s.rmse == Approx(std::sqrt(sq / 8)).epsilon(1e-6));
  CHECK_THROWS_WITH(metrics::distortion_id_scores(row({0.1f}), row({0.1f, 0.2f})), Catch::Contains("shape"));
}

TEST_CASE("sample_multi_distortion: K in [1, 25] distinct types, levels 1-5", "[distortions][exiqa]") {
  std::set<int> counts;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    distortions::Rng rng(seed);
    const auto m = distortions::sample_multi_distortion(rng);
    REQUIRE(!m.steps.empty());
    REQUIRE(m.steps.size() <= 25);
    counts.insert(static_cast<int>(m.steps.size()));
    std::set<int> types;
    for (const auto& [number, level] : m.steps) {
      CHECK((number >= 1 && number <= 25));
      CHECK((level >= 1 && level <= 5));
      types.insert(number);
    }
    CHECK(types.size() == m.steps.size());
    const auto s = m.strengths();
    int nonzero = 0;
    for (float v : s) nonzero += v > 0 ? 1 : 0;
    CHECK(nonzero == static_cast<int>(m.steps.size()));
  }
  CHECK(counts.size() > 15);  // K spreads over the range
  distortions::Rng rng(1);
  CHECK_THROWS(distortions::sample_multi_distortion(rng, 0));
}

TEST_CASE("apply_multi_distortion applies the steps in order", "[distortions][exiqa]") {
  Tensor<float> img({16, 16, 3});
  for (std::int64_t i = 0; i < img.numel(); ++i) img.data()[i] = float((i * 13) % 17) / 16.0f;
  distortions::MultiDistortion m;
  m.steps = {{1, 3}, {16, 2}};  // gaussian_blur then brighten
  distortions::Rng a(7), b(7);
  const auto got = distortions::apply_multi_distortion(m, img, a);
  const auto ref = distortions::apply("brighten", 2, distortions::apply("gaussian_blur", 3, img, b), b);
  REQUIRE(got.numel() == ref.numel());
  for (std::int64_t i = 0; i < got.numel(); ++i) REQUIRE(got.data()[i] == ref.data()[i]);
  CHECK(m.strengths()[0] == Approx(0.6f));
  CHECK(m.strengths()[15] == Approx(0.4f));
}
