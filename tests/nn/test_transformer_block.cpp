#include <catch2/catch.hpp>

#include "biqa/nn/transformer_block.hpp"
#include "support/nn_fixtures.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;


TEST_CASE("nn::TransformerBlock matches timm's Block, with and without LayerScale", "[nn][block]") {
  for (const char* name : {"block", "block_layer_scale"}) {
    biqa::test::LayerFixture f(name);
    nn::TransformerBlock block = biqa::test::block_from(f.config());
    block.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    for (int threads : {1, 3}) {
      Context ctx(threads);
      biqa::test::check_parity(std::string("nn/") + name + "/threads=" + std::to_string(threads),
                               block.forward(x, ctx), ref);
    }
  }
}

TEST_CASE("nn::TransformerBlock is strict about LayerScale keys", "[nn][block]") {
  {  // configured without LayerScale, but the file has ls1.gamma / ls2.gamma
    biqa::test::LayerFixture f("block_layer_scale");
    nn::TransformerBlock::Config c;
    c.dim = 16, c.num_heads = 4, c.mlp_ratio = 2.0, c.qkv_bias = true, c.norm_eps = 1e-6f;
    nn::TransformerBlock block(c);
    block.load(f.root());
    f.io("input"), f.io("output");
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("unexpected keys") && Catch::Contains("ls1.gamma"));
  }
  {
    biqa::test::LayerFixture f("block_layer_scale", "ls2.gamma");
    nn::TransformerBlock block = biqa::test::block_from(f.config());
    block.load(f.root());
    f.io("input"), f.io("output");
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("ls2.gamma [16]"));
  }
}
