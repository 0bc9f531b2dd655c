#pragma once
// Models by name: a card per model (biqa::model_info), the list of names (biqa::list_models)
// and loading (biqa::load_model). Deep models add an entry to registry_entries() when they land.

#include <cstdlib>
#include <filesystem>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/models/brisque.hpp"
#include "biqa/models/dgiqa_scorer.hpp"
#include "biqa/models/dsmix_scorer.hpp"
#include "biqa/models/dr_experts_scorer.hpp"
#include "biqa/models/exiqa_scorer.hpp"
#include "biqa/models/niqe.hpp"
#include "biqa/models/quality_model.hpp"

namespace biqa {

struct LoadOptions {
  std::string weights;  // a weights file or directory; empty = the model's default source
  // Model-specific settings by name (ModelInfo::settings lists each model's); a key the model does
  // not know is an error.
  std::map<std::string, std::string> settings;
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

inline const ModelInfo& dgiqa_card() {
  static const ModelInfo info = [] {
    ModelInfo i = models::DgiqaScorer::card();
    i.settings = {
        {"depth_weights", "Depth Anything V1 checkpoint (depth_anything_vit{s,b,l}14); required unless "
                          "depth images are supplied"},
        {"depth_encoder", "vits, vitb or vitl (default: read from the depth weights)"},
        {"crops", "number of 224x224 crops (default 10)"},
        {"crop_protocol", "authors (CPython random, default), grid (deterministic spread)"},
        {"seed", "seed of the authors' crop protocol (default 42)"},
        {"prior_random_draws", "random() calls before the first crop: 4 = albumentations 1.3.x, 1 = "
                               "1.4.18-1.4.20, 0 = newer (default)"},
        {"short_side", "shorter side after the resize (default 384; 0 = no resize)"},
        {"config", "DGIQA config JSON file (sizes the weights do not show)"},
    };
    return i;
  }();
  return info;
}

inline std::shared_ptr<const QualityModel> load_dgiqa_scorer(const LoadOptions& o) {
  check_settings(o, dgiqa_card());
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "dgiqa needs the authors' checkpoint: --weights FILE (docs/models.md says where to get it)");
  models::DgiqaOptions opt;
  opt.crops = static_cast<int>(setting_int(o, "crops", opt.crops));
  opt.protocol = models::parse_crop_protocol(setting(o, "crop_protocol", "authors"));
  BIQA_CHECK(opt.protocol != models::CropProtocol::boxes, ErrorCode::invalid_argument,
             "dgiqa: explicit boxes are given through the API (DgiqaOptions::boxes)");
  opt.seed = setting_int(o, "seed", opt.seed);
  opt.prior_random_draws = static_cast<int>(setting_int(o, "prior_random_draws", 0));
  opt.short_side = setting_int(o, "short_side", opt.short_side);
  BIQA_CHECK(opt.short_side >= 0, ErrorCode::invalid_argument, "dgiqa: short_side must be >= 0");
  json::Value config;
  if (const std::string c = setting(o, "config"); !c.empty()) {
    const auto bytes = io::read_file_bytes(c);
    config = json::parse(std::string(bytes.begin(), bytes.end()), c);
  }
  models::DGIQA net = models::load_dgiqa(o.weights, config);
  std::shared_ptr<const models::DepthAnything> depth;
  if (const std::string d = setting(o, "depth_weights"); !d.empty())
    depth = models::load_depth_anything(d, setting(o, "depth_encoder"));
  return std::make_shared<const models::DgiqaScorer>(std::move(net), std::move(depth), std::move(opt));
}

inline std::shared_ptr<const QualityModel> load_dsmix_scorer(const LoadOptions& o) {
  const ModelInfo& card = models::DSMixScorer::card();
  check_settings(o, card);
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "dsmix needs weights: --weights FILE (encoder.* + head.*, or a head with --set encoder=FILE)");
  json::Value config = json::Object{};
  if (const auto c = setting_int(o, "crop_size", 0); c != 0) config.set("crop_size", c);
  models::DSMix net = models::load_dsmix(o.weights, setting(o, "encoder"), config);
  std::shared_ptr<const models::DSMPredictor> dsm;
  if (const std::string d = setting(o, "dsm_weights"); !d.empty())
    dsm = std::make_shared<const models::DSMPredictor>(models::load_dsm_predictor(d));
  return std::make_shared<const models::DSMixScorer>(std::move(net), std::move(dsm));
}

inline const ModelInfo& dr_experts_card() {
  static const ModelInfo info = [] {
    ModelInfo i = models::DrExpertsScorer::card();
    i.settings = {
        {"preset", "dataset test transform: none (default), koniq, livec, spaq, kadid, live, csiq, tid2013, "
                   "flive, bid"},
        {"crop_protocol", "five (centre + 4 corners, default), center, authors (random crops and flips)"},
        {"crops", "crops of the authors protocol (default: the preset's TEST_PATCH_NUM)"},
        {"seed", "seed of the authors protocol (default 0)"},
        {"sign", "current (A_dist - a*A_sem, default) or previous (A_sem - a*A_dist, code before 2025-12-07)"},
        {"config", "DR.Experts config JSON file (deit, daclip, sign)"},
    };
    return i;
  }();
  return info;
}

inline std::shared_ptr<const QualityModel> load_dr_experts_scorer(const LoadOptions& o) {
  check_settings(o, dr_experts_card());
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "dr_experts needs a checkpoint: --weights FILE (no weights are published; docs/models.md)");
  models::DrExpertsOptions opt;
  opt.preset = setting(o, "preset", opt.preset);
  opt.protocol = setting(o, "crop_protocol", opt.protocol);
  opt.crops = static_cast<int>(setting_int(o, "crops", 0));
  opt.seed = setting_int(o, "seed", 0);
  io::WeightStore store = io::open_weights(o.weights);
  json::Value config;
  if (const std::string c = setting(o, "config"); !c.empty()) {
    const auto bytes = io::read_file_bytes(c);
    config = json::parse(std::string(bytes.begin(), bytes.end()), c);
  } else if (auto it = store.file().metadata.find("biqa.config"); it != store.file().metadata.end()) {
    config = json::parse(it->second, o.weights + " metadata biqa.config");
  }
  Context ctx;
  models::DRExperts net = models::load_dr_experts(store, ctx, config);
  if (const std::string s = setting(o, "sign"); !s.empty()) net.set_sign(models::DRExperts::parse_sign(s));  // wins over the config's
  return std::make_shared<const models::DrExpertsScorer>(std::move(net), std::move(opt));
}

inline const ModelInfo& exiqa_card() {
  static const ModelInfo info = [] {
    ModelInfo i = models::ExiqaScorer::card();
    i.settings = {
        {"head", "head file from `biqa train-head` on the attribute probabilities (overrides the regressor)"},
        {"attributes", "attribute list JSON (default: the checkpoint's, else biqa's 125)"},
        {"top", "distortions and attributes `biqa explain` lists (default 5; 0 = all)"},
        {"config", "CLIP config JSON (open_clip model config; sizes the weights do not show)"},
        {"vocab", "CLIP BPE vocabulary (default $BIQA_CLIP_VOCAB, else data/clip/bpe_simple_vocab_16e6.txt.gz)"},
    };
    return i;
  }();
  return info;
}

inline std::shared_ptr<const QualityModel> load_exiqa_scorer(const LoadOptions& o) {
  check_settings(o, exiqa_card());
  BIQA_CHECK(!o.weights.empty(), ErrorCode::invalid_argument,
             "exiqa needs CLIP weights: --weights FILE (an ExIQA checkpoint or a plain OpenAI/open_clip CLIP "
             "state_dict; docs/models.md)");
  models::ExiqaLoadOptions opt;
  if (const std::string a = setting(o, "attributes"); !a.empty()) opt.attributes = models::ExiqaAttributes::from_file(a);
  if (const std::string c = setting(o, "config"); !c.empty()) {
    const auto bytes = io::read_file_bytes(c);
    opt.config = json::parse(std::string(bytes.begin(), bytes.end()), c);
  }
  opt.vocab = setting(o, "vocab");
  const std::int64_t top = setting_int(o, "top", 5);
  BIQA_CHECK(top >= 0, ErrorCode::invalid_argument, "exiqa: top must be >= 0");
  std::optional<probe::Head> head;
  if (const std::string h = setting(o, "head"); !h.empty()) head = probe::load_head(h);
  Context ctx;
  return std::make_shared<const models::ExiqaScorer>(models::load_exiqa(o.weights, opt, ctx), std::move(head), top);
}

inline std::shared_ptr<const QualityModel> no_settings(const LoadOptions& o, const ModelInfo& card,
                                                       std::shared_ptr<const QualityModel> (*load)(const LoadOptions&)) {
  check_settings(o, card);
  return load(o);
}

inline const std::vector<RegistryEntry>& registry_entries() {
  static const std::vector<RegistryEntry> entries = {
      {&models::Brisque::card, [](const LoadOptions& o) { return no_settings(o, models::Brisque::card(), &load_brisque); }},
      {&models::Niqe::card, [](const LoadOptions& o) { return no_settings(o, models::Niqe::card(), &load_niqe); }},
      {&dgiqa_card, &load_dgiqa_scorer},
      {&models::DSMixScorer::card, &load_dsmix_scorer},
      {&dr_experts_card, &load_dr_experts_scorer},
      {&exiqa_card, &load_exiqa_scorer},
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
