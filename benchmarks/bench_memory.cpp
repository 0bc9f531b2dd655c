// Load time and memory of one backbone (issue targets: safetensors load of DeiT-III-S ≤ 50 ms,
// peak resident memory ≤ weights + 150 MB). One model per process, so that the peak belongs to it:
//   bench_memory MODEL [THREADS]   (MODEL: resnet50, deit3_small, vit_base_patch8, swin_tiny,
//                                   clip_b32, clip_b32_text; weights as for bench_models)
// BIQA_BENCH_WEIGHT_PACKING=auto|always|never sets Context::weight_packing; BIQA_BENCH_DTYPE=f16 reads the 16-bit
// copy of the weights and BIQA_BENCH_LOW_MEMORY=1 keeps its matrices 16-bit (the low-memory mode). Prints one JSON object: weight file
// size, load time (open + build + load + finish), resident memory after loading, the peak over
// loading plus one batch-1 forward at 224×224 (Depth Anything: 518×518), and the resident pages of
// mapped files and of anonymous memory after that forward.

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "biqa/core/context.hpp"
#include "model_zoo.hpp"

namespace {
double status_mb(const std::string& field) {  // a "Field:  N kB" line of /proc/self/status
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::atof(line.c_str() + field.size() + 1) / 1024.0;
  return 0.0;
}
double resident_mb() { return status_mb("VmRSS"); }  // the current resident set
double peak_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}
}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_memory MODEL [THREADS]\n");
    return 1;
  }
  const std::string name = argv[1];
  const std::string path = bench::weight_path(name);
  if (!std::filesystem::exists(path)) {
    std::fprintf(stderr, "bench_memory: no %s (run benchmarks/compare, or set BIQA_BENCH_WEIGHTS)\n", path.c_str());
    return 2;
  }
  const double before = resident_mb();
  const auto t0 = std::chrono::steady_clock::now();
  bench::Loaded model = bench::load(name);
  const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const double after_load = resident_mb();
  biqa::Context ctx(argc > 2 ? std::atoi(argv[2]) : 1);
  ctx.weight_packing = bench::weight_packing_requested();
  const auto images = bench::random_images(1, bench::input_size(name));
  const auto t1 = std::chrono::steady_clock::now();
  model.forward(images, ctx);
  const double forward_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  std::printf("{\"model\": \"%s\", \"weights_mb\": %.1f, \"load_ms\": %.1f, \"rss_before_mb\": %.1f, "
              "\"rss_after_load_mb\": %.1f, \"peak_rss_mb\": %.1f, \"first_forward_ms\": %.1f, "
              "\"rss_file_after_forward_mb\": %.1f, \"rss_anon_after_forward_mb\": %.1f, "
              "\"weight_packing\": \"%s\", \"low_memory\": %s}\n",
              name.c_str(), double(std::filesystem::file_size(path)) / (1024.0 * 1024.0), load_ms, before,
              after_load, peak_mb(), forward_ms, status_mb("RssFile"), status_mb("RssAnon"),
              biqa::weight_packing_name(ctx.weight_packing),
              bench::low_memory_requested() ? "true" : "false");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_memory: %s\n", e.what());
  return 2;
}
