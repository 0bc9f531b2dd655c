#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "biqa/io/exif.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/io/npy.hpp"
#include "support/helpers.hpp"

namespace io = biqa::io;
using biqa::Tensor;

namespace {
// tests/data/io/exif (tools/reference/make_exif_fixtures.py): a 24×16 picture with flat quadrants
// (top-left red, top-right green, bottom-left blue, bottom-right white) stored with each EXIF
// orientation, and cv2.imread's upright result as RGB npy.
std::string exif_path(const std::string& name) { return biqa::test::data_path("io/exif/" + name); }

// The quadrant colour at (y, x) of an upright image: 0 red, 1 green, 2 blue, 3 white, -1 unclear.
int colour_at(const Tensor<std::uint8_t>& img, std::int64_t y, std::int64_t x) {
  const int r = img(y, x, 0), g = img(y, x, 1), b = img(y, x, 2);
  auto hi = [](int v) { return v > 200; };
  auto lo = [](int v) { return v < 55; };
  if (hi(r) && lo(g) && lo(b)) return 0;
  if (lo(r) && hi(g) && lo(b)) return 1;
  if (lo(r) && lo(g) && hi(b)) return 2;
  if (hi(r) && hi(g) && hi(b)) return 3;
  return -1;
}
// Colours at the centres of the four quadrants, TL TR BL BR.
std::vector<int> quadrants(const Tensor<std::uint8_t>& img) {
  const std::int64_t h = img.size(0), w = img.size(1);
  return {colour_at(img, h / 4, w / 4), colour_at(img, h / 4, 3 * w / 4), colour_at(img, 3 * h / 4, w / 4),
          colour_at(img, 3 * h / 4, 3 * w / 4)};
}
Tensor<std::uint8_t> load_cv2(const std::string& name) {
  return io::read_npy(exif_path(name + "_cv2.npy")).as<std::uint8_t>();
}
}  // namespace

TEST_CASE("decode applies the EXIF orientation like cv2.imread", "[io][exif]") {
  std::vector<std::string> names;
  for (int n = 1; n <= 8; ++n) names.push_back("orient_" + std::to_string(n));
  names.push_back("orient_6_ii");
  int worst = 0;
  for (const auto& name : names) {
    INFO(name);
    const auto bytes = io::read_file_bytes(exif_path(name + ".jpg"));
    const int orientation = name == "orient_6_ii" ? 6 : name.back() - '0';
    CHECK(io::jpeg_exif_orientation(bytes.data(), bytes.size()) == orientation);
    const Tensor<std::uint8_t> ref = load_cv2(name);
    const Tensor<std::uint8_t> img = io::read_image_u8(exif_path(name + ".jpg"));
    REQUIRE(img.shape() == ref.shape());
    const auto q = quadrants(img);
    CHECK(q == quadrants(ref));
    for (int v : q) CHECK(v >= 0);
    for (std::int64_t i = 0; i < img.numel(); ++i)
      worst = std::max(worst, std::abs(int(img.contiguous().data()[i]) - int(ref.data()[i])));
    // Opting out keeps the stored layout: the orientation-1 picture.
    const Tensor<std::uint8_t> raw = io::read_image_u8(exif_path(name + ".jpg"), io::DecodeOptions{false});
    CHECK(raw.shape() == biqa::Shape{16, 24, 3});
    CHECK(quadrants(raw) == std::vector<int>{0, 1, 2, 3});
    // The float path agrees.
    const Tensor<float> f = io::read_image(exif_path(name + ".jpg"));
    CHECK(f.shape() == ref.shape());
  }
  // stb and libjpeg-turbo could differ by a few levels; on these flat 4:4:4 files they agree (0).
  INFO("largest difference to cv2.imread: " << worst);
  CHECK(worst <= 4);
}

TEST_CASE("apply_exif_orientation maps all eight orientations", "[io][exif]") {
  // A 2×3 single-channel image with distinct values; expected layouts written out by hand.
  Tensor<std::uint8_t> img({2, 3});
  for (int i = 0; i < 6; ++i) img.data()[i] = static_cast<std::uint8_t>(i + 1);  // 1 2 3 / 4 5 6
  const std::vector<std::vector<int>> expected{
      {1, 2, 3, 4, 5, 6}, {3, 2, 1, 6, 5, 4}, {6, 5, 4, 3, 2, 1}, {4, 5, 6, 1, 2, 3},
      {1, 4, 2, 5, 3, 6}, {4, 1, 5, 2, 6, 3}, {6, 3, 5, 2, 4, 1}, {3, 6, 2, 5, 1, 4}};
  for (int o = 1; o <= 8; ++o) {
    INFO("orientation " << o);
    const Tensor<std::uint8_t> out = io::apply_exif_orientation(img, o);
    CHECK(out.shape() == (o >= 5 ? biqa::Shape{3, 2} : biqa::Shape{2, 3}));
    const auto v = out.contiguous().to_vector();
    CHECK(std::vector<int>(v.begin(), v.end()) == expected[static_cast<std::size_t>(o - 1)]);
  }
  CHECK(io::apply_exif_orientation(img, 0).data() == img.data());
  CHECK(io::apply_exif_orientation(img, 9).data() == img.data());
}

TEST_CASE("EXIF parsing survives truncated and corrupted files", "[io][exif]") {
  const auto good = io::read_file_bytes(exif_path("orient_6.jpg"));
  // Every prefix: the parser never reads out of bounds, decoding fails cleanly or succeeds.
  for (std::size_t n = 0; n <= good.size(); ++n) {
    const int o = io::jpeg_exif_orientation(good.data(), n);
    CHECK((o >= 1 && o <= 8));
    try {
      (void)io::decode_image_u8(good.data(), n, "prefix");
    } catch (const biqa::Error&) {
    }
  }
  // Random byte changes inside the APP1 segment (bytes 20 to 60) and its length field.
  std::mt19937 gen(7);
  int decoded = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto bytes = good;
    const int edits = 1 + static_cast<int>(gen() % 4);
    for (int e = 0; e < edits; ++e) bytes[20 + gen() % 40] = static_cast<unsigned char>(gen());
    const int o = io::jpeg_exif_orientation(bytes.data(), bytes.size());
    CHECK((o >= 1 && o <= 8));
    try {
      const auto img = io::decode_image_u8(bytes.data(), bytes.size(), "mutated");
      CHECK((img.shape() == biqa::Shape{16, 24, 3} || img.shape() == biqa::Shape{24, 16, 3}));
      ++decoded;
    } catch (const biqa::Error&) {
    }
  }
  CHECK(decoded > 0);
  // Hand-made APP1 segments: an IFD offset past the end, a huge entry count, a wrong type.
  auto jpeg_with_tiff = [](std::vector<unsigned char> tiff) {
    std::vector<unsigned char> j{0xff, 0xd8, 0xff, 0xe1};
    const std::size_t len = tiff.size() + 8;
    j.push_back(static_cast<unsigned char>(len >> 8));
    j.push_back(static_cast<unsigned char>(len));
    for (char ch : std::string("Exif\0\0", 6)) j.push_back(static_cast<unsigned char>(ch));
    j.insert(j.end(), tiff.begin(), tiff.end());
    j.push_back(0xff);
    j.push_back(0xd9);
    return j;
  };
  const std::vector<std::vector<unsigned char>> bad{
      {'I', 'I', 42, 0, 0xff, 0xff, 0, 0},                                 // IFD far away
      {'I', 'I', 42, 0, 8, 0, 0, 0, 0xff, 0xff},                           // 65535 entries, none there
      {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 5, 0, 1, 0, 0, 0, 6, 0, 0, 0},  // RATIONAL type
      {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 9, 0, 0, 0},  // value 9
      {'I', 'I', 43, 0, 8, 0, 0, 0},                                       // not TIFF
      {'M', 'M'},                                                          // truncated header
  };
  for (const auto& t : bad) {
    const auto j = jpeg_with_tiff(t);
    CHECK(io::jpeg_exif_orientation(j.data(), j.size()) == 1);
  }
  const auto ok = jpeg_with_tiff({'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0});
  CHECK(io::jpeg_exif_orientation(ok.data(), ok.size()) == 8);
}
