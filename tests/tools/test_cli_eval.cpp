#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "biqa/data/score_file.hpp"
#include "biqa/distortions/registry.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/metrics/evaluation.hpp"
#include "support/helpers.hpp"

using namespace biqa;

namespace {

std::string q(const std::string& s) { return "'" + s + "'"; }

void write_text(const std::string& path, const std::string& text) { io::write_file_bytes(path, text.data(), text.size()); }

std::string read_text(const std::string& path) {
  const auto b = io::read_file_bytes(path);
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// A textured 96x96 picture: smooth gradients, a few edges and mild noise, different per seed.
Tensor<float> picture(unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0, 1);
  const float fx = 0.05f + 0.2f * u(gen), fy = 0.05f + 0.2f * u(gen), phase = 6.28f * u(gen);
  Tensor<float> img(Shape{96, 96, 3});
  for (int y = 0; y < 96; ++y)
    for (int x = 0; x < 96; ++x)
      for (int c = 0; c < 3; ++c) {
        float v = 0.5f + 0.25f * std::sin(fx * x + phase + c) * std::cos(fy * y) + ((x / 24 + y / 32) % 2 ? 0.12f : -0.12f);
        v += 0.03f * (u(gen) - 0.5f);
        img(y, x, c) = std::clamp(v, 0.0f, 1.0f);
      }
  return img;
}

// A KADID-10k-layout dataset: 4 references x 2 distortions x 5 levels, MOS = 5.5 - level
// (+ a small per-reference offset), images/I0R_TT_LL.png and dmos.csv.
struct TinyDataset {
  test::TempDir dir;
  std::vector<std::string> images;
  TinyDataset() {
    std::filesystem::create_directories(dir.path() / "images");
    std::string csv = "dist_img,ref_img,dmos,var\n";
    const char* types[] = {"gaussian_blur", "white_noise"};
    const int numbers[] = {1, 11};
    for (int r = 1; r <= 4; ++r) {
      const auto ref = picture(unsigned(r));
      for (int t = 0; t < 2; ++t)
        for (int level = 1; level <= 5; ++level) {
          char name[32];
          std::snprintf(name, sizeof name, "I%02d_%02d_%02d.png", r, numbers[t], level);
          io::write_image(dir.file(std::string("images/") + name), distortions::apply(types[t], level, ref, 7));
          char line[96];
          std::snprintf(line, sizeof line, "%s,I%02d.png,%.2f,0.5\n", name, r, 5.5 - level + 0.1 * r);
          csv += line;
          images.push_back(std::string("images/") + name);
        }
    }
    write_text(dir.file("dmos.csv"), csv);
  }
  std::string root() const { return dir.path().string(); }
  std::string base(const std::string& scores) const {
    return "eval --model brisque --dataset kadid10k --root " + q(root()) + " --scores " + q(scores) + " --bootstrap 200";
  }
};

// Metrics from a score file, through the library, as the reference for the CLI's numbers.
metrics::Evaluation evaluate_file(const std::string& path, std::size_t* count = nullptr) {
  const auto entries = data::read_score_file(path);
  std::vector<double> p, m;
  for (const auto& e : entries)
    if (e.score) {
      p.push_back(*e.score);
      m.push_back(e.mos);
    }
  if (count) *count = p.size();
  return metrics::evaluate(p, m);
}

// The JSON line of an output that may carry stderr lines too.
json::Value json_of(const std::string& out) {
  const auto start = out.find('{');
  REQUIRE(start != std::string::npos);
  return json::parse(out.substr(start, out.find('\n', start) - start));
}

void check_same_metrics(const json::Value& v, const metrics::Evaluation& e) {
  for (auto m : {metrics::Metric::srcc, metrics::Metric::plcc, metrics::Metric::krcc, metrics::Metric::rmse,
                 metrics::Metric::plcc_logistic}) {
    INFO(metrics::to_string(m));
    CHECK(v[metrics::to_string(m)].as_number() == Approx(e.value(m)).epsilon(2e-9).margin(1e-12));
  }
}

// Every opened tag is closed in order (enough to call our own SVG well-formed).
bool well_formed(const std::string& svg) {
  std::vector<std::string> stack;
  std::size_t i = 0;
  while ((i = svg.find('<', i)) != std::string::npos) {
    const auto end = svg.find('>', i);
    if (end == std::string::npos) return false;
    const std::string tag = svg.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return false;
      stack.pop_back();
    } else if (tag.back() != '/') {
      stack.push_back(tag.substr(0, tag.find(' ')));
    }
  }
  return stack.empty();
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("cli: biqa eval scores a dataset, reports CIs and writes the plot", "[tools][eval]") {
  TinyDataset ds;
  const auto scores = ds.dir.file("scores.csv");
  const auto svg = ds.dir.file("plot.svg");
  const auto r = test::run_cli(ds.base(scores) + " --json --threads 2 --plot " + q(svg));
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto v = json_of(r.out);
  CHECK(v["n"].as_int() == 40);
  CHECK(v["scored"].as_int() == 40);
  CHECK(v["cached"].as_int() == 0);
  CHECK(v["failed"].as_array().empty());
  CHECK(v["model_lower_is_better"].as_bool());
  std::size_t n = 0;
  const auto e = evaluate_file(scores, &n);
  CHECK(n == 40);
  check_same_metrics(v, e);
  // BRISQUE is lower-is-better and MOS falls with the level: they disagree in sign.
  CHECK(v["srcc"].as_number() < -0.3);  // measured -0.48 (blur and noise mixed)
  for (const char* key : {"srcc", "plcc", "krcc", "rmse", "plcc_logistic", "rmse_logistic"}) {
    INFO(key);
    const auto& ci = v["ci"][key].as_array();
    REQUIRE(ci.size() == 2);
    CHECK(ci[0].as_number() <= v[key].as_number());
    CHECK(ci[1].as_number() >= v[key].as_number());
    CHECK(ci[0].as_number() < ci[1].as_number());
  }
  // Seeded: the same command gives the same intervals (all 40 images now come from the cache).
  const auto again = json_of(test::run_cli(ds.base(scores) + " --json").out);
  CHECK(again["cached"].as_int() == 40);
  CHECK(again["scored"].as_int() == 0);
  CHECK(again["ci"]["srcc"].as_array()[0].as_number() == v["ci"]["srcc"].as_array()[0].as_number());

  const std::string plot = read_text(svg);
  CHECK(plot.rfind("<?xml", 0) == 0);
  CHECK(well_formed(plot));
  CHECK(count(plot, "<circle") == 40);
  CHECK(count(plot, "<path d=\"M") == 1);

  const auto table = test::run_cli(ds.base(scores));
  REQUIRE(table.status == 0);
  CHECK_THAT(table.out, Catch::Contains("SRCC") && Catch::Contains("95% CI") && Catch::Contains("n = 40 images"));
}

TEST_CASE("cli: biqa eval resumes from a partial score file", "[tools][eval]") {
  TinyDataset ds;
  const auto scores = ds.dir.file("scores.csv");
  // Ten images already scored (one with a value BRISQUE would never give), and a line cut short.
  std::string partial = "image,score,mos\n";
  for (int i = 0; i < 10; ++i) partial += ds.images[std::size_t(i)] + "," + (i == 3 ? "123.5" : "20") + ",1\n";
  partial += ds.images[10] + ",4";  // interrupted mid-line
  write_text(scores, partial);
  const auto r = test::run_cli(ds.base(scores) + " --json");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto v = json_of(r.out);
  CHECK(v["cached"].as_int() == 10);
  CHECK(v["scored"].as_int() == 30);
  CHECK(v["n"].as_int() == 40);
  const auto entries = data::read_score_file(scores);
  REQUIRE(entries.size() == 40);
  CHECK(*entries[3].score == 123.5);  // not scored again
  // The report uses the cached scores with the dataset's MOS.
  std::vector<double> p, m;
  const std::string csv = read_text(ds.dir.file("dmos.csv"));
  for (const auto& e : entries) {
    p.push_back(*e.score);
    const auto name = e.image.substr(7);
    const auto at = csv.find(name);
    m.push_back(std::stod(csv.substr(csv.find(',', csv.find(',', at) + 1) + 1)));
  }
  check_same_metrics(v, metrics::evaluate(p, m));
}

TEST_CASE("cli: biqa eval --shard and --merge equal the unsharded run", "[tools][eval]") {
  TinyDataset ds;
  const auto whole = json_of(test::run_cli(ds.base(ds.dir.file("all.csv")) + " --json").out);
  std::string files;
  std::size_t total = 0;
  for (int k = 0; k < 3; ++k) {
    const auto f = ds.dir.file("shard" + std::to_string(k) + ".csv");
    const auto r = test::run_cli(ds.base(f) + " --json --shard " + std::to_string(k) + "/3");
    INFO(r.out);
    REQUIRE(r.status == 0);
    const auto v = json_of(r.out);
    CHECK(v["shard"].as_string() == std::to_string(k) + "/3");
    total += std::size_t(v["scored"].as_int());
    files += " " + q(f);
  }
  CHECK(total == 40);
  const auto merged = test::run_cli("eval --merge" + files + " --json --bootstrap 200");
  INFO(merged.out);
  REQUIRE(merged.status == 0);
  const auto v = json_of(merged.out);
  CHECK(v["n"].as_int() == 40);
  for (const char* key : {"srcc", "plcc", "krcc", "rmse", "plcc_logistic", "rmse_logistic"}) {
    INFO(key);
    CHECK(v[key].as_number() == Approx(whole[key].as_number()).epsilon(1e-12));
  }
  CHECK(v["ci"]["krcc"].as_array()[1].as_number() == Approx(whole["ci"]["krcc"].as_array()[1].as_number()).epsilon(1e-12));
}

TEST_CASE("cli: biqa eval lists and skips an image that does not decode", "[tools][eval]") {
  TinyDataset ds;
  write_text(ds.dir.file(ds.images[5]), "this is not a PNG");
  const auto r = test::run_cli(ds.base(ds.dir.file("s.csv")) + " --json");
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("skipped " + ds.images[5]));
  const auto v = json_of(r.out.substr(r.out.find('{')));
  CHECK(v["n"].as_int() == 39);
  REQUIRE(v["failed"].as_array().size() == 1);
  CHECK(v["failed"].as_array()[0]["image"].as_string() == ds.images[5]);
  CHECK_FALSE(v["failed"].as_array()[0]["error"].as_string().empty());
}

TEST_CASE("cli: biqa eval --split test scores a reference-disjoint subset", "[tools][eval]") {
  TinyDataset ds;
  const auto r = test::run_cli(ds.base(ds.dir.file("s.csv")) + " --json --split test --train-fraction 0.5 --split-seed 4");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto v = json_of(r.out);
  CHECK(v["n"].as_int() == 20);  // 2 of 4 references, 10 images each
  CHECK(v["split_by_reference"].as_bool());
}

TEST_CASE("cli: biqa eval error cases", "[tools][eval]") {
  TinyDataset ds;
  const auto base = "eval --model brisque --root " + q(ds.root());
  auto r = test::run_cli(base + " --dataset kadid9k");
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("unknown dataset kind 'kadid9k'"));
  for (const char* spec : {"3/3", "1", "a/b", "-1/2", "0/0"}) {
    INFO(spec);
    r = test::run_cli(base + " --dataset kadid10k --shard " + spec);
    CHECK(r.status == 1);
    CHECK_THAT(r.out, Catch::Contains("--shard expects K/N"));
  }
  r = test::run_cli(base + " --dataset csv --csv " + q(ds.dir.file("dmos.csv")) + " --image-col dist_img --score-col mos");
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("'mos'") && Catch::Contains("'dist_img', 'ref_img', 'dmos', 'var'"));
  r = test::run_cli(base + " --dataset kadid10k --split validation");
  CHECK(r.status == 1);
  r = test::run_cli("eval --dataset kadid10k --root " + q(ds.root()));
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("--model"));
  r = test::run_cli("eval --merge");
  CHECK(r.status == 1);
}
