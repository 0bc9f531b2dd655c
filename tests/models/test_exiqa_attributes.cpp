#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "biqa/distortions/registry.hpp"
#include "biqa/models/exiqa_attributes.hpp"
#include "support/helpers.hpp"

using biqa::models::ExiqaAttributes;

namespace {

// Lower-case content words of an attribute (punctuation and hyphens split words).
std::set<std::string> content_words(const std::string& text) {
  static const std::set<std::string> stop = {"a", "an", "the", "of", "and", "with", "in", "on", "to", "that",
                                             "than", "as", "or", "no", "it", "its", "into", "is", "are", "over",
                                             "along", "after", "all", "like", "one", "other", "from", "at"};
  std::set<std::string> out;
  std::string w;
  for (char c : text + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      if (!w.empty() && !stop.count(w)) out.insert(w);
      w.clear();
    }
  }
  return out;
}

}  // namespace

TEST_CASE("ExIQA builtin attributes: 5 per KADID-10k distortion, in the registry's order", "[models][exiqa]") {
  const ExiqaAttributes& a = ExiqaAttributes::builtin();
  REQUIRE(a.num_distortions() == 25);
  REQUIRE(a.per_distortion() == 5);
  CHECK(a.num_attributes() == 125);
  const auto& table = biqa::distortions::distortion_table();
  for (std::size_t d = 0; d < 25; ++d) CHECK(a.distortions[d] == table[d].name);
  CHECK(a.positive_prompts().size() == 125);
  CHECK(a.positive_prompts()[0] == "There is " + a.attributes[0][0] + " in the photo.");
  CHECK(a.negative_prompts()[7] == "There is not " + a.attribute(7) + " in the photo.");
  CHECK(a.attribute(7) == a.attributes[1][2]);
}

TEST_CASE("ExIQA builtin attributes are distinct across distortions", "[models][exiqa]") {
  const ExiqaAttributes& a = ExiqaAttributes::builtin();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < a.num_attributes(); ++i) {
    std::string lower = a.attribute(i);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    CHECK(seen.insert(lower).second);
    // A noun phrase that completes "There is <a> in the photo.": no sentence punctuation at the end.
    CHECK(lower.back() != '.');
  }
  // Word overlap (Jaccard of content words) between attributes of different distortions stays
  // below 0.5: no two distortions are told apart only by a word or two.
  double worst = 0;
  std::string pair;
  for (std::size_t i = 0; i < a.num_attributes(); ++i)
    for (std::size_t j = i + 1; j < a.num_attributes(); ++j) {
      if (i / 5 == j / 5) continue;
      const auto x = content_words(a.attribute(i)), y = content_words(a.attribute(j));
      std::size_t common = 0;
      for (const auto& w : x) common += y.count(w);
      const double jac = double(common) / double(x.size() + y.size() - common);
      if (jac > worst) worst = jac, pair = a.attribute(i) + " | " + a.attribute(j);
    }
  INFO("most similar pair: " << pair);
  CHECK(worst < 0.5);
}

TEST_CASE("ExIQA builtin attributes equal the data file", "[models][exiqa]") {
  const std::string path = std::string(BIQA_SOURCE_DIR) + "/include/biqa/models/exiqa_attributes.json";
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  CHECK(ss.str() == std::string(ExiqaAttributes::builtin_json()));
  const auto from_file = ExiqaAttributes::from_file(path);
  CHECK(from_file.attributes == ExiqaAttributes::builtin().attributes);
}

TEST_CASE("ExIQA attributes from a user file; bad files are named", "[models][exiqa]") {
  biqa::test::TempDir dir;
  const auto write = [&](const std::string& name, const std::string& text) {
    const std::string p = dir.file(name);
    std::ofstream(p) << text;
    return p;
  };
  const auto ok = ExiqaAttributes::from_file(write("ok.json",
      R"({"positive_template": "A photo with {}.", "distortions": [
           {"name": "blur", "attributes": ["soft edges", "no detail"]},
           {"name": "noise", "attributes": ["grain", "speckles"]}]})"));
  CHECK(ok.num_attributes() == 4);
  CHECK(ok.positive_prompts()[3] == "A photo with speckles.");
  CHECK(ok.negative_prompts()[0] == "There is not soft edges in the photo.");
  const auto round_trip = ExiqaAttributes::from_json(ok.to_json(), "round trip");
  CHECK(round_trip.attributes == ok.attributes);
  CHECK(round_trip.positive_template == ok.positive_template);

  const std::string uneven = write("uneven.json", R"({"distortions": [
      {"name": "blur", "attributes": ["a", "b"]}, {"name": "noise", "attributes": ["c"]}]})");
  CHECK_THROWS_WITH(ExiqaAttributes::from_file(uneven), Catch::Contains("uneven.json") && Catch::Contains("noise has 1"));
  const std::string no_slot = write("slot.json", R"({"positive_template": "x", "distortions": [{"name": "b", "attributes": ["a"]}]})");
  CHECK_THROWS_WITH(ExiqaAttributes::from_file(no_slot), Catch::Contains("positive_template"));
  CHECK_THROWS_WITH(ExiqaAttributes::from_file(write("e.json", "{}")), Catch::Contains("distortions"));
}
