#pragma once
/// @file
/// Agreement between predicted scores and subjective scores (MOS): SRCC, PLCC, KRCC and RMSE,
/// defined as scipy.stats defines them (see docs/metrics.md):
///   srcc  = scipy.stats.spearmanr(pred, target)[0]    (average ranks for ties)
///   plcc  = scipy.stats.pearsonr(pred, target)[0]
///   krcc  = scipy.stats.kendalltau(pred, target)[0]   (tau-b, Knight's O(n log n) algorithm)
///   rmse  = sqrt(mean((pred - target)^2))
/// Inputs are checked by check_pairs(): equal lengths, at least 3 pairs, finite, and (except for
/// RMSE, which is defined for a constant prediction) not constant.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "biqa/metrics/input.hpp"

namespace biqa::metrics {

namespace detail {

/// Pearson's r without input checks; 0 when either side has no spread. Two-pass (centred) sums
/// keep the result accurate when the values sit far from zero.
inline double pearson_unchecked(std::span<const double> x, std::span<const double> y) {
  const std::size_t n = x.size();
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= double(n);
  my /= double(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return 0.0;
  const double r = sxy / (std::sqrt(sxx) * std::sqrt(syy));
  return std::clamp(r, -1.0, 1.0);
}

inline std::vector<std::size_t> argsort(std::span<const double> v) {
  std::vector<std::size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  return idx;
}

/// Number of pairs i < j with v[i] > v[j] (strictly), counted while merge-sorting v in place.
inline std::int64_t count_inversions(std::vector<double>& v) {
  std::vector<double> buf(v.size());
  std::int64_t swaps = 0;
  for (std::size_t width = 1; width < v.size(); width *= 2) {
    for (std::size_t lo = 0; lo < v.size(); lo += 2 * width) {
      const std::size_t mid = std::min(lo + width, v.size()), hi = std::min(lo + 2 * width, v.size());
      std::size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) {
        if (v[j] < v[i]) {
          swaps += std::int64_t(mid - i);  // v[j] jumps over every element left in the left run
          buf[k++] = v[j++];
        } else {
          buf[k++] = v[i++];
        }
      }
      while (i < mid) buf[k++] = v[i++];
      while (j < hi) buf[k++] = v[j++];
    }
    v.swap(buf);
  }
  return swaps;
}

/// Sum over runs of equal values in a sorted sequence of t(t-1)/2: the pairs tied on it.
template <typename Equal>
std::int64_t tied_pairs(std::size_t n, Equal equal) {
  std::int64_t ties = 0, run = 1;
  for (std::size_t i = 1; i <= n; ++i) {
    if (i < n && equal(i - 1, i)) {
      ++run;
    } else {
      ties += run * (run - 1) / 2;
      run = 1;
    }
  }
  return ties;
}

}  // namespace detail

/// 1-based ranks, ties given the average of the ranks they span (scipy.stats.rankdata 'average').
inline std::vector<double> average_ranks(std::span<const double> v) {
  const auto idx = detail::argsort(v);
  std::vector<double> ranks(v.size());
  for (std::size_t i = 0; i < idx.size();) {
    std::size_t j = i + 1;
    while (j < idx.size() && v[idx[j]] == v[idx[i]]) ++j;
    const double avg = 0.5 * double(i + 1 + j);  // mean of ranks i+1 .. j
    for (std::size_t k = i; k < j; ++k) ranks[idx[k]] = avg;
    i = j;
  }
  return ranks;
}

/// Pearson linear correlation coefficient.
inline double plcc(std::span<const double> pred, std::span<const double> target) {
  check_pairs(pred, target);
  return detail::pearson_unchecked(pred, target);
}

/// Spearman rank-order correlation coefficient: Pearson's r of the average ranks.
inline double srcc(std::span<const double> pred, std::span<const double> target) {
  check_pairs(pred, target);
  const auto rp = average_ranks(pred), rt = average_ranks(target);
  return detail::pearson_unchecked(rp, rt);
}

/// Kendall rank correlation, tau-b: (concordant - discordant) / sqrt((n0 - n1)(n0 - n2)), with
/// n0 = n(n-1)/2 and n1, n2 the pairs tied in pred and in target. Knight (1966): sort by
/// (pred, target), count the target inversions with a merge sort, correct for joint ties.
/// O(n log n) time, O(n) memory.
inline double krcc(std::span<const double> pred, std::span<const double> target) {
  check_pairs(pred, target);
  const std::size_t n = pred.size();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    return pred[a] < pred[b] || (pred[a] == pred[b] && target[a] < target[b]);
  });
  const std::int64_t pred_ties =
      detail::tied_pairs(n, [&](std::size_t i, std::size_t j) { return pred[idx[i]] == pred[idx[j]]; });
  const std::int64_t joint_ties = detail::tied_pairs(n, [&](std::size_t i, std::size_t j) {
    return pred[idx[i]] == pred[idx[j]] && target[idx[i]] == target[idx[j]];
  });
  std::vector<double> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = target[idx[i]];
  // Within a run of equal pred, target is ascending, so pairs tied in pred add no inversions.
  const std::int64_t discordant = detail::count_inversions(t);  // t is now sorted
  const std::int64_t target_ties = detail::tied_pairs(n, [&](std::size_t i, std::size_t j) { return t[i] == t[j]; });
  const std::int64_t total = std::int64_t(n) * std::int64_t(n - 1) / 2;
  const std::int64_t con_minus_dis = total - pred_ties - target_ties + joint_ties - 2 * discordant;
  const double tau = double(con_minus_dis) / (std::sqrt(double(total - pred_ties)) *
                                              std::sqrt(double(total - target_ties)));
  return std::clamp(tau, -1.0, 1.0);
}

/// Root mean squared error. Defined for a constant prediction, so only lengths and finiteness are
/// checked.
inline double rmse(std::span<const double> pred, std::span<const double> target) {
  check_pairs(pred, target, /*need_variation=*/false);
  double s = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    const double d = pred[i] - target[i];
    s += d * d;
  }
  return std::sqrt(s / double(pred.size()));
}

}  // namespace biqa::metrics
