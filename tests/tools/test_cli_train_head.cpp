#include <catch2/catch.hpp>

#include <string>

#include "biqa/io/json.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/probe/head_file.hpp"
#include "support/helpers.hpp"

using namespace biqa;

TEST_CASE("cli: biqa train-head fits, reports medians and saves a loadable head", "[tools][probe]") {
  test::TempDir dir;
  const auto features = test::data_path("probe/ridge_features.npy");
  const auto mos = test::data_path("probe/ridge_mos.txt");
  const auto head = dir.file("head.safetensors");
  const auto r = test::run_cli("train-head --features '" + features + "' --mos '" + mos + "' --lambda 0.5 --json --save '" + head + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto v = json::parse(r.out);
  CHECK(v["n"].as_int() == 40);
  CHECK(v["per_split"]["srcc"].as_array().size() == 10);
  CHECK(v["srcc"].as_number() > 0.8);
  // The saved head is the closed form on all rows: compare with numpy's (fixture row 1: lambda 0.5).
  const auto expected = io::read_npy(test::data_path("probe/ridge_expected.npy")).as<double>();
  const auto h = std::get<probe::LinearHead>(probe::load_head(head));
  REQUIRE(h.weight.size() == 6);
  for (int j = 0; j < 6; ++j) CHECK(h.weight(j) == Approx(expected(1, j)).epsilon(1e-6).margin(1e-7));  // float32 file
  CHECK(h.bias == Approx(expected(1, 6)).epsilon(1e-6));

  const auto mlp = test::run_cli("train-head --features '" + features + "' --mos '" + mos +
                                 "' --head mlp --hidden 8 --epochs 50 --splits 3 --loss smoothl1 --json");
  REQUIRE(mlp.status == 0);
  CHECK(json::parse(mlp.out)["per_split"]["plcc"].as_array().size() == 3);
}

TEST_CASE("cli: biqa train-head error cases", "[tools][probe]") {
  test::TempDir dir;
  io::write_file_bytes(dir.file("short.txt"), "1\n2\n3\n", 6);
  const auto features = test::data_path("probe/ridge_features.npy");
  auto r = test::run_cli("train-head --features '" + features + "' --mos '" + dir.file("short.txt") + "'");
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("40 rows") && Catch::Contains("3 scores"));
  r = test::run_cli("train-head --features '" + features + "' --mos '" + test::data_path("probe/ridge_mos.txt") + "' --head svm");
  CHECK(r.status == 1);
  r = test::run_cli("train-head --mos x");
  CHECK(r.status == 1);
}
