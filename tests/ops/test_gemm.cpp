#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "biqa/ops/cpu/gemm.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

namespace {
// A tensor of standard normal values drawn from `rng`.
Tensor<float> random_normal(biqa::Shape shape, std::mt19937& rng) {
  std::normal_distribution<float> dist;
  Tensor<float> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = dist(rng);
  return t;
}
}  // namespace

TEST_CASE("gemm: matmul and linear match PyTorch", "[ops][gemm]") {
  biqa::test::OpFixture f("gemm");
  for (int threads : {1, 3}) {
    Context ctx(threads);
    for (const auto& c : f.cases()) {
      const std::string name = c["name"].as_string();
      Tensor<float> out;
      if (c["op"].as_string() == "matmul") {
        Tensor<float> b = f.get(c, "b");
        if (c.find("transpose_b")) b = b.transpose(0, 1);  // a transposed view, used in place
        out = ops::matmul(f.get(c, "a"), b, ctx);
      } else {
        out = ops::linear(f.get(c, "x"), f.get(c, "weight"), f.optional(c, "bias"), ctx);
      }
      biqa::test::check_parity("gemm/" + name + "/threads=" + std::to_string(threads), out, f.get(c, "out"));
    }
  }
}

TEST_CASE("gemm: a left operand without a unit stride is copied, not misread", "[ops][gemm]") {
  biqa::test::OpFixture f("gemm");
  Context ctx(2);
  for (const auto& c : f.cases()) {
    if (c["name"].as_string() != "mm") continue;
    const Tensor<float> a = f.get(c, "a");
    const Tensor<float> a_view = a.transpose(0, 1).clone().transpose(0, 1);  // same values, column-major
    REQUIRE_FALSE(a_view.is_contiguous());
    biqa::test::check_parity("gemm/mm_strided_a", ops::matmul(a_view, f.get(c, "b"), ctx), f.get(c, "out"));
  }
}

TEST_CASE("gemm: splitting rows or columns across threads keeps the result", "[ops][gemm]") {
  std::mt19937 rng(7);
  auto random = [&](biqa::Shape s) { return random_normal(s, rng); };
  const Tensor<float> wide_a = random({3, 200}), wide_b = random({200, 300});  // few rows: column blocks
  const Tensor<float> tall_a = random({300, 64}), tall_b = random({64, 40});   // many rows: row blocks
  Context one(1), four(4);
  biqa::test::check_parity("gemm/column_blocks", ops::matmul(wide_a, wide_b, four), ops::matmul(wide_a, wide_b, one), 1e-5);
  biqa::test::check_parity("gemm/row_blocks", ops::matmul(tall_a, tall_b, four), ops::matmul(tall_a, tall_b, one), 1e-5);
}

TEST_CASE("gemm: mismatched shapes raise biqa::Error", "[ops][gemm]") {
  Context ctx;
  REQUIRE_THROWS_AS(ops::matmul(Tensor<float>::zeros({2, 3}), Tensor<float>::zeros({4, 5}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::matmul(Tensor<float>::zeros({3}), Tensor<float>::zeros({3, 5}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::matmul(Tensor<float>::zeros({2, 2, 3}), Tensor<float>::zeros({3, 3, 4}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(ops::linear(Tensor<float>::zeros({2, 7}), Tensor<float>::zeros({4, 8}), Tensor<float>(), ctx),
                    biqa::Error);
  REQUIRE_THROWS_AS(ops::linear(Tensor<float>::zeros({2, 8}), Tensor<float>::zeros({4, 8}), Tensor<float>::zeros({5}), ctx),
                    biqa::Error);
}

TEST_CASE("gemm: linear with a few rows (dot products, no packing) matches a double-precision product",
          "[ops][gemm]") {
  std::mt19937 gen(9);
  auto random = [&](biqa::Shape s) { return random_normal(s, gen); };
  const std::int64_t in = 203, out_features = 37;
  const Tensor<float> w = random({out_features, in}), bias = random({out_features});
  // Rows on both sides of detail::linear_dot_rows, so both paths are checked against the same reference.
  for (std::int64_t rows = 1; rows <= biqa::ops::detail::linear_dot_rows + 2; ++rows) {
    const Tensor<float> x = random({rows, 1, in});
    Tensor<float> ref({rows, 1, out_features});
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < out_features; ++j) {
        double acc = bias.data()[j];
        for (std::int64_t i = 0; i < in; ++i) acc += double(x.data()[r * in + i]) * double(w.data()[j * in + i]);
        ref.data()[r * out_features + j] = float(acc);
      }
    for (int threads : {1, 3}) {
      Context ctx(threads);
      const std::string name = "gemm/linear_rows=" + std::to_string(rows) + "/threads=" + std::to_string(threads);
      biqa::test::check_parity(name, ops::linear(x, w, bias, ctx), ref, 1e-5);
      Tensor<float> no_bias = ops::linear(x, w, Tensor<float>(), ctx);
      for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t j = 0; j < out_features; ++j) no_bias.data()[r * out_features + j] += bias.data()[j];
      biqa::test::check_parity(name + "/no_bias", no_bias, ref, 1e-5);
    }
  }
  // NaN in the input reaches exactly the outputs of its row.
  Tensor<float> x = random({2, in});
  x.data()[in + 5] = std::numeric_limits<float>::quiet_NaN();
  Context ctx(2);
  const Tensor<float> y = ops::linear(x, w, bias, ctx);
  for (std::int64_t j = 0; j < out_features; ++j) {
    CHECK_FALSE(std::isnan(y.data()[j]));
    CHECK(std::isnan(y.data()[out_features + j]));
  }
}

TEST_CASE("gemm: a packed Linear weight gives the plain product, unpacks exactly, and serves row ranges",
          "[ops][gemm]") {
  std::mt19937 gen(3);
  auto random = [&](biqa::Shape s) { return random_normal(s, gen); };
  const std::int64_t nr = biqa::ops::detail::packed::nr;
  for (const std::int64_t out_features : {std::int64_t(5), 3 * nr, 3 * nr + 7}) {
    const Tensor<float> w = random({out_features, 37}), bias = random({out_features}), x = random({2, 11, 37});
    const biqa::ops::PackedLinearWeight packed(w);
    const Tensor<float> back = packed.unpack();
    REQUIRE(back.shape() == w.shape());
    for (std::int64_t i = 0; i < w.numel(); ++i) REQUIRE(back.data()[i] == w.data()[i]);
    for (int threads : {1, 3}) {
      Context ctx(threads);
      const Tensor<float> expected = ops::linear(x, w, bias, ctx);
      biqa::test::check_parity("gemm/packed_linear", ops::linear(x, packed, bias, ctx), expected, 1e-6);
      // Rows [first, first + count) of the weight: on a sliver boundary and off it.
      for (const std::int64_t first : {std::int64_t(0), nr, std::int64_t(1)}) {
        const std::int64_t count = std::min<std::int64_t>(nr, out_features - first);
        if (count <= 0) continue;
        const Tensor<float> part = ops::linear(x, packed, bias.slice(0, first, first + count), ctx, first, count);
        biqa::test::check_parity("gemm/packed_linear_rows", part, expected.slice(2, first, first + count).contiguous(), 1e-6);
      }
    }
  }
  Context ctx(1);
  CHECK_THROWS_AS(ops::linear(Tensor<float>({2, 36}), biqa::ops::PackedLinearWeight(Tensor<float>({4, 37})),
                              Tensor<float>(), ctx), biqa::Error);
}
