// biqa score: quality scores for images, files, folders or glob patterns.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fnmatch.h>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/models/registry.hpp"
#include "cli.hpp"
#include "progress.hpp"

namespace {

namespace fs = std::filesystem;

const char* usage =
    "biqa score [-m|--model NAME[,NAME...]] [--weights FILE] [--set KEY=VALUE]...\n"
    "           [--depth-weights FILE] [--crops K] [--depth FILE|DIR]\n"
    "           [--format table|csv|jsonl|json] [--json] [--jobs N] [--threads N]\n"
    "           [--weight-packing auto|always|never] [--pack-weights] [--low-memory]\n"
    "           [--device cpu|cuda] [--precision P] [--quiet]\n"
    "           IMAGE|DIR|PATTERN...\n"
    "\n"
    "Scores each image with each model (default: brisque). Folders are searched recursively for\n"
    ".png/.jpg/.jpeg/.bmp/.tga/.gif/.ppm/.pgm files; a PATTERN with * or ? is matched against\n"
    "the files of its folder.\n"
    "  -m, --model NAMES  comma-separated model names (biqa list)\n"
    "  --weights FILE     weights for the model (only with one model)\n"
    "  --set KEY=VALUE    a model setting (biqa info MODEL lists them; only with one model)\n"
    "  --depth-weights F  same as --set depth_weights=F (dgiqa: Depth Anything V1 weights)\n"
    "  --encoder F        same as --set encoder=F (dsmix: encoder weights for a head-only file)\n"
    "  --crops K          same as --set crops=K (dgiqa)\n"
    "  --depth FILE|DIR   dgiqa: precomputed depth images instead of the depth network: one file\n"
    "                     for one image, or a folder holding NAME.png (or NAME.ext) for each image\n"
    "  --format F         table (default: path<TAB>score, one column per model when several),\n"
    "                     csv, jsonl (one object per line) or json (an array)\n"
    "  --json             same as --format json\n"
    "  -j, --jobs N       images scored in parallel (default 1; 0 = one per core)\n"
    "  --threads N        threads per image for the network models (default: the cores / jobs)\n"
    "  --weight-packing P which linear-layer weights stay in the matrix kernel's layout after their\n"
    "                     first use: auto (default: those mapped from a weights file, whose pages are\n"
    "                     then given back, so memory does not grow), always (also weights held in\n"
    "                     memory: a second copy), never (repacked every call: transformers 20-70%\n"
    "                     slower)\n"
    "  --pack-weights     same as --weight-packing always\n"
    "  --low-memory       keep f16/bf16 weight matrices 16-bit in memory, widened per layer as it\n"
    "                     runs (for 16-bit weight files: biqa convert --dtype f16)\n"
    "  --device D         cpu (default) or cuda: where the networks run (cuda needs a biqa built\n"
    "                     with -DBIQA_WITH_CUDA=ON; brisque and niqe have no network and run on the CPU)\n"
    "  --precision P      with --device cuda: fp32 (default), tf32, fp16 or bf16: how the products may\n"
    "                     round their inputs on tensor cores (faster; ~1e-3 relative, bf16 ~1e-2)\n"
    "  --tf32             short for --precision tf32\n"
    "  -q, --quiet        no progress bar and no per-image error lines\n"
    "Objects carry image, model, score and lower_is_better. Unreadable images are reported on\n"
    "stderr and skipped; the exit status is then 2.";

bool is_image_name(const fs::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* ok : {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif", ".ppm", ".pgm", ".psd", ".hdr"})
    if (e == ok) return true;
  return false;
}

// Expands folders (recursively, sorted) and glob patterns; plain paths pass through unchanged so
// that a missing file is reported when it is scored.
std::vector<std::string> expand_inputs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (fs::is_directory(a, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(a, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && is_image_name(it->path())) found.push_back(it->path().string());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (a.find_first_of("*?[") != std::string::npos && !fs::exists(a, ec)) {
      const fs::path pattern(a);
      const fs::path dir = pattern.has_parent_path() ? pattern.parent_path() : fs::path(".");
      std::vector<std::string> found;
      for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) &&
            fnmatch(pattern.filename().c_str(), it->path().filename().c_str(), 0) == 0)
          found.push_back(pattern.has_parent_path() ? it->path().string() : it->path().filename().string());
      std::sort(found.begin(), found.end());
      if (found.empty()) out.push_back(a);  // reported as unreadable
      out.insert(out.end(), found.begin(), found.end());
    } else {
      out.push_back(a);
    }
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string number(double v) {
  if (!std::isfinite(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

// The depth image for `image`: `depth` itself when it is a file, else DIR/NAME.png, else DIR/NAME.ext.
std::string depth_image_path(const std::string& depth, const std::string& image) {
  if (!fs::is_directory(depth)) return depth;
  const fs::path name = fs::path(image).filename();
  const fs::path png = fs::path(depth) / fs::path(name).replace_extension(".png");
  if (fs::exists(png)) return png.string();
  const fs::path same = fs::path(depth) / name;
  if (fs::exists(same)) return same.string();
  biqa::fail(biqa::ErrorCode::io, "no depth image for ", image, " in ", depth, " (looked for ",
             png.filename().string(), " and ", name.string(), ")");
}

int run(biqa::cli::Args& args) {
  std::vector<std::string> model_names;
  for (const auto& list : args.options("--model", "-m")) {
    std::stringstream ss(list);
    std::string name;
    while (std::getline(ss, name, ','))
      if (!name.empty()) model_names.push_back(name);
  }
  if (model_names.empty()) model_names.push_back("brisque");
  const auto weights = args.option("--weights");
  std::string format = args.option_or("--format", "table");
  if (args.flag("--json")) format = "json";
  const bool quiet = args.flag("--quiet") || args.flag("-q");
  int jobs = args.int_option("--jobs", 1, "-j");
  int threads = args.int_option("--threads", 0);
  const biqa::WeightPacking weight_packing = biqa::cli::weight_packing(args, "score");
  const bool low_memory = args.flag("--low-memory");
  const biqa::DeviceType device = biqa::parse_device_type(args.option_or("--device", "cpu"));
  const biqa::MatmulPrecision precision = biqa::cli::matmul_precision(args, "score", device);
  const auto settings = biqa::cli::model_settings(args, "score");
  const auto depth = args.option("--depth");
  const auto inputs = expand_inputs(args.positionals());

  if (format != "table" && format != "csv" && format != "jsonl" && format != "json")
    biqa::fail(biqa::ErrorCode::invalid_argument, "score: --format must be table, csv, jsonl or json");
  if (inputs.empty()) biqa::fail(biqa::ErrorCode::invalid_argument, "score: no images given");
  if (weights && model_names.size() != 1)
    biqa::fail(biqa::ErrorCode::invalid_argument, "score: --weights needs exactly one --model");
  if (!settings.empty() && model_names.size() != 1)
    biqa::fail(biqa::ErrorCode::invalid_argument, "score: model settings need exactly one --model");
  if (depth && (model_names.size() != 1 || model_names[0] != "dgiqa"))
    biqa::fail(biqa::ErrorCode::invalid_argument, "score: --depth applies to --model dgiqa only");
  if (depth && inputs.size() > 1 && !fs::is_directory(*depth))
    biqa::fail(biqa::ErrorCode::invalid_argument, "score: with several images --depth must be a folder");
  biqa::require_device(device);  // before any loading: a missing backend or GPU is one clear error
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (jobs <= 0) jobs = cores;
  if (threads <= 0) threads = std::max(1, cores / jobs);

  std::vector<std::shared_ptr<const biqa::QualityModel>> models;
  for (const auto& name : model_names) {
    biqa::LoadOptions o;
    o.low_memory = low_memory;
    o.threads = cores;  // loading happens before any image: all of them
    if (weights) o.weights = *weights;
    o.settings = settings;
    models.push_back(biqa::load_model(name, o));
  }
  const auto* depth_guided = depth ? dynamic_cast<const biqa::DepthGuidedModel*>(models[0].get()) : nullptr;
  if (depth && !depth_guided)
    biqa::fail(biqa::ErrorCode::invalid_argument, "score: --model ", model_names[0], " takes no depth image");

  // scores[i][m]; errors[i] non-empty when image i could not be scored.
  std::vector<std::vector<double>> scores(inputs.size(), std::vector<double>(models.size(), NAN));
  std::vector<std::string> errors(inputs.size());
  biqa::cli::ProgressBar bar(inputs.size(), !quiet && inputs.size() > 3 && isatty(STDERR_FILENO));
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    biqa::Context ctx(threads);
    ctx.weight_packing = weight_packing;
    ctx.device = device;
    ctx.matmul_precision = precision;
    for (std::size_t i; (i = next++) < inputs.size();) {
      try {
        if (depth) {  // dgiqa with a precomputed depth image
          const auto image = biqa::io::read_image_u8(inputs[i]);
          const auto d = biqa::io::read_image_u8(depth_image_path(*depth, inputs[i]));
          scores[i][0] = depth_guided->score_with_depth(image, d, ctx);
        } else {
          const auto image = biqa::io::read_image(inputs[i]);
          for (std::size_t m = 0; m < models.size(); ++m) scores[i][m] = models[m]->score(image, ctx);
        }
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
      bar.tick();
    }
  };
  const int n_threads = std::min<int>(jobs, static_cast<int>(inputs.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < n_threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  std::size_t failed = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (!errors[i].empty()) {
      ++failed;
      if (!quiet) std::cerr << "biqa score: skipped " << inputs[i] << ": " << errors[i] << "\n";
    }

  std::ostream& out = std::cout;
  if (format == "table" || format == "csv") {
    const char sep = format == "csv" ? ',' : '\t';
    auto field = [&](const std::string& s) { return format == "csv" ? csv_field(s) : s; };
    if (format == "csv" || models.size() > 1) {
      out << "image";
      for (const auto& m : models) out << sep << field(m->info().name);
      out << "\n";
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!errors[i].empty()) continue;
      out << field(inputs[i]);
      for (double s : scores[i]) out << sep << number(s);
      out << "\n";
    }
  } else {
    biqa::json::Value all;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!errors[i].empty()) continue;
      for (std::size_t m = 0; m < models.size(); ++m) {
        biqa::json::Value o;
        o.set("image", inputs[i]);
        o.set("model", models[m]->info().name);
        o.set("score", std::isfinite(scores[i][m]) ? biqa::json::Value(scores[i][m]) : biqa::json::Value());
        o.set("lower_is_better", models[m]->info().lower_is_better);
        if (format == "jsonl") out << o.dump() << "\n";
        else all.push_back(std::move(o));
      }
    }
    if (format == "json") out << (all.is_null() ? std::string("[]") : all.dump(2)) << "\n";
  }
  out.flush();
  if (failed > 0) {
    if (!quiet) std::cerr << "biqa score: " << failed << " of " << inputs.size() << " images could not be scored\n";
    return biqa::cli::input_error;
  }
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"score", "quality scores of images (default model: brisque)", usage, run}};

}  // namespace
