#include <catch2/catch.hpp>

#include "biqa/nn/patch_embed.hpp"
#include "support/nn_fixtures.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;


TEST_CASE("nn::PatchEmbed matches timm's PatchEmbed (tokens; NHWC with norm)", "[nn][patch_embed]") {
  for (const char* name : {"patch_embed", "patch_embed_norm_nhwc"}) {
    biqa::test::LayerFixture f(name);
    nn::PatchEmbed pe = biqa::test::embed_from(f.config());
    pe.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    Context ctx(2);
    biqa::test::check_parity(std::string("nn/") + name, pe.forward(x, ctx), ref);
  }
}

TEST_CASE("nn::PatchEmbed rejects sizes that are not a multiple of the patch", "[nn][patch_embed]") {
  biqa::test::LayerFixture f("patch_embed");
  nn::PatchEmbed pe = biqa::test::embed_from(f.config());
  pe.load(f.root());
  Context ctx;
  REQUIRE_THROWS_WITH(pe.forward(Tensor<float>::zeros({1, 3, 10, 12}), ctx), Catch::Contains("multiple of the patch"));
  REQUIRE_THROWS_AS(pe.forward(Tensor<float>::zeros({1, 4, 8, 8}), ctx), biqa::Error);
  auto cfg = pe.config();
  cfg.img_size = {16, 16};
  nn::PatchEmbed strict(cfg);
  REQUIRE_THROWS_WITH(strict.grid_size(8, 12), Catch::Contains("differs from the model's 16x16"));
}
