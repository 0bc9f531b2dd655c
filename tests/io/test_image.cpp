#include <catch2/catch.hpp>

#include <stb_image_write.h>

#include "biqa/io/image.hpp"
#include "biqa/io/npy.hpp"
#include "support/parity.hpp"

using namespace biqa;

namespace {

Tensor<std::uint8_t> pattern(int h, int w, int c) {
  Tensor<std::uint8_t> t({h, w, c});
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
  return t;
}

std::vector<unsigned char> encode_with(int (*writer)(stbi_write_func*, void*, int, int, int, const void*),
                                       const Tensor<std::uint8_t>& img) {
  std::vector<unsigned char> out;
  writer([](void* ctx, void* d, int n) {
           auto* v = static_cast<std::vector<unsigned char>*>(ctx);
           v->insert(v->end(), static_cast<unsigned char*>(d), static_cast<unsigned char*>(d) + n);
         },
         &out, static_cast<int>(img.size(1)), static_cast<int>(img.size(0)), static_cast<int>(img.size(2)),
         img.data());
  return out;
}

}  // namespace

TEST_CASE("image: PNG, BMP and TGA decode losslessly to RGB", "[io]") {
  const auto rgb = pattern(6, 5, 3);
  const auto png = io::encode_png(rgb);
  const auto a = io::decode_image_u8(png.data(), png.size());
  REQUIRE(a.shape() == Shape{6, 5, 3});
  REQUIRE(a.to_vector() == rgb.to_vector());
  const auto f = io::decode_image(png.data(), png.size());
  REQUIRE(f(5, 4, 2) == Approx(rgb(5, 4, 2) / 255.0f));

  const auto bmp = encode_with(stbi_write_bmp_to_func, rgb);
  REQUIRE(io::decode_image_u8(bmp.data(), bmp.size()).to_vector() == rgb.to_vector());
  const auto tga = encode_with(stbi_write_tga_to_func, rgb);
  REQUIRE(io::decode_image_u8(tga.data(), tga.size()).to_vector() == rgb.to_vector());
}

TEST_CASE("image: grey is replicated, alpha dropped, 16-bit kept", "[io]") {
  const auto grey = pattern(3, 4, 1);
  const auto gpng = io::encode_png(grey);
  const auto g = io::decode_image_u8(gpng.data(), gpng.size());
  REQUIRE(g.shape() == Shape{3, 4, 3});
  REQUIRE(g(2, 3, 0) == grey(2, 3, 0));
  REQUIRE(g(2, 3, 2) == grey(2, 3, 0));

  const auto rgba = pattern(2, 2, 4);
  const auto apng = io::encode_png(rgba);
  const auto a = io::decode_image_u8(apng.data(), apng.size());
  REQUIRE(a(1, 1, 2) == rgba(1, 1, 2));

  for (const char* name : {"rgb16", "grey16"}) {
    INFO(name);
    const auto img = io::read_image(test::data_path(std::string("io/") + name + ".png"));
    const auto expected = io::read_npy(test::data_path(std::string("io/") + name + "_expected.npy")).to_float();
    REQUIRE(test::parity_error(img, expected) < 1e-6);
  }
}

TEST_CASE("image: JPEG round trip is close", "[io]") {
  test::TempDir dir;
  Tensor<std::uint8_t> smooth({16, 16, 3});
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) smooth(y, x, c) = static_cast<std::uint8_t>(8 * x + 4 * y + 20 * c);
  io::write_image(dir.file("a.jpg"), smooth, 100);
  const auto back = io::read_image_u8(dir.file("a.jpg"));
  REQUIRE(back.shape() == Shape{16, 16, 3});
  int worst = 0;
  for (std::int64_t i = 0; i < back.numel(); ++i) worst = std::max(worst, std::abs(int(back.data()[i]) - int(smooth.data()[i])));
  REQUIRE(worst <= 8);
  io::write_image(dir.file("b.png"), io::read_image(dir.file("a.jpg")));
  REQUIRE(io::read_image_u8(dir.file("b.png")).to_vector() == back.to_vector());
  REQUIRE_THROWS_AS(io::write_image(dir.file("c.gif"), smooth), Error);
}

TEST_CASE("image: corrupt, truncated and unsupported files are clear errors", "[io][bad-input]") {
  const auto png = io::encode_png(pattern(8, 8, 3));
  // Every cut that loses pixel data fails (the last 12 bytes are the empty IEND chunk).
  for (std::size_t n = 0; n + 12 < png.size(); n += 3) {
    INFO(n);
    REQUIRE_THROWS_AS(io::decode_image(png.data(), n, "cut.png"), Error);
  }
  auto corrupt = png;
  for (std::size_t i = 40; i < corrupt.size(); ++i) corrupt[i] ^= 0x5a;
  REQUIRE_THROWS_AS(io::decode_image(corrupt.data(), corrupt.size()), Error);
  const std::string gif = "GIF89a\x01\x00\x01\x00\x00\x00\x00";
  REQUIRE_THROWS_WITH(io::decode_image(gif.data(), gif.size(), "x.gif"), Catch::Contains("not supported"));
  const std::string text = "hello, this is not an image at all";
  REQUIRE_THROWS_WITH(io::decode_image(text.data(), text.size(), "x.jpg"), Catch::Contains("x.jpg"));
  REQUIRE_THROWS_WITH(io::read_image("/nonexistent/image.png"), Catch::Contains("cannot open"));
  // A header that claims a giant image is refused before any allocation.
  auto huge = png;
  huge[16] = 0x00; huge[17] = 0x01; huge[18] = 0x00; huge[19] = 0x00;  // width 65536
  huge[20] = 0x00; huge[21] = 0x01; huge[22] = 0x00; huge[23] = 0x00;  // height 65536
  REQUIRE_THROWS_AS(io::decode_image(huge.data(), huge.size()), Error);
}

TEST_CASE("image: regression: a JPEG Huffman table with more than 256 codes", "[io][bad-input]") {
  // Found by fuzz_image: Debian 12's stb_image writes past its 257-entry size table here.
  const auto bytes =
      io::read_file_bytes(std::string(BIQA_SOURCE_DIR) + "/fuzz/regressions/image/jpeg-huffman-overflow.jpg");
  REQUIRE_THROWS_WITH(io::decode_image(bytes.data(), bytes.size(), "x.jpg"), Catch::Contains("more than 256 codes"));
  // Valid baseline and progressive JPEGs (Huffman tables between scans) still decode.
  for (const char* f : {"a.jpg", "p.jpg"}) {
    const auto ok = io::read_file_bytes(std::string(BIQA_SOURCE_DIR) + "/fuzz/seeds/image/" + f);
    REQUIRE(io::decode_image(ok.data(), ok.size(), f).shape() == Shape{9, 7, 3});
  }
}

TEST_CASE("image: regression: a PNG chunk whose length runs past the file", "[io][bad-input]") {
  // Found by fuzz_image: stb would first grow its buffer to the declared length (gigabytes).
  const auto bytes =
      io::read_file_bytes(std::string(BIQA_SOURCE_DIR) + "/fuzz/regressions/image/png-chunk-length.png");
  REQUIRE_THROWS_WITH(io::decode_image(bytes.data(), bytes.size(), "x.png"), Catch::Contains("runs past the end"));
}
