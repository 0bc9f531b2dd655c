// biqa infer --model NAME --weights FILE [--config FILE.json] --input X.npy|X.safetensors --output Y.npy

#include <iostream>

#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "cli.hpp"
#include "infer.hpp"

namespace {

using namespace biqa;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const cli::InferEntry& find_entry(const std::string& model) {
  for (const auto& e : cli::infer_registry())
    for (const auto& n : e.names)
      if (n == model) return e;
  std::string known;
  for (const auto& e : cli::infer_registry())
    for (const auto& n : e.names) known += (known.empty() ? "" : ", ") + n;
  fail(ErrorCode::invalid_argument, "unknown --model '", model, "' (known: ", known.empty() ? "none" : known, ")");
}

int run(cli::Args& args) {
  if (args.flag("--models")) {
    for (const auto& e : cli::infer_registry()) {
      std::string names;
      for (const auto& n : e.names) names += (names.empty() ? "" : " ") + n;
      std::cout << names << "\t" << e.summary << "\n";
    }
    return 0;
  }
  const auto model = args.option("--model", "-m");
  const auto weights = args.option("--weights", "-w");
  const auto config_path = args.option("--config");
  const auto input_path = args.option("--input", "-i");
  const auto output_path = args.option("--output", "-o");
  const auto texts = args.options("--text");
  const int threads = args.int_option("--threads", 1);
  const auto rest = args.positionals();
  if (!rest.empty()) fail(ErrorCode::invalid_argument, "unexpected argument '", rest[0], "'");
  if (!model || !weights || !output_path)
    fail(ErrorCode::invalid_argument, "--model, --weights and --output are required");
  if (!input_path && texts.empty()) fail(ErrorCode::invalid_argument, "--input or --text is required");
  const auto& entry = find_entry(*model);

  io::WeightStore store = io::open_weights(*weights);
  cli::InferRequest req;
  req.model = *model;
  req.weights_path = *weights;
  req.weights = &store;
  if (config_path) {
    req.config = json::parse_file(*config_path);
  } else if (auto it = store.file().metadata.find("biqa.config"); it != store.file().metadata.end()) {
    req.config = json::parse(it->second, *weights + " metadata biqa.config");
  }
  if (input_path && ends_with(*input_path, ".safetensors")) {  // several named inputs
    const io::WeightFile file = io::load_weights(*input_path);
    for (const auto& r : file.tensors) req.inputs[r.name] = file.to_float(r);
    if (req.inputs.size() == 1) req.input = req.inputs.begin()->second;
  } else if (input_path) {
    const auto arr = io::read_npy(*input_path);
    if (arr.dtype == DType::i64) req.tokens = arr.as<std::int64_t>();
    else req.input = arr.to_float();
  }
  req.texts = texts;
  Context ctx(threads);
  req.ctx = &ctx;

  const cli::InferOutputs outputs = entry.run(req);
  if (outputs.empty()) fail(ErrorCode::internal, "model produced no output");
  if (ends_with(*output_path, ".safetensors")) {
    std::vector<io::TensorBlob> blobs;
    for (const auto& [name, t] : outputs) blobs.push_back(io::make_blob(name, t));
    io::write_safetensors(*output_path, blobs, {{"biqa.model", *model}});
  } else if (ends_with(*output_path, ".npy")) {
    io::write_npy(*output_path, outputs.front().second);
  } else {
    fail(ErrorCode::invalid_argument, "--output must end in .npy or .safetensors");
  }
  for (const auto& [name, t] : outputs) std::cerr << name << " " << t.shape().to_string() << "\n";
  return 0;
}

biqa::cli::Register reg{{"infer", "run a network on a preprocessed tensor (parity checks)",
    "Usage: biqa infer -m|--model NAME -w|--weights FILE [--config FILE.json]\n"
    "                  (-i|--input X.npy | --input X.safetensors | --text T...)\n"
    "                  -o|--output Y.npy|Y.safetensors [--threads N]\n"
    "       biqa infer --models\n\n"
    "Runs a network on an already preprocessed float32 NCHW batch (or int64 token ids) and\n"
    "writes its raw output as float32. A .safetensors input holds named inputs (dgiqa: image,\n"
    "depth). A .safetensors output holds every named output.\n"
    "The config comes from --config, else the weights' 'biqa.config' metadata, else the\n"
    "published default. --models lists the networks.\n",
    run}};

}  // namespace
