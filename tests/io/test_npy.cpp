#include <catch2/catch.hpp>

#include "biqa/io/npy.hpp"
#include "support/helpers.hpp"

using namespace biqa;

TEST_CASE("npy: reads arrays written by numpy", "[io]") {
  const auto f = io::read_npy(test::data_path("io/f64_2x3.npy"));
  REQUIRE(f.dtype == DType::f64);
  REQUIRE(f.shape == Shape{2, 3});
  REQUIRE(f.to_float()(1, 2) == 1.25f);
  const auto i = io::read_npy(test::data_path("io/i64_4.npy")).as<std::int64_t>();
  REQUIRE(i.to_vector() == std::vector<std::int64_t>{-3, 0, 7, std::int64_t(1) << 40});
  const auto u = io::read_npy(test::data_path("io/u8_2x2x2.npy")).as<std::uint8_t>();
  REQUIRE(u(1, 1, 1) == 7);
  const auto s = io::read_npy(test::data_path("io/f32_scalar.npy"));
  REQUIRE(s.shape.rank() == 0);
  REQUIRE(s.to_float().data()[0] == 2.5f);
  REQUIRE_THROWS_WITH(io::read_npy(test::data_path("io/f32_fortran.npy")), Catch::Contains("Fortran"));
}

TEST_CASE("npy: write then read round-trips", "[io]") {
  test::TempDir dir;
  auto t = Tensor<float>::from_list({2, 1, 3}, {1, 2, 3, 4, 5, -6});
  io::write_npy(dir.file("a.npy"), t.permute({2, 1, 0}));  // written as a contiguous copy
  const auto back = io::read_npy(dir.file("a.npy")).to_float();
  REQUIRE(back.shape() == Shape{3, 1, 2});
  REQUIRE(back(2, 0, 1) == -6.0f);
  io::write_npy(dir.file("v.npy"), Tensor<std::int64_t>::from_list({3}, {1, 2, 3}));
  REQUIRE(io::read_npy(dir.file("v.npy")).shape == Shape{3});
}

TEST_CASE("npy: malformed files are clear errors", "[io][bad-input]") {
  const auto good = io::encode_npy(DType::f32, Shape{2, 2}, std::vector<float>{1, 2, 3, 4}.data());
  for (std::size_t n = 0; n < good.size(); ++n)
    REQUIRE_THROWS_AS(io::decode_npy(good.data(), n), Error);
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string s(reinterpret_cast<const char*>(good.data()), good.size());
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const auto descr = edit("<f4", "<c8");
  REQUIRE_THROWS_WITH(io::decode_npy(descr.data(), descr.size(), "x.npy"), Catch::Contains("'<c8' not supported"));
  const auto shape = edit("(2, 2)", "(2, 3)");
  REQUIRE_THROWS_WITH(io::decode_npy(shape.data(), shape.size()), Catch::Contains("needs 24"));
  const auto magic = edit("NUMPY", "NUMPZ");
  REQUIRE_THROWS_WITH(io::decode_npy(magic.data(), magic.size()), Catch::Contains("bad magic"));
  const auto key = edit("'shape'", "'shapf'");
  REQUIRE_THROWS_AS(io::decode_npy(key.data(), key.size()), Error);
}

TEST_CASE("npy: regression: a shape whose element count overflows is an error", "[io][bad-input]") {
  // Found by fuzz_npy: 2 × 4040 × 40 × 2222222222222 × 20 × 2 overflowed int64.
  const auto bytes = io::read_file_bytes(std::string(BIQA_SOURCE_DIR) + "/fuzz/regressions/npy/shape-overflow.npy");
  REQUIRE_THROWS_WITH(io::decode_npy(bytes.data(), bytes.size()), Catch::Contains("too many elements"));
}

TEST_CASE("npy: regression: empty arrays convert without touching null storage", "[io]") {
  // Found by fuzz_npy: shape (1202, 0, ..., 2) has no elements and no data bytes.
  const auto bytes = io::read_file_bytes(std::string(BIQA_SOURCE_DIR) + "/fuzz/regressions/npy/empty-f32.npy");
  const auto a = io::decode_npy(bytes.data(), bytes.size());
  REQUIRE(a.shape.numel() == 0);
  REQUIRE(a.to_float().numel() == 0);
}

TEST_CASE("npy: regression: empty arrays with huge extents", "[io]") {
  // Found by fuzz_npy: (24040, 0, 42220, 4222222222444, 202) is empty, but its strides overflow.
  const auto bytes = io::read_file_bytes(std::string(BIQA_SOURCE_DIR) + "/fuzz/regressions/npy/empty-huge-strides.npy");
  const auto a = io::decode_npy(bytes.data(), bytes.size());
  REQUIRE(a.to_float().numel() == 0);
  REQUIRE_THROWS_WITH(Tensor<float>(Shape{1 << 30, 1 << 30, 1 << 30}), Catch::Contains("too many elements"));
}
