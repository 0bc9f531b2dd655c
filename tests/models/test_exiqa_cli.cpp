// ExIQA through the registry and the CLI (`biqa infer|score|explain --model exiqa`) on the shrunken
// fixture of tools/reference/make_exiqa_fixtures.py; infer outputs within 1e-4 (relative to max|ref|)
// of the PyTorch reference.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "biqa/distortions/multi_distortion.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/metrics/distortion_id.hpp"
#include "biqa/models/exiqa_scorer.hpp"
#include "biqa/models/registry.hpp"
#include "biqa/probe/head_file.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

const io::WeightFile& fixture() {
  static const io::WeightFile f = io::load_weights(test::fixture_path("models/exiqa_tiny.safetensors"));
  return f;
}

Tensor<float> io_tensor(const std::string& name) { return fixture().to_float(fixture().at("io." + name)); }

// One variant of the fixture as a checkpoint file with the CLIP config in its metadata.
std::string write_variant(const test::TempDir& dir, const std::string& variant) {
  std::vector<io::TensorBlob> blobs;
  for (const auto& r : fixture().tensors) {
    if (starts_with(r.name, "io.")) continue;
    std::string name = r.name;
    const bool extra = starts_with(name, "none.") || starts_with(name, "shallow.") || starts_with(name, "deep.");
    if (extra && !starts_with(name, variant + ".")) continue;
    if (extra) name = name.substr(variant.size() + 1);
    blobs.push_back(io::make_blob(name, fixture().to_float(r)));
  }
  const std::string path = dir.file(variant + ".safetensors");
  io::write_safetensors(path, blobs, {{"biqa.config", fixture().metadata.at("config")}});
  return path;
}

std::string vocab_path() {
  if (const char* env = std::getenv("BIQA_CLIP_VOCAB"); env && *env) return env;
  return std::string(BIQA_SOURCE_DIR) + "/data/clip/bpe_simple_vocab_16e6.txt.gz";
}

std::string require_vocab() {
  const std::string v = vocab_path();
  if (!std::filesystem::exists(v))
    FAIL("CLIP vocabulary not found at " << v << ": run scripts/fetch_clip_vocab (or set BIQA_CLIP_VOCAB)");
  ::setenv("BIQA_CLIP_VOCAB", v.c_str(), 1);  // for `biqa infer`, which has no --set
  return v;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

}  // namespace

TEST_CASE("biqa infer --model exiqa matches the reference", "[models][exiqa][cli]") {
  require_vocab();
  test::TempDir dir;
  io::write_npy(dir.file("x.npy"), io_tensor("image"));
  for (const std::string variant : {"none", "deep"}) {
    const std::string w = write_variant(dir, variant);
    const auto r = test::run_cli("infer --model exiqa --weights " + q(w) + " --input " + q(dir.file("x.npy")) +
                                 " --output " + q(dir.file(variant + "_out.safetensors")));
    INFO(r.out);
    REQUIRE(r.status == 0);
    const io::WeightFile out = io::load_weights(dir.file(variant + "_out.safetensors"));
    for (const char* k : {"attribute_probs", "distortion_probs", "image_features"})
      test::check_parity("cli " + variant + " " + k, out.to_float(out.at(k)), io_tensor(variant + "." + k));
    CHECK((out.find("scores") != nullptr) == (variant == "deep"));
    if (variant == "deep") test::check_parity("cli deep scores", out.to_float(out.at("scores")), io_tensor("deep.scores"));
  }
}

TEST_CASE("biqa explain / score --model exiqa", "[models][exiqa][cli]") {
  const std::string vocab = require_vocab();
  test::TempDir dir;
  const std::string plain = write_variant(dir, "none"), tuned = write_variant(dir, "shallow");
  // A small picture; the model resizes it to its 32x32 input.
  Tensor<float> img({40, 56, 3});
  for (std::int64_t i = 0; i < img.numel(); ++i) img.data()[i] = float((i * 37) % 101) / 100.0f;
  io::write_image(dir.file("pic.png"), img);
  const std::string pic = q(dir.file("pic.png")), set_vocab = " --set vocab=" + q(vocab);

  SECTION("zero-shot explain: top distortions and attributes, no score") {
    auto r = test::run_cli("explain --model exiqa --weights " + q(plain) + set_vocab + " " + pic);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("distortion:") && Catch::Contains("attribute:") && !Catch::Contains("score"));
    r = test::run_cli("explain --json --model exiqa --weights " + q(plain) + set_vocab + " --set top=3 " + pic);
    INFO(r.out);
    REQUIRE(r.status == 0);
    const json::Value j = json::parse(r.out);
    const auto& values = j["values"].as_object();
    REQUIRE(values.size() == 6);
    CHECK(starts_with(values[0].first, "distortion:"));
    CHECK(values[0].second.as_number() >= values[1].second.as_number());
    CHECK(starts_with(values[3].first, "attribute:"));
    // The values are the library's, for the same image.
    LoadOptions o;
    o.weights = plain;
    o.settings = {{"vocab", vocab}, {"top", "0"}};
    const auto model = load_model("exiqa", o);
    Context ctx(1);
    const auto e = model->explain(io::read_image(dir.file("pic.png")), ctx);
    REQUIRE(e.values.size() == 150);
    CHECK(e.values[0].first == values[0].first);
    CHECK(e.values[0].second == Approx(values[0].second.as_number()).epsilon(1e-5));
    // Scoring needs a regressor or a head.
    r = test::run_cli("score --model exiqa --weights " + q(plain) + set_vocab + " " + pic);
    CHECK(r.status != 0);
    CHECK_THAT(r.out, Catch::Contains("head=FILE"));
  }
  SECTION("score with the checkpoint's regressor, and with a trained head") {
    auto r = test::run_cli("explain --json --model exiqa --weights " + q(tuned) + set_vocab + " " + pic);
    INFO(r.out);
    REQUIRE(r.status == 0);
    const json::Value j = json::parse(r.out);
    REQUIRE(j["values"].as_object()[0].first == "score");
    LoadOptions o;
    o.weights = tuned;
    o.settings = {{"vocab", vocab}};
    const double s = load_model("exiqa", o)->score(io::read_image(dir.file("pic.png")));
    CHECK(j["values"].as_object()[0].second.as_number() == Approx(s).epsilon(1e-5));
    // --pack-weights (a packed copy of every linear weight of the CLIP towers) and
    // --weight-packing never (repacked on every call) score the same as the default.
    r = test::run_cli("score --format jsonl --pack-weights --model exiqa --weights " + q(tuned) + set_vocab + " " + pic);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(json::parse(r.out.substr(0, r.out.find('\n')))["score"].as_number() == Approx(s).epsilon(1e-5));
    Context packed_ctx(2);
    packed_ctx.weight_packing = biqa::WeightPacking::always;
    CHECK(load_model("exiqa", o)->score(io::read_image(dir.file("pic.png")), packed_ctx) == Approx(s).epsilon(1e-5));
    r = test::run_cli("score --format jsonl --weight-packing never --model exiqa --weights " + q(tuned) + set_vocab + " " + pic);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(json::parse(r.out.substr(0, r.out.find('\n')))["score"].as_number() == Approx(s).epsilon(1e-5));

    // The low-memory mode on a 16-bit copy of the checkpoint: the same score as that copy converted
    // to float32 at load (widening is exact), and close to the float32 checkpoint's.
    const std::string half_file = dir.file("tuned.f16.safetensors");
    r = test::run_cli("convert --dtype f16 " + q(tuned) + " " + q(half_file));
    REQUIRE(r.status == 0);
    LoadOptions h = o;
    h.weights = half_file;
    const double s_half = load_model("exiqa", h)->score(io::read_image(dir.file("pic.png")));
    h.low_memory = true;
    CHECK(load_model("exiqa", h)->score(io::read_image(dir.file("pic.png"))) == s_half);
    CHECK(s_half == Approx(s).epsilon(1e-2));
    r = test::run_cli("score --format jsonl --low-memory --model exiqa --weights " + q(half_file) + set_vocab + " " + pic);
    INFO(r.out);
    REQUIRE(r.status == 0);
    CHECK(json::parse(r.out.substr(0, r.out.find('\n')))["score"].as_number() == Approx(s_half).epsilon(1e-6));

    // A linear head over the 125 attribute probabilities: weight 1 on the first, bias 0.5.
    probe::LinearHead head;
    head.weight = Eigen::VectorXd::Zero(125);
    head.weight(0) = 1.0;
    head.bias = 0.5;
    probe::save_head(dir.file("head.safetensors"), head);
    o.settings["head"] = dir.file("head.safetensors");
    o.settings["top"] = "0";
    const auto m = load_model("exiqa", o);
    Context ctx(1);
    const auto e = m->explain(io::read_image(dir.file("pic.png")), ctx);
    double first_attribute = -1;
    for (const auto& [k, v] : e.values)
      if (starts_with(k, "attribute:gaussian_blur.1 ")) first_attribute = v;
    REQUIRE(first_attribute >= 0);
    CHECK(m->score(io::read_image(dir.file("pic.png"))) == Approx(0.5 + first_attribute).epsilon(1e-6));
    r = test::run_cli("score --model exiqa --weights " + q(tuned) + set_vocab + " --set head=" +
                      q(dir.file("head.safetensors")) + " " + pic);
    INFO(r.out);
    CHECK(r.status == 0);
  }
  SECTION("unknown settings and bad attribute files are named") {
    auto r = test::run_cli("explain --model exiqa --weights " + q(plain) + " --set colour=1 " + pic);
    CHECK(r.status != 0);
    CHECK_THAT(r.out, Catch::Contains("colour") && Catch::Contains("known: head"));
    test::TempDir d2;
    const std::string bad = d2.file("attrs.json");
    std::FILE* f = std::fopen(bad.c_str(), "w");
    std::fputs("{\"distortions\": []}", f);
    std::fclose(f);
    r = test::run_cli("explain --model exiqa --weights " + q(plain) + set_vocab + " --set attributes=" + q(bad) + " " + pic);
    CHECK(r.status != 0);
    CHECK_THAT(r.out, Catch::Contains("attrs.json"));
  }
}

TEST_CASE("biqa eval --task distortion-id --model exiqa", "[models][exiqa][cli]") {
  const std::string vocab = require_vocab();
  test::TempDir dir;
  const std::string w = write_variant(dir, "deep");
  std::vector<std::string> images;
  for (int i = 0; i < 2; ++i) {
    Tensor<float> img({64, 72, 3});
    for (std::int64_t p = 0; p < img.numel(); ++p) img.data()[p] = float((p * (7 + i)) % 53) / 52.0f;
    images.push_back(dir.file("p" + std::to_string(i) + ".png"));
    io::write_image(images.back(), img);
  }
  const auto r = test::run_cli("eval --task distortion-id --model exiqa --weights " + q(w) + " --set vocab=" + q(vocab) +
                               " --repeats 2 --seed 5 --json " + q(images[0]) + " " + q(images[1]));
  INFO(r.out);
  REQUIRE(r.status == 0);
  const json::Value j = json::parse(r.out);
  CHECK(j["images"].as_number() == 4);
  CHECK(j["pairs"].as_number() == 100);

  // The same recipes through the library.
  LoadOptions o;
  o.weights = w;
  o.settings = {{"vocab", vocab}};
  const auto model = load_model("exiqa", o);
  const auto& exiqa = dynamic_cast<const models::ExiqaScorer&>(*model);
  distortions::Rng rng(5);
  Context ctx(1);
  Tensor<float> pred({4, 25}), truth({4, 25});
  std::int64_t row = 0;
  for (const auto& f : images) {
    const auto pristine = io::read_image(f);
    for (int k = 0; k < 2; ++k, ++row) {
      const auto recipe = distortions::sample_multi_distortion(rng);
      const auto out = exiqa.run(distortions::apply_multi_distortion(recipe, pristine, rng), ctx);
      for (int d = 0; d < 25; ++d) {
        pred.data()[row * 25 + d] = out.distortion_probs.data()[d];
        truth.data()[row * 25 + d] = recipe.strengths()[static_cast<std::size_t>(d)];
      }
    }
  }
  const auto s = metrics::distortion_id_scores(pred, truth);
  CHECK(j["accuracy"].as_number() == Approx(s.accuracy));
  CHECK(j["rmse"].as_number() == Approx(s.rmse).epsilon(1e-6));
  const auto bad = test::run_cli("eval --task colours --model exiqa --weights " + q(w) + " " + q(images[0]));
  CHECK(bad.status != 0);
  CHECK_THAT(bad.out, Catch::Contains("distortion-id"));
}
