#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "biqa/version.hpp"

TEST_CASE("version.hpp matches the VERSION file", "[core]") {
  std::ifstream in(std::string(BIQA_SOURCE_DIR) + "/VERSION");
  std::string v;
  in >> v;
  REQUIRE(v == BIQA_VERSION_STRING);
  REQUIRE(v == std::to_string(BIQA_VERSION_MAJOR) + "." + std::to_string(BIQA_VERSION_MINOR) + "." +
                   std::to_string(BIQA_VERSION_PATCH));
}
