#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>

#include "biqa/io/weights.hpp"
#include "biqa/transforms/opencv_bicubic.hpp"
#include "support/parity.hpp"

// Fixture: tools/reference/make_depth_fixtures.py, cv2.resize(INTER_CUBIC) of opencv-python-headless
// 4.10 on float64 images (uint8 / 255), stored as float64. Expected: equal to the last bit.

using biqa::Tensor;

TEST_CASE("resize_bicubic_opencv equals cv2.resize(INTER_CUBIC) on float64", "[transforms][opencv_bicubic]") {
  const biqa::io::WeightFile f = biqa::io::load_weights(biqa::test::fixture_path("transforms/opencv_bicubic.safetensors"));
  const auto cases = biqa::json::parse(f.metadata.at("cases"), "cases");
  REQUIRE(cases.as_array().size() >= 5);
  for (const auto& c : cases.as_array()) {
    const std::string name = c["name"].as_string();
    const auto& in = f.at(name + ".input");
    const auto& out = f.at(name + ".output");
    REQUIRE(in.dtype == biqa::DType::u8);
    REQUIRE(out.dtype == biqa::DType::f64);
    Tensor<double> img(in.shape), ref(out.shape);
    const auto ib = f.contiguous_bytes(in), ob = f.contiguous_bytes(out);
    for (std::int64_t i = 0; i < img.numel(); ++i) img.data()[i] = static_cast<double>(std::to_integer<int>(ib[static_cast<std::size_t>(i)])) / 255.0;
    std::memcpy(ref.data(), ob.data(), ob.size());
    const auto [oh, ow] = biqa::test::pair_of(c["size"]);
    const Tensor<double> got = biqa::transforms::resize_bicubic_opencv(img, oh, ow);
    REQUIRE(got.shape() == ref.shape());
    double worst = 0;
    for (std::int64_t i = 0; i < ref.numel(); ++i) worst = std::max(worst, std::fabs(got.data()[i] - ref.data()[i]));
    INFO(name << ": max |difference| " << worst);
    CHECK(worst == 0.0);
  }
}

TEST_CASE("resize_bicubic_opencv rejects bad sizes", "[transforms][opencv_bicubic]") {
  REQUIRE_THROWS_AS(biqa::transforms::resize_bicubic_opencv(Tensor<double>::zeros({0, 3, 3}), 4, 4), biqa::Error);
  REQUIRE_THROWS_AS(biqa::transforms::resize_bicubic_opencv(Tensor<double>::zeros({3, 3, 3}), 0, 4), biqa::Error);
  REQUIRE_THROWS_AS(biqa::transforms::resize_bicubic_opencv(Tensor<double>::zeros({3}), 4, 4), biqa::Error);
}
