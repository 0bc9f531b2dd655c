#pragma once
/// @file
/// Models by name: a card per model (biqa::model_info), the list of names (biqa::list_models)
/// and loading (biqa::load_model). BRISQUE and NIQE are always here; every other model registers
/// itself from its scorer header (`models/<name>_scorer.hpp`, through register_model), so a program
/// compiles only the models it includes. models/all_models.hpp (and biqa/biqa.hpp) include them all.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/models/brisque.hpp"
#include "biqa/models/niqe.hpp"
#include "biqa/models/quality_model.hpp"

namespace biqa {

struct LoadOptions {
  std::string weights;  // a weights file or directory; empty = the model's default source
  /// Model-specific settings by name (ModelInfo::settings lists each model's); a key the model does
  /// not know is an error.
  std::map<std::string, std::string> settings;
  /// Low-memory mode: weight matrices stored as f16/bf16 stay 16-bit in memory and are widened per
  /// layer as it runs (io::WeightStoreOptions::keep_half). Only 16-bit weight files shrink; a
  /// float32 file is unaffected. `biqa convert --dtype f16` makes a 16-bit file.
  bool low_memory = false;
  /// Threads for the work a model does while loading (ExIQA and DR.Experts encode their text
  /// prompts with a CLIP text tower); 0 means one per hardware thread.
  int threads = 1;
};

namespace models::detail {

struct RegistryEntry {
  std::function<const ModelInfo&()> info;
  std::function<std::shared_ptr<const QualityModel>(const LoadOptions&)> load;
  int order = 0;  ///< place in list_models(): registration order across headers is unspecified
};

inline std::shared_ptr<const QualityModel> load_brisque(const LoadOptions& o) {
  if (o.weights.empty()) return std::make_shared<const Brisque>(Brisque::load_default());
  namespace fs = std::filesystem;
  if (fs::is_directory(o.weights)) return std::make_shared<const Brisque>(Brisque::from_directory(o.weights));
  // A model file; its range file sits beside it ("model" → "range" in the name).
  const fs::path model(o.weights);
  std::string range_name = model.filename().string();
  const auto pos = range_name.find("model");
  BIQA_CHECK(pos != std::string::npos, ErrorCode::invalid_argument, "brisque: --weights ",
             o.weights, ": expected a directory or a *model*.yml file with a *range*.yml beside it");
  range_name.replace(pos, 5, "range");
  return std::make_shared<const Brisque>(
      Brisque::from_files(model.string(), (model.parent_path() / range_name).string()));
}

inline std::shared_ptr<const QualityModel> load_niqe(const LoadOptions& o) {
  std::string path = o.weights;
  if (path.empty())
    if (const char* env = std::getenv("BIQA_NIQE_MODEL")) path = env;
  BIQA_CHECK(!path.empty(), ErrorCode::invalid_argument,
             "niqe needs a pristine model: fit one with `biqa fit-niqe DIR niqe.safetensors`, then "
             "pass --weights niqe.safetensors (or set BIQA_NIQE_MODEL)");
  return std::make_shared<const Niqe>(Niqe::load(path));
}

inline void check_settings(const LoadOptions& o, const ModelInfo& card) {
  for (const auto& [key, value] : o.settings) {
    bool known = false;
    std::string names;
    for (const auto& [k, meaning] : card.settings) {
      known = known || k == key;
      names += (names.empty() ? "" : ", ") + k;
    }
    BIQA_CHECK(known, ErrorCode::invalid_argument, card.name, ": unknown setting '", key, "'",
               names.empty() ? std::string(" (it takes none)") : cat(" (known: ", names, ")"));
  }
}

inline std::int64_t setting_int(const LoadOptions& o, const std::string& key, std::int64_t fallback) {
  const auto it = o.settings.find(key);
  if (it == o.settings.end()) return fallback;
  std::size_t used = 0;
  std::int64_t v = 0;
  try {
    v = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  BIQA_CHECK(used == it->second.size() && used > 0, ErrorCode::invalid_argument, "setting ", key,
             ": expected an integer, got '", it->second, "'");
  return v;
}

inline std::string setting(const LoadOptions& o, const std::string& key, const std::string& fallback = "") {
  const auto it = o.settings.find(key);
  return it == o.settings.end() ? fallback : it->second;
}

/// The JSON document in the file a setting names (e.g. `config`); nothing when the setting is absent.
inline std::optional<json::Value> setting_json_file(const LoadOptions& o, const std::string& key) {
  const std::string path = setting(o, key);
  if (path.empty()) return std::nullopt;
  return json::parse_file(path);
}

inline std::shared_ptr<const QualityModel> no_settings(const LoadOptions& o, const ModelInfo& card,
                                                       std::shared_ptr<const QualityModel> (*load)(const LoadOptions&)) {
  check_settings(o, card);
  return load(o);
}

inline std::vector<RegistryEntry>& registry_storage() {
  static std::vector<RegistryEntry> entries = {
      {&models::Brisque::card, [](const LoadOptions& o) { return no_settings(o, models::Brisque::card(), &load_brisque); }, 10},
      {&models::Niqe::card, [](const LoadOptions& o) { return no_settings(o, models::Niqe::card(), &load_niqe); }, 20},
  };
  return entries;
}

/// Adds a model; scorer headers call it from an inline variable's initialiser, i.e. before main().
/// Returns true so that it can initialise that variable. Registration is not meant to race with
/// lookups: it happens during static initialisation.
inline bool register_model(RegistryEntry entry) {
  auto& entries = registry_storage();
  const auto at = std::find_if(entries.begin(), entries.end(), [&](const RegistryEntry& e) { return e.order > entry.order; });
  entries.insert(at, std::move(entry));
  return true;
}

inline const std::vector<RegistryEntry>& registry_entries() { return registry_storage(); }

inline const RegistryEntry& find_entry(const std::string& name) {
  std::string known;
  for (const auto& e : registry_entries()) {
    if (e.info().name == name) return e;
    known += (known.empty() ? "" : ", ") + e.info().name;
  }
  fail(ErrorCode::invalid_argument, "unknown model '", name, "' (known: ", known,
       "; a program knows the models whose headers it includes: biqa/models/all_models.hpp has them all)");
}

}  // namespace models::detail

inline std::vector<std::string> list_models() {
  std::vector<std::string> names;
  for (const auto& e : models::detail::registry_entries()) names.push_back(e.info().name);
  return names;
}

inline const ModelInfo& model_info(const std::string& name) {
  return models::detail::find_entry(name).info();
}

inline std::shared_ptr<const QualityModel> load_model(const std::string& name,
                                                      const LoadOptions& options = {}) {
  const io::KeepHalfScope low_memory(options.low_memory);  // seen by every weights file the loader opens
  return models::detail::find_entry(name).load(options);
}

}  // namespace biqa
