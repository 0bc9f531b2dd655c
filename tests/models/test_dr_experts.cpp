// models::DaClip and models::DRExperts against the authors' `dascore_vit_models` (FuBohan01/
// DR.Experts models/deit.py with its DA-CLIP fork of open_clip; shrunken sizes, random weights;
// fixtures from tools/reference/make_dr_experts_fixtures.py): every checked tensor within
// max|out − ref| / max|ref| ≤ 1e-4 in float32, for both subtraction signs and both DSDM layouts.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "biqa/core/error.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/da_clip.hpp"
#include "biqa/models/dr_experts.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;
using models::DaClip;
using models::DRExperts;
using test::check_parity;

namespace {

io::WeightFile fixture(const std::string& name) { return io::load_weights(test::fixture_path("models/" + name)); }

Tensor<float> io_tensor(const io::WeightFile& f, const std::string& name) { return f.to_float(f.at("io." + name)); }

io::WeightFile weights_only(io::WeightFile f) {
  std::erase_if(f.tensors, [](const io::TensorRecord& r) { return r.name.rfind("io.", 0) == 0; });
  return f;
}

json::Value config_of(const io::WeightFile& f) { return json::parse(f.metadata.at("biqa.config"), "config"); }

json::Value with_sign(const io::WeightFile& f, const char* sign) {
  return json::parse(cat("{\"sign\":\"", sign, "\",", f.metadata.at("biqa.config").substr(1)), "config");
}

Tensor<float> column(const Tensor<float>& scores) { return scores.reshape({scores.size(0), 1}); }

}  // namespace

TEST_CASE("DA-CLIP: the built-in prompt ids equal open_clip's tokenizer output", "[dr_experts][da_clip]") {
  const auto file = fixture("dr_experts_shared.safetensors");
  const Tensor<float> ref = io_tensor(file, "tokens");
  const Tensor<std::int64_t> ids = models::degradation_prompt_tokens(77);
  REQUIRE(ref.shape() == ids.shape());
  for (std::int64_t i = 0; i < ids.numel(); ++i) REQUIRE(static_cast<float>(ids.data()[i]) == ref.data()[i]);
}

TEST_CASE("DA-CLIP: biqa's CLIP tokenizer gives the spec's prompt ids", "[dr_experts][da_clip][tokenizer]") {
  const char* env = std::getenv("BIQA_CLIP_VOCAB");
  const std::string path = env && *env ? env : std::string(BIQA_SOURCE_DIR) + "/data/clip/bpe_simple_vocab_16e6.txt.gz";
  if (!std::filesystem::exists(path)) {
    WARN("CLIP vocabulary not found at " << path << " (scripts/fetch_clip_vocab): tokenizer check skipped");
    return;
  }
  const auto tok = clip::Tokenizer::from_file(path);
  const Tensor<std::int64_t> got = tok.tokenize(models::degradation_prompts(), 77);
  const Tensor<std::int64_t> want = models::degradation_prompt_tokens(77);
  REQUIRE(got.shape() == want.shape());
  for (std::int64_t i = 0; i < got.numel(); ++i) REQUIRE(got.data()[i] == want.data()[i]);
}

TEST_CASE("DA-CLIP: text features, degradation embedding and controller hidden equal the authors'",
          "[dr_experts][da_clip]") {
  const auto file = fixture("dr_experts_shared.safetensors");
  Context ctx(2);
  const json::Value daclip = *config_of(file).find("daclip");
  // The "head." part of a DR.Experts state_dict; DR.Experts' own keys left out.
  io::WeightFile w = weights_only(file);
  std::erase_if(w.tensors, [](const io::TensorRecord& r) { return r.name.rfind("head.", 0) != 0; });
  for (auto& r : w.tensors) r.name = r.name.substr(5);
  io::WeightStore store(std::move(w));
  const DaClip model = models::load_da_clip(store, ctx, daclip);
  check_parity("da_clip.text_features", model.text_features(), io_tensor(file, "text_features"));

  // Its input: what DRExperts::clip_input makes of the fixture batch (the reference's own resize).
  io::WeightStore full(weights_only(file));
  const DRExperts drx = models::load_dr_experts(full, ctx, config_of(file));
  const auto out = model.encode_image(drx.clip_input(io_tensor(file, "input"), ctx), ctx);
  check_parity("da_clip.degradation", out.degradation, io_tensor(file, "degradation"));
  check_parity("da_clip.hidden", out.hidden, io_tensor(file, "hidden"));

  SECTION("stand-alone checkpoint: {\"state_dict\": {\"module.…\"}} in a .pth") {
    const DaClip pth = models::load_da_clip(test::fixture_path("models/da_clip_module.pth"), ctx, daclip);
    const auto o = pth.encode_image(drx.clip_input(io_tensor(file, "input"), ctx), ctx);
    check_parity("da_clip.pth.degradation", o.degradation, io_tensor(file, "degradation"));
    check_parity("da_clip.pth.hidden", o.hidden, io_tensor(file, "hidden"));
    check_parity("da_clip.pth.text_features", pth.text_features(), io_tensor(file, "text_features"));
  }
}

TEST_CASE("DR.Experts (shared diff_attention): intermediates and scores equal the authors' for both signs",
          "[dr_experts]") {
  const auto file = fixture("dr_experts_shared.safetensors");
  Context ctx(2);
  const Tensor<float> x = io_tensor(file, "input");
  {
    io::WeightStore store(weights_only(file));
    const DRExperts model = models::load_dr_experts(store, ctx, with_sign(file, "current"));
    CHECK_FALSE(model.config().per_expert_attention);
    CHECK(model.config().experts == 10);
    DRExperts::Options opt;
    opt.intermediates = true;
    const auto out = model.forward(x, ctx, opt);
    check_parity("dr_experts.features", out.features, io_tensor(file, "features"));
    check_parity("dr_experts.degradation", out.degradation, io_tensor(file, "degradation"));
    check_parity("dr_experts.hidden", out.hidden, io_tensor(file, "hidden"));
    check_parity("dr_experts.priors", out.priors, io_tensor(file, "priors"));
    check_parity("dr_experts.expert_weights", out.expert_weights, io_tensor(file, "expert_weights"));
    check_parity("dr_experts.score_current", column(out.scores), io_tensor(file, "score_current"));

    // The CLS-only shortcut and the full computation agree.
    opt.full = true;
    const auto all = model.forward(x, ctx, opt);
    CHECK(all.tokens.size(1) == out.features.size(1));
    check_parity("dr_experts.full.score_current", column(all.scores), io_tensor(file, "score_current"));
    check_parity("dr_experts.full_vs_cls.scores", all.scores, out.scores, 1e-5);
    check_parity("dr_experts.full_vs_cls.weights", all.expert_weights, out.expert_weights, 1e-5);
    check_parity("dr_experts.full_vs_cls.cls_attention", all.cls_attention, out.cls_attention, 1e-6);
    check_parity("dr_experts.full_vs_cls.tokens", all.tokens.slice(1, 0, 1).contiguous(), out.tokens, 1e-5);
  }
  {
    io::WeightStore store(weights_only(file));
    const DRExperts model = models::load_dr_experts(store, ctx, with_sign(file, "previous"));
    check_parity("dr_experts.score_previous", column(model.forward(x, ctx).scores), io_tensor(file, "score_previous"));
    DRExperts::Options full;
    full.full = true;
    check_parity("dr_experts.full.score_previous", column(model.forward(x, ctx, full).scores),
                 io_tensor(file, "score_previous"));
  }
}

TEST_CASE("DR.Experts (diff_attention_list, trainer checkpoint .pth): scores equal the authors' for both signs",
          "[dr_experts]") {
  const auto io_file = fixture("dr_experts_list_io.safetensors");
  const auto path = test::fixture_path("models/dr_experts_list_trainer.pth");
  Context ctx(2);
  const Tensor<float> x = io_tensor(io_file, "input");
  for (const char* sign : {"current", "previous"}) {
    // {"model", "optimizer", "config" (a yacs CfgNode), ...}: only "model" is read.
    const DRExperts model = models::load_dr_experts(path, ctx, with_sign(io_file, sign));
    CHECK(model.config().per_expert_attention);
    const std::string s = sign;
    check_parity("dr_experts.list.score_" + s, column(model.forward(x, ctx).scores), io_tensor(io_file, "score_" + s));
    DRExperts::Options full;
    full.full = true;
    check_parity("dr_experts.list.full.score_" + s, column(model.forward(x, ctx, full).scores),
                 io_tensor(io_file, "score_" + s));
  }
}

TEST_CASE("DR.Experts: strict loading names missing and unexpected keys", "[dr_experts]") {
  const auto file = fixture("dr_experts_shared.safetensors");
  Context ctx(1);
  SECTION("a missing DSDM tensor") {
    io::WeightFile w = weights_only(file);
    std::erase_if(w.tensors, [](const io::TensorRecord& r) { return r.name == "diff_attention.W_k1.bias"; });
    io::WeightStore store(std::move(w));
    try {
      models::load_dr_experts(store, ctx, config_of(file));
      FAIL("loaded without diff_attention.W_k1.bias");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains("diff_attention.W_k1.bias"));
    }
  }
  SECTION("an extra tensor") {
    io::WeightFile w = weights_only(file);
    auto extra = w.tensors.front();
    extra.name = "score.extra";
    w.tensors.push_back(extra);
    io::WeightStore store(std::move(w));
    try {
      models::load_dr_experts(store, ctx, config_of(file));
      FAIL("loaded with an unexpected key");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains("score.extra"));
    }
  }
  SECTION("a bad sign") {
    io::WeightStore store(weights_only(file));
    CHECK_THROWS_AS(models::load_dr_experts(store, ctx, with_sign(file, "minus")), Error);
  }
  SECTION("a wrong input size") {
    io::WeightStore store(weights_only(file));
    const DRExperts model = models::load_dr_experts(store, ctx, config_of(file));
    CHECK_THROWS_AS(model.forward(Tensor<float>::zeros({1, 3, 48, 48}), ctx), Error);
  }
}
