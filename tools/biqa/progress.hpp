#pragma once
// A progress bar on stderr for long CLI jobs (scoring folders, generating data sets), safe to tick
// from several threads: "\r[#########           ] 12/40".

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

namespace biqa::cli {

class ProgressBar {
 public:
  ProgressBar(std::size_t total, bool enabled) : total_(total), enabled_(enabled) {}

  void tick() {
    const std::size_t done = ++done_;
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    constexpr std::size_t width = 30;
    const std::size_t filled = std::min(width, width * done / std::max<std::size_t>(total_, 1));
    std::fprintf(stderr, "\r[%s%s] %zu/%zu", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, total_);
    if (done == total_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::size_t total_;
  bool enabled_;
  std::atomic<std::size_t> done_{0};
  std::mutex mutex_;
};

}  // namespace biqa::cli
