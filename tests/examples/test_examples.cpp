#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "biqa/distortions.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/models/dr_experts/differential_attention.hpp"
#include "biqa/models/dr_experts/distortion_weighting.hpp"
#include "biqa/models/registry.hpp"
#include "biqa/nn/vision_transformer.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"
#include "biqa/probe/ridge.hpp"
#include "models/nss_test_images.hpp"
#include "support/helpers.hpp"

using namespace biqa;

namespace {
test::RunResult run_example(const std::string& name, const std::string& args) {
  return test::run_program(std::string(BIQA_BINARY_DIR) + "/examples/" + name, args);
}
// The value after `key` + whitespace on the line that starts with `key`.
double value_after(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
  FAIL("no line starting with '" << key << "' in:\n" << out);
  return 0;
}

// The numbers after `key` on the n-th line (0-based) that starts with `key`, words between them
// skipped ("min 1 max 2" gives 1, 2).
std::vector<double> numbers_after(const std::string& out, const std::string& key, int n = 0) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0 && n-- == 0) {
      std::istringstream f(line.substr(key.size()));
      std::vector<double> v;
      for (std::string word; f >> word;) {
        char* end = nullptr;
        const double x = std::strtod(word.c_str(), &end);
        if (end && *end == 0) v.push_back(x);
      }
      return v;
    }
  FAIL("no line starting with '" << key << "' in:\n" << out);
  return {};
}

double sum_of(const Tensor<float>& t) {
  double s = 0;
  for (float v : t.contiguous().to_vector()) s += v;
  return s;
}

// A photo-like test picture (the NSS tests' synthetic scene), stored as PNG.
std::string write_scene(const test::TempDir& tmp, const std::string& name, int h, int w, std::uint64_t seed) {
  const std::string path = tmp.file(name);
  io::write_image(path, test::quantize(test::synthetic_scene(h, w, seed)));
  return path;
}
}  // namespace

TEST_CASE("example 02 lists and loads a weights file", "[examples]") {
  const auto r = run_example("02_inspect_weights", "'" + test::data_path("io/reference.safetensors") + "'");
  REQUIRE(r.status == 0);
  REQUIRE_THAT(r.out, Catch::Contains("safetensors file with 10 tensors"));
  REQUIRE_THAT(r.out, Catch::Contains("bf16 BF16 [7]"));
  REQUIRE_THAT(r.out, Catch::Contains("sum of all values:"));
  REQUIRE(run_example("02_inspect_weights", "/nonexistent.safetensors").status == 2);
}

TEST_CASE("example 01 scores images with the default model, as the library does", "[examples]") {
  test::TempDir tmp;
  const std::string a = write_scene(tmp, "a.png", 192, 256, 11), b = write_scene(tmp, "b.png", 160, 160, 12);
  const auto r = run_example("01_score_image", "'" + a + "' '" + b + "'");
  REQUIRE(r.status == 0);
  REQUIRE_THAT(r.out, Catch::Contains("BRISQUE") && Catch::Contains("lower is better"));
  const auto model = load_model("brisque");
  CHECK(value_after(r.out, a) == Approx(model->score(io::read_image(a))).epsilon(1e-8));
  CHECK(value_after(r.out, b) == Approx(model->score(io::read_image(b))).epsilon(1e-8));
  CHECK(run_example("01_score_image", "").status == 1);
  CHECK(run_example("01_score_image", "'" + tmp.file("missing.png") + "'").status == 2);
}

TEST_CASE("example 06 writes every distortion type as a 5x5 contact sheet", "[examples]") {
  test::TempDir tmp;
  const std::string photo = write_scene(tmp, "photo.png", 180, 240, 21), sheet = tmp.file("sheet.png");
  const auto r = run_example("06_distortion_contact_sheet", "'" + photo + "' '" + sheet + "' 4 48");
  REQUIRE(r.status == 0);
  const auto names = distortions::distortion_names();
  REQUIRE(names.size() == 25);
  // Lines read "NN name   mean |change| X", in KADID order.
  std::istringstream lines(r.out);
  std::string line;
  std::size_t k = 0;
  while (std::getline(lines, line) && k < names.size()) {
    std::istringstream f(line);
    int number = 0;
    std::string name, mean, change;
    double value = -1;
    f >> number >> name >> mean >> change >> value;
    INFO(line);
    CHECK(number == int(k) + 1);
    CHECK(name == names[k]);
    CHECK(value > 0.0);  // every type changes the picture at level 4 (not at 3: see the example)
    ++k;
  }
  CHECK(k == names.size());
  const Tensor<float> img = io::read_image(sheet);
  CHECK(img.size(0) == 5 * 48);
  CHECK(img.size(1) == 5 * 48);
  CHECK(run_example("06_distortion_contact_sheet", "'" + tmp.file("missing.png") + "' '" + sheet + "'").status == 2);
}

TEST_CASE("example 07 evaluates a model on a folder with a CSV of scores", "[examples]") {
  test::TempDir tmp;
  const Tensor<float> scene = test::quantize(test::synthetic_scene(192, 192, 31));
  std::ofstream csv(tmp.file("scores.csv"));
  csv << "image,mos\n";
  std::vector<double> expected, mos;
  const auto model = load_model("brisque");
  for (int level = 1; level <= 5; ++level) {
    const std::string name = "blur" + std::to_string(level) + ".png";
    io::write_image(tmp.file(name), distortions::apply("gaussian_blur", level, scene, 1));
    csv << name << "," << 6 - level << "\n";
    expected.push_back(model->score(io::read_image(tmp.file(name))));
    mos.push_back(6 - level);
  }
  csv.close();
  const auto r = run_example("07_evaluate_folder", "brisque '" + tmp.path().string() + "' '" + tmp.file("scores.csv") + "'");
  REQUIRE(r.status == 0);
  CHECK(value_after(r.out, "images") == 5);
  CHECK(value_after(r.out, "SRCC") == Approx(metrics::srcc(expected, mos)).margin(1e-9));
  CHECK(value_after(r.out, "PLCC") == Approx(metrics::plcc(expected, mos)).margin(1e-8));
  CHECK(value_after(r.out, "KRCC") == Approx(metrics::krcc(expected, mos)).margin(1e-9));
  CHECK(value_after(r.out, "blur3.png") == 3);  // the subjective score column, echoed
  CHECK(run_example("07_evaluate_folder", "no_such_model '" + tmp.path().string() + "' '" + tmp.file("scores.csv") + "'").status != 0);
}

TEST_CASE("example 03 builds a ViT from a config; shapes follow the config, the output the library", "[examples]") {
  test::TempDir tmp;
  auto check = [&](const std::string& config_arg, const json::Value& config, std::int64_t gh, std::int64_t gw,
                   std::int64_t prefix, std::int64_t width, const std::string& output_shape) {
    const std::string saved = tmp.file("vit.safetensors");
    const auto r = run_example("03_vit_from_config", config_arg + " '" + saved + "'");
    REQUIRE(r.status == 0);
    INFO(r.out);
    const std::string tokens = cat("[1, ", gh * gw + prefix, ", ", width, "]");
    CHECK_THAT(r.out, Catch::Contains(cat("\npatch embedding [1, ", gh * gw, ", ", width, "]\n")));
    CHECK_THAT(r.out, Catch::Contains("\ntokens " + tokens + "\n"));
    CHECK_THAT(r.out, Catch::Contains("\nblock 1 " + tokens + "\n"));
    CHECK_THAT(r.out, Catch::Contains("\nfeatures " + tokens + "\n"));
    CHECK_THAT(r.out, Catch::Contains("\noutput " + output_shape + "\n"));
    // The same network rebuilt here from the saved weights (sizes read back from their shapes).
    io::WeightStore store(io::load_weights(saved));
    const Tensor<float> x = store.take("input", std::nullopt);
    const nn::VisionTransformer vit = [&] {
      nn::VisionTransformer v(nn::VisionTransformer::Config::from_weights(store.root(), config));
      v.load(store.root());
      return v;
    }();
    store.finish();
    Context ctx(1);
    CHECK(value_after(r.out, "output sum") == Approx(sum_of(vit.forward(x, ctx))).epsilon(1e-6).margin(1e-7));
  };
  // The default: a 32×32 tiny DeiT-III in 8×8 patches, width 48, 3 heads, 3 blocks, 5 classes.
  SECTION("built-in config") {
    const auto r = run_example("03_vit_from_config", "");
    REQUIRE(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("block 3 [1, 17, 48]"));
    check("-", json::parse(R"({"num_heads": 3})"), 32 / 8, 32 / 8, 1, 48, "[1, 5]");
  }
  SECTION("a JSON config: non-square, register tokens, average pooling, no head") {
    const std::string text = R"({"img_size": [48, 32], "patch_size": 16, "embed_dim": 64, "depth": 2, "num_heads": 4,
      "reg_tokens": 2, "init_values": null, "no_embed_class": false, "global_pool": "avg", "num_classes": 0})";
    std::ofstream(tmp.file("vit.json")) << text;
    check("'" + tmp.file("vit.json") + "'", json::parse(text), 48 / 16, 32 / 16, 1 + 2, 64, "[1, 64]");
  }
  SECTION("bad input and usage") {
    std::ofstream(tmp.file("bad.json")) << R"({"img_size": 30})";  // not a multiple of the patch size 8
    CHECK(run_example("03_vit_from_config", "'" + tmp.file("bad.json") + "'").status == 2);
    CHECK(run_example("03_vit_from_config", "'" + tmp.file("missing.json") + "'").status == 2);
    CHECK(run_example("03_vit_from_config", "- a b").status == 1);
  }
}

TEST_CASE("example 04 draws the differential attention maps; its numbers are the layer's", "[examples]") {
  test::TempDir tmp;
  const std::string dir = tmp.file("maps");
  const auto r = run_example("04_differential_attention", "'" + dir + "' 4");
  REQUIRE(r.status == 0);
  INFO(r.out);
  // The layer, loaded from the weights and inputs the example saved, with its maps.
  io::WeightStore store(io::load_weights(dir + "/toy.safetensors"));
  const Tensor<float> d = store.take("toy.d", std::nullopt), f = store.take("toy.f", std::nullopt),
                      s = store.take("toy.s", std::nullopt);
  const std::int64_t l = f.size(1);
  models::dr_experts::DifferentialAttention attn(f.size(2));
  attn.load(store.scope("attn"));
  store.finish();
  Context ctx(1);
  models::dr_experts::DifferentialAttention::Maps maps;
  const auto res = attn.forward(d, f, s, models::dr_experts::Sign::current, false, ctx, &maps);
  const double alpha = attn.alpha();
  std::vector<double> a1_sums, a2_sums, diff_sums, diff;
  for (std::int64_t i = 0; i < l; ++i) {
    double s1 = 0, s2 = 0, sd = 0;
    for (std::int64_t j = 0; j < l; ++j) {
      s1 += maps.a1(0, j), s2 += maps.a2(0, i, j);
      diff.push_back(double(maps.a1(0, j)) - alpha * double(maps.a2(0, i, j)));
      sd += diff.back();
    }
    a1_sums.push_back(s1), a2_sums.push_back(s2), diff_sums.push_back(sd);
  }
  auto check_range = [&](const std::string& key, const std::vector<double>& v) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const auto printed = numbers_after(r.out, key);  // "min X max Y" reads as X, Y
    REQUIRE(printed.size() == 2);
    CHECK(printed[0] == Approx(*lo).margin(1e-6));
    CHECK(printed[1] == Approx(*hi).margin(1e-6));
  };
  CHECK(value_after(r.out, "tokens") == l);
  check_range("A1 row sums min", a1_sums);
  check_range("A2 row sums min", a2_sums);
  check_range("A1 - alpha*A2 row sums min", diff_sums);
  check_range("difference min", diff);
  CHECK(numbers_after(r.out, "A1 - alpha*A2 row sums min")[0] == Approx(1 - alpha).margin(1e-6));  // the lesson's claim
  CHECK(value_after(r.out, "negative entries") == double(std::count_if(diff.begin(), diff.end(), [](double v) { return v < 0; })));
  CHECK(value_after(r.out, "output sum") == Approx(sum_of(res.out)).epsilon(1e-6));
  CHECK(value_after(r.out, "max |cls_weights - difference row 0|") < 1e-6);
  for (const char* name : {"a1.png", "a2.png", "difference.png"}) {
    const Tensor<float> img = io::read_image(dir + "/" + name);
    CHECK(img.size(0) == 4 * l);
    CHECK(img.size(1) == 4 * l);
  }
  CHECK(run_example("04_differential_attention", "").status == 1);
  CHECK(run_example("04_differential_attention", "'" + dir + "' zero").status == 1);
}

TEST_CASE("example 05 shows the DDWM weights; they are the library's, raw, and per expert", "[examples]") {
  test::TempDir tmp;
  const std::string saved = tmp.file("ddwm.safetensors");
  const auto r = run_example("05_moe_weighting", "'" + saved + "'");
  REQUIRE(r.status == 0);
  INFO(r.out);
  io::WeightStore store(io::load_weights(saved));
  const Tensor<float> f = store.take("toy.f", std::nullopt), rs = store.take("toy.r", std::nullopt),
                      changed = store.take("toy.r_changed", std::nullopt);
  const std::int64_t k = rs.size(0), e = rs.size(1);
  models::dr_experts::DistortionWeighting gate(e, models::dr_experts::DistortionWeighting::hidden_sizes(store.scope("ddwm")));
  gate.load(store.scope("ddwm"));
  store.finish();
  Context ctx(1);
  const Tensor<float> f_rows = ops::broadcast_to(f.unsqueeze(0), {k, e}).contiguous();
  const Tensor<float> w = gate.forward(rs, f_rows, ctx), w2 = gate.forward(changed, f_rows, ctx);
  const auto printed = numbers_after(r.out, "weights", 0), printed2 = numbers_after(r.out, "weights", 1);
  REQUIRE(printed.size() == std::size_t(k));
  REQUIRE(printed2.size() == std::size_t(k));
  double sum = 0;
  for (std::int64_t i = 0; i < k; ++i) {
    CHECK(printed[std::size_t(i)] == Approx(w(i)).epsilon(1e-6));
    CHECK(printed2[std::size_t(i)] == Approx(w2(i)).epsilon(1e-6));
    if (i != 2) CHECK(w2(i) == w(i));  // the lesson's claim: an expert's weight depends on its own input only
    sum += w(i);
  }
  CHECK(w2(2) != w(2));
  CHECK(value_after(r.out, "sum of weights") == Approx(sum).epsilon(1e-6));
  CHECK(value_after(r.out, "sum of softmax") == Approx(1.0).margin(1e-6));
  CHECK(run_example("05_moe_weighting", "a b").status == 1);
  CHECK(run_example("05_moe_weighting", "'" + tmp.file("no/such/dir/x.safetensors") + "'").status == 2);
}

TEST_CASE("example 08 fits a ridge head on ResNet-18 features; its correlations are the library's", "[examples]") {
  test::TempDir tmp;
  const std::string photo = write_scene(tmp, "photo.png", 192, 256, 41), saved = tmp.file("features.safetensors");
  const auto r = run_example("08_own_model", "'" + photo + "' --save '" + saved + "'");
  REQUIRE(r.status == 0);
  INFO(r.out);
  const io::WeightFile file = io::load_weights(saved);
  auto matrix = [&](const std::string& name) {
    const Tensor<float> t = file.to_float(file.at(name)).contiguous();
    return probe::MatrixXd(Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                               t.data(), t.size(0), t.size(1)).cast<double>());
  };
  const probe::MatrixXd x_train = matrix("train.x"), x_test = matrix("test.x");
  const probe::MatrixXd y_train_m = matrix("train.y"), y_test_m = matrix("test.y");
  const std::vector<double> y_train(y_train_m.data(), y_train_m.data() + y_train_m.size()),
      y_test(y_test_m.data(), y_test_m.data() + y_test_m.size());
  REQUIRE(x_train.rows() == 20);
  REQUIRE(x_test.rows() == 10);
  CHECK(x_train.cols() == 512);  // ResNet-18's pooled width
  const std::size_t at = r.out.find("ridge lambda ");
  REQUIRE(at != std::string::npos);
  const double lambda = std::stod(r.out.substr(at + 13));  // the penalty the example used
  const probe::LinearHead head = probe::fit_ridge(x_train, y_train, lambda);
  auto predictions = [&](const probe::MatrixXd& x) {
    const Eigen::VectorXd p = head.predict(x);
    return std::vector<double>(p.data(), p.data() + p.size());
  };
  const auto p_train = predictions(x_train), p_test = predictions(x_test);
  CHECK(value_after(r.out, "train SRCC") == Approx(metrics::srcc(p_train, y_train)).margin(1e-8));
  CHECK(value_after(r.out, "train PLCC") == Approx(metrics::plcc(p_train, y_train)).margin(1e-8));
  const double srcc = metrics::srcc(p_test, y_test);
  CHECK(value_after(r.out, "held-out SRCC") == Approx(srcc).margin(1e-8));
  CHECK(value_after(r.out, "held-out PLCC") == Approx(metrics::plcc(p_test, y_test)).margin(1e-8));
  // Deterministic (seeded weights, a fixed picture, deterministic blur): stronger blur removes more of
  // the fine texture random convolutions respond to, so held-out crops rank by level well above
  // chance (0). 0.5 leaves room for numerical differences between machines.
  CHECK(srcc > 0.5);
  CHECK(run_example("08_own_model", "").status == 1);
  CHECK(run_example("08_own_model", "'" + photo + "' --bogus x").status == 1);
  CHECK(run_example("08_own_model", "'" + tmp.file("missing.png") + "'").status == 2);
  CHECK(run_example("08_own_model", "'" + photo + "' --weights '" + test::data_path("io/reference.safetensors") + "'").status == 2);
}
