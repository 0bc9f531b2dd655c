#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "biqa/io/image.hpp"
#include "biqa/io/safetensors.hpp"
#include "support/helpers.hpp"

using namespace biqa;

TEST_CASE("io: concurrent decoding and weight reads from one shared file", "[io][threads]") {
  Tensor<std::uint8_t> img({32, 24, 3});
  for (std::int64_t i = 0; i < img.numel(); ++i) img.data()[i] = static_cast<std::uint8_t>(i * 7);
  const auto png = io::encode_png(img);
  const auto wf = std::make_shared<const io::WeightFile>(
      io::read_safetensors(test::data_path("io/reference.safetensors")));
  const auto expected = wf->to_float(wf->at("f16")).to_vector();

  std::vector<int> ok(8, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      int good = 0;
      for (int rep = 0; rep < 10; ++rep) {
        const auto d = io::decode_image_u8(png.data(), png.size());
        good += d.to_vector() == img.to_vector();
        good += wf->to_float(wf->at("f16")).to_vector() == expected;
        try {
          io::decode_image(png.data(), 20);  // failures must not disturb other threads
        } catch (const Error&) {
          ++good;
        }
      }
      ok[static_cast<std::size_t>(t)] = good;
    });
  }
  for (auto& th : threads) th.join();
  for (int v : ok) REQUIRE(v == 30);
}
