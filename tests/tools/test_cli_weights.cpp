#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

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

TEST_CASE("cli: biqa convert --dtype rounds the floating-point tensors only", "[tools]") {
  test::TempDir dir;
  const auto in = test::data_path("io/reference.safetensors");
  for (const char* name : {"f16", "bf16"}) {
    const DType to = std::string(name) == "f16" ? DType::f16 : DType::bf16;
    const auto out = dir.file(std::string(name) + ".safetensors");
    const auto r = test::run_cli(std::string("convert --dtype ") + name + " '" + in + "' '" + out + "'");
    REQUIRE(r.status == 0);
    const auto a = io::read_safetensors(in);
    const auto b = io::read_safetensors(out);
    REQUIRE(a.tensors.size() == b.tensors.size());
    for (const auto& t : a.tensors) {
      const auto& u = b.at(t.name);
      REQUIRE(u.shape == t.shape);
      const bool floating = t.dtype == DType::f32 || t.dtype == DType::f64 || t.dtype == DType::f16 || t.dtype == DType::bf16;
      if (!floating) {  // integers and booleans are copied as they are
        REQUIRE(u.dtype == t.dtype);
        REQUIRE(std::memcmp(u.data, t.data, t.nbytes()) == 0);
        continue;
      }
      REQUIRE(u.dtype == to);
      const Tensor<float> x = a.to_float(t).contiguous(), y = b.to_float(u);
      for (std::int64_t i = 0; i < x.numel(); ++i) {
        const float v = x.data()[i];
        const float rounded = to == DType::f16 ? half::to_float(half::from_float(v)) : bfloat16::to_float(bfloat16::from_float(v));
        if (std::isnan(v)) CHECK(std::isnan(y.data()[i]));
        else CHECK(y.data()[i] == rounded);
      }
    }
  }
  const auto bad = test::run_cli("convert --dtype i8 '" + in + "' '" + dir.file("x.safetensors") + "'");
  CHECK(bad.status == 1);
  CHECK_THAT(bad.out, Catch::Contains("--dtype expects f32, f16 or bf16, got 'i8'"));
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
