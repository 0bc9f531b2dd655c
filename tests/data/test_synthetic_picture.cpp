#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "biqa/data/synthetic_picture.hpp"

using biqa::data::synthetic_picture;

TEST_CASE("synthetic_picture: [H, W, 3] in [0, 1], its ramps and texture, the same bits every call", "[data]") {
  const std::int64_t w = 64, h = 48;
  const biqa::Tensor<float> a = synthetic_picture(w, h);
  REQUIRE(a.shape() == biqa::Shape({h, w, 3}));
  const auto at = [&](std::int64_t y, std::int64_t x, int k) { return a.data()[(y * w + x) * 3 + k]; };
  for (std::int64_t i = 0; i < a.numel(); ++i) REQUIRE((a.data()[i] >= 0.0f && a.data()[i] <= 1.0f));

  // Every pixel against the formula, evaluated here in double without the library's loop.
  double worst = 0.0;
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      const double u = double(x) / double(w), v = double(y) / double(h);
      const double t = 0.08 * std::sin(0.9 * double(x)) * std::cos(0.7 * double(y));
      const double want[3] = {0.2 + 0.6 * u + t, 0.3 + 0.5 * v + t, 0.7 - 0.4 * u * v + t};
      for (int k = 0; k < 3; ++k) worst = std::max(worst, std::abs(double(at(y, x, k)) - std::clamp(want[k], 0.0, 1.0)));
    }
  CHECK(worst < 1e-6);

  // The ramps: column means of red rise left to right, row means of green top to bottom.
  const auto column_mean = [&](std::int64_t x, int k) {
    double s = 0.0;
    for (std::int64_t y = 0; y < h; ++y) s += at(y, x, k);
    return s / double(h);
  };
  const auto row_mean = [&](std::int64_t y, int k) {
    double s = 0.0;
    for (std::int64_t x = 0; x < w; ++x) s += at(y, x, k);
    return s / double(w);
  };
  CHECK(column_mean(w - 1, 0) - column_mean(0, 0) > 0.4);
  CHECK(row_mean(h - 1, 1) - row_mean(0, 1) > 0.3);
  // Texture: neighbouring pixels differ by more than the ramp's step.
  CHECK(std::abs(at(10, 11, 1) - at(10, 10, 1)) > 0.01f);

  const biqa::Tensor<float> b = synthetic_picture(w, h);
  for (std::int64_t i = 0; i < a.numel(); ++i) REQUIRE(a.data()[i] == b.data()[i]);
}

TEST_CASE("synthetic_picture: a size that is not positive is an error", "[data]") {
  CHECK_THROWS_AS(synthetic_picture(0, 10), biqa::Error);
  CHECK_THROWS_AS(synthetic_picture(10, -1), biqa::Error);
}
