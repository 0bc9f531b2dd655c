#pragma once
// Reads tests/data/metrics/<name>.json (written by tools/reference/make_metric_fixtures.py):
// x (predictions), y (targets) and scipy's values for them.

#include <string>
#include <vector>

#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "support/helpers.hpp"

namespace biqa::test {

struct MetricFixture {
  std::string name;
  std::vector<double> x, y;
  json::Value ref;
};

inline std::vector<double> numbers(const json::Value& array) {
  std::vector<double> out;
  for (const auto& v : array.as_array()) out.push_back(v.as_number());
  return out;
}

inline MetricFixture load_metric_fixture(const std::string& name) {
  const auto path = data_path("metrics/" + name + ".json");
  const auto bytes = io::read_file_bytes(path);
  MetricFixture f;
  f.name = name;
  f.ref = json::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
  f.x = numbers(f.ref["x"]);
  f.y = numbers(f.ref["y"]);
  return f;
}

inline const std::vector<std::string>& metric_fixture_names() {
  static const std::vector<std::string> names = {"ties", "negative", "n3", "n1000", "heavy_tails", "scale100"};
  return names;
}

}  // namespace biqa::test
