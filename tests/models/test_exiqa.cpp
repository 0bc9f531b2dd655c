// models::ExIQA against the PyTorch reference of tools/reference/make_exiqa_fixtures.py (open_clip
// 2.24.0's CLIP, shrunken, plus the ExIQA parts): no prompts (zero-shot), shallow and deep visual
// prompts; max|out − ref| / max|ref| ≤ 1e-4 in float32 for every output. Key errors are named.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/exiqa.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;
using biqa::models::ExIQA;

namespace {

const io::WeightFile& fixture() {
  static const io::WeightFile f = io::load_weights(test::fixture_path("models/exiqa_tiny.safetensors"));
  return f;
}

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

// The CLIP keys plus the tensors of one variant ("none", "shallow", "deep") without its prefix.
io::WeightFile variant_weights(const std::string& variant) {
  io::WeightFile file = fixture();
  std::vector<io::TensorRecord> kept;
  for (auto r : file.tensors) {
    if (starts_with(r.name, "io.")) continue;
    const bool extra = starts_with(r.name, "none.") || starts_with(r.name, "shallow.") || starts_with(r.name, "deep.");
    if (extra && !starts_with(r.name, variant + ".")) continue;
    if (extra) r.name = r.name.substr(variant.size() + 1);
    kept.push_back(r);
  }
  file.tensors = std::move(kept);
  return file;
}

Tensor<float> io_tensor(const std::string& name) { return fixture().to_float(fixture().at("io." + name)); }

std::string vocab_path() {
  if (const char* env = std::getenv("BIQA_CLIP_VOCAB"); env && *env) return env;
  return std::string(BIQA_SOURCE_DIR) + "/data/clip/bpe_simple_vocab_16e6.txt.gz";
}

models::ExiqaLoadOptions load_options() {
  const std::string vocab = vocab_path();
  if (!std::filesystem::exists(vocab))
    FAIL("CLIP vocabulary not found at " << vocab << ": run scripts/fetch_clip_vocab (or set BIQA_CLIP_VOCAB)");
  models::ExiqaLoadOptions o;
  o.vocab = vocab;
  return o;
}

ExIQA load_variant(const std::string& variant, Context& ctx) {
  io::WeightStore store(variant_weights(variant));
  return models::load_exiqa(store, load_options(), ctx);
}

void check_variant(const std::string& variant, const std::string& mode, std::int64_t tokens, bool regressor) {
  Context ctx(2);
  const ExIQA model = load_variant(variant, ctx);
  CHECK(model.prompt_mode() == mode);
  CHECK(model.prompt_tokens() == tokens);
  CHECK(model.has_regressor() == regressor);
  CHECK(model.num_attributes() == 125);
  const auto out = model.forward(io_tensor("image"), ctx);
  test::check_parity(variant + " image_features", out.image_features, io_tensor(variant + ".image_features"));
  test::check_parity(variant + " attribute_probs", out.attribute_probs, io_tensor(variant + ".attribute_probs"));
  test::check_parity(variant + " distortion_probs", out.distortion_probs, io_tensor(variant + ".distortion_probs"));
  if (regressor) test::check_parity(variant + " scores", out.scores, io_tensor(variant + ".scores"));
  else CHECK_FALSE(out.scores.defined());
}

}  // namespace

TEST_CASE("ExIQA matches the reference: plain CLIP, zero-shot (no prompts, equal attribute weights)",
          "[models][exiqa]") {
  check_variant("none", "none", 0, false);
}

TEST_CASE("ExIQA matches the reference: shallow visual prompts, attribute weights, regressor", "[models][exiqa]") {
  check_variant("shallow", "shallow", 3, true);
}

TEST_CASE("ExIQA matches the reference: deep visual prompts", "[models][exiqa]") {
  check_variant("deep", "deep", 2, true);
}

TEST_CASE("ExIQA: the prompts change the output (the test sees them)", "[models][exiqa]") {
  Context ctx(1);
  const ExIQA none = load_variant("none", ctx);
  const auto plain = none.forward(io_tensor("image"), ctx);
  CHECK(test::parity_error(plain.image_features, io_tensor("shallow.image_features")) > 1e-2);
  CHECK(test::parity_error(plain.image_features, io_tensor("deep.image_features")) > 1e-2);
  // Equal weights: each distortion probability is the mean of its five attributes.
  const auto& w = none.attribute_weights();
  for (std::int64_t i = 0; i < w.numel(); ++i) CHECK(w.data()[i] == Approx(0.2f));
}

TEST_CASE("ExIQA names bad checkpoints", "[models][exiqa]") {
  Context ctx(1);
  const auto o = load_options();
  SECTION("an unexpected key") {
    io::WeightFile f = variant_weights("shallow");
    f.tensors.push_back(f.at("attr_weight_logits"));
    f.tensors.back().name = "attr_weights";
    io::WeightStore store(std::move(f));
    CHECK_THROWS_WITH(models::load_exiqa(store, o, ctx), Catch::Contains("unexpected") && Catch::Contains("attr_weights"));
  }
  SECTION("attribute weights that do not fit the attribute list") {
    io::WeightStore store(variant_weights("shallow"));
    auto small = o;
    small.attributes = models::ExiqaAttributes::from_json(
        json::parse(R"({"distortions": [{"name": "blur", "attributes": ["soft edges", "no detail"]}]})"), "test");
    CHECK_THROWS_WITH(models::load_exiqa(store, small, ctx),
                      Catch::Contains("attr_weight_logits") && Catch::Contains("1 distortions x 2"));
  }
  SECTION("a regressor layer missing") {
    io::WeightFile f = variant_weights("deep");
    std::erase_if(f.tensors, [](const io::TensorRecord& r) { return r.name == "regressor.3.weight"; });
    io::WeightStore store(std::move(f));
    CHECK_THROWS_WITH(models::load_exiqa(store, o, ctx), Catch::Contains("regressor.3.weight"));
  }
  SECTION("prompts of the wrong width") {
    io::WeightFile f = variant_weights("none");
    f.tensors.push_back(f.at("logit_scale"));
    f.tensors.back().name = "visual_prompts";
    f.tensors.back().shape = Shape{1};
    io::WeightStore store(std::move(f));
    CHECK_THROWS_WITH(models::load_exiqa(store, o, ctx), Catch::Contains("visual_prompts") && Catch::Contains("shallow"));
  }
  SECTION("no text tower") {
    io::WeightFile f = variant_weights("none");
    std::erase_if(f.tensors, [](const io::TensorRecord& r) { return !starts_with(r.name, "visual."); });
    io::WeightStore store(std::move(f));
    CHECK_THROWS_WITH(models::load_exiqa(store, o, ctx), Catch::Contains("whole CLIP"));
  }
}
