#pragma once
/// @file
/// parallel_for: splits an index range into contiguous chunks and runs them on a process-wide pool
/// of worker threads (started on first use, grown on demand, joined at exit). Starting threads per
/// call cost tens of microseconds per op, which is most of a small layer's time.
///
/// Scheduling: the caller publishes a job and always works on it too, taking chunks from a shared
/// counter; idle workers join in. So a job finishes even when every worker is busy with other
/// callers' jobs (no deadlock when several user threads run models at once), and a parallel_for
/// inside a chunk runs serially on that thread instead of oversubscribing the cores.
///
/// Waiting: a worker that runs out of work spins for a short while (spin_before_sleep) before it
/// sleeps on the condition variable, and so does a caller waiting for the last chunk. Waking a
/// sleeping thread took long enough on a virtual machine (the sleeping vCPU is halted) that the
/// helper's part of every op started about 15 µs late. With more pool threads than the hardware
/// has, a spinning thread would hold a core the working one needs, so then nobody spins.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"

namespace biqa::ops {

namespace detail {

/// One parallel_for call. Shared with the workers through shared_ptr because a worker may pop an
/// invitation after the caller has already returned; it then only touches this state, never `body`.
struct ParallelJob {
  void (*invoke)(void* body, std::int64_t begin, std::int64_t end) = nullptr;
  void* body = nullptr;
  std::int64_t n = 0, chunk = 0, extra = 0;
  int chunks = 0;
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::mutex mutex;
  std::condition_variable finished;
  std::vector<std::exception_ptr> errors;

  std::pair<std::int64_t, std::int64_t> bounds(int w) const {
    const std::int64_t b = w * chunk + std::min<std::int64_t>(w, extra);
    return {b, b + chunk + (w < extra ? 1 : 0)};
  }

  /// Runs chunks until none are left; returns after the last chunk it took has finished.
  void work() {
    for (int w = next.fetch_add(1, std::memory_order_relaxed); w < chunks;
         w = next.fetch_add(1, std::memory_order_relaxed)) {
      try {
        const auto [b, e] = bounds(w);
        invoke(body, b, e);
      } catch (...) {
        errors[static_cast<std::size_t>(w)] = std::current_exception();
      }
      if (done.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) {
        std::lock_guard<std::mutex> lock(mutex);
        finished.notify_all();
      }
    }
  }
};

inline thread_local bool inside_parallel_region = false;

/// How long a thread with nothing to do keeps checking for work before it sleeps: longer than the
/// serial gaps between the ops of a forward pass, short enough not to matter to other processes.
inline constexpr std::chrono::microseconds spin_before_sleep{200};

/// One step of a spin-wait: tells the core this is a busy loop (frees issue slots for the other
/// hyperthread, and on x86 avoids the memory-order flush when the loop ends).
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

/// Spins until ready() or spin_before_sleep has passed; returns ready().
template <typename Ready>
bool spin_until(Ready&& ready) {
  const auto deadline = std::chrono::steady_clock::now() + spin_before_sleep;
  for (int i = 1;; ++i) {
    if (ready()) return true;
    spin_pause();
    if (i % 64 == 0 && std::chrono::steady_clock::now() >= deadline) return ready();
  }
}

class ThreadPool {
 public:
  static ThreadPool& instance() {
    static ThreadPool pool;
    return pool;
  }

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  /// Makes sure `count` workers exist and asks `helpers` of them to join `job`.
  void invite(const std::shared_ptr<ParallelJob>& job, int helpers) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (static_cast<int>(workers_.size()) < helpers) {
        while (static_cast<int>(workers_.size()) < helpers) workers_.emplace_back([this] { run(); });
        static const unsigned hardware = std::thread::hardware_concurrency();
        spin_.store(hardware == 0 || workers_.size() + 1 <= hardware, std::memory_order_relaxed);
      }
      for (int i = 0; i < helpers; ++i) invitations_.push_back(job);
      pending_.fetch_add(helpers, std::memory_order_release);
    }
    if (helpers == 1)
      wake_.notify_one();
    else
      wake_.notify_all();
  }

  /// Whether idle threads spin before sleeping: not when the pool has more threads than the
  /// hardware (the caller included).
  bool spinning() const { return spin_.load(std::memory_order_relaxed); }

 private:
  void run() {
    inside_parallel_region = true;
    for (;;) {
      if (spinning()) spin_until([this] { return pending_.load(std::memory_order_acquire) > 0; });
      std::shared_ptr<ParallelJob> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !invitations_.empty(); });
        if (stopping_ && invitations_.empty()) return;
        job = std::move(invitations_.front());
        invitations_.pop_front();
        pending_.fetch_sub(1, std::memory_order_relaxed);
      }
      job->work();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<ParallelJob>> invitations_;
  std::atomic<int> pending_{0};  ///< invitations_.size(), readable without the lock while spinning
  std::atomic<bool> spin_{true};
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

}  // namespace detail

/// How many threads a job of `n` items is worth, given at least `grain` items per thread.
inline int worker_count(const Context& ctx, std::int64_t n, std::int64_t grain) {
  if (n <= 0) return 1;
  const std::int64_t by_work = (n + std::max<std::int64_t>(grain, 1) - 1) / std::max<std::int64_t>(grain, 1);
  return static_cast<int>(std::clamp<std::int64_t>(by_work, 1, ctx.resolved_threads()));
}

/// Calls f(begin, end) on disjoint contiguous chunks covering [0, n), one chunk per thread used.
/// An exception thrown by any chunk is rethrown here (the first by chunk order) after all chunks
/// have finished.
template <typename F>
void parallel_for(const Context& ctx, std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  const int workers = detail::inside_parallel_region ? 1 : worker_count(ctx, n, grain);
  if (workers == 1) {
    f(std::int64_t{0}, n);
    return;
  }
  using Body = std::remove_reference_t<F>;
  auto job = std::make_shared<detail::ParallelJob>();
  job->invoke = [](void* body, std::int64_t b, std::int64_t e) { (*static_cast<Body*>(body))(b, e); };
  job->body = const_cast<void*>(static_cast<const void*>(std::addressof(f)));
  job->n = n;
  job->chunks = workers;
  job->chunk = n / workers;
  job->extra = n % workers;
  job->errors.resize(static_cast<std::size_t>(workers));

  detail::ThreadPool::instance().invite(job, workers - 1);
  detail::inside_parallel_region = true;  // chunks that call parallel_for run serially here too
  job->work();
  detail::inside_parallel_region = false;
  const auto all_done = [&] { return job->done.load(std::memory_order_acquire) == job->chunks; };
  if (!detail::ThreadPool::instance().spinning() || !detail::spin_until(all_done)) {
    std::unique_lock<std::mutex> lock(job->mutex);
    job->finished.wait(lock, all_done);
  }
  for (auto& e : job->errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace biqa::ops
