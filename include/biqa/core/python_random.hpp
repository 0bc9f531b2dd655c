#pragma once
/// @file
/// PythonRandom: CPython's `random` module (the Mersenne Twister MT19937 and the way CPython seeds
/// and draws from it), so that a protocol written with `random.seed(42); random.randint(a, b)`
/// gives the same numbers in C++. Covered: random.seed(int) (init_by_array over the 32-bit words
/// of |n|, least significant first), random(), getrandbits(k ≤ 64), _randbelow (rejection on
/// getrandbits(n.bit_length())), randrange(a, b) and randint(a, b) for 64-bit arguments.
/// CPython's algorithms have not changed since 3.2; seeding with str/bytes/float is not covered.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "biqa/core/error.hpp"

namespace biqa {

class PythonRandom {
 public:
  /// random.seed(n) for an integer n (the sign is dropped, as CPython does).
  explicit PythonRandom(std::int64_t seed = 0) { seed_int(seed); }

  void seed_int(std::int64_t n) {
    const std::uint64_t a = n < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
    std::vector<std::uint32_t> key{static_cast<std::uint32_t>(a)};
    if (a >> 32) key.push_back(static_cast<std::uint32_t>(a >> 32));
    seed_words(key);
  }

  /// random.seed(n) for an integer of any size written in decimal (an optional leading '-').
  void seed_decimal(std::string_view digits) {
    std::string_view d = digits;
    if (!d.empty() && (d.front() == '-' || d.front() == '+')) d.remove_prefix(1);
    BIQA_CHECK(!d.empty(), ErrorCode::invalid_argument, "PythonRandom: empty seed");
    std::vector<std::uint32_t> words{0};  // little-endian base 2^32
    for (char ch : d) {
      BIQA_CHECK(ch >= '0' && ch <= '9', ErrorCode::invalid_argument, "PythonRandom: seed '", digits,
                 "' is not a decimal integer");
      std::uint64_t carry = static_cast<std::uint64_t>(ch - '0');
      for (auto& w : words) {
        const std::uint64_t v = std::uint64_t(w) * 10 + carry;
        w = static_cast<std::uint32_t>(v);
        carry = v >> 32;
      }
      if (carry) words.push_back(static_cast<std::uint32_t>(carry));
    }
    while (words.size() > 1 && words.back() == 0) words.pop_back();
    seed_words(words);
  }

  /// init_by_array with the given key: the 32-bit words of |n|, least significant first
  /// (CPython uses the single word 0 for n = 0).
  void seed_words(const std::vector<std::uint32_t>& key) {
    BIQA_CHECK(!key.empty(), ErrorCode::invalid_argument, "PythonRandom: empty seed key");
    init_genrand(19650218u);
    std::size_t i = 1, j = 0;
    const std::size_t klen = key.size();
    for (std::size_t k = std::max<std::size_t>(n_, klen); k; --k) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<std::uint32_t>(j);
      ++i, ++j;
      if (i >= n_) mt_[0] = mt_[n_ - 1], i = 1;
      if (j >= klen) j = 0;
    }
    for (std::size_t k = n_ - 1; k; --k) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<std::uint32_t>(i);
      ++i;
      if (i >= n_) mt_[0] = mt_[n_ - 1], i = 1;
    }
    mt_[0] = 0x80000000u;
  }

  /// One 32-bit output of MT19937 (genrand_uint32).
  std::uint32_t next_u32() {
    if (index_ >= n_) twist();
    std::uint32_t y = mt_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  /// random.random(): 53 bits from two outputs, in [0, 1).
  double random() {
    const std::uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
  }

  /// random.getrandbits(k), 0 ≤ k ≤ 64: 32-bit words least significant first, the last one
  /// shifted down to its remaining bits.
  std::uint64_t getrandbits(int k) {
    BIQA_CHECK(k >= 0 && k <= 64, ErrorCode::invalid_argument, "PythonRandom::getrandbits: k = ", k,
               " (0 to 64 supported)");
    if (k == 0) return 0;
    if (k <= 32) return next_u32() >> (32 - k);
    const std::uint64_t lo = next_u32();
    const std::uint64_t hi = next_u32() >> (64 - k);
    return lo | hi << 32;
  }

  /// random._randbelow(n) for n ≥ 1: uniform in [0, n) by rejection.
  std::uint64_t randbelow(std::uint64_t n) {
    BIQA_CHECK(n >= 1, ErrorCode::invalid_argument, "PythonRandom::randbelow: n must be positive");
    int k = 0;
    while (k < 64 && (n >> k) != 0) ++k;  // n.bit_length()
    std::uint64_t r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
  }

  /// random.randrange(start, stop) (step 1) and random.randint(a, b) = randrange(a, b + 1).
  std::int64_t randrange(std::int64_t start, std::int64_t stop) {
    BIQA_CHECK(stop > start, ErrorCode::invalid_argument, "PythonRandom::randrange: empty range [", start,
               ", ", stop, ")");
    const std::uint64_t width = static_cast<std::uint64_t>(stop) - static_cast<std::uint64_t>(start);
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(start) + randbelow(width));
  }
  std::int64_t randint(std::int64_t a, std::int64_t b) {
    BIQA_CHECK(b >= a && b < INT64_MAX, ErrorCode::invalid_argument, "PythonRandom::randint: empty range [", a,
               ", ", b, "]");
    return randrange(a, b + 1);
  }

  /// Consumes n random() calls (two outputs each), e.g. the draws a library makes first.
  void skip_random(int n) {
    for (int i = 0; i < n; ++i) (void)random();
  }

 private:
  static constexpr std::size_t n_ = 624, m_ = 397;
  std::array<std::uint32_t, n_> mt_{};
  std::size_t index_ = n_ + 1;

  void init_genrand(std::uint32_t s) {
    mt_[0] = s;
    for (std::size_t i = 1; i < n_; ++i)
      mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    index_ = n_;
  }

  void twist() {
    constexpr std::uint32_t upper = 0x80000000u, lower = 0x7fffffffu, matrix = 0x9908b0dfu;
    for (std::size_t k = 0; k < n_; ++k) {
      const std::uint32_t y = (mt_[k] & upper) | (mt_[(k + 1) % n_] & lower);
      mt_[k] = mt_[(k + m_) % n_] ^ (y >> 1) ^ ((y & 1u) ? matrix : 0u);
    }
    index_ = 0;
  }
};

}  // namespace biqa
