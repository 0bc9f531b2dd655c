#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "biqa/io/json.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/transforms/normalize_u8.hpp"
#include "biqa/transforms/opencv_resize.hpp"
#include "support/parity.hpp"

using biqa::Tensor;
namespace tf = biqa::transforms;

namespace {
// tests/data/transforms/dgiqa_preprocess.safetensors (tools/reference/make_dgiqa_preprocess_fixtures.py):
// cv2.resize(INTER_LINEAR) of pattern images and albumentations' Normalize.
class PreprocessFixture {
 public:
  PreprocessFixture()
      : file_(biqa::io::load_weights(biqa::test::fixture_path("transforms/dgiqa_preprocess.safetensors"))),
        cases_(biqa::json::parse(file_.metadata.at("cases"), "dgiqa_preprocess")) {}
  const biqa::json::Array& cases() const { return cases_.as_array(); }
  template <typename T>
  std::vector<T> values(const std::string& name) const {
    const auto& r = file_.at(name);
    const auto bytes = file_.contiguous_bytes(r);
    REQUIRE(bytes.size() % sizeof(T) == 0);
    std::vector<T> out(bytes.size() / sizeof(T));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  }
  bool has(const std::string& name) const { return file_.find(name) != nullptr; }

 private:
  biqa::io::WeightFile file_;
  biqa::json::Value cases_;
};

// The fixture script's pattern(): the inputs are computed, not stored.
Tensor<std::uint8_t> pattern(std::int64_t h, std::int64_t w, std::int64_t c, std::int64_t seed, const std::string& kind) {
  Tensor<std::uint8_t> img({h, w, c});
  std::uint8_t* p = img.data();
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const std::uint64_t i = static_cast<std::uint64_t>((y * w + x) * c + ch);
        if (kind == "noise") {
          std::uint32_t v = static_cast<std::uint32_t>(i * 2654435761ull + static_cast<std::uint64_t>(seed) * 0x9E3779B9ull + 12345u);
          v ^= v >> 15;
          v = static_cast<std::uint32_t>(std::uint64_t(v) * 0x2C1B3C6Dull);
          v ^= v >> 12;
          p[i] = static_cast<std::uint8_t>(v >> 24);
        } else {
          p[i] = static_cast<std::uint8_t>((y * 255 / std::max<std::int64_t>(h - 1, 1) + x * 3 + ch * 37 + seed) % 256);
        }
      }
  return img;
}

std::int64_t count_mismatches(const std::uint8_t* a, const std::vector<std::uint8_t>& b) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < b.size(); ++i) n += a[i] != b[i];
  return n;
}
}  // namespace

TEST_CASE("opencv_resize_linear equals cv2.resize INTER_LINEAR bit for bit", "[transforms][opencv_resize]") {
  PreprocessFixture f;
  int checked = 0;
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string();
    const std::int64_t h = c["h"].as_int(), w = c["w"].as_int(), ch = c["c"].as_int();
    const std::int64_t oh = c["out_h"].as_int(), ow = c["out_w"].as_int();
    const Tensor<std::uint8_t> img = pattern(h, w, ch, c["seed"].as_int(), c["kind"].as_string());
    INFO(name);
    Tensor<std::uint8_t> out;
    if (c["op"].as_string() == "shortest_side") {
      const auto [nh, nw] = tf::shortest_side_size(h, w, c["target"].as_int());
      CHECK(nh == oh);
      CHECK(nw == ow);
      out = tf::resize_shortest_side_u8(img, c["target"].as_int());
    } else {
      out = tf::opencv_resize_linear(img, oh, ow);
    }
    REQUIRE(out.shape() == biqa::Shape{oh, ow, ch});
    const Tensor<std::uint8_t> o = out.contiguous();
    const std::int64_t row = ow * ch;
    if (c["full"].as_bool()) {
      const auto ref = f.values<std::uint8_t>(name + ".out");
      REQUIRE(ref.size() == static_cast<std::size_t>(o.numel()));
      CHECK(count_mismatches(o.data(), ref) == 0);
    } else {
      // Row and column sums see any one-LSB error; the bands are compared whole.
      const auto rows = f.values<std::int32_t>(name + ".row_sums");
      const auto cols = f.values<std::int32_t>(name + ".col_sums");
      std::int64_t bad_rows = 0, bad_cols = 0;
      for (std::int64_t y = 0; y < oh; ++y) {
        std::int64_t s = 0;
        for (std::int64_t i = 0; i < row; ++i) s += o.data()[y * row + i];
        bad_rows += s != rows[static_cast<std::size_t>(y)];
      }
      for (std::int64_t i = 0; i < row; ++i) {
        std::int64_t s = 0;
        for (std::int64_t y = 0; y < oh; ++y) s += o.data()[y * row + i];
        bad_cols += s != cols[static_cast<std::size_t>(i)];
      }
      CHECK(bad_rows == 0);
      CHECK(bad_cols == 0);
      const auto bands = f.values<std::uint8_t>(name + ".bands");
      const std::int64_t mid = c["band_mid"].as_int();
      std::vector<std::uint8_t> mine;
      for (std::int64_t y : {std::int64_t(0), std::int64_t(1), mid, mid + 1, oh - 2, oh - 1})
        mine.insert(mine.end(), o.data() + y * row, o.data() + (y + 1) * row);
      CHECK(count_mismatches(mine.data(), bands) == 0);
    }
    // One channel also as a rank-2 image.
    if (ch == 1 && c["op"].as_string() == "resize") {
      const Tensor<std::uint8_t> flat = tf::opencv_resize_linear(img.reshape({h, w}), oh, ow);
      CHECK(flat.shape() == biqa::Shape{oh, ow});
      CHECK(std::memcmp(flat.contiguous().data(), o.data(), static_cast<std::size_t>(o.numel())) == 0);
    }
    ++checked;
  }
  CHECK(checked >= 20);
}

TEST_CASE("shortest-side sizes follow albumentations' SmallestMaxSize", "[transforms][opencv_resize]") {
  using P = std::pair<std::int64_t, std::int64_t>;
  CHECK(tf::shortest_side_size(375, 500) == P{384, 512});
  CHECK(tf::shortest_side_size(768, 1024) == P{384, 512});
  CHECK(tf::shortest_side_size(384, 600) == P{384, 600});
  CHECK(tf::shortest_side_size(1000, 750) == P{512, 384});
  // 250 · 1.536 = 384, 1001 · 1.536 = 1537.536 → 1538; 125 → 384 and 201 · 3.072 = 617.472 → 617
  CHECK(tf::shortest_side_size(250, 1001) == P{384, 1538});
  CHECK(tf::shortest_side_size(201, 125) == P{617, 384});
  // Unchanged sizes give back the same tensor (no copy).
  const Tensor<std::uint8_t> img({384, 400, 3});
  CHECK(tf::resize_shortest_side_u8(img).data() == img.data());
  CHECK_THROWS_AS(tf::opencv_resize_linear(Tensor<std::uint8_t>({4, 4, 2}), 2, 2), biqa::Error);
  CHECK_THROWS_AS(tf::opencv_resize_linear(img, 0, 5), biqa::Error);
}

TEST_CASE("normalize_u8_to_chw equals albumentations' Normalize bit for bit", "[transforms][opencv_resize]") {
  PreprocessFixture f;
  const auto in = f.values<std::uint8_t>("normalize.input");
  const auto ref = f.values<float>("normalize.out");
  Tensor<std::uint8_t> img({19, 27, 3});
  std::memcpy(img.data(), in.data(), in.size());
  const Tensor<float> out = tf::normalize_u8_to_chw(img);
  REQUIRE(out.shape() == biqa::Shape{3, 19, 27});
  std::int64_t differing = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) differing += std::memcmp(&out.data()[i], &ref[i], sizeof(float)) != 0;
  CHECK(differing == 0);
}
