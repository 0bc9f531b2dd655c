#include <catch2/catch.hpp>

#include <cstdint>

#include "biqa/nn/multihead_attention.hpp"
#include "support/nn_fixtures.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;


TEST_CASE("nn::MultiheadAttention matches torch.nn.MultiheadAttention", "[nn][mha]") {
  for (const char* name : {"mha_seq_first_causal", "mha_batch_first_masks", "mha_cross", "mha_kdim_vdim_nobias",
                           "mha_unbatched"}) {
    biqa::test::LayerFixture f(name);
    nn::MultiheadAttention mha = biqa::test::mha_from(f.config());
    mha.load(f.root());
    nn::MultiheadAttention::Masks masks;
    if (f.has_io("attn_mask")) masks.attn_mask = f.io("attn_mask");
    if (f.has_io("attn_mask_bool")) masks.attn_mask_bool = biqa::test::as_bool(f.io("attn_mask_bool"));
    if (f.has_io("key_padding_mask")) masks.key_padding_mask = biqa::test::as_bool(f.io("key_padding_mask"));
    Tensor<float> q, k, v;
    if (f.has_io("input")) {
      q = k = v = f.io("input");
    } else {
      q = f.io("query"), k = f.io("key"), v = f.io("value");
    }
    const Tensor<float> ref = f.io("output");
    f.store().finish();
    for (int threads : {1, 3}) {
      // Context::weight_packing: the projections repacked per call, or packed once (the fixture file
      // is mapped, so auto packs too, and gives the file's pages back).
      for (const auto packing : {biqa::WeightPacking::never, biqa::WeightPacking::automatic, biqa::WeightPacking::always}) {
        Context ctx(threads);
        ctx.weight_packing = packing;
        biqa::test::check_parity(std::string("nn/") + name + "/threads=" + std::to_string(threads) + "/packing=" +
                                     biqa::weight_packing_name(packing),
                                 mha.forward(q, k, v, ctx, masks), ref);
      }
    }
  }
}

TEST_CASE("nn::MultiheadAttention: causal flag equals the -inf mask; bad shapes raise", "[nn][mha]") {
  biqa::test::LayerFixture f("mha_seq_first_causal");
  nn::MultiheadAttention mha = biqa::test::mha_from(f.config());
  mha.load(f.root());
  const Tensor<float> x = f.io("input"), ref = f.io("output");
  Context ctx;
  nn::MultiheadAttention::Masks causal;
  causal.is_causal = true;
  biqa::test::check_parity("nn/mha_is_causal", mha.forward(x, ctx, causal), ref);

  REQUIRE_THROWS_AS(mha.forward(Tensor<float>::zeros({5, 2, 12}), ctx), biqa::Error);
  nn::MultiheadAttention::Masks bad;
  bad.attn_mask = Tensor<float>::zeros({4, 5});
  REQUIRE_THROWS_AS(mha.forward(x, ctx, bad), biqa::Error);
  nn::MultiheadAttention::Masks bad_padding;
  bad_padding.key_padding_mask = Tensor<std::uint8_t>::zeros({3, 5});
  REQUIRE_THROWS_AS(mha.forward(x, ctx, bad_padding), biqa::Error);
  REQUIRE_THROWS_AS(nn::MultiheadAttention({16, 3}), biqa::Error);

  biqa::test::LayerFixture g("mha_cross", "in_proj_weight");
  nn::MultiheadAttention m2 = biqa::test::mha_from(g.config());
  m2.load(g.root());
  for (const char* k : {"query", "key", "value", "output"}) g.io(k);
  REQUIRE_THROWS_WITH(g.store().finish(), Catch::Contains("in_proj_weight [48, 16]"));
}
