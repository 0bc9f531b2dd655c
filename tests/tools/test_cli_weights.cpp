#include <catch2/catch.hpp>

#include "biqa/io/json.hpp"
#include "biqa/io/safetensors.hpp"
#include "support/helpers.hpp"

using namespace biqa;

TEST_CASE("cli: biqa inspect --json lists tensors as safetensors spells them", "[tools]") {
  const auto r = test::run_cli("inspect --json '" + test::data_path("io/reference.safetensors") + "'");
  REQUIRE(r.status == 0);
  const auto v = json::parse(r.out);
  REQUIRE(v["format"].as_string() == "safetensors");
  REQUIRE(v["metadata"]["note"].as_string() == "fixture");
  const auto& tensors = v["tensors"].as_array();
  REQUIRE(tensors.size() == 10);
  bool saw_bf16 = false;
  for (const auto& t : tensors) {
    if (t["name"].as_string() == "bf16") {
      saw_bf16 = true;
      REQUIRE(t["dtype"].as_string() == "BF16");
      REQUIRE(t["shape"].as_array()[0].as_int() == 7);
    }
  }
  REQUIRE(saw_bf16);
  const auto plain = test::run_cli("inspect '" + test::data_path("io/reference.safetensors") + "'");
  REQUIRE(plain.status == 0);
  REQUIRE_THAT(plain.out, Catch::Contains("f16  F16 [2, 5]"));
}

TEST_CASE("cli: biqa convert rewrites every tensor exactly", "[tools]") {
  test::TempDir dir;
  const auto in = test::data_path("io/reference.safetensors");
  const auto r = test::run_cli("convert '" + in + "' '" + dir.file("out.safetensors") + "'");
  REQUIRE(r.status == 0);
  const auto a = io::read_safetensors(in);
  const auto b = io::read_safetensors(dir.file("out.safetensors"));
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (const auto& t : a.tensors) {
    const auto& u = b.at(t.name);
    REQUIRE(u.dtype == t.dtype);
    REQUIRE(u.shape == t.shape);
    REQUIRE(std::memcmp(u.data, t.data, t.nbytes()) == 0);
  }
}

TEST_CASE("cli: bad input gives a one-line error and exit status 1-3", "[tools][bad-input]") {
  test::TempDir dir;
  io::write_file_bytes(dir.file("broken.safetensors"), "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":", 13);
  auto r = test::run_cli("inspect '" + dir.file("broken.safetensors") + "'");
  REQUIRE(r.status == 2);
  REQUIRE_THAT(r.out, Catch::Contains("broken.safetensors"));
  REQUIRE(std::count(r.out.begin(), r.out.end(), '\n') == 1);

  r = test::run_cli("inspect /nonexistent/file.safetensors");
  REQUIRE(r.status == 2);
  REQUIRE_THAT(r.out, Catch::Contains("cannot open"));

  r = test::run_cli("inspect");
  REQUIRE(r.status == 1);
  r = test::run_cli("inspect --bogus x");
  REQUIRE(r.status == 1);
  REQUIRE_THAT(r.out, Catch::Contains("unknown option '--bogus'"));
  r = test::run_cli("no-such-command");
  REQUIRE(r.status == 1);
  r = test::run_cli("--help");
  REQUIRE(r.status == 0);
  REQUIRE_THAT(r.out, Catch::Contains("inspect"));
  r = test::run_cli("convert --help");
  REQUIRE(r.status == 0);
  REQUIRE_THAT(r.out, Catch::Contains("Usage: biqa convert"));
}
