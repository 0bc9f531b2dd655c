#include <catch2/catch.hpp>

#include <vector>

#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

TEST_CASE("elementwise: broadcasting arithmetic, scalars, concat and permute match PyTorch", "[ops][elementwise]") {
  biqa::test::OpFixture f("elementwise");
  Context ctx(2);
  for (const auto& c : f.cases()) {
    const std::string name = c["name"].as_string(), op = c["op"].as_string();
    const Tensor<float> a = f.get(c, "a");
    Tensor<float> out;
    if (op == "concat") {
      out = ops::concat<float>({a, f.get(c, "b")}, static_cast<int>(c["axis"].as_int()));
    } else if (op == "permute") {
      std::vector<int> order;
      for (const auto& v : c["order"].as_array()) order.push_back(static_cast<int>(v.as_int()));
      out = ops::permute_contiguous(a, order);
    } else if (c.find("scalar")) {
      const float s = static_cast<float>(c["scalar"].as_number());
      out = op == "add" ? ops::add(a, s, ctx) : op == "sub" ? ops::sub(a, s, ctx)
          : op == "mul" ? ops::mul(a, s, ctx) : ops::div(a, s, ctx);
    } else {
      const Tensor<float> b = f.get(c, "b");
      out = op == "add" ? ops::add(a, b, ctx) : op == "sub" ? ops::sub(a, b, ctx)
          : op == "mul" ? ops::mul(a, b, ctx) : ops::div(a, b, ctx);
      // The in-place form, when b broadcasts into a.
      if (ops::broadcast_shapes(a.shape(), b.shape()) == a.shape()) {
        Tensor<float> inplace = a.clone();
        if (op == "add") ops::add_inplace(inplace, b, ctx);
        else if (op == "sub") ops::sub_inplace(inplace, b, ctx);
        else if (op == "mul") ops::mul_inplace(inplace, b, ctx);
        else ops::div_inplace(inplace, b, ctx);
        biqa::test::check_parity("elementwise/" + name + "_inplace", inplace, f.get(c, "out"));
      }
    }
    biqa::test::check_parity("elementwise/" + name, out, f.get(c, "out"));
  }
}

TEST_CASE("shape ops: split and chunk are views that concat reassembles", "[ops][elementwise]") {
  auto t = Tensor<float>::from_vector({2, 6}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  const auto parts = ops::split(t, {1, 2, 3}, 1);
  REQUIRE(parts.size() == 3);
  REQUIRE(parts[1].shape() == biqa::Shape{2, 2});
  REQUIRE(parts[1](1, 0) == 7.0f);
  REQUIRE(parts[2].data() == t.data() + 3);  // a view, not a copy
  const auto chunks = ops::chunk(t, 3, 1);
  REQUIRE(chunks[2](0, 1) == 5.0f);
  REQUIRE(ops::concat(chunks, 1).to_vector() == t.to_vector());
  REQUIRE(ops::flatten(Tensor<float>::zeros({2, 3, 4}), 1).shape() == biqa::Shape{2, 12});
}

TEST_CASE("elementwise: shapes that do not broadcast raise biqa::Error", "[ops][elementwise]") {
  Context ctx;
  REQUIRE_THROWS_AS(ops::add(Tensor<float>::zeros({2, 3}), Tensor<float>::zeros({4}), ctx), biqa::Error);
  auto a = Tensor<float>::zeros({3});
  REQUIRE_THROWS_AS(ops::add_inplace(a, Tensor<float>::zeros({2, 3}), ctx), biqa::Error);  // would grow a
  REQUIRE_THROWS_AS(ops::split(Tensor<float>::zeros({5}), {2, 2}, 0), biqa::Error);
  REQUIRE_THROWS_AS(ops::chunk(Tensor<float>::zeros({5}), 2, 0), biqa::Error);
  REQUIRE_THROWS_AS(ops::concat<float>({Tensor<float>::zeros({2, 3}), Tensor<float>::zeros({3, 3})}, 1), biqa::Error);
}
