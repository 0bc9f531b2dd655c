// biqa bench: how long a model takes to load and to score one image, and the memory it peaks at.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "biqa/data/synthetic_picture.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/models/registry.hpp"
#include "cli.hpp"

namespace {

const char* usage =
    "biqa bench [-m|--model NAME] [--weights FILE] [--set KEY=VALUE]... [--threads N]\n"
    "           [--weight-packing auto|always|never] [--pack-weights] [--low-memory]\n"
    "           [--device cpu|cuda] [--precision P] [--runs N] [--warmup N] [--size WxH] [--json]\n"
    "           [IMAGE]\n"
    "\n"
    "Loads a model once, scores one image `--warmup` times untimed and `--runs` times timed, and\n"
    "prints the load time, the first score's time (it includes one-time work: pages of the weights\n"
    "read for the first time, packed copies of the weights made), the median, minimum and\n"
    "maximum of the timed runs, and the process's peak resident memory. Without IMAGE a synthetic\n"
    "picture of --size pixels is scored (a smooth colour ramp with fine texture).\n"
    "  -m, --model NAME   the model (default: brisque; biqa list)\n"
    "  --weights FILE     weights for the model\n"
    "  --set KEY=VALUE    a model setting (biqa info MODEL lists them); --depth-weights, --crops and\n"
    "                     --encoder as in biqa score\n"
    "  --threads N        threads for the network models (default: the cores)\n"
    "  --weight-packing P, --pack-weights as in biqa score\n"
    "  --low-memory       as in biqa score\n"
    "  --device D, --precision P as in biqa score\n"
    "  --runs N           timed runs (default 5)\n"
    "  --warmup N         untimed runs after the first (default 1)\n"
    "  --size WxH         the synthetic picture's size (default 512x384)\n"
    "  --json             one JSON object instead of the table\n"
    "Times are wall-clock milliseconds; peak memory is getrusage's maximum resident set (MB).";

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double peak_resident_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

std::pair<std::int64_t, std::int64_t> parse_size(const std::string& s) {
  const auto x = s.find('x');
  long w = 0, h = 0;
  char* end = nullptr;
  if (x != std::string::npos) {
    w = std::strtol(s.c_str(), &end, 10);
    const bool w_ok = end == s.c_str() + x;
    h = std::strtol(s.c_str() + x + 1, &end, 10);
    if (w_ok && *end == '\0' && end != s.c_str() + x + 1 && w >= 16 && h >= 16 && w <= 16384 && h <= 16384)
      return {w, h};
  }
  biqa::fail(biqa::ErrorCode::invalid_argument, "bench: --size expects WxH with 16 to 16384 pixels a side, got '",
             s, "'");
}

std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

int run(biqa::cli::Args& args) {
  const std::string model_name = args.option_or("--model", "brisque", "-m");
  const auto weights = args.option("--weights");
  const auto settings = biqa::cli::model_settings(args, "bench");
  const int threads_option = args.int_option("--threads", 0);
  const biqa::WeightPacking weight_packing = biqa::cli::weight_packing(args, "bench");
  const bool low_memory = args.flag("--low-memory");
  const biqa::DeviceType device = biqa::parse_device_type(args.option_or("--device", "cpu"));
  const biqa::MatmulPrecision precision = biqa::cli::matmul_precision(args, "bench", device);
  const int runs = args.int_option("--runs", 5);
  const int warmup = args.int_option("--warmup", 1);
  const auto size = parse_size(args.option_or("--size", "512x384"));
  const bool as_json = args.flag("--json");
  const auto inputs = args.positionals();
  if (runs < 1 || runs > 100000) biqa::fail(biqa::ErrorCode::invalid_argument, "bench: --runs must be 1 to 100000");
  if (warmup < 0 || warmup > 100000) biqa::fail(biqa::ErrorCode::invalid_argument, "bench: --warmup must be 0 to 100000");
  if (inputs.size() > 1) biqa::fail(biqa::ErrorCode::invalid_argument, "bench: at most one image");
  biqa::require_device(device);
  const int threads = threads_option > 0 ? threads_option
                                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  const biqa::Tensor<float> image =
      inputs.empty() ? biqa::data::synthetic_picture(size.first, size.second) : biqa::io::read_image(inputs[0]);

  biqa::LoadOptions o;
  o.low_memory = low_memory;
  o.threads = threads;
  if (weights) o.weights = *weights;
  o.settings = settings;
  const auto t_load = Clock::now();
  const auto model = biqa::load_model(model_name, o);
  const double load_ms = ms_since(t_load);

  biqa::Context ctx(threads);
  ctx.weight_packing = weight_packing;
  ctx.device = device;
  ctx.matmul_precision = precision;
  auto t0 = Clock::now();
  const double score = model->score(image, ctx);
  const double first_ms = ms_since(t0);
  for (int i = 0; i < warmup; ++i) model->score(image, ctx);
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    t0 = Clock::now();
    const double s = model->score(image, ctx);
    times.push_back(ms_since(t0));
    // A model whose score changes from run to run on the same image is worth knowing about here.
    if (!(s == score || (std::isnan(s) && std::isnan(score))) && !model->info().stochastic)
      biqa::fail(biqa::ErrorCode::internal, "bench: ", model_name, " scored the same image ", score, " then ", s);
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const double peak_mb = peak_resident_mb();
  const std::string image_name = inputs.empty() ? "synthetic" : inputs[0];

  if (as_json) {
    biqa::json::Value j;
    j.set("model", model->info().name);
    j.set("image", image_name);
    j.set("width", double(image.size(1)));
    j.set("height", double(image.size(0)));
    j.set("device", biqa::device_type_name(device));
    j.set("precision", biqa::matmul_precision_name(precision));
    j.set("threads", double(threads));
    j.set("weight_packing", biqa::weight_packing_name(weight_packing));
    j.set("low_memory", low_memory);
    j.set("score", std::isfinite(score) ? biqa::json::Value(score) : biqa::json::Value());
    j.set("load_ms", load_ms);
    j.set("first_ms", first_ms);
    j.set("median_ms", median);
    j.set("min_ms", sorted.front());
    j.set("max_ms", sorted.back());
    biqa::json::Value all;
    for (double t : times) all.push_back(t);
    j.set("runs_ms", std::move(all));
    j.set("peak_resident_mb", peak_mb);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("model            %s\n", model->info().name.c_str());
    std::printf("image            %s (%lldx%lld)\n", image_name.c_str(), static_cast<long long>(image.size(1)),
                static_cast<long long>(image.size(0)));
    const std::string products = precision == biqa::MatmulPrecision::fp32
                                     ? ""
                                     : std::string(", products in ") + biqa::matmul_precision_name(precision);
    std::printf("device           %s%s\n", biqa::device_type_name(device), products.c_str());
    std::printf("threads          %d, weight packing %s%s\n", threads, biqa::weight_packing_name(weight_packing),
                low_memory ? ", low memory" : "");
    std::printf("score            %s\n", fixed(score, 4).c_str());
    std::printf("load             %s ms\n", fixed(load_ms).c_str());
    std::printf("first score      %s ms\n", fixed(first_ms).c_str());
    std::printf("median of %-6d %s ms (min %s, max %s)\n", runs, fixed(median).c_str(), fixed(sorted.front()).c_str(),
                fixed(sorted.back()).c_str());
    std::printf("peak memory      %s MB\n", fixed(peak_mb).c_str());
  }
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"bench", "time a model: load, first score, median of repeated scores, peak memory",
                         usage, run}};

}  // namespace
