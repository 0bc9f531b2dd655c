// DSMix through the registry and the CLI (score, infer, explain), and end to end: `biqa train-head`
// on encoder features of a generated distorted set, then `biqa score` with that head.
// Fixtures: tools/reference/make_dsmix_fixtures.py (shrunken networks, random weights).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "biqa/distortions/registry.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/models/dsmix_scorer.hpp"
#include "biqa/models/registry.hpp"
#include "biqa/probe/head_file.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;

namespace {

std::string fixture(const std::string& name) { return test::fixture_path("models/dsmix/" + name); }
Tensor<float> io_tensor(const io::WeightFile& f, const std::string& name) { return f.to_float(f.at("io." + name)); }

// A copy of a fixture without its io.* tensors (what a user's weights file holds).
std::string weights_only(const test::TempDir& dir, const std::string& name) {
  const io::WeightFile f = io::load_weights(fixture(name));
  std::vector<io::TensorBlob> blobs;
  for (const auto& r : f.tensors)
    if (r.name.rfind("io.", 0) != 0 && r.dtype == DType::f32) blobs.push_back(io::make_blob(r.name, f.to_float(r)));
  const std::string path = dir.file(name);
  io::write_safetensors(path, blobs, f.metadata);
  return path;
}

std::vector<json::Value> jsonl(const std::string& text) {
  std::vector<json::Value> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') out.push_back(json::parse(line, "biqa output"));
  return out;
}

// A textured colour picture: stripes and a ramp, different per `seed`.
Tensor<float> picture(std::int64_t h, std::int64_t w, int seed) {
  Tensor<float> img({h, w, 3});
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t c = 0; c < 3; ++c) {
        const double f = 0.35 + 0.15 * seed + 0.1 * c;
        const double v = 0.5 + 0.3 * std::sin(f * x + 0.7 * seed) * std::cos(0.5 * f * y + c) + 0.15 * (double(y) / h - 0.5);
        img.data()[(y * w + x) * 3 + c] = static_cast<float>(std::clamp(v, 0.0, 1.0));
      }
  return img;
}

}  // namespace

TEST_CASE("dsmix registry entry: card, settings, score equals the reference", "[dsmix]") {
  const ModelInfo& card = model_info("dsmix");
  CHECK(card.needs_weights_file);
  CHECK_FALSE(card.lower_is_better);
  LoadOptions o;
  o.weights = fixture("dsmix_mlp.pth");
  o.settings = {{"crop_size", "32"}};
  const auto model = load_model("dsmix", o);
  const io::WeightFile f = io::load_weights(fixture("dsmix_mlp.safetensors"));
  Context ctx(1);
  const double s = model->score(io_tensor(f, "image"), ctx);
  const double ref = io_tensor(f, "score").data()[0];
  CHECK(std::abs(s - ref) <= 1e-4 * std::max(1.0, std::abs(ref)));
  o.settings = {{"crops", "3"}};
  CHECK_THROWS_WITH(load_model("dsmix", o), Catch::Contains("unknown setting 'crops'"));
  CHECK_THROWS_WITH(load_model("dsmix", LoadOptions{}), Catch::Contains("--weights"));
}

TEST_CASE("biqa infer --model dsmix / dsm reproduce the reference outputs", "[dsmix][cli]") {
  test::TempDir dir;
  const io::WeightFile f = io::load_weights(fixture("dsmix_mlp.safetensors"));
  io::write_npy(dir.file("batch.npy"), io_tensor(f, "crops_batch"));
  auto r = test::run_cli("infer --model dsmix --weights '" + fixture("dsmix_mlp.pth") + "' --input '" +
                         dir.file("batch.npy") + "' --output '" + dir.file("scores.npy") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto scores = io::read_npy(dir.file("scores.npy"));
  Tensor<float> got({scores.shape[0]});
  for (std::int64_t i = 0; i < got.numel(); ++i) got.data()[i] = float(load_as_double(scores.bytes.data(), scores.dtype, std::size_t(i)));
  test::check_parity("infer dsmix", got, io_tensor(f, "batch_scores"));

  const io::WeightFile d = io::load_weights(fixture("dsm.safetensors"));
  io::write_npy(dir.file("x.npy"), io_tensor(d, "input"));
  r = test::run_cli("infer --model dsm --weights '" + weights_only(dir, "dsm.safetensors") + "' --input '" +
                    dir.file("x.npy") + "' --output '" + dir.file("dsm.npy") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto dsm = io::read_npy(dir.file("dsm.npy"));
  REQUIRE(dsm.shape == Shape{2, 1, 4, 4});
  Tensor<float> map(dsm.shape);
  for (std::int64_t i = 0; i < map.numel(); ++i) map.data()[i] = float(load_as_double(dsm.bytes.data(), dsm.dtype, std::size_t(i)));
  test::check_parity("infer dsm", map, io_tensor(d, "output"));
}

TEST_CASE("biqa score and explain --model dsmix", "[dsmix][cli]") {
  test::TempDir dir;
  const std::string png = dir.file("pic.png");
  io::write_image(png, picture(40, 44, 1));
  const std::string dsm = weights_only(dir, "dsm.safetensors");
  const std::string common = "--model dsmix --weights '" + fixture("head_only.safetensors") + "' --set encoder='" +
                             fixture("encoder_tv.pth") + "' ";
  // --encoder F is short for --set encoder=F.
  auto r = test::run_cli("score --model dsmix --weights '" + fixture("head_only.safetensors") + "' --encoder '" +
                         fixture("encoder_tv.pth") + "' --format jsonl '" + png + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto rows = jsonl(r.out);
  REQUIRE(rows.size() == 1);
  LoadOptions o;
  o.weights = fixture("dsmix_mlp.pth");
  o.settings = {{"crop_size", "32"}};
  const double want = load_model("dsmix", o)->score(io::read_image(png));
  CHECK(rows[0]["score"].as_number() == Approx(want).epsilon(1e-5));

  r = test::run_cli("explain " + common + "--set dsm_weights='" + dsm + "' --json --out '" + dir.file("maps") + "' '" +
                    png + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const json::Value e = json::parse(r.out, "explain output");
  CHECK(e["values"]["score"].as_number() == Approx(want).epsilon(1e-5));
  CHECK(e["values"]["crop4.top"].as_number() == 4);  // round((40 - 32) / 2)
  CHECK(e["maps"]["dsm"]["height"].as_int() == 40);
  CHECK(e["maps"]["dsm"]["width"].as_int() == 44);
  CHECK(std::filesystem::exists(e["maps"]["dsm"]["png"].as_string()));
  // ... and over the picture, which is the image's size (`biqa explain` writes both).
  const Tensor<float> overlay = io::read_image(e["maps"]["dsm"]["overlay_png"].as_string());
  CHECK(overlay.size(0) == 40);
  CHECK(overlay.size(1) == 44);
  CHECK(test::run_cli("explain " + common + "--set dsm_weights='" + dsm + "' --alpha 2 --out '" + dir.file("maps") + "' '" +
                      png + "'").status != 0);
  // Without DSM weights there is no map.
  r = test::run_cli("explain " + common + "--json '" + png + "'");
  REQUIRE(r.status == 0);
  CHECK(json::parse(r.out, "explain output")["maps"].as_object().empty());
}

TEST_CASE("DSMix explain pastes the predicted DSM into the crop windows", "[dsmix]") {
  test::TempDir dir;
  LoadOptions o;
  o.weights = fixture("head_only.safetensors");
  o.settings = {{"encoder", fixture("encoder_tv.pth")}, {"dsm_weights", weights_only(dir, "dsm.safetensors")}};
  const auto model = load_model("dsmix", o);
  const auto& scorer = dynamic_cast<const models::DSMixScorer&>(*model);
  Context ctx(1);
  // A 32x32 image: all five windows are the whole image, so the map is the predictor's 4x4 output
  // upsampled bilinearly to 32x32.
  const Tensor<float> img = picture(32, 32, 2);
  const Tensor<float> map = scorer.dsm_over_image(img, ctx);
  const auto dsm = models::load_dsm_predictor(o.settings["dsm_weights"]);
  const Tensor<float> direct = dsm.predict(img, ctx);
  const Tensor<float> up = ops::interpolate(direct.reshape({1, 1, 4, 4}), 32, 32, ctx);
  test::check_parity("dsm over a crop-sized image", map, up.reshape({32, 32}), 1e-6);
}

// End to end with the shrunken, random-weight encoder of the fixtures: features of a generated set
// (three pictures × {gaussian blur, white noise} × levels 1–5, plus the pristine pictures: 33
// images), a ridge head from `biqa train-head` (target 5 − level, pristine 5), then `biqa score`
// with that head file and the separate encoder file on the same images (--set crop_size=32: a
// train-head file has no biqa.config, so 224 would apply). What it shows: the files, the feature
// definition (the mean of the five crops' pooled features) and the scoring path fit
// together — the scores equal the saved head applied to the features (1e-4), and their SRCC with
// the level (in-sample) is at least 0.9. It says nothing about DSMix's pre-trained encoder (no
// public weights): with these random features a head trained on two pictures' images does not
// generalise to the third picture's (held-out SRCC −0.56 measured), see docs/models.md.
TEST_CASE("train-head on DSMix features, then score: SRCC against the distortion level", "[dsmix][cli]") {
  test::TempDir dir;
  LoadOptions o;
  o.weights = fixture("head_only.safetensors");
  o.settings = {{"encoder", fixture("encoder_tv.pth")}};
  const auto model = load_model("dsmix", o);
  const auto& net = dynamic_cast<const models::DSMixScorer&>(*model).network();
  Context ctx(2);

  std::vector<std::string> images;
  std::vector<double> mos;
  std::vector<float> features;
  std::int64_t dim = 0;
  for (int p = 0; p < 3; ++p) {
    const Tensor<float> ref = picture(40, 40, p);
    for (const char* type : {"gaussian_blur", "white_noise"})
      for (int level = 0; level <= 5; ++level) {
        if (level == 0 && std::string(type) != "gaussian_blur") continue;  // one pristine copy
        const Tensor<float> img = level == 0 ? ref : distortions::apply(type, level, ref, std::uint64_t(7 * p + level));
        const std::string path = dir.file("p" + std::to_string(p) + "_" + type + std::to_string(level) + ".png");
        io::write_image(path, img);
        const Tensor<float> f = net.features(net.crops(io::read_image(path)), ctx).contiguous();
        dim = f.size(1);
        for (std::int64_t j = 0; j < dim; ++j) {
          double m = 0;
          for (std::int64_t k = 0; k < f.size(0); ++k) m += f.data()[k * dim + j];
          features.push_back(static_cast<float>(m / double(f.size(0))));
        }
        images.push_back(path), mos.push_back(5.0 - level);
      }
  }
  const auto n = static_cast<std::int64_t>(mos.size());
  Tensor<float> x({n, dim});
  std::copy(features.begin(), features.end(), x.data());
  io::write_npy(dir.file("features.npy"), x);
  {
    std::ofstream out(dir.file("mos.txt"));
    for (double v : mos) out << v << "\n";
  }
  auto r = test::run_cli("train-head --features '" + dir.file("features.npy") + "' --mos '" + dir.file("mos.txt") +
                         "' --head ridge --lambda 1 --splits 3 --save '" + dir.file("head.safetensors") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);

  std::string args;
  for (const auto& p : images) args += " '" + p + "'";
  r = test::run_cli("score --model dsmix --weights '" + dir.file("head.safetensors") + "' --set encoder='" +
                    fixture("encoder_tv.pth") + "' --set crop_size=32 --format jsonl" + args);
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto rows = jsonl(r.out);
  REQUIRE(rows.size() == images.size());
  const probe::Head head = probe::load_head(dir.file("head.safetensors"));
  probe::MatrixXd xm(n, dim);
  for (std::int64_t i = 0; i < n * dim; ++i) xm(i / dim, i % dim) = x.data()[i];
  const Eigen::VectorXd want = probe::predict(head, xm);
  std::vector<double> scores;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    scores.push_back(rows[i]["score"].as_number());
    CHECK(scores.back() == Approx(want(Eigen::Index(i))).epsilon(1e-4).margin(1e-4));
  }
  const double srcc = metrics::srcc(scores, mos);
  INFO("in-sample SRCC " << srcc);
  if (std::getenv("BIQA_PARITY_REPORT")) std::printf("dsmix end-to-end in-sample SRCC %.3f\n", srcc);
  CHECK(srcc >= 0.9);
}
