#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "biqa/core/dtype.hpp"

using biqa::bfloat16;
using biqa::half;

TEST_CASE("half: exact values, rounding, subnormals, inf and NaN", "[core]") {
  // Reference bit patterns from IEEE 754 binary16 (numpy.float16(x).view(uint16)).
  REQUIRE(half(1.0f).bits == 0x3c00);
  REQUIRE(half(-2.0f).bits == 0xc000);
  REQUIRE(half(65504.0f).bits == 0x7bff);
  REQUIRE(half(65520.0f).bits == 0x7c00);  // rounds to inf
  REQUIRE(half(0.1f).bits == 0x2e66);
  REQUIRE(half(5.960464477539063e-08f).bits == 0x0001);  // smallest subnormal
  REQUIRE(half(2.9802322387695312e-08f).bits == 0x0000);  // half of it: ties to even
  REQUIRE(half(4.470348358154297e-08f).bits == 0x0001);   // 0.75 of it rounds up
  REQUIRE(half(6.097555160522461e-05f).bits == 0x03ff);  // largest subnormal
  REQUIRE(half(1.0009765625f).bits == 0x3c01);
  REQUIRE(half(1.00048828125f).bits == 0x3c00);  // tie to even (down)
  REQUIRE(half(1.00146484375f).bits == 0x3c02);  // tie to even (up)
  REQUIRE(half(std::numeric_limits<float>::infinity()).bits == 0x7c00);
  REQUIRE(std::isnan(float(half(std::numeric_limits<float>::quiet_NaN()))));
  // Every half value survives a round trip through float.
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const auto h = half::from_bits(static_cast<std::uint16_t>(b));
    const float f = float(h);
    if (std::isnan(f)) continue;
    REQUIRE(half(f).bits == b);
  }
}

TEST_CASE("bfloat16: round to nearest even", "[core]") {
  REQUIRE(bfloat16(1.0f).bits == 0x3f80);
  REQUIRE(bfloat16(3.140625f).bits == 0x4049);
  REQUIRE(float(bfloat16::from_bits(0x4049)) == 3.140625f);
  REQUIRE(bfloat16(1.00390625f).bits == 0x3f80);  // halfway, even stays
  REQUIRE(bfloat16(1.01171875f).bits == 0x3f82);  // halfway, odd rounds up
  REQUIRE(std::isnan(float(bfloat16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST_CASE("dtype names match safetensors", "[core]") {
  for (auto d : {biqa::DType::f32, biqa::DType::f16, biqa::DType::bf16, biqa::DType::i64,
                 biqa::DType::u8, biqa::DType::boolean, biqa::DType::f64}) {
    biqa::DType back;
    REQUIRE(biqa::parse_dtype_name(biqa::dtype_name(d), back));
    REQUIRE(back == d);
  }
  biqa::DType x;
  REQUIRE_FALSE(biqa::parse_dtype_name("F8_E4M3", x));
}
