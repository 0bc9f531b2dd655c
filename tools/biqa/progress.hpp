#pragma once
// A progress bar on stderr for long CLI jobs (scoring folders, generating data sets), safe to tick
// from several threads: "\r[#########           ] 12/40  3.1/s  ETA 0:09".

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace biqa::cli {

class ProgressBar {
 public:
  ProgressBar(std::size_t total, bool enabled)
      : total_(total), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

  void tick() {
    const std::size_t done = ++done_;
    if (!enabled_) return;
    std::lock_guard<std::mutex> lock(mutex_);
    constexpr std::size_t width = 30;
    const std::size_t filled = std::min(width, width * done / std::max<std::size_t>(total_, 1));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = seconds > 0 ? double(done) / seconds : 0.0;
    std::string eta = "--:--";
    if (rate > 0 && done <= total_) {
      const auto left = static_cast<long long>(double(total_ - done) / rate + 0.5);
      char buf[32];
      if (left >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", left / 3600, left / 60 % 60, left % 60);
      else std::snprintf(buf, sizeof buf, "%lld:%02lld", left / 60, left % 60);
      eta = buf;
    }
    std::fprintf(stderr, "\r[%s%s] %zu/%zu  %.1f/s  ETA %s  ", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), done, total_, rate, eta.c_str());
    if (done == total_) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  std::size_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<std::size_t> done_{0};
  std::mutex mutex_;
};

}  // namespace biqa::cli
