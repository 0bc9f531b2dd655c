#include <catch2/catch.hpp>

#include <random>

#include "biqa/ops/cpu/gemm.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

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
  std::normal_distribution<float> nd;
  auto random = [&](biqa::Shape s) {
    Tensor<float> t(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = nd(rng);
    return t;
  };
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

TEST_CASE("gemm: a packed Linear weight gives the plain product, unpacks exactly, and serves row ranges",
          "[ops][gemm]") {
  std::mt19937 gen(3);
  std::normal_distribution<float> dist;
  auto random = [&](biqa::Shape s) {
    Tensor<float> t(s);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = dist(gen);
    return t;
  };
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
