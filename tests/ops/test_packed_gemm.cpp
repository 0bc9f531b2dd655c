#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/ops/cpu/packed_gemm.hpp"

namespace packed = biqa::ops::detail::packed;
using biqa::ops::detail::packed_gemm;

namespace {
// C = A·B in double precision from the same strided views the kernel reads.
std::vector<double> reference_product(std::int64_t m, std::int64_t n, std::int64_t k,
                                      const packed::StridedMatrix& a, const packed::StridedMatrix& b) {
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t p = 0; p < k; ++p) {
      const double av = a.at(i, p);
      for (std::int64_t j = 0; j < n; ++j) c[static_cast<std::size_t>(i * n + j)] += av * b.at(p, j);
    }
  return c;
}
}  // namespace

// The kernel's blocking has edges in every direction: rows past a multiple of MR, columns past NR,
// depth past KC (accumulation over K blocks), columns past NC, and both layouts of B (row-major
// and the transpose of a row-major weight). Each shape is checked against a double-precision
// product with a tolerance that scales with sqrt(k) (float rounding of a k-term sum).
TEST_CASE("packed gemm: every blocking edge and both B layouts match a double-precision product",
          "[ops][gemm]") {
  struct Case { std::int64_t m, n, k; };
  const std::int64_t mr = packed::mr, nr = packed::nr, kc = packed::kc_block, nc = packed::nc_block;
  const std::vector<Case> cases = {
      {1, 1, 1},          {mr, nr, 8},          {mr + 1, nr + 3, 17},  {2 * mr - 1, 1, 33},
      {1, 3 * nr + 5, 9}, {37, 29, kc + 3},     {13, nr, 2 * kc + 1},  {7, nc + nr + 2, 5},
      {packed::mc_block + 5, 2 * nr + 1, 31},   {3, 5, 0}};
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (const auto& [m, n, k] : cases) {
    for (bool b_transposed : {false, true}) {
      const std::int64_t lda = k + 3, ldc = n + 2;  // padded rows: strides differ from extents
      std::vector<float> a(static_cast<std::size_t>(m * lda + 1)), b(static_cast<std::size_t>((k + 1) * (n + 1) + 4));
      for (auto& v : a) v = dist(gen);
      for (auto& v : b) v = dist(gen);
      const packed::StridedMatrix av{a.data(), lda, 1};
      const packed::StridedMatrix bv = b_transposed ? packed::StridedMatrix{b.data(), 1, k + 1}
                                                    : packed::StridedMatrix{b.data(), n + 1, 1};
      // The padding column of C must stay untouched.
      std::vector<float> c(static_cast<std::size_t>(m * ldc), 123.0f);
      packed_gemm(m, n, k, av, bv, c.data(), ldc);
      const auto ref = reference_product(m, n, k, av, bv);
      const double tol = 1e-6 * (1.0 + std::sqrt(double(k))) * 4.0;
      double worst = 0.0;
      for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < n; ++j)
          worst = std::max(worst, std::abs(c[static_cast<std::size_t>(i * ldc + j)] - ref[static_cast<std::size_t>(i * n + j)]));
        for (std::int64_t j = n; j < ldc; ++j) REQUIRE(c[static_cast<std::size_t>(i * ldc + j)] == 123.0f);
      }
      INFO("m=" << m << " n=" << n << " k=" << k << " B transposed=" << b_transposed);
      CHECK(worst <= tol);
    }
  }
}

TEST_CASE("packed gemm: NaN and infinity propagate as in a plain product", "[ops][gemm]") {
  const std::int64_t m = 7, n = 19, k = 5;
  std::vector<float> a(m * k, 1.0f), b(k * n, 1.0f), c(m * n, 0.0f);
  a[2 * k + 1] = std::nanf("");                 // row 2 of C becomes NaN
  b[3 * n + 4] = INFINITY;                      // column 4 becomes +inf (except row 2)
  packed_gemm(m, n, k, {a.data(), k, 1}, {b.data(), n, 1}, c.data(), n);
  for (std::int64_t j = 0; j < n; ++j) CHECK(std::isnan(c[2 * n + j]));
  for (std::int64_t i = 0; i < m; ++i)
    if (i != 2) {
      CHECK(c[i * n + 4] == INFINITY);
      CHECK(c[i * n + 5] == float(k));
    }
}

TEST_CASE("packed gemm: operands packed beforehand give the products of the unpacked ones, bit for bit",
          "[ops][gemm]") {
  // Packing only moves values, and the kernel sums in the same order, so the four variants (A and
  // B each packed here or beforehand) must agree exactly, for row ranges starting at a multiple of
  // MR and column ranges at a multiple of NR, across K and M blocks.
  const std::int64_t mr = packed::mr, nr = packed::nr, kc = packed::kc_block;
  struct Case { std::int64_t m, n, k, i0, rows, j0, cols; };
  for (const auto& [m, n, k, i0, rows, j0, cols] :
       {Case{13, 21, 9, 0, 13, 0, 21}, Case{4 * mr + 1, 3 * nr + 2, kc + 7, mr, 2 * mr + 1, nr, 2 * nr + 2},
        Case{packed::mc_block + 3 * mr, 2 * nr, 33, 2 * mr, packed::mc_block + 1, 0, nr + 1}}) {
    std::mt19937 gen(static_cast<unsigned>(m * 131 + k));
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n));
    for (auto& v : a) v = dist(gen);
    for (auto& v : b) v = dist(gen);
    std::vector<float> ap(static_cast<std::size_t>(packed::packed_a_size(m, k))),
        bp(static_cast<std::size_t>(packed::packed_b_size(k, n)));
    packed::pack_a_whole({a.data(), k, 1}, m, k, ap.data());
    packed::pack_b_whole({b.data(), n, 1}, k, n, bp.data());
    const packed::PackedA pa{ap.data(), m, k};
    const packed::PackedB pb{bp.data(), k, n};
    const packed::StridedMatrix a_rows{a.data() + i0 * k, k, 1}, b_cols{b.data() + j0, n, 1};
    std::vector<float> plain(static_cast<std::size_t>(rows * cols)), with_a(plain.size()), with_b(plain.size()),
        with_both(plain.size());
    packed_gemm(rows, cols, k, a_rows, b_cols, plain.data(), cols);
    packed_gemm(rows, cols, pa, i0, b_cols, with_a.data(), cols);
    packed_gemm(rows, cols, a_rows, pb, j0, with_b.data(), cols);
    packed_gemm(rows, cols, pa, i0, pb, j0, with_both.data(), cols);
    INFO("m=" << m << " n=" << n << " k=" << k << " rows [" << i0 << ", " << i0 + rows << ") columns [" << j0
              << ", " << j0 + cols << ")");
    CHECK(with_a == plain);
    CHECK(with_b == plain);
    CHECK(with_both == plain);
    const auto ref = reference_product(rows, cols, k, a_rows, b_cols);
    double worst = 0.0;
    for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(plain[i] - ref[i]));
    CHECK(worst <= 1e-6 * (1.0 + std::sqrt(double(k))) * 4.0);
  }
  // Ranges off the register tile are internal errors, not silent misreads.
  std::vector<float> buf(static_cast<std::size_t>(packed::packed_a_size(2 * mr, 4)), 0.0f), c(64);
  std::vector<float> b(4 * 4, 0.0f);
  const packed::PackedA pa{buf.data(), 2 * mr, 4};
  CHECK_THROWS_AS(packed_gemm(2, 4, pa, 1, {b.data(), 4, 1}, c.data(), 4), biqa::Error);       // i0 % MR
  CHECK_THROWS_AS(packed_gemm(mr + 1, 4, pa, mr, {b.data(), 4, 1}, c.data(), 4), biqa::Error);  // past m
}
