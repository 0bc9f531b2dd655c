#pragma once
/// @file
/// Train/test splits, reproducible everywhere: split `seed` shuffles with std::mt19937_64 seeded by
/// splitmix64(seed) (the engine's output is fixed by the C++ standard) and a Fisher-Yates shuffle
/// drawing through our own unbiased bounded draw (std::uniform_int_distribution differs between
/// standard libraries). Repeated splits use seeds seed, seed+1, ...
///
/// Authentic datasets split by image. Synthetic ones (many distorted versions of few references:
/// KADID-10k, TID2013, CSIQ, LIVE, PIPAL) split by reference, so that no content is on both sides:
/// the sorted list of distinct references is shuffled and the first round(f * R) go to train.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/data/dataset.hpp"

namespace biqa::data {

struct Split {
  std::vector<std::size_t> train, test;  ///< sample indices, ascending
};

enum class SplitBy { automatic, image, reference };

struct SplitOptions {
  double train_fraction = 0.8;
  std::uint64_t seed = 0;
  SplitBy by = SplitBy::automatic;  ///< automatic: by reference for synthetic datasets
};

namespace detail {

inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline std::uint64_t bounded(std::mt19937_64& gen, std::uint64_t n) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = max - (max % n + 1) % n;
  for (;;) {
    const std::uint64_t r = gen();
    if (r <= limit) return r % n;
  }
}

/// A permutation of 0..n-1, the same on every platform for a seed.
inline std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> p(n);
  for (std::size_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 gen(mix64(seed));
  for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[std::size_t(bounded(gen, i))]);
  return p;
}

/// How many of `units` go to train: round(f * units), at least one on each side when units >= 2.
inline std::size_t train_count(std::size_t units, double f) {
  BIQA_CHECK(f > 0 && f < 1, ErrorCode::invalid_argument, "split: the train fraction must lie in (0, 1), got ", f);
  BIQA_CHECK(units >= 2, ErrorCode::invalid_argument, "split: need at least 2 ", "images or references to split, got ",
             units);
  auto k = static_cast<std::size_t>(std::llround(f * double(units)));
  return std::clamp<std::size_t>(k, 1, units - 1);
}

}  // namespace detail

/// n items, split by item.
inline Split random_split(std::size_t n, double train_fraction, std::uint64_t seed) {
  const auto perm = detail::permutation(n, seed);
  const std::size_t k = detail::train_count(n, train_fraction);
  Split s;
  s.train.assign(perm.begin(), perm.begin() + std::ptrdiff_t(k));
  s.test.assign(perm.begin() + std::ptrdiff_t(k), perm.end());
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

/// Split by the group label of each item (the reference content): a group is entirely on one side.
inline Split group_split(const std::vector<std::string>& groups, double train_fraction, std::uint64_t seed) {
  std::map<std::string, std::size_t> index;  // sorted: independent of file order
  for (const auto& g : groups) {
    BIQA_CHECK(!g.empty(), ErrorCode::invalid_argument, "split: an item has no reference id");
    index.emplace(g, 0);
  }
  std::size_t i = 0;
  for (auto& [name, k] : index) k = i++;
  const auto perm = detail::permutation(index.size(), seed);
  const std::size_t k = detail::train_count(index.size(), train_fraction);
  std::vector<bool> in_train(index.size(), false);
  for (std::size_t j = 0; j < k; ++j) in_train[perm[j]] = true;
  Split s;
  for (std::size_t j = 0; j < groups.size(); ++j) (in_train[index[groups[j]]] ? s.train : s.test).push_back(j);
  return s;
}

inline bool splits_by_reference(const Dataset& d, SplitBy by) {
  if (by == SplitBy::reference) {
    BIQA_CHECK(d.has_references(), ErrorCode::invalid_argument, "split: dataset ", d.kind,
               " has no reference ids to split by (use --ref-col with the generic csv form)");
    return true;
  }
  return by == SplitBy::automatic && d.synthetic && d.has_references();
}

inline Split make_split(const Dataset& d, const SplitOptions& o = {}) {
  if (splits_by_reference(d, o.by)) {
    std::vector<std::string> refs;
    refs.reserve(d.size());
    for (const auto& s : d.samples) refs.push_back(s.reference);
    return group_split(refs, o.train_fraction, o.seed);
  }
  return random_split(d.size(), o.train_fraction, o.seed);
}

/// `count` splits with seeds o.seed, o.seed + 1, ...
inline std::vector<Split> repeated_splits(const Dataset& d, std::size_t count, SplitOptions o = {}) {
  std::vector<Split> out;
  for (std::size_t i = 0; i < count; ++i, ++o.seed) out.push_back(make_split(d, o));
  return out;
}

}  // namespace biqa::data
