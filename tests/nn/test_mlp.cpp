#include <catch2/catch.hpp>

#include "biqa/nn/mlp.hpp"
#include "support/parity.hpp"

using biqa::Context;
using biqa::Tensor;
namespace nn = biqa::nn;

TEST_CASE("nn::Mlp matches timm's Mlp (GELU; tanh GELU with a hidden LayerNorm)", "[nn][mlp]") {
  for (const char* name : {"mlp_gelu", "mlp_tanh_norm"}) {
    biqa::test::LayerFixture f(name);
    const auto& c = f.config();
    nn::Mlp::Config cfg;
    cfg.in_features = c["in_features"].as_int();
    cfg.hidden_features = c["hidden_features"].as_int();
    cfg.out_features = c["out_features"].as_int();
    cfg.act = biqa::ops::parse_activation(c["act"].as_string());
    cfg.norm = c["norm"].as_bool();
    nn::Mlp mlp(cfg);
    mlp.load(f.root());
    const Tensor<float> x = f.io("input"), ref = f.io("output");
    f.store().finish();
    Context ctx(2);
    biqa::test::check_parity(std::string("nn/") + name, mlp.forward(x, ctx), ref);
  }
}

TEST_CASE("nn::Mlp names the missing key with its scope", "[nn][mlp]") {
  biqa::test::LayerFixture f("mlp_gelu", "fc2.weight");
  nn::Mlp::Config cfg;
  cfg.in_features = 8;
  cfg.hidden_features = 32;
  nn::Mlp mlp(cfg);
  mlp.load(f.root());
  f.io("input"), f.io("output");
  REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("fc2.weight [8, 32]"));
}

TEST_CASE("nn::Mlp takes its Linear layers under the configured names", "[nn][mlp]") {
  biqa::test::LayerFixture f("mlp_gelu");
  nn::Mlp::Config cfg;
  cfg.in_features = 8;
  cfg.hidden_features = 32;
  cfg.fc1_name = "c_fc";  // open_clip's naming; this file uses timm's fc1
  nn::Mlp mlp(cfg);
  mlp.load(f.root());
  f.io("input"), f.io("output");
  REQUIRE_THROWS_WITH(f.store().finish(), Catch::Contains("c_fc.weight [32, 8]") && Catch::Contains("unexpected keys") &&
                                              Catch::Contains("fc1.weight"));
}
