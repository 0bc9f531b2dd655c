#pragma once
/// @file
/// The checks every metric runs on its input: paired, finite, enough pairs, not constant.
/// Each failure is a biqa::Error (invalid_argument) whose message names the offending value.

#include <cmath>
#include <cstddef>
#include <span>
#include <string_view>

#include "biqa/core/error.hpp"

namespace biqa::metrics {

/// The fewest pairs any metric accepts: with two, every correlation is +-1.
inline constexpr std::size_t min_pairs = 3;

namespace detail {

inline void check_finite(std::span<const double> v, std::string_view what) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(v[i])) fail(ErrorCode::invalid_argument, "metrics: ", what, "[", i, "] is NaN");
    if (std::isinf(v[i])) fail(ErrorCode::invalid_argument, "metrics: ", what, "[", i, "] is infinite");
  }
}

inline bool is_constant(std::span<const double> v) {
  for (double x : v)
    if (x != v[0]) return false;
  return true;
}

inline void check_not_constant(std::span<const double> v, std::string_view what) {
  if (is_constant(v))
    fail(ErrorCode::invalid_argument, "metrics: ", what, " is constant (all ", v.size(),
         " values equal ", v[0], "), so the correlation is undefined");
}

}  // namespace detail

/// Throws unless pred and target are equally long, have at least `min_pairs` entries and are all
/// finite; with `need_variation`, also unless neither is constant.
inline void check_pairs(std::span<const double> pred, std::span<const double> target,
                        bool need_variation = true) {
  if (pred.size() != target.size())
    fail(ErrorCode::invalid_argument, "metrics: pred has ", pred.size(), " values but target has ",
         target.size());
  if (pred.size() < min_pairs)
    fail(ErrorCode::invalid_argument, "metrics: need at least ", min_pairs, " pairs, got ",
         pred.size());
  detail::check_finite(pred, "pred");
  detail::check_finite(target, "target");
  if (need_variation) {
    detail::check_not_constant(pred, "pred");
    detail::check_not_constant(target, "target");
  }
}

}  // namespace biqa::metrics
