// `biqa bench` run as a user would: its JSON report, the score it times, and bad arguments.

#include <catch2/catch.hpp>

#include <string>

#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/models/registry.hpp"
#include "models/nss_test_images.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;

namespace {
json::Value bench_json(const std::string& args) {
  const auto r = test::run_cli("bench --json " + args);
  INFO(r.out);
  REQUIRE(r.status == 0);
  return json::parse(r.out);
}

// The timings are consistent with each other and with the number of runs asked for.
void check_timings(const json::Value& j, std::size_t runs) {
  const auto& all = j["runs_ms"].as_array();
  REQUIRE(all.size() == runs);
  double lo = 1e300, hi = 0;
  for (const auto& t : all) {
    CHECK(t.as_number() > 0);
    lo = std::min(lo, t.as_number());
    hi = std::max(hi, t.as_number());
  }
  CHECK(j["min_ms"].as_number() == lo);
  CHECK(j["max_ms"].as_number() == hi);
  CHECK(j["median_ms"].as_number() >= lo);
  CHECK(j["median_ms"].as_number() <= hi);
  CHECK(j["load_ms"].as_number() > 0);
  CHECK(j["first_ms"].as_number() > 0);
  CHECK(j["peak_resident_mb"].as_number() > 1);
}
}  // namespace

TEST_CASE("biqa bench: BRISQUE on a file and on the synthetic picture", "[cli][bench][brisque]") {
  try {
    (void)load_model("brisque");
  } catch (const Error& e) {
    WARN("SKIPPED: " << e.what());
    return;
  }
  test::TempDir dir;
  const std::string png = dir.file("scene.png");
  io::write_image(png, test::synthetic_scene(96, 128, 5));
  const double expected = load_model("brisque")->score(io::read_image(png));

  const auto j = bench_json("--runs 3 --warmup 0 --threads 2 '" + png + "'");
  CHECK(j["model"].as_string() == "brisque");
  CHECK(j["image"].as_string() == png);
  CHECK(j["width"].as_number() == 128);
  CHECK(j["height"].as_number() == 96);
  CHECK(j["threads"].as_number() == 2);
  CHECK(j["weight_packing"].as_string() == "auto");
  CHECK(j["score"].as_number() == Approx(expected).margin(1e-6));
  check_timings(j, 3);

  const auto s = bench_json("--runs 2 --size 80x64");
  CHECK(s["image"].as_string() == "synthetic");
  CHECK(s["width"].as_number() == 80);
  CHECK(s["height"].as_number() == 64);
  CHECK(std::isfinite(s["score"].as_number()));
  check_timings(s, 2);

  const auto table = test::run_cli("bench --runs 2 --size 64x64");
  INFO(table.out);
  CHECK(table.status == 0);
  CHECK_THAT(table.out, Catch::Contains("median of 2") && Catch::Contains("peak memory") &&
                            Catch::Contains("synthetic (64x64)"));
}

TEST_CASE("biqa bench: a network model with packed weights scores as biqa score does", "[cli][bench][dsmix]") {
  test::TempDir dir;
  const std::string png = dir.file("pic.png");
  io::write_image(png, test::synthetic_scene(48, 40, 2));
  const std::string weights = test::fixture_path("models/dsmix/dsmix_mlp.pth");
  LoadOptions o;
  o.weights = weights;
  o.settings = {{"crop_size", "32"}};
  const double expected = load_model("dsmix", o)->score(io::read_image(png));
  const auto j = bench_json("-m dsmix --weights '" + weights + "' --set crop_size=32 --pack-weights --threads 2 "
                            "--runs 2 '" + png + "'");
  CHECK(j["model"].as_string() == "dsmix");
  CHECK(j["weight_packing"].as_string() == "always");
  CHECK(j["score"].as_number() == Approx(expected).epsilon(1e-5));
  check_timings(j, 2);
}

TEST_CASE("biqa bench: bad arguments are usage errors, unreadable images input errors", "[cli][bench]") {
  for (const char* bad : {"--runs 0", "--warmup -1", "--size 10x", "--size 64x", "--size x64", "--size 20000x64",
                          "--threads x", "a.png b.png", "-m no_such_model", "--bogus"}) {
    const auto r = test::run_cli(std::string("bench ") + bad);
    INFO(bad << ": " << r.out);
    CHECK(r.status == 1);
  }
  const auto r = test::run_cli("bench /nonexistent/picture.png");
  INFO(r.out);
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("picture.png"));
}
