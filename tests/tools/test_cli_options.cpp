#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "biqa/io/image.hpp"
#include "biqa/io/mapped_file.hpp"
#include "support/helpers.hpp"

// Option values that do not parse are usage errors (exit 1) that name the option, never an
// "internal error" from a stray std::stod; a bad input file is an input error (exit 2).

TEST_CASE("cli: malformed numbers are usage errors naming the option", "[tools]") {
  const auto niqe = biqa::test::run_cli("fit-niqe --sharpness abc a.png out.safetensors");
  CHECK(niqe.status == 1);
  CHECK_THAT(niqe.out, Catch::Contains("--sharpness expects a number, got 'abc'"));

  const auto inf = biqa::test::run_cli("fit-niqe --sharpness inf a.png out.safetensors");
  CHECK(inf.status == 1);

  const auto seed = biqa::test::run_cli("eval --task distortion-id --seed -3 a.png");
  CHECK(seed.status == 1);
  CHECK_THAT(seed.out, Catch::Contains("--seed expects a non-negative integer, got '-3'"));

  const auto level = biqa::test::run_cli("distort --type jpeg --level abc in.png out.png");
  CHECK(level.status == 1);
  CHECK_THAT(level.out, Catch::Contains("--level expects a number, got 'abc'"));
  const auto no_level = biqa::test::run_cli("distort --type jpeg in.png out.png");
  CHECK(no_level.status == 1);
  CHECK_THAT(no_level.out, Catch::Contains("distort needs --type NAME --level L IN OUT"));
  const auto distort_seed = biqa::test::run_cli("distort --type jpeg --level 3 --seed x in.png out.png");
  CHECK(distort_seed.status == 1);
  CHECK_THAT(distort_seed.out, Catch::Contains("--seed expects a non-negative integer, got 'x'"));

  const auto jobs = biqa::test::run_cli("score --jobs 99999999999 a.png");
  CHECK(jobs.status == 1);
  CHECK_THAT(jobs.out, Catch::Contains("--jobs expects an integer"));

  const auto packing = biqa::test::run_cli("score --weight-packing sometimes a.png");
  CHECK(packing.status == 1);
  CHECK_THAT(packing.out, Catch::Contains("unknown weight packing 'sometimes' (auto, always or never)"));
  const auto both = biqa::test::run_cli("bench --pack-weights --weight-packing never");
  CHECK(both.status == 1);
  CHECK_THAT(both.out, Catch::Contains("--pack-weights contradicts --weight-packing never"));

  const auto precision = biqa::test::run_cli("score --precision fp8 a.png");
  CHECK(precision.status == 1);
  CHECK_THAT(precision.out, Catch::Contains("unknown precision 'fp8' (fp32, tf32, fp16 or bf16)"));
  const auto on_cpu = biqa::test::run_cli("bench --precision fp16");
  CHECK(on_cpu.status == 1);
  CHECK_THAT(on_cpu.out, Catch::Contains("--precision fp16 needs --device cuda (the CPU computes in float32)"));
  const auto tf32_on_cpu = biqa::test::run_cli("score --tf32 a.png");
  CHECK(tf32_on_cpu.status == 1);
  CHECK_THAT(tf32_on_cpu.out, Catch::Contains("--precision tf32 needs --device cuda"));
  const auto contradiction = biqa::test::run_cli("bench --device cuda --tf32 --precision bf16");
  CHECK(contradiction.status == 1);
  CHECK_THAT(contradiction.out, Catch::Contains("--tf32 contradicts --precision bf16"));
}

TEST_CASE("cli: an error names its command once", "[tools]") {
  const auto r = biqa::test::run_cli("fit-niqe only-one-argument");
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::StartsWith("biqa fit-niqe: expected"));
  CHECK_THAT(r.out, !Catch::Contains("fit-niqe: fit-niqe"));
}

TEST_CASE("cli: distort --make-dataset reports an unreadable reference as bad input", "[tools][distortions]") {
  biqa::test::TempDir dir;
  const std::string refs = dir.file("refs"), out = dir.file("out");
  std::filesystem::create_directories(refs);
  const std::string garbage = "this is not a PNG";
  biqa::io::write_file_bytes(refs + "/broken.png", garbage.data(), garbage.size());
  const auto r = biqa::test::run_cli("distort --make-dataset --refs '" + refs + "' --out '" + out + "'");
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("broken.png"));
  CHECK_THAT(r.out, !Catch::Contains("internal error"));
  CHECK_THAT(r.out, !Catch::Contains("ETA"));  // stderr is a pipe here: no progress bar
}

TEST_CASE("cli: the short option aliases are in the help", "[tools]") {
  CHECK_THAT(biqa::test::run_cli("score --help").out, Catch::Contains("-j, --jobs") && Catch::Contains("-q, --quiet"));
  CHECK_THAT(biqa::test::run_cli("eval --help").out, Catch::Contains("-j, --threads") && Catch::Contains("-m|--model"));
  CHECK_THAT(biqa::test::run_cli("infer --help").out, Catch::Contains("-w|--weights") && Catch::Contains("-o|--output"));
  CHECK_THAT(biqa::test::run_cli("depth --help").out, Catch::Contains("-w|--weights"));
}

TEST_CASE("cli: docs/cli.md documents every command that biqa --help lists", "[tools][docs]") {
  const auto help = biqa::test::run_cli("--help");
  REQUIRE(help.status == 0);
  std::ifstream in(std::string(BIQA_SOURCE_DIR) + "/docs/cli.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command lines of the help text: two spaces, the name, then its summary.
  std::istringstream lines(help.out.substr(help.out.find("Commands:")));
  std::string line;
  int commands = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("  ", 0) != 0 || line.size() < 3 || line[2] == ' ') continue;
    const std::string name = line.substr(2, line.find(' ', 2) - 2);
    ++commands;
    INFO("command " << name);
    CHECK_THAT(doc, Catch::Contains("\n## " + name + "\n"));
    CHECK_THAT(doc, Catch::Contains("| [`" + name + "`](#" + name + ") |"));
  }
  CHECK(commands >= 15);
}
