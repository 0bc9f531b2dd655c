#pragma once
// parallel_for: splits an index range into contiguous chunks, one per worker thread. Threads are
// started per call (no pool yet); callers pass a grain so that small jobs stay on one thread.

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include "biqa/core/context.hpp"

namespace biqa::ops {

// How many threads a job of `n` items is worth, given at least `grain` items per thread.
inline int worker_count(const Context& ctx, std::int64_t n, std::int64_t grain) {
  if (n <= 0) return 1;
  const std::int64_t by_work = (n + std::max<std::int64_t>(grain, 1) - 1) / std::max<std::int64_t>(grain, 1);
  return static_cast<int>(std::clamp<std::int64_t>(by_work, 1, ctx.resolved_threads()));
}

// Calls f(begin, end) on disjoint chunks covering [0, n). The calling thread runs the last chunk.
// An exception thrown by any chunk is rethrown here after all threads have joined.
template <typename F>
void parallel_for(const Context& ctx, std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  const int workers = worker_count(ctx, n, grain);
  if (workers == 1) {
    f(std::int64_t{0}, n);
    return;
  }
  const std::int64_t chunk = n / workers, extra = n % workers;
  auto bounds = [&](int w) {
    const std::int64_t b = w * chunk + std::min<std::int64_t>(w, extra);
    return std::pair<std::int64_t, std::int64_t>{b, b + chunk + (w < extra ? 1 : 0)};
  };
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(workers - 1));
  for (int w = 0; w < workers - 1; ++w) {
    threads.emplace_back([&, w] {
      try {
        const auto [b, e] = bounds(w);
        f(b, e);
      } catch (...) {
        errors[static_cast<std::size_t>(w)] = std::current_exception();
      }
    });
  }
  try {
    const auto [b, e] = bounds(workers - 1);
    f(b, e);
  } catch (...) {
    errors.back() = std::current_exception();
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace biqa::ops
