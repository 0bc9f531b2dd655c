#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "biqa/core/python_random.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/transforms/random_crops.hpp"
#include "support/helpers.hpp"

using biqa::PythonRandom;

namespace {
// tests/data/core/python_random.json, CPython's own draws (tools/reference/make_python_random_fixtures.py).
biqa::json::Value load_fixture() {
  const auto bytes = biqa::io::read_file_bytes(biqa::test::data_path("core/python_random.json"));
  return biqa::json::parse(std::string(bytes.begin(), bytes.end()), "python_random.json");
}
std::uint64_t u64(const biqa::json::Value& v) { return std::stoull(v.as_string()); }
std::int64_t i64(const biqa::json::Value& v) { return std::stoll(v.as_string()); }
bool fits_i64(const std::string& s) {
  try {
    (void)std::stoll(s);
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace

TEST_CASE("PythonRandom reproduces CPython's random module", "[core][python_random]") {
  const auto fx = load_fixture();
  int seeds = 0, randints = 0;
  for (const auto& c : fx["seeds"].as_array()) {
    const std::string seed = c["seed"].as_string();
    INFO("seed " << seed);
    PythonRandom r;
    r.seed_decimal(seed);
    if (fits_i64(seed)) {  // the integer constructor seeds the same way
      PythonRandom r2(std::stoll(seed));
      PythonRandom r3;
      r3.seed_decimal(seed);
      for (int i = 0; i < 4; ++i) CHECK(r2.next_u32() == r3.next_u32());
    }
    for (const auto& v : c["u32"].as_array()) CHECK(r.getrandbits(32) == u64(v));
    for (const auto& v : c["random"].as_array()) {
      const double expected = std::strtod(v.as_string().c_str(), nullptr);  // float.hex() is exact
      CHECK(r.random() == expected);
    }
    for (const auto& kv : c["getrandbits"].as_array()) {
      const int k = static_cast<int>(kv.as_array().at(0).as_int());
      CHECK(r.getrandbits(k) == u64(kv.as_array().at(1)));
    }
    for (const auto& t : c["randint"].as_array()) {
      const auto& a = t.as_array();
      CHECK(r.randint(i64(a.at(0)), i64(a.at(1))) == i64(a.at(2)));
      ++randints;
    }
    ++seeds;
  }
  CHECK(seeds >= 10);
  CHECK(randints >= 200);
}

TEST_CASE("python_random_crops reproduces the DGIQA script's crop windows", "[core][python_random]") {
  namespace tf = biqa::transforms;
  // Spec dgiqa.md §7.5: H' = 384, W' = 512, seed 42, no prior draws; (top, left) pairs.
  const std::vector<std::pair<int, int>> spec{{6, 57},   {62, 140}, {35, 114}, {139, 52}, {151, 44},
                                              {8, 216},  {23, 15},  {59, 111}, {154, 258}, {143, 13}};
  const auto boxes = tf::python_random_crops(384, 512);
  REQUIRE(boxes.size() == spec.size());
  for (std::size_t i = 0; i < spec.size(); ++i) {
    CHECK(boxes[i].top == spec[i].first);
    CHECK(boxes[i].left == spec[i].second);
    CHECK(boxes[i].height == 224);
    CHECK(boxes[i].width == 224);
  }
  const auto fx = load_fixture();
  int cases = 0;
  for (const auto& c : fx["crops"].as_array()) {
    tf::PythonCropOptions opt;
    opt.count = static_cast<int>(c["count"].as_int());
    opt.size = c["size"].as_int();
    opt.prior_random_draws = static_cast<int>(c["prior_random_draws"].as_int());
    const auto got = tf::python_random_crops(c["height"].as_int(), c["width"].as_int(), opt);
    const auto& want = c["boxes_yx"].as_array();
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].top == want[i].as_array().at(0).as_int());
      CHECK(got[i].left == want[i].as_array().at(1).as_int());
    }
    ++cases;
  }
  CHECK(cases == 15);
  CHECK_THROWS_AS(tf::python_random_crops(200, 512), biqa::Error);
}

TEST_CASE("PythonRandom rejects bad arguments", "[core][python_random]") {
  PythonRandom r(1);
  CHECK_THROWS_AS(r.randint(3, 2), biqa::Error);
  CHECK_THROWS_AS(r.getrandbits(65), biqa::Error);
  CHECK_THROWS_AS(r.seed_decimal("12a"), biqa::Error);
  CHECK_THROWS_AS(r.seed_decimal(""), biqa::Error);
  CHECK(r.randint(5, 5) == 5);
}
