#pragma once
/// @file
/// Shape: up to 8 extents, stored inline so shapes never allocate.

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"

namespace biqa {

class Shape {
 public:
  static constexpr int max_rank = 8;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<std::int64_t>& dims) { assign(dims.begin(), dims.end()); }
  template <typename It>
  Shape(It first, It last) {
    assign(first, last);
  }

  int rank() const { return rank_; }
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t& operator[](int i) { return dims_[static_cast<std::size_t>(i)]; }
  /// Negative indices count from the end, as in PyTorch.
  std::int64_t dim(int i) const { return dims_[static_cast<std::size_t>(normalize_axis(i))]; }

  int normalize_axis(int axis) const {
    const int a = axis < 0 ? axis + rank_ : axis;
    BIQA_CHECK(a >= 0 && a < rank_, ErrorCode::invalid_argument, "axis ", axis,
               " out of range for shape ", to_string());
    return a;
  }

  /// Element count; a shape whose count overflows int64 is an error, never a wrapped number.
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) {
      if (__builtin_mul_overflow(n, dims_[static_cast<std::size_t>(i)], &n))
        fail(ErrorCode::invalid_argument, "shape ", to_string(), " has too many elements");
    }
    return n;
  }

  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }
  std::vector<std::int64_t> to_vector() const { return {begin(), end()}; }

  void push_back(std::int64_t d) {
    BIQA_CHECK(rank_ < max_rank, ErrorCode::invalid_argument, "shape rank above ", max_rank);
    BIQA_CHECK(d >= 0, ErrorCode::invalid_argument, "negative extent ", d);
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.rank_ == b.rank_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

  std::string to_string() const {
    std::string s = "[";
    for (int i = 0; i < rank_; ++i) {
      if (i) s += ", ";
      s += std::to_string(dims_[static_cast<std::size_t>(i)]);
    }
    return s + "]";
  }

  /// Row-major (C order) element strides. An empty shape may have extents whose product overflows;
  /// its strides are never used to address memory, so they saturate to 0 instead.
  std::array<std::int64_t, max_rank> contiguous_strides() const {
    std::array<std::int64_t, max_rank> st{};
    std::int64_t s = 1;
    bool overflow = false;
    for (int i = rank_ - 1; i >= 0; --i) {
      st[static_cast<std::size_t>(i)] = overflow ? 0 : s;
      if (!overflow && __builtin_mul_overflow(s, dims_[static_cast<std::size_t>(i)], &s)) overflow = true;
    }
    if (overflow) (void)numel();  // throws unless an extent is 0
    return st;
  }

 private:
  template <typename It>
  void assign(It first, It last) {
    rank_ = 0;
    for (; first != last; ++first) push_back(static_cast<std::int64_t>(*first));
  }

  std::array<std::int64_t, max_rank> dims_{};
  int rank_ = 0;
};

}  // namespace biqa
