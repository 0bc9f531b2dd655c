#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>

#include "biqa/data/readers.hpp"
#include "biqa/data/split.hpp"

using namespace biqa;

namespace {

// A synthetic dataset: `refs` contents x 12 distorted versions.
data::Dataset synthetic(int refs) {
  data::Dataset d;
  d.kind = "test";
  d.synthetic = true;
  for (int r = 0; r < refs; ++r)
    for (int k = 0; k < 12; ++k) {
      data::Sample s;
      s.image = "I" + std::to_string(r) + "_" + std::to_string(k) + ".png";
      s.mos = k;
      s.reference = "I" + std::to_string(r);
      d.samples.push_back(s);
    }
  return d;
}

void check_partition(const data::Split& s, std::size_t n) {
  std::vector<std::size_t> all = s.train;
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  REQUIRE(all.size() == n);
  for (std::size_t i = 0; i < n; ++i) CHECK(all[i] == i);
}

}  // namespace

TEST_CASE("split: random 80/20 is a deterministic partition", "[data][split]") {
  const auto a = data::random_split(1000, 0.8, 7);
  const auto b = data::random_split(1000, 0.8, 7);
  const auto c = data::random_split(1000, 0.8, 8);
  CHECK(a.train == b.train);
  CHECK(a.test == b.test);
  CHECK(a.train != c.train);
  CHECK(a.train.size() == 800);
  CHECK(a.test.size() == 200);
  check_partition(a, 1000);
  CHECK(std::is_sorted(a.train.begin(), a.train.end()));
  // Not a prefix: the shuffle actually moved items.
  CHECK(a.test.front() < 800);
  CHECK(data::random_split(5, 0.99, 0).test.size() == 1);  // never an empty side
  CHECK(data::random_split(5, 0.01, 0).train.size() == 1);
}

TEST_CASE("split: synthetic datasets split by reference, no content on both sides", "[data][split]") {
  const auto d = synthetic(25);
  std::set<std::set<std::size_t>> distinct;
  for (const auto& s : data::repeated_splits(d, 10, {.train_fraction = 0.8, .seed = 100})) {
    check_partition(s, d.size());
    std::set<std::string> train_refs, test_refs;
    for (auto i : s.train) train_refs.insert(d.samples[i].reference);
    for (auto i : s.test) test_refs.insert(d.samples[i].reference);
    CHECK(train_refs.size() == 20);
    CHECK(test_refs.size() == 5);
    for (const auto& r : test_refs) CHECK(train_refs.count(r) == 0);
    distinct.insert(std::set<std::size_t>(s.test.begin(), s.test.end()));
  }
  CHECK(distinct.size() >= 9);  // different seeds give different splits

  // Order of the file does not matter: the reference list is sorted before shuffling.
  auto reversed = d;
  std::reverse(reversed.samples.begin(), reversed.samples.end());
  const auto s1 = data::make_split(d, {.seed = 3});
  const auto s2 = data::make_split(reversed, {.seed = 3});
  std::set<std::string> t1, t2;
  for (auto i : s1.test) t1.insert(d.samples[i].reference);
  for (auto i : s2.test) t2.insert(reversed.samples[i].reference);
  CHECK(t1 == t2);

  // By image when asked, and for authentic datasets.
  const auto by_image = data::make_split(d, {.seed = 3, .by = data::SplitBy::image});
  CHECK(by_image.test.size() == 60);
}

TEST_CASE("split: the KADID sample splits by reference", "[data][split]") {
  data::ReadOptions o;
  o.root = std::string(BIQA_TEST_DATA_DIR) + "/datasets/kadid10k";
  const auto d = data::read_dataset("kadid10k", o);
  const auto s = data::make_split(d, {.train_fraction = 0.5, .seed = 1});
  std::set<std::string> tr, te;
  for (auto i : s.train) tr.insert(d.samples[i].reference);
  for (auto i : s.test) te.insert(d.samples[i].reference);
  CHECK(tr.size() + te.size() == 3);
  for (const auto& r : te) CHECK(tr.count(r) == 0);
}

TEST_CASE("split: bad fractions and reference-less datasets are errors", "[data][split]") {
  CHECK_THROWS_AS(data::random_split(10, 1.0, 0), Error);
  CHECK_THROWS_AS(data::random_split(10, 0.0, 0), Error);
  CHECK_THROWS_AS(data::random_split(1, 0.5, 0), Error);
  data::Dataset d;
  d.samples.resize(4);
  CHECK_THROWS_WITH(data::make_split(d, {.by = data::SplitBy::reference}), Catch::Contains("no reference ids"));
}
