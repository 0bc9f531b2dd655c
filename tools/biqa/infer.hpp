#pragma once
// `biqa infer` runs one network on an already preprocessed tensor and writes its raw output, for
// parity checks against PyTorch. Each network family adds one file tools/biqa/infer_<family>.cpp:
//   static biqa::cli::RegisterInfer reg{{{"resnet18", "resnet50"}, "torchvision ResNet", run}};

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"

namespace biqa::cli {

struct InferRequest {
  std::string model;                   // the name given to --model
  std::string weights_path;
  io::WeightStore* weights = nullptr;  // opened from --weights; call finish() after loading
  json::Value config;                  // --config file, else the file's "biqa.config" metadata, else null
  std::optional<Tensor<float>> input;  // --input X.npy as float32 (absent for text-only runs)
  // --input X.safetensors: its tensors by name, as float32 (`input` is also set when there is one).
  std::map<std::string, Tensor<float>> inputs;
  std::optional<Tensor<std::int64_t>> tokens;  // --input of int64 ids
  std::vector<std::string> texts;      // --text, repeatable
  Context* ctx = nullptr;
};

// Named outputs in a stable order; the first is what a .npy output receives.
using InferOutputs = std::vector<std::pair<std::string, Tensor<float>>>;

struct InferEntry {
  std::vector<std::string> names;
  std::string summary;
  std::function<InferOutputs(InferRequest&)> run;
};

inline std::vector<InferEntry>& infer_registry() {
  static std::vector<InferEntry> entries;
  return entries;
}

struct RegisterInfer {
  explicit RegisterInfer(InferEntry e) { infer_registry().push_back(std::move(e)); }
};

}  // namespace biqa::cli
