#include <catch2/catch.hpp>

#include "biqa/nn/linear.hpp"
#include "support/nn_fixtures.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;


TEST_CASE("nn::Linear loads torch.nn.Linear's state_dict and matches it", "[nn][linear]") {
  for (const char* name : {"linear_bias", "linear_nobias"}) {
    biqa::test::LayerFixture f(name);
    nn::Linear layer = biqa::test::linear_from(f.config());
    layer.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();  // exactly the module's keys
    Context ctx(2);
    ctx.weight_packing = biqa::WeightPacking::never;  // packed on every call
    biqa::test::check_parity(std::string("nn/") + name, layer.forward(x, ctx), ref);
    ctx.weight_packing = biqa::WeightPacking::automatic;  // the packed copy, made on this first use and reused after
    biqa::test::check_parity(std::string("nn/") + name + "/packed", layer.forward(x, ctx), ref);
    biqa::test::check_parity(std::string("nn/") + name + "/packed again", layer.forward(x, ctx), ref);
    const nn::Linear copy = layer;  // copies share the packed weight
    biqa::test::check_parity(std::string("nn/") + name + "/copy", copy.forward(x, ctx), ref);
  }
}

TEST_CASE("nn::Linear reports missing and mis-shaped weights and bad inputs", "[nn][linear]") {
  {
    biqa::test::LayerFixture f("linear_bias", "bias");
    nn::Linear layer = biqa::test::linear_from(f.config());
    layer.load(f.root());
    f.io("input"), f.io("output");
    try {
      f.store().finish();
      FAIL("finish() accepted a file without 'bias'");
    } catch (const biqa::Error& e) {
      REQUIRE(e.code() == biqa::ErrorCode::key);
      REQUIRE_THAT(e.what(), Catch::Contains("missing keys") && Catch::Contains("bias [6]"));
    }
  }
  {
    biqa::test::LayerFixture f("linear_bias");
    nn::Linear layer(7, 6);  // the file has in_features 8
    layer.load(f.root());
    f.io("input"), f.io("output");
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("weight: file has [6, 8], expected [6, 7]"));
  }
  {
    biqa::test::LayerFixture f("linear_nobias");
    nn::Linear layer(8, 5, true);  // expects a bias the file does not have
    layer.load(f.root());
    f.io("input"), f.io("output");
    REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("bias [5]"));
  }
  Context ctx;
  nn::Linear unloaded(4, 2);
  REQUIRE_THROWS_AS(unloaded.forward(Tensor<float>::zeros({1, 4}), ctx), biqa::Error);
  biqa::test::LayerFixture f("linear_bias");
  nn::Linear layer = biqa::test::linear_from(f.config());
  layer.load(f.root());
  REQUIRE_THROWS_AS(layer.forward(Tensor<float>::zeros({2, 7}), ctx), biqa::Error);
  REQUIRE_THROWS_AS(nn::Linear(0, 3), biqa::Error);
}
