// One loaded BRISQUE model shared by 8 threads, each with its own Context: the scores must equal
// the single-threaded ones. Built on its own so that CI can run it under ThreadSanitizer.

#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "biqa/models/registry.hpp"
#include "models/nss_test_images.hpp"

TEST_CASE("One BRISQUE model scores from 8 threads with separate contexts", "[brisque][models][threads]") {
  const auto model = biqa::load_model("brisque");
  std::vector<biqa::Tensor<float>> images;
  for (int i = 0; i < 6; ++i)
    images.push_back(biqa::test::quantize(biqa::test::synthetic_scene(96 + 8 * i, 120, 40 + i)));
  std::vector<double> expected;
  for (const auto& im : images) expected.push_back(model->score(im));

  constexpr int n_threads = 8;
  std::vector<std::vector<double>> got(n_threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < n_threads; ++t)
    pool.emplace_back([&, t] {
      biqa::Context ctx;
      for (int rep = 0; rep < 2; ++rep)
        for (std::size_t i = 0; i < images.size(); ++i) {
          const std::size_t k = (i + static_cast<std::size_t>(t)) % images.size();
          if (rep == 1) got[t].push_back(model->score(images[k], ctx));
          else (void)model->score(images[k], ctx);
        }
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < n_threads; ++t)
    for (std::size_t i = 0; i < images.size(); ++i)
      CHECK(got[t][i] == expected[(i + static_cast<std::size_t>(t)) % images.size()]);
}

