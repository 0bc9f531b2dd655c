// biqa list [--json]: every model biqa knows, with its score direction.

#include <cstdio>
#include <iostream>

#include "biqa/io/json.hpp"
#include "biqa/models/registry.hpp"
#include "cli.hpp"

namespace {

int run(biqa::cli::Args& args) {
  const bool as_json = args.flag("--json");
  if (!args.positionals().empty())
    biqa::fail(biqa::ErrorCode::invalid_argument, "list: takes no arguments");
  biqa::json::Value all;
  for (const auto& name : biqa::list_models()) {
    const biqa::ModelInfo& i = biqa::model_info(name);
    if (as_json) {
      biqa::json::Value o;
      o.set("name", i.name);
      o.set("full_name", i.full_name);
      o.set("lower_is_better", i.lower_is_better);
      o.set("needs_weights_file", i.needs_weights_file);
      all.push_back(std::move(o));
    } else {
      std::printf("%-12s %-6s %s\n", i.name.c_str(), i.lower_is_better ? "lower" : "higher",
                  i.full_name.c_str());
    }
  }
  if (as_json) std::cout << all.dump(2) << "\n";
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"list", "list the available models (name, better direction, title)",
                         "biqa list [--json]\n\nColumns: name, which direction is better, full name.",
                         run}};

}  // namespace
