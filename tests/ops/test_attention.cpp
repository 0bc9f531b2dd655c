#include <catch2/catch.hpp>

#include <cstdint>

#include "biqa/ops/cpu/attention.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace ops = biqa::ops;

TEST_CASE("attention: scaled dot-product attention with masks, scale and causality matches PyTorch",
          "[ops][attention]") {
  biqa::test::OpFixture f("attention");
  for (int threads : {1, 3}) {
    Context ctx(threads);
    for (const auto& c : f.cases()) {
      const std::string name = c["name"].as_string();
      ops::AttentionOptions opt;
      if (c.find("scale")) opt.scale = static_cast<float>(c["scale"].as_number());
      if (c.find("causal")) opt.causal = c["causal"].as_bool();
      if (f.has(c, "mask")) opt.mask = f.get(c, "mask");
      if (f.has(c, "allowed")) {
        const Tensor<float> a = f.get(c, "allowed");
        Tensor<std::uint8_t> allowed(a.shape());
        for (std::int64_t i = 0; i < a.numel(); ++i) allowed.data()[i] = a.data()[i] != 0.0f;
        opt.mask = ops::additive_mask_from_bool(allowed);
      }
      const Tensor<float> out = ops::scaled_dot_product_attention(f.get(c, "q"), f.get(c, "k"), f.get(c, "v"), ctx, opt);
      biqa::test::check_parity("attention/" + name + "/threads=" + std::to_string(threads), out, f.get(c, "out"));
    }
  }
}

TEST_CASE("attention: mismatched q, k, v or mask raise biqa::Error", "[ops][attention]") {
  Context ctx;
  const auto q = Tensor<float>::zeros({1, 2, 3, 4});
  REQUIRE_THROWS_AS(ops::scaled_dot_product_attention(q, Tensor<float>::zeros({1, 2, 5, 3}),
                                                      Tensor<float>::zeros({1, 2, 5, 4}), ctx),
                    biqa::Error);
  REQUIRE_THROWS_AS(ops::scaled_dot_product_attention(Tensor<float>::zeros({2, 3, 4}), q, q, ctx), biqa::Error);
  ops::AttentionOptions opt;
  opt.mask = Tensor<float>::zeros({3, 4});  // keys: 3, not 4
  REQUIRE_THROWS_AS(ops::scaled_dot_product_attention(q, q, q, ctx, opt), biqa::Error);
}
