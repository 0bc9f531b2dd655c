#include <catch2/catch.hpp>

#include "biqa/io/json.hpp"
#include "support/helpers.hpp"

using namespace biqa;

TEST_CASE("json: parses and writes the documents biqa uses", "[io]") {
  const auto v = json::parse(R"({"a": [1, 2.5, -3e2, true, null], "s": "x\"\u00e9\ud83d\ude00\n", "o": {}})");
  REQUIRE(v["a"].as_array().size() == 5);
  REQUIRE(v["a"].as_array()[2].as_number() == -300.0);
  REQUIRE(v["a"].as_array()[3].as_bool());
  REQUIRE(v["a"].as_array()[4].is_null());
  REQUIRE(v["s"].as_string() == "x\"\xc3\xa9\xf0\x9f\x98\x80\n");
  REQUIRE(v["o"].as_object().empty());
  REQUIRE(v.find("missing") == nullptr);
  const auto back = json::parse(v.dump());
  REQUIRE(back["s"].as_string() == v["s"].as_string());
  REQUIRE(json::parse(v.dump(2))["a"].as_array()[1].as_number() == 2.5);
  // keys keep their order
  const auto o = json::parse(R"({"z": 1, "a": 2})");
  REQUIRE(o.as_object()[0].first == "z");
}

TEST_CASE("json: malformed documents give errors with the byte offset", "[io][bad-input]") {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"abc", "\"\\x\"", "tru",
                          "{\"a\":1}x", "\"\\ud800\"", "[\"\x01\"]", "-", "1e"}) {
    INFO(bad);
    REQUIRE_THROWS_AS(json::parse(bad), Error);
  }
  REQUIRE_THROWS_WITH(json::parse("[1, x]", "cfg.json"), Catch::Contains("cfg.json: invalid JSON at byte 4"));
  std::string deep(1000, '[');
  REQUIRE_THROWS_WITH(json::parse(deep), Catch::Contains("nesting too deep"));
  REQUIRE_THROWS_AS(json::parse("1.5").as_int(), Error);
  REQUIRE_THROWS_AS(json::parse("\"x\"").as_number(), Error);
}

TEST_CASE("json: numbers round-trip exactly", "[io]") {
  for (double d : {0.1, 1.0 / 3.0, 2.2250738585072014e-308, 123456789.125, -7e-12, 0.8931234567891234}) {
    REQUIRE(json::parse(json::Value(d).dump()).as_number() == d);
  }
  REQUIRE(json::Value(0.5).dump() == "0.5");
  REQUIRE(json::Value(3.0).dump() == "3");
  REQUIRE(biqa::cat("x=", 1.5e-7) == "x=1.5e-07");
}

TEST_CASE("json: parse_file reads a document; a missing or malformed file names its path", "[io][bad-input]") {
  biqa::test::TempDir tmp;
  const std::string good = (tmp.path() / "good.json").string(), bad = (tmp.path() / "bad.json").string();
  const std::string good_text = R"({"resnet50": 4.09, "list": [1, 2]})", bad_text = R"({"a": [1, })";
  io::write_file_bytes(good, good_text.data(), good_text.size());
  io::write_file_bytes(bad, bad_text.data(), bad_text.size());
  const auto v = json::parse_file(good);
  REQUIRE(v["resnet50"].as_number() == 4.09);
  REQUIRE(v["list"].as_array().size() == 2);
  REQUIRE_THROWS_WITH(json::parse_file(bad), Catch::Contains(bad + ": invalid JSON at byte"));
  const std::string missing = (tmp.path() / "missing.json").string();
  try {
    json::parse_file(missing);
    FAIL("no error for a missing file");
  } catch (const Error& e) {
    REQUIRE(e.code() == ErrorCode::io);
    REQUIRE_THAT(e.what(), Catch::Contains(missing + ": cannot open"));
  }
}
