// biqa distort: list, single image, data set generation (threads, resume, labels).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "biqa/io/mapped_file.hpp"
#include "support/helpers.hpp"

using biqa::test::data_path;
using biqa::test::run_cli;
using biqa::test::TempDir;

namespace {
std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("biqa distort: list and one image", "[distortions][cli]") {
#ifdef BIQA_CLI_PATH
  const auto list = run_cli("distort --list");
  REQUIRE(list.status == 0);
  CHECK(std::count(list.out.begin(), list.out.end(), '\n') == 25);
  CHECK(list.out.rfind("gaussian_blur\nlens_blur\n", 0) == 0);

  TempDir dir;
  const std::string in = data_path("distortions/input.png");
  const auto a = run_cli("distort --type white_noise --level 3 --seed 5 '" + in + "' '" + dir.file("a.png") + "'");
  REQUIRE(a.status == 0);
  REQUIRE(run_cli("distort --type white_noise --level 3 --seed 5 '" + in + "' '" + dir.file("b.png") + "'").status == 0);
  REQUIRE(run_cli("distort --type white_noise --level 3 --seed 6 '" + in + "' '" + dir.file("c.png") + "'").status == 0);
  CHECK(slurp(dir.file("a.png")) == slurp(dir.file("b.png")));
  CHECK(slurp(dir.file("a.png")) != slurp(dir.file("c.png")));
  CHECK(run_cli("distort --type nope --level 3 '" + in + "' '" + dir.file("d.png") + "'").status == 1);
  CHECK(run_cli("distort --type jpeg --level 9 '" + in + "' '" + dir.file("d.png") + "'").status == 1);
#endif
}

TEST_CASE("biqa distort --make-dataset: every type x level, thread-independent, resumable", "[distortions][cli]") {
#ifdef BIQA_CLI_PATH
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "refs");
  std::filesystem::copy_file(data_path("distortions/input.png"), dir.path() / "refs" / "I01.png");
  const std::string refs = (dir.path() / "refs").string();
  const auto r1 = run_cli("distort --make-dataset --refs '" + refs + "' --out '" + dir.file("o1") + "' --seed 3 --jobs 1");
  REQUIRE(r1.status == 0);
  const auto r2 = run_cli("distort --make-dataset --refs '" + refs + "' --out '" + dir.file("o2") + "' --seed 3 --jobs 2");
  REQUIRE(r2.status == 0);
  const std::string csv = slurp(dir.file("o1/labels.csv"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 126);
  CHECK(csv.find("I01_10_05.png,I01.png,10,jpeg,5,") != std::string::npos);
  CHECK(csv == slurp(dir.file("o2/labels.csv")));
  for (const char* f : {"I01_01_01.png", "I01_15_05.png", "I01_23_03.png", "I01_25_05.png"})
    CHECK(slurp(dir.file(std::string("o1/") + f)) == slurp(dir.file(std::string("o2/") + f)));

  // Resume: a truncated file is redone, the others are kept.
  { std::ofstream(dir.file("o1/I01_05_02.png"), std::ios::trunc) << "x"; }
  const auto r3 = run_cli("distort --make-dataset --refs '" + refs + "' --out '" + dir.file("o1") + "' --seed 3");
  REQUIRE(r3.status == 0);
  CHECK(r3.out.find("(124 already there)") != std::string::npos);
  CHECK(slurp(dir.file("o1/I01_05_02.png")) == slurp(dir.file("o2/I01_05_02.png")));

  const auto m = run_cli("distort --make-dataset --recipe multi --per-ref 3 --refs '" + refs + "' --out '" + dir.file("m") + "' --seed 1");
  REQUIRE(m.status == 0);
  const std::string mcsv = slurp(dir.file("m/labels.csv"));
  CHECK(std::count(mcsv.begin(), mcsv.end(), '\n') == 4);
  CHECK(std::filesystem::exists(dir.file("m/I01_m002.png")));
#endif
}
