#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/eigen_interop.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/core/xtensor_interop.hpp"

using biqa::Shape;
using biqa::Tensor;

TEST_CASE("tensor: contiguous storage is 64-byte aligned and row-major", "[core]") {
  Tensor<float> t({2, 3, 4});
  REQUIRE(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  REQUIRE(t.stride(0) == 12);
  REQUIRE(t.stride(1) == 4);
  REQUIRE(t.stride(2) == 1);
  REQUIRE(t.numel() == 24);
  REQUIRE(t.is_contiguous());
}

TEST_CASE("tensor: buffers of 2 MiB and more start on a 2 MiB boundary (huge-page backed)", "[core]") {
  Tensor<float> big({3, 1024, 1024});  // 12 MiB
  REQUIRE(reinterpret_cast<std::uintptr_t>(big.data()) % biqa::cpu_huge_page == 0);
  big.fill(1.0f);
  REQUIRE(big.data()[big.numel() - 1] == 1.0f);
  Tensor<float> small({1000});
  REQUIRE(reinterpret_cast<std::uintptr_t>(small.data()) % 64 == 0);
}

TEST_CASE("tensor: buffers from cpu_map_threshold up are mapped on a 2 MiB boundary and released whole",
          "[core]") {
  // A size that is not a whole number of pages (the mapping rounds to 4 KiB pages), written to its
  // last element, released and mapped again many times (a leak of mappings would exhaust them).
  const auto n = static_cast<std::int64_t>(biqa::cpu_map_threshold / sizeof(float)) + 777;
  for (int round = 0; round < 200; ++round) {
    Tensor<float> t({n});
    REQUIRE(reinterpret_cast<std::uintptr_t>(t.data()) % biqa::cpu_huge_page == 0);
    t.data()[0] = 1.0f;
    t.data()[n - 1] = 2.0f;
    REQUIRE(t.data()[n - 1] + t.data()[0] == 3.0f);
  }
  std::vector<Tensor<float>> several;  // held at once: distinct, each writable
  for (int i = 0; i < 4; ++i) several.emplace_back(biqa::Shape{n}), several.back().fill(float(i));
  for (int i = 0; i < 4; ++i) REQUIRE(several[static_cast<std::size_t>(i)].data()[n - 1] == float(i));
}

#if defined(__linux__)
TEST_CASE("tensor: released mappings are reused for the same size and never held past a new mapping's size",
          "[core]") {
  auto& cache = biqa::MappedBufferCache::instance();
  biqa::release_cached_buffers();
  REQUIRE(cache.held() == 0);
  const auto n = static_cast<std::int64_t>(biqa::cpu_map_threshold / sizeof(float)) + 777;
  const std::size_t bytes = (static_cast<std::size_t>(n) * sizeof(float) + 4095) / 4096 * 4096;
  const float* first = nullptr;
  {
    Tensor<float> t({n});
    t.fill(3.0f);
    first = t.data();
  }
  CHECK(cache.held() == bytes);  // released into the cache, not unmapped
  {
    Tensor<float> again({n});  // the same size: the same pages, no new mapping
    CHECK(again.data() == first);
    CHECK(cache.held() == 0);
    again.data()[n - 1] = 1.0f;
  }
  // A size the cache cannot serve unmaps at least that many cached bytes before mapping anew, so
  // cached plus live memory never exceeds what unmapping on every release would have held.
  {
    Tensor<float> a({n}), b({n});
  }
  CHECK(cache.held() == 2 * bytes);
  {
    Tensor<float> bigger({2 * n});  // needs 2n floats: both cached buffers go first
    CHECK(cache.held() == 0);
  }
  CHECK(cache.held() == (static_cast<std::size_t>(2 * n) * sizeof(float) + 4095) / 4096 * 4096);
  {
    Tensor<float> smaller({n + 1000});  // smaller than the cached one, yet not it: that one goes
    CHECK(cache.held() == 0);
  }
  // Poisoning applies to reused buffers too.
  auto& poison = biqa::cpu_poison_buffers();
  const bool saved = poison.load();
  poison.store(true);
  {
    Tensor<float> t({n});
    t.fill(0.0f);
  }
  {
    Tensor<float> t({n});
    CHECK(std::isnan(t.data()[0]));
    CHECK(std::isnan(t.data()[n - 1]));
  }
  poison.store(saved);
  CHECK(biqa::release_cached_buffers() == bytes);
  CHECK(cache.held() == 0);
  CHECK(biqa::release_cached_buffers() == 0);
}
#endif

TEST_CASE("tensor: long-lived buffers from 64 KiB up are mapped on their own", "[core]") {
  using Alloc = biqa::DeviceAllocator<biqa::Cpu>;
  for (const std::size_t bytes : {std::size_t(1000), std::size_t(64) << 10, (std::size_t(3) << 20) + 12}) {
    INFO(bytes);
    const auto p = Alloc::allocate_long_lived(bytes);
    const auto at = reinterpret_cast<std::uintptr_t>(p.get());
    REQUIRE(at % biqa::cpu_alignment == 0);
#if defined(__linux__)
    if (bytes >= (std::size_t(64) << 10)) CHECK(at % biqa::cpu_huge_page == 0);  // a mapping of its own
#endif
    auto* f = static_cast<float*>(p.get());
    f[0] = 1.0f;
    f[bytes / sizeof(float) - 1] = 2.0f;
    CHECK(f[0] + f[bytes / sizeof(float) - 1] == 3.0f);
  }
}

TEST_CASE("tensor: poisoned buffers start as NaN (BIQA_POISON_BUFFERS=1)", "[core]") {
  auto& poison = biqa::cpu_poison_buffers();
  const bool saved = poison.load();
  poison.store(true);
  for (int round = 0; round < 2; ++round) {  // the second may get the first's memory back
    Tensor<float> t({600, 1024});  // 2.4 MB: huge-page aligned, its tail in 4 KiB pages
    REQUIRE(reinterpret_cast<std::uintptr_t>(t.data()) % biqa::cpu_huge_page == 0);
    REQUIRE(std::isnan(t.data()[0]));
    REQUIRE(std::isnan(t.data()[t.numel() - 1]));
    t.fill(0.0f);
  }
  // Mapped buffers (cpu_map_threshold and up) are poisoned too, to their last element.
  Tensor<float> mapped({static_cast<std::int64_t>(biqa::cpu_map_threshold / sizeof(float)) + 1001});
  REQUIRE(std::isnan(mapped.data()[0]));
  REQUIRE(std::isnan(mapped.data()[mapped.numel() - 1]));
  Tensor<float> s({7});
  REQUIRE(std::isnan(s.data()[6]));
  poison.store(false);
  Tensor<float> u({7});
  u.fill(1.0f);
  REQUIRE(u.data()[6] == 1.0f);
  poison.store(saved);
}

TEST_CASE("tensor: views share storage and honour strides", "[core]") {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = float(i);
  auto t = Tensor<float>::from_vector({2, 3, 4}, v);

  auto p = t.permute({2, 0, 1});
  REQUIRE(p.shape() == Shape{4, 2, 3});
  REQUIRE_FALSE(p.is_contiguous());
  REQUIRE(p(3, 1, 2) == t(1, 2, 3));

  auto s = t.slice(2, 1, 4, 2);  // columns 1 and 3
  REQUIRE(s.shape() == Shape{2, 3, 2});
  REQUIRE(s(1, 2, 1) == 23.0f);

  auto sel = t.select(1, -1);
  REQUIRE(sel.shape() == Shape{2, 4});
  REQUIRE(sel(1, 0) == 20.0f);

  auto c = p.contiguous();
  REQUIRE(c.is_contiguous());
  REQUIRE(c(3, 1, 2) == 23.0f);
  c(0, 0, 0) = -1;
  REQUIRE(t(0, 0, 0) == 0.0f);  // a copy
  s(0, 0, 0) = 100;
  REQUIRE(t(0, 0, 1) == 100.0f);  // a view

  auto u = t.unsqueeze(0);
  REQUIRE(u.shape() == Shape{1, 2, 3, 4});
  REQUIRE(u.reshape({6, 4})(5, 3) == 23.0f);
  REQUIRE_THROWS_AS(p.reshape({24}), biqa::Error);
  REQUIRE_THROWS_AS(t.reshape({5, 5}), biqa::Error);
  REQUIRE_THROWS_AS(t(2, 0, 0), biqa::Error);
  REQUIRE_THROWS_AS(t.permute({0, 0, 1}), biqa::Error);
}

TEST_CASE("tensor: borrowed storage stays alive through its owner", "[core]") {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor<float> view;
  {
    auto keep = std::shared_ptr<void>(owner, owner.get());
    view = Tensor<float>::borrow(owner->data(), {2, 3}, keep);
  }
  REQUIRE(owner.use_count() == 2);
  REQUIRE(view(1, 2) == 6.0f);
  auto tr = view.transpose(0, 1);
  tr.assign(Tensor<float>::from_list({3, 2}, {0, 1, 2, 3, 4, 5}));
  REQUIRE(view.to_vector() == std::vector<float>{0, 2, 4, 1, 3, 5});
}

TEST_CASE("tensor: Eigen and xtensor views are zero-copy", "[core]") {
  auto t = Tensor<float>::from_list({2, 3}, {1, 2, 3, 4, 5, 6});
  auto m = biqa::as_matrix(t);
  REQUIRE(m(1, 2) == 6.0f);
  m(0, 0) = 10;
  REQUIRE(t(0, 0) == 10.0f);
  auto tt = t.transpose(0, 1);
  auto mt = biqa::as_matrix(tt);
  REQUIRE(mt.rows() == 3);
  REQUIRE(mt(2, 1) == 6.0f);
  Eigen::MatrixXf prod = m * mt;  // [2x3] x [3x2]
  REQUIRE(prod(0, 0) == Approx(10 * 10 + 4 + 9));

  auto x = biqa::as_xarray(tt);
  REQUIRE(x.shape()[0] == 3);
  REQUIRE(x(2, 1) == 6.0f);
  x(0, 1) = 40;
  REQUIRE(t(1, 0) == 40.0f);
  auto back = biqa::from_xexpression<float>(x);
  REQUIRE(back.shape() == Shape{3, 2});
  REQUIRE(back(0, 1) == 40.0f);
}

TEST_CASE("scratch arena reuses its blocks after reset", "[core]") {
  biqa::ScratchArena arena;
  void* a = arena.allocate(1000);
  void* b = arena.allocate(3000);
  REQUIRE(reinterpret_cast<std::uintptr_t>(b) % 64 == 0);
  const auto cap = arena.capacity();
  arena.reset();
  REQUIRE(arena.allocate(1000) == a);
  arena.allocate(3000);
  REQUIRE(arena.capacity() == cap);
  arena.allocate(5u << 20);  // larger than any block
  REQUIRE(arena.capacity() > cap);
}
