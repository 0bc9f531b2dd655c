#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <string>

#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/metrics/bootstrap.hpp"
#include "biqa/metrics/evaluation.hpp"
#include "metrics/fixtures.hpp"
#include "support/helpers.hpp"

using namespace biqa;

namespace {

void write_text(const std::string& path, const std::string& text) { io::write_file_bytes(path, text.data(), text.size()); }

std::string one_per_line(const std::vector<double>& v) {
  std::string s;
  char buf[40];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, "%.17g\n", x);
    s += buf;
  }
  return s;
}

std::string q(const std::string& path) { return "'" + path + "'"; }

}  // namespace

TEST_CASE("cli: biqa metrics --json agrees with scipy and the library", "[tools][metrics]") {
  const auto f = test::load_metric_fixture("n1000");
  test::TempDir dir;
  write_text(dir.file("pred.txt"), one_per_line(f.x));
  std::string mos(1, '\n');  // blank lines are fine
  mos += one_per_line(f.y);
  mos += "\n\n";
  write_text(dir.file("mos.txt"), mos);
  const auto r = test::run_cli("metrics --pred " + q(dir.file("pred.txt")) + " --target " + q(dir.file("mos.txt")) + " --json");
  REQUIRE(r.status == 0);
  const auto v = json::parse(r.out);
  CHECK(v["n"].as_int() == 1000);
  // The JSON writer keeps 9 significant digits.
  for (const char* key : {"srcc", "plcc", "krcc", "rmse"}) {
    INFO(key);
    CHECK(v[key].as_number() == Approx(f.ref[key].as_number()).epsilon(2e-9));
  }
  const auto fit = metrics::fit_logistic(f.x, f.y);
  CHECK(v["plcc_logistic"].as_number() == Approx(fit.plcc).epsilon(2e-9));
  CHECK(v["rmse_logistic"].as_number() == Approx(fit.rmse).epsilon(2e-9));
  CHECK(v["plcc_logistic"].as_number() == Approx(f.ref["logistic5"]["plcc"].as_number()).epsilon(1e-6));
  CHECK(v.as_object().size() == 7);

  const auto text = test::run_cli("metrics --pred " + q(dir.file("pred.txt")) + " --target " + q(dir.file("mos.txt")));
  REQUIRE(text.status == 0);
  CHECK_THAT(text.out, Catch::Contains("SRCC") && Catch::Contains("PLCC (logistic)") && Catch::Contains("n                1000"));
}

TEST_CASE("cli: biqa metrics reads CSV columns by name or index", "[tools][metrics]") {
  const auto f = test::load_metric_fixture("negative");
  test::TempDir dir;
  std::string csv = "image,\"score, predicted\",mos\r\n";
  for (std::size_t i = 0; i < f.x.size(); ++i) {
    char buf[120];
    std::snprintf(buf, sizeof buf, "img%zu.png,%.17g,%.17g\r\n", i, f.x[i], f.y[i]);
    csv += buf;
  }
  write_text(dir.file("scores.csv"), csv);
  const auto base = "metrics --json --pred " + q(dir.file("scores.csv")) + " --target " + q(dir.file("scores.csv"));
  const auto by_name = test::run_cli(base + " --pred-col 'score, predicted' --target-col mos --logistic 4");
  REQUIRE(by_name.status == 0);
  const auto by_index = test::run_cli(base + " --pred-col 1 --target-col 2 --logistic 4");
  REQUIRE(by_index.status == 0);
  const auto a = json::parse(by_name.out), b = json::parse(by_index.out);
  CHECK(a["n"].as_int() == 60);
  CHECK(a["srcc"].as_number() == Approx(f.ref["srcc"].as_number()).epsilon(2e-9));
  CHECK(a["plcc_logistic"].as_number() == Approx(f.ref["logistic4"]["plcc"].as_number()).epsilon(1e-6));
  CHECK(a["krcc"].as_number() == b["krcc"].as_number());
  CHECK(a["plcc_logistic"].as_number() == b["plcc_logistic"].as_number());
  // --col sets both files' column: the same column twice gives perfect agreement.
  const auto same = test::run_cli(base + " --col mos");
  REQUIRE(same.status == 0);
  CHECK(json::parse(same.out)["srcc"].as_number() == Approx(1.0).margin(1e-12));
}

TEST_CASE("cli: biqa metrics with 3 or 4 pairs reports no logistic fit", "[tools][metrics]") {
  test::TempDir dir;
  write_text(dir.file("p.txt"), "0.2\n0.5\n0.9");  // no trailing newline
  write_text(dir.file("t.txt"), "2.1\n3.5\n3.2\n");
  const auto r = test::run_cli("metrics --json --pred " + q(dir.file("p.txt")) + " --target " + q(dir.file("t.txt")));
  REQUIRE(r.status == 0);
  const auto v = json::parse(r.out);
  CHECK(v["plcc_logistic"].is_null());
  CHECK(v["rmse_logistic"].is_null());
  const auto f = test::load_metric_fixture("n3");
  CHECK(v["krcc"].as_number() == Approx(f.ref["krcc"].as_number()).epsilon(2e-9));
  const auto text = test::run_cli("metrics --pred " + q(dir.file("p.txt")) + " --target " + q(dir.file("t.txt")));
  CHECK_THAT(text.out, Catch::Contains("n/a (the 5-parameter logistic needs at least 5 pairs, got 3)"));
}

TEST_CASE("cli: biqa metrics bad input is a one-line error with exit status 1", "[tools][metrics][bad-input]") {
  test::TempDir dir;
  write_text(dir.file("p.txt"), "1\n2\n3\n4\n");
  write_text(dir.file("t3.txt"), "1\n2\n3\n");
  write_text(dir.file("nan.txt"), "1\n2\nnan\n4\n");
  write_text(dir.file("bad.txt"), "1\n2\n\n3.5x\n4\n");
  write_text(dir.file("flat.txt"), "5\n5\n5\n5\n");
  write_text(dir.file("two.txt"), "1\n2\n");
  write_text(dir.file("csv.txt"), "1,2\n3,4\n5,6\n7,8\n");
  auto run = [&](const std::string& pred, const std::string& target, const std::string& extra = "") {
    return test::run_cli("metrics --pred " + q(dir.file(pred)) + " --target " + q(dir.file(target)) + " " + extra);
  };
  struct Expect {
    test::RunResult r;
    const char* says;
  };
  const Expect cases[] = {
      {run("p.txt", "t3.txt"), "has 4 scores but"},
      {run("p.txt", "nan.txt"), "nan.txt:3: nan is not a finite score"},
      {run("bad.txt", "p.txt"), "bad.txt:4: cannot read '3.5x' as a number"},
      {run("p.txt", "flat.txt"), "target is constant"},
      {run("two.txt", "two.txt"), "at least 3 pairs, got 2"},
      {run("csv.txt", "p.txt"), "(a CSV file? use --col)"},
      {run("csv.txt", "p.txt", "--col 5"), "csv.txt:1: has 2 columns, no column 5"},
      {run("csv.txt", "p.txt", "--col mos"), "no column named 'mos'"},
      {run("p.txt", "p.txt", "--logistic 3"), "--logistic expects 5, 4 or none"},
      {test::run_cli("metrics --pred " + q(dir.file("p.txt"))), "--pred FILE and --target FILE are required"},
  };
  for (const auto& c : cases) {
    INFO(c.r.out);
    CHECK(c.r.status == 1);
    CHECK_THAT(c.r.out, Catch::Contains(c.says));
    CHECK(std::count(c.r.out.begin(), c.r.out.end(), '\n') == 1);
  }
  const auto missing = run("nope.txt", "p.txt");
  CHECK(missing.status == 2);  // an unreadable file is an input error, as elsewhere in the tool
  CHECK_THAT(missing.out, Catch::Contains("cannot open"));
}

TEST_CASE("cli: biqa metrics --bootstrap gives the library's seeded intervals", "[tools][metrics]") {
  const auto f = test::load_metric_fixture("negative");
  test::TempDir dir;
  write_text(dir.file("p.txt"), one_per_line(f.x));
  write_text(dir.file("t.txt"), one_per_line(f.y));
  const auto r = test::run_cli("metrics --pred " + q(dir.file("p.txt")) + " --target " + q(dir.file("t.txt")) +
                               " --json --bootstrap 300 --seed 11");
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto v = json::parse(r.out);
  metrics::BootstrapOptions o;
  o.resamples = 300;
  o.seed = 11;
  for (auto m : {metrics::Metric::srcc, metrics::Metric::krcc, metrics::Metric::plcc_logistic}) {
    INFO(metrics::to_string(m));
    const auto ci = metrics::bootstrap(f.x, f.y, m, o);
    CHECK(v["ci"][metrics::to_string(m)].as_array()[0].as_number() == Approx(ci.lower).epsilon(2e-9));
    CHECK(v["ci"][metrics::to_string(m)].as_array()[1].as_number() == Approx(ci.upper).epsilon(2e-9));
  }
  CHECK(test::run_cli("metrics --pred " + q(dir.file("p.txt")) + " --target " + q(dir.file("t.txt")) + " --bootstrap 1").status == 1);
}
