#include <catch2/catch.hpp>

#include <algorithm>

#include "biqa/nn/batch_norm.hpp"
#include "biqa/nn/conv2d.hpp"
#include "support/nn_fixtures.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;


TEST_CASE("nn::Conv2d loads torch.nn.Conv2d's state_dict and matches it", "[nn][conv2d]") {
  for (const char* name : {"conv2d_stride2", "conv2d_groups_dilated"}) {
    biqa::test::LayerFixture f(name);
    nn::Conv2d conv = biqa::test::conv_from(f.config());
    conv.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    Context ctx(2);
    biqa::test::check_parity(std::string("nn/") + name, conv.forward(x, ctx), ref);
  }
}

TEST_CASE("nn::Conv2d folds the BatchNorm2d after it (all BatchNorm keys consumed)", "[nn][conv2d]") {
  biqa::test::LayerFixture f("conv2d_bn");
  nn::Conv2d conv = biqa::test::conv_from(f.config());
  conv.load(f.root().scope("conv"));
  conv.fold_batchnorm(f.root().scope("bn"), static_cast<float>(f.config()["bn_eps"].as_number()));
  const Tensor<float> x = f.io("input"), ref = f.io("output");
  f.store().finish();  // weight, bias, running_mean, running_var, num_batches_tracked all read
  REQUIRE(conv.bias().defined());
  Context ctx;
  biqa::test::check_parity("nn/conv2d_bn", conv.forward(x, ctx), ref);
}

TEST_CASE("nn::BatchNorm2d in eval mode matches torch.nn.BatchNorm2d", "[nn][conv2d]") {
  biqa::test::LayerFixture f("batch_norm2d");
  nn::BatchNorm2d bn({f.config()["num_features"].as_int(), static_cast<float>(f.config()["eps"].as_number())});
  bn.load(f.root());
  const Tensor<float> x = f.io("input"), ref = f.io("output");
  f.store().finish();
  Context ctx;
  biqa::test::check_parity("nn/batch_norm2d", bn.forward(x, ctx), ref);
}

TEST_CASE("nn::Conv2d reports missing BatchNorm statistics and bad inputs", "[nn][conv2d]") {
  biqa::test::LayerFixture f("conv2d_bn", "bn.running_var");
  nn::Conv2d conv = biqa::test::conv_from(f.config());
  conv.load(f.root().scope("conv"));
  conv.fold_batchnorm(f.root().scope("bn"));
  f.io("input"), f.io("output");
  REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("bn.running_var [5]"));

  Context ctx;
  biqa::test::LayerFixture g("conv2d_stride2");
  nn::Conv2d c2 = biqa::test::conv_from(g.config());
  c2.load(g.root());
  REQUIRE_THROWS_AS(c2.forward(Tensor<float>::zeros({1, 3, 8, 8}), ctx), biqa::Error);  // 3 channels, not 4
  nn::BatchNorm2d wrong({4});
  REQUIRE_THROWS_AS(c2.fold_batchnorm(wrong), biqa::Error);  // 4 features after 6 outputs
  REQUIRE_THROWS_AS(nn::Conv2d({4, 6, {3, 3}, {1, 1}, {0, 0}, {1, 1}, 4}), biqa::Error);  // 6 % 4
}

TEST_CASE("nn::Conv2d gives the same outputs packed (WeightPacking::always, after folding) as unpacked, bit for bit",
          "[nn][conv2d]") {
  auto same = [](const Tensor<float>& a, const Tensor<float>& b) {
    return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.numel(), b.data());
  };
  for (const char* name : {"conv2d_stride2", "conv2d_groups_dilated"}) {
    biqa::test::LayerFixture f(name);
    nn::Conv2d conv = biqa::test::conv_from(f.config());
    conv.load(f.root());
    const Tensor<float> x = f.io("input");
    Context plain(2), packing(2);
    plain.weight_packing = biqa::WeightPacking::never;
    packing.weight_packing = biqa::WeightPacking::always;
    INFO(name);
    CHECK(same(conv.forward(x, plain), conv.forward(x, packing)));
    CHECK(same(conv.forward(x, packing), conv.forward(x, packing)));  // the packed copy is reused
  }
  // A folded weight is kept only in packed form; weight() unpacks it exactly.
  biqa::test::LayerFixture f("conv2d_bn");
  nn::Conv2d conv = biqa::test::conv_from(f.config());
  conv.load(f.root().scope("conv"));
  const Tensor<float> raw = conv.weight();
  nn::BatchNorm2d bn({conv.config().out_channels, static_cast<float>(f.config()["bn_eps"].as_number())});
  bn.load(f.root().scope("bn"));
  conv.fold_batchnorm(bn);
  const auto folded = biqa::ops::fold_batchnorm(raw, {}, bn.weight(), bn.bias(), bn.running_mean(), bn.running_var(),
                                                bn.config().eps);
  CHECK(same(conv.weight(), folded.weight));
  const Tensor<float> x = f.io("input");
  Context ctx;
  CHECK(same(conv.forward(x, ctx), biqa::ops::conv2d(x, folded.weight, folded.bias, ctx, conv.options())));
}
