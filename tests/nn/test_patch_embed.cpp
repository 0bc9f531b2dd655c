#include <catch2/catch.hpp>

#include "biqa/nn/patch_embed.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;

namespace {
nn::PatchEmbed embed_from(const biqa::json::Value& c) {
  nn::PatchEmbed::Config cfg;
  cfg.patch_size = biqa::test::pair_of(c["patch_size"]);
  cfg.in_chans = c["in_chans"].as_int();
  cfg.embed_dim = c["embed_dim"].as_int();
  cfg.output = c["output"].as_string() == "nhwc" ? nn::PatchEmbed::Output::nhwc : nn::PatchEmbed::Output::tokens;
  cfg.norm = c["norm"].as_bool();
  if (c.find("norm_eps")) cfg.norm_eps = static_cast<float>(c["norm_eps"].as_number());
  return nn::PatchEmbed(cfg);
}
}  // namespace

TEST_CASE("nn::PatchEmbed matches timm's PatchEmbed (tokens; NHWC with norm)", "[nn][patch_embed]") {
  for (const char* name : {"patch_embed", "patch_embed_norm_nhwc"}) {
    biqa::test::LayerFixture f(name);
    nn::PatchEmbed pe = embed_from(f.config());
    pe.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    Context ctx(2);
    biqa::test::check_parity(std::string("nn/") + name, pe.forward(x, ctx), ref);
  }
}

TEST_CASE("nn::PatchEmbed rejects sizes that are not a multiple of the patch", "[nn][patch_embed]") {
  biqa::test::LayerFixture f("patch_embed");
  nn::PatchEmbed pe = embed_from(f.config());
  pe.load(f.root());
  Context ctx;
  REQUIRE_THROWS_WITH(pe.forward(Tensor<float>::zeros({1, 3, 10, 12}), ctx), Catch::Contains("multiple of the patch"));
  REQUIRE_THROWS_AS(pe.forward(Tensor<float>::zeros({1, 4, 8, 8}), ctx), biqa::Error);
  auto cfg = pe.config();
  cfg.img_size = {16, 16};
  nn::PatchEmbed strict(cfg);
  REQUIRE_THROWS_WITH(strict.grid_size(8, 12), Catch::Contains("differs from the model's 16x16"));
}
