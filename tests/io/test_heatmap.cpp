#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "biqa/io/heatmap.hpp"

using biqa::Tensor;
namespace io = biqa::io;

// The ramp's documented end stops: the minimum is drawn as heat_colour(0), the maximum as
// heat_colour(1), and values in between interpolate between the five stops.
TEST_CASE("heatmap_rgb: min-max scaled onto the ramp; constant and non-finite maps are defined", "[io][heatmap]") {
  const Tensor<float> m = Tensor<float>::from_vector({2, 2}, {-3.0f, 1.0f, 5.0f, std::nanf("")});
  const Tensor<std::uint8_t> rgb = io::heatmap_rgb(m);
  REQUIRE(rgb.shape() == biqa::Shape{2, 2, 3});
  const auto lo = io::heat_colour(0.0f), mid = io::heat_colour(0.5f), hi = io::heat_colour(1.0f);
  for (int k = 0; k < 3; ++k) {
    CHECK(rgb.data()[0 * 3 + k] == lo[k]);
    CHECK(rgb.data()[1 * 3 + k] == mid[k]);
    CHECK(rgb.data()[2 * 3 + k] == hi[k]);
    CHECK(rgb.data()[3 * 3 + k] == 0);  // NaN: black
  }
  CHECK(int(lo[0]) + lo[1] + lo[2] < int(hi[0]) + hi[1] + hi[2]);  // dark to bright
  const Tensor<std::uint8_t> flat = io::heatmap_rgb(Tensor<float>::full({3, 4}, 7.0f));
  for (std::int64_t i = 0; i < flat.numel(); ++i) CHECK(flat.data()[i] == lo[static_cast<std::size_t>(i % 3)]);
  CHECK_THROWS_AS(io::heatmap_rgb(Tensor<float>({4})), biqa::Error);
}

TEST_CASE("overlay_heatmap: blends the resized map over the picture", "[io][heatmap]") {
  Tensor<std::uint8_t> picture({4, 6, 3});
  for (std::int64_t i = 0; i < picture.numel(); ++i) picture.data()[i] = static_cast<std::uint8_t>(10 * (i % 25));
  // A map at the picture's size: alpha 0 gives the picture, alpha 1 the heat map.
  Tensor<float> map({4, 6});
  for (std::int64_t i = 0; i < map.numel(); ++i) map.data()[i] = float(i % 7);
  const Tensor<std::uint8_t> heat = io::heatmap_rgb(map);
  const Tensor<std::uint8_t> a0 = io::overlay_heatmap(picture, map, 0.0f), a1 = io::overlay_heatmap(picture, map, 1.0f),
                             half = io::overlay_heatmap(picture, map, 0.5f);
  for (std::int64_t i = 0; i < picture.numel(); ++i) {
    CHECK(a0.data()[i] == picture.data()[i]);
    CHECK(a1.data()[i] == heat.data()[i]);
    CHECK(std::abs(int(half.data()[i]) - (int(picture.data()[i]) + int(heat.data()[i])) / 2) <= 1);
  }
  // A coarser map is resized to the picture: a 1×2 map splits the picture into a dark left half
  // and a bright right half.
  const Tensor<std::uint8_t> split = io::overlay_heatmap(picture, Tensor<float>::from_vector({1, 2}, {0.0f, 1.0f}), 1.0f);
  REQUIRE(split.shape() == picture.shape());
  const auto lo = io::heat_colour(0.0f), hi = io::heat_colour(1.0f);
  for (std::int64_t y = 0; y < 4; ++y)
    for (int k = 0; k < 3; ++k) {
      CHECK(split.data()[(y * 6 + 0) * 3 + k] == lo[k]);
      CHECK(split.data()[(y * 6 + 5) * 3 + k] == hi[k]);
    }
  // Non-finite map values leave the picture visible.
  Tensor<float> holes = map.clone();
  holes.data()[0] = std::numeric_limits<float>::infinity();
  const Tensor<std::uint8_t> kept = io::overlay_heatmap(picture, holes, 1.0f);
  for (int k = 0; k < 3; ++k) CHECK(kept.data()[k] == picture.data()[k]);
  CHECK_THROWS_AS(io::overlay_heatmap(picture, map, 1.5f), biqa::Error);
  CHECK_THROWS_AS(io::overlay_heatmap(Tensor<std::uint8_t>({4, 6}), map), biqa::Error);
  CHECK_THROWS_AS(io::overlay_heatmap(picture, Tensor<float>({0, 3})), biqa::Error);
}
