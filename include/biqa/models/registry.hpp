#pragma once
// Models by name: a card per model (biqa::model_info), the list of names (biqa::list_models)
// and loading (biqa::load_model). Deep models add an entry to registry_entries() when they land.

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/models/brisque.hpp"
#include "biqa/models/niqe.hpp"
#include "biqa/models/quality_model.hpp"

namespace biqa {

struct LoadOptions {
  std::string weights;  // a weights file or directory; empty = the model's default source
};

namespace models::detail {

struct RegistryEntry {
  std::function<const ModelInfo&()> info;
  std::function<std::shared_ptr<const QualityModel>(const LoadOptions&)> load;
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

inline const std::vector<RegistryEntry>& registry_entries() {
  static const std::vector<RegistryEntry> entries = {
      {&models::Brisque::card, &load_brisque},
      {&models::Niqe::card, &load_niqe},
  };
  return entries;
}

inline const RegistryEntry& find_entry(const std::string& name) {
  std::string known;
  for (const auto& e : registry_entries()) {
    if (e.info().name == name) return e;
    known += (known.empty() ? "" : ", ") + e.info().name;
  }
  fail(ErrorCode::invalid_argument, "unknown model '", name, "' (known: ", known, ")");
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
  return models::detail::find_entry(name).load(options);
}

}  // namespace biqa
