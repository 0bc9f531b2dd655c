// The opencv-storage YAML subset reader.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "biqa/io/opencv_yaml.hpp"

using biqa::io::yaml::parse;

TEST_CASE("opencv yaml: mappings, flow and block sequences, tags", "[yaml][io]") {
  const char* text =
      "%YAML:1.0\n"
      "---\n"
      "opencv_ml_svm:\n"
      "   format: 3\n"
      "   svmType: EPS_SVR\n"
      "   kernel:\n"
      "      type: RBF\n"
      "      gamma: 5.0000000000000003e-02\n"
      "   term_criteria: { epsilon:1.0e-03, iterations:10 }\n"
      "   support_vectors:\n"
      "      - [ 1., -2.5e-01,\n"
      "          3 ]\n"
      "      - [ 4, 5, 6 ]\n"
      "   decision_functions:\n"
      "      -\n"
      "         sv_count: 2\n"
      "         alpha: [ -1024., 1024. ]\n"
      "m: !!opencv-matrix\n"
      "   rows: 2\n"
      "   cols: 2\n"
      "   dt: f\n"
      "   data: [ 1, 2, 3, 4 ]\n";
  const auto root = parse(text, "t.yml");
  const auto& svm = root.at("opencv_ml_svm");
  CHECK(svm.at("format").as_int() == 3);
  CHECK(svm.at("svmType").text() == "EPS_SVR");
  CHECK(svm.at("kernel").at("gamma").as_double() == Approx(0.05));
  CHECK(svm.at("term_criteria").at("iterations").as_int() == 10);
  CHECK(svm.at("term_criteria").at("epsilon").as_double() == Approx(1e-3));
  const auto& sv = svm.at("support_vectors");
  REQUIRE(sv.size() == 2);
  CHECK(sv[0].as_doubles() == std::vector<double>{1, -0.25, 3});
  CHECK(sv[1].as_doubles() == std::vector<double>{4, 5, 6});
  const auto& df = svm.at("decision_functions")[0];
  CHECK(df.at("sv_count").as_int() == 2);
  CHECK(df.at("alpha").as_doubles() == std::vector<double>{-1024, 1024});
  CHECK(root.at("m").tag() == "!!opencv-matrix");
  const auto m = biqa::io::yaml::to_matrix(root.at("m"));
  CHECK(m.rows == 2);
  CHECK(m(1, 0) == 3);
}

TEST_CASE("opencv yaml: malformed input gives readable errors", "[yaml][io]") {
  CHECK_THROWS_WITH(parse("a: [ 1, 2\n", "x.yml"), Catch::Contains("x.yml") && Catch::Contains("unterminated"));
  CHECK_THROWS_WITH(parse("a: 1\na: 2\n", "x.yml"), Catch::Contains("duplicate key"));
  CHECK_THROWS_WITH(parse("a: 1\n  b: 2\n", "x.yml"), Catch::Contains("indentation"));
  CHECK_THROWS_WITH(parse("just text\n", "x.yml"), Catch::Contains("key: value"));
  CHECK_THROWS_WITH(parse("", "x.yml"), Catch::Contains("empty"));
  CHECK_THROWS_WITH(parse("a: [ 1, , 2 ]\n", "x.yml"), Catch::Contains("empty item"));
  CHECK_THROWS_WITH(parse("a: xyz\n").at("a").as_double(), Catch::Contains("not a number"));
  CHECK_THROWS_WITH(parse("a: 1\n").at("b"), Catch::Contains("missing key 'b'"));
  CHECK_THROWS_WITH(biqa::io::yaml::to_matrix(parse("m:\n  rows: 2\n  cols: 2\n  data: [1]\n").at("m")),
                    Catch::Contains("expected 4"));
  // Deep nesting is refused, not a stack overflow.
  std::string deep = "a: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  CHECK_THROWS_WITH(parse(deep), Catch::Contains("too deep"));
}

TEST_CASE("opencv yaml: truncations of a valid file never crash", "[yaml][io]") {
  const std::string text =
      "%YAML:1.0\n---\nk:\n   a: [ 1., 2.,\n      3. ]\n   b:\n      -\n         c: { x:1 }\n"
      "   d: !!opencv-matrix\n      rows: 1\n";
  for (std::size_t n = 0; n <= text.size(); ++n) {
    try {
      (void)parse(std::string_view(text).substr(0, n));
    } catch (const biqa::Error&) {
    }
  }
  SUCCEED();
}

TEST_CASE("opencv yaml: reads the installed BRISQUE files", "[yaml][io][brisque]") {
  const std::string p = "/usr/share/opencv4/quality/brisque_model_live.yml";
  if (!std::filesystem::exists(p)) {
    WARN("SKIPPED: " << p << " absent (opencv-data not installed)");
    return;
  }
  const auto root = biqa::io::yaml::read_file(p);
  const auto& svm = root.at("opencv_ml_svm");
  CHECK(svm.at("support_vectors").size() == static_cast<std::size_t>(svm.at("sv_total").as_int()));
}
