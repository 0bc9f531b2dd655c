#include <catch2/catch.hpp>

#include <cstdlib>

#include "support/helpers.hpp"

using namespace biqa;

namespace {
test::RunResult run_example(const std::string& name, const std::string& args) {
  return test::run_program(std::string(BIQA_BINARY_DIR) + "/examples/" + name, args);
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
