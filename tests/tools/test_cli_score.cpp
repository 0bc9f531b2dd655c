// `biqa score`, `biqa list`, `biqa info` run as a user would.

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/models/registry.hpp"
#include "models/nss_test_images.hpp"

#ifdef BIQA_CLI_PATH
namespace {
struct Run {
  int status;
  std::string out;
};
Run run(const std::string& args) {
  const std::string cmd = std::string("\"") + BIQA_CLI_PATH + "\" " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}
}  // namespace

TEST_CASE("biqa score: table, json, folders, bad files", "[cli][brisque]") {
  try {
    (void)biqa::load_model("brisque");
  } catch (const biqa::Error& e) {
    WARN("SKIPPED: " << e.what());
    return;
  }
  const std::string dir = biqa::test::make_scratch_dir("cli_score");
  for (int i = 0; i < 3; ++i)
    biqa::io::write_image(dir + "/img" + std::to_string(i) + ".png",
                          biqa::test::synthetic_scene(96, 128, 70 + i));
  { std::FILE* f = std::fopen((dir + "/broken.png").c_str(), "wb"); std::fputs("not an image", f); std::fclose(f); }
  const double expected = biqa::load_model("brisque")->score(biqa::io::read_image(dir + "/img0.png"));

  const Run table = run("score \"" + dir + "/img0.png\"");
  CHECK(table.status == 0);
  const auto tab = table.out.find('\t');
  REQUIRE(tab != std::string::npos);
  CHECK(std::stod(table.out.substr(tab + 1)) == Approx(expected).margin(1e-3));

  const Run js = run("score --json --jobs 2 \"" + dir + "/img0.png\" \"" + dir + "/img1.png\"");
  CHECK(js.status == 0);
  const auto v = biqa::json::parse(js.out);
  REQUIRE(v.as_array().size() == 2);
  CHECK(v.as_array()[0]["model"].as_string() == "brisque");
  CHECK(v.as_array()[0]["lower_is_better"].as_bool());
  CHECK(v.as_array()[0]["score"].as_number() == Approx(expected).margin(1e-6));

  // A folder with one unreadable file: the others are scored, the exit status says 2.
  const Run folder = run("score --format csv \"" + dir + "\"");
  CHECK(folder.status == 2);
  CHECK(folder.out.find("img2.png") != std::string::npos);
  CHECK(folder.out.find("broken.png") == std::string::npos);

  CHECK(run("score --model nosuchmodel \"" + dir + "/img0.png\"").status == 1);
  CHECK(run("list").out.find("brisque") != std::string::npos);
  const auto card = biqa::json::parse(run("info brisque --json").out);
  CHECK(card["lower_is_better"].as_bool());
  CHECK_FALSE(card["bounded"].as_bool());
  std::filesystem::remove_all(dir);
}
#endif
