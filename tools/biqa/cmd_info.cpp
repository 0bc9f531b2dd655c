// biqa info NAME [--json]: a model's card.

#include <cstdio>
#include <iostream>

#include "biqa/io/json.hpp"
#include "biqa/models/registry.hpp"
#include "cli.hpp"

namespace {

int run(biqa::cli::Args& args) {
  const bool as_json = args.flag("--json");
  const auto names = args.positionals();
  if (names.size() != 1) biqa::fail(biqa::ErrorCode::invalid_argument, "info: expected one model NAME");
  const biqa::ModelInfo& i = biqa::model_info(names[0]);
  if (as_json) {
    biqa::json::Value o;
    o.set("name", i.name);
    o.set("full_name", i.full_name);
    o.set("summary", i.summary);
    o.set("reference", i.reference);
    o.set("lower_is_better", i.lower_is_better);
    o.set("range", biqa::json::Array{i.range_min, i.range_max});
    o.set("bounded", i.bounded);
    o.set("input_policy", i.input_policy);
    o.set("stochastic", i.stochastic);
    o.set("seed", static_cast<std::int64_t>(i.seed));
    o.set("training_data", i.training_data);
    o.set("weights_licence", i.weights_licence);
    o.set("weights_source", i.weights_source);
    o.set("needs_weights_file", i.needs_weights_file);
    biqa::json::Value settings = biqa::json::Object{};
    for (const auto& [k, meaning] : i.settings) settings.set(k, meaning);
    o.set("settings", settings);
    std::cout << o.dump(2) << "\n";
    return biqa::cli::ok;
  }
  std::printf("%s\n  %s\n", i.full_name.c_str(), i.summary.c_str());
  std::printf("  reference:       %s\n", i.reference.c_str());
  std::printf("  better:          %s scores\n", i.lower_is_better ? "lower" : "higher");
  std::printf("  range:           %g to %g (%s)\n", i.range_min, i.range_max,
              i.bounded ? "bounded" : "typical, not clamped");
  std::printf("  input policy:    %s\n", i.input_policy.c_str());
  std::printf("  stochastic:      %s\n", i.stochastic ? ("yes, seed " + std::to_string(i.seed)).c_str() : "no");
  std::printf("  training data:   %s\n", i.training_data.c_str());
  std::printf("  weights licence: %s\n", i.weights_licence.c_str());
  std::printf("  weights:         %s\n", i.weights_source.c_str());
  if (!i.settings.empty()) {
    std::printf("  settings (biqa score --set KEY=VALUE):\n");
    for (const auto& [k, meaning] : i.settings) std::printf("    %-20s %s\n", k.c_str(), meaning.c_str());
  }
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"info", "a model's card: score direction, range, input policy, provenance",
                         "biqa info NAME [--json]", run}};

}  // namespace
