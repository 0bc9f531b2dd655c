#include <catch2/catch.hpp>

#include "biqa/nn/group_norm.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/rms_norm.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;

TEST_CASE("nn::LayerNorm, GroupNorm and RMSNorm match their PyTorch modules", "[nn][norm]") {
  Context ctx(2);
  {
    biqa::test::LayerFixture f("layer_norm");
    nn::LayerNorm ln(f.config()["dim"].as_int(), static_cast<float>(f.config()["eps"].as_number()));
    ln.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    biqa::test::check_parity("nn/layer_norm", ln.forward(x, ctx), ref);
    REQUIRE_THROWS_AS(ln.forward(Tensor<float>::zeros({2, 11}), ctx), biqa::Error);
  }
  {
    biqa::test::LayerFixture f("group_norm");
    nn::GroupNorm gn({f.config()["num_groups"].as_int(), f.config()["num_channels"].as_int(),
                      static_cast<float>(f.config()["eps"].as_number())});
    gn.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    biqa::test::check_parity("nn/group_norm", gn.forward(x, ctx), ref);
    REQUIRE_THROWS_AS(gn.forward(Tensor<float>::zeros({2, 4, 3}), ctx), biqa::Error);
  }
  {
    biqa::test::LayerFixture f("rms_norm");
    nn::RMSNorm rn({f.config()["dim"].as_int(), static_cast<float>(f.config()["eps"].as_number())});
    rn.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    biqa::test::check_parity("nn/rms_norm", rn.forward(x, ctx), ref);
  }
}

TEST_CASE("nn norms list a missing affine parameter by name", "[nn][norm]") {
  biqa::test::LayerFixture f("layer_norm", "weight");
  nn::LayerNorm ln(12, 1e-6f);
  ln.load(f.root());
  f.io("input"), f.io("output");
  REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("weight [12]"));
  REQUIRE_THROWS_AS(nn::GroupNorm({4, 6}), biqa::Error);
}
