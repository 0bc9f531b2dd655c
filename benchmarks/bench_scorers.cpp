// Every registered model end to end, as a user scores an image (biqa::load_model, then score():
// preprocessing, crops, the networks, the head): one 512 × 384 synthetic picture
// (biqa::data::synthetic_picture, the one `biqa bench` scores without an image), 1 and 2 threads.
// Benchmarks are named BM_Score/<model>/threads:T.
//
// Weights come from $BIQA_BENCH_WEIGHTS (default ./bench-weights). For model M: the file
// M.bench.json when it exists, {"weights": "FILE", "settings": {"KEY": "VALUE", ...}}, where a
// weights path or setting value naming a file in that directory is taken from there (DGIQA:
// {"weights": "dgiqa.pth", "settings": {"depth_weights": "depth_anything_vits.safetensors"}});
// otherwise M.safetensors or M.pth when one exists; otherwise the model's default source
// (BRISQUE's built-in model). A model that does not load is skipped with the loader's message.
// `benchmarks/make_scorer_weights` writes full-size random weights for DSMix, ExIQA, DGIQA and
// DR.Experts.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/data/synthetic_picture.hpp"
#include "biqa/io/json.hpp"
#include "biqa/models/all_models.hpp"
#include "model_zoo.hpp"

namespace {

namespace fs = std::filesystem;

using bench::weights_dir;

// `value` as a path in the weights directory when a file of that name is there, else unchanged.
std::string in_weights_dir(const std::string& value) {
  const fs::path p = weights_dir() / value;
  return !value.empty() && fs::is_regular_file(p) ? p.string() : value;
}

biqa::LoadOptions load_options(const std::string& model) {
  biqa::LoadOptions o;
  o.threads = 0;  // the prompt encoding some models do while loading is not what is timed
  const fs::path spec = weights_dir() / (model + ".bench.json");
  if (fs::is_regular_file(spec)) {
    const biqa::json::Value v = biqa::json::parse_file(spec.string());
    if (const auto* w = v.find("weights")) o.weights = in_weights_dir(w->as_string());
    if (const auto* s = v.find("settings"))
      for (const auto& [key, value] : s->as_object()) o.settings[key] = in_weights_dir(value.as_string());
    return o;
  }
  for (const char* ext : {".safetensors", ".pth"})
    if (fs::is_regular_file(weights_dir() / (model + ext))) {
      o.weights = (weights_dir() / (model + ext)).string();
      break;
    }
  return o;
}

// Each model loaded once per process (load failures remembered, so each is reported once per run).
struct Loaded {
  std::shared_ptr<const biqa::QualityModel> model;
  std::string error;
};

const Loaded& loaded(const std::string& name) {
  static std::map<std::string, Loaded> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  Loaded l;
  try {
    l.model = biqa::load_model(name, load_options(name));
  } catch (const std::exception& e) {
    l.error = "not loaded (" + std::string(e.what()) + "); see the notes at the top of bench_scorers.cpp";
  }
  return cache.emplace(name, std::move(l)).first->second;
}

void score(benchmark::State& state, const std::string& name) {
  const Loaded& l = loaded(name);
  if (!l.model) {
    state.SkipWithError(l.error.c_str());
    return;
  }
  biqa::Context ctx(static_cast<int>(state.range(0)));
  const biqa::Tensor<float> picture = biqa::data::synthetic_picture(512, 384);
  try {
    l.model->score(picture, ctx);  // warm-up: first touch of the weights, packing, thread pool start
  } catch (const std::exception& e) {  // e.g. ExIQA weights without a regressor
    state.SkipWithError(("does not score: " + std::string(e.what())).c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(l.model->score(picture, ctx));
}

const bool registered = [] {
  for (const std::string& name : biqa::list_models())
    benchmark::RegisterBenchmark(("BM_Score/" + name).c_str(), score, name)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->MeasureProcessCPUTime();
  return true;
}();

}  // namespace
