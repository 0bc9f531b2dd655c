#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "biqa/distortions.hpp"
#include "biqa/io/image.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/models/registry.hpp"
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
