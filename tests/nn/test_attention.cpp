#include <catch2/catch.hpp>

#include "biqa/nn/attention.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;

TEST_CASE("nn::Attention matches timm's Attention (fused qkv, with and without qkv bias)", "[nn][attention]") {
  for (const char* name : {"attention_qkv_bias", "attention_no_qkv_bias"}) {
    biqa::test::LayerFixture f(name);
    const auto& c = f.config();
    nn::Attention attn({c["dim"].as_int(), c["num_heads"].as_int(), c["qkv_bias"].as_bool()});
    attn.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    for (int threads : {1, 3}) {
      Context ctx(threads);
      biqa::test::check_parity(std::string("nn/") + name + "/threads=" + std::to_string(threads),
                               attn.forward(x, ctx), ref);
    }
  }
}

TEST_CASE("nn::Attention rejects bad configs, inputs and weights", "[nn][attention]") {
  REQUIRE_THROWS_AS(nn::Attention({10, 4}), biqa::Error);  // 10 does not split into 4 heads
  biqa::test::LayerFixture f("attention_qkv_bias", "qkv.bias");
  nn::Attention attn({16, 4, true});
  attn.load(f.root());
  f.io("input"), f.io("output");
  REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("qkv.bias [48]"));
  Context ctx;
  REQUIRE_THROWS_AS(attn.forward(Tensor<float>::zeros({2, 5, 12}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(attn.forward(Tensor<float>::zeros({5, 16}), ctx), biqa::Error);
}
