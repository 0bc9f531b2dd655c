// ops::parallel_for on the shared thread pool: every index exactly once, exceptions carried to the
// caller, nested and concurrent calls neither deadlock nor oversubscribe. Run under TSan in CI.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "biqa/ops/cpu/parallel.hpp"

namespace {

std::vector<int> visit_counts(int threads, std::int64_t n, std::int64_t grain) {
  biqa::Context ctx;
  ctx.threads = threads;
  std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
  biqa::ops::parallel_for(ctx, n, grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) hits[static_cast<std::size_t>(i)].fetch_add(1);
  });
  std::vector<int> out;
  for (auto& h : hits) out.push_back(h.load());
  return out;
}

}  // namespace

TEST_CASE("parallel_for covers every index exactly once", "[ops][parallel][threads]") {
  for (int threads : {1, 2, 3, 8})
    for (std::int64_t n : {1, 2, 7, 64, 1001}) {
      const auto counts = visit_counts(threads, n, 1);
      for (std::size_t i = 0; i < counts.size(); ++i) {
        INFO("threads " << threads << ", n " << n << ", index " << i);
        REQUIRE(counts[i] == 1);
      }
    }
}

TEST_CASE("parallel_for uses contiguous chunks on distinct threads", "[ops][parallel][threads]") {
  biqa::Context ctx;
  ctx.threads = 4;
  std::mutex m;
  std::vector<std::pair<std::int64_t, std::int64_t>> chunks;
  std::set<std::thread::id> ids;
  biqa::ops::parallel_for(ctx, 10, 1, [&](std::int64_t b, std::int64_t e) {
    std::lock_guard<std::mutex> lock(m);
    chunks.emplace_back(b, e);
    ids.insert(std::this_thread::get_id());
  });
  REQUIRE(chunks.size() == 4);  // one chunk per thread, sizes 3,3,2,2
  std::sort(chunks.begin(), chunks.end());
  CHECK(chunks.front().first == 0);
  for (std::size_t i = 1; i < chunks.size(); ++i) CHECK(chunks[i].first == chunks[i - 1].second);
  CHECK(chunks.back().second == 10);
  CHECK(ids.size() >= 1);
}

TEST_CASE("parallel_for rethrows a chunk's exception after all chunks finish", "[ops][parallel][threads]") {
  biqa::Context ctx;
  ctx.threads = 4;
  std::atomic<int> finished{0};
  CHECK_THROWS_WITH(biqa::ops::parallel_for(ctx, 4, 1,
                                            [&](std::int64_t b, std::int64_t) {
                                              if (b == 2) throw std::runtime_error("chunk 2 failed");
                                              finished.fetch_add(1);
                                            }),
                    "chunk 2 failed");
  CHECK(finished.load() == 3);
  // The pool is still usable afterwards.
  const auto counts = visit_counts(4, 100, 1);
  for (int c : counts) REQUIRE(c == 1);
}

TEST_CASE("nested parallel_for runs the inner loop serially and completes", "[ops][parallel][threads]") {
  biqa::Context ctx;
  ctx.threads = 4;
  std::atomic<std::int64_t> total{0};
  std::atomic<int> split_inner{0};  // Catch's assertions are not thread-safe: count, check after
  biqa::ops::parallel_for(ctx, 8, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) {
      std::atomic<int> inner_chunks{0};
      biqa::ops::parallel_for(ctx, 100, 1, [&](std::int64_t ib, std::int64_t ie) {
        inner_chunks.fetch_add(1);
        total.fetch_add(ie - ib);
      });
      if (inner_chunks.load() != 1) split_inner.fetch_add(1);
    }
  });
  CHECK(split_inner.load() == 0);
  CHECK(total.load() == 800);
}

TEST_CASE("parallel_for from many user threads at once", "[ops][parallel][threads]") {
  std::vector<std::thread> users;
  std::atomic<int> wrong{0};
  for (int u = 0; u < 8; ++u)
    users.emplace_back([&, u] {
      for (int rep = 0; rep < 20; ++rep) {
        const auto counts = visit_counts(2 + u % 3, 50 + u, 1);
        for (int c : counts)
          if (c != 1) wrong.fetch_add(1);
      }
    });
  for (auto& t : users) t.join();
  CHECK(wrong.load() == 0);
}
