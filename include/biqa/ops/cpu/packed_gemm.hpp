#pragma once
/// @file
/// A packed, cache-blocked single-precision GEMM: C = A·B (+ C), C row-major. The operands are
/// copied into panels that the register-blocked micro-kernel streams through contiguously (A in
/// MR-row slivers, B in NR-column slivers), the loops blocked so that a KC×NR sliver of B stays in
/// L1, an MC×KC block of A in L2 and a KC×NC panel of B in L3. The micro-kernel is written once on
/// Eigen's packet math, so it becomes AVX2+FMA, AVX, SSE or NEON code depending on the target.
/// Eigen's own product kernel reaches about 60% of the FMA peak on the machines we measure; the
/// point of this one is the larger register tile (MR × 2 packets) that keeps the FMA units busy.

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include "biqa/core/error.hpp"

namespace biqa::ops::detail {

namespace packed {

using Packet = Eigen::internal::packet_traits<float>::type;
inline constexpr int packet_size = Eigen::internal::packet_traits<float>::size;
/// SIMD registers of the target, as an int (Eigen's count for SSE-only builds is a size_t,
/// 2 * sizeof(void*), which std::min against an int refuses).
inline constexpr int vector_registers = static_cast<int>(EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS);

/// Register tile: MR rows × NR columns of C live in MR·NR/packet_size registers (12 on AVX2 and SSE,
/// leaving room for two B packets and one broadcast A value in 16 registers).
inline constexpr std::int64_t mr = 6;
inline constexpr std::int64_t nr = 2 * packet_size;
/// Cache blocks (floats): KC deep, MC rows of A, NC columns of B.
inline constexpr std::int64_t kc_block = 512;
inline constexpr std::int64_t mc_block = 72;
inline constexpr std::int64_t nc_block = 2048;
/// NC for a convolution's products (a packed weight times im2col columns or a 1×1 input): its
/// epilogue runs per MC × NC panel, and at 256 columns that panel and the B panel stay in L2 while
/// the epilogue reads them back. With 2048, ResNet-50's 56 × 56 layers and stem lost 0.4-0.6 ms
/// each (docs/performance.md).
inline constexpr std::int64_t conv_nc_block = 256;

/// A view of a rank-2 operand: element (i, j) at data[i * row_stride + j * col_stride].
struct StridedMatrix {
  const float* data = nullptr;
  std::int64_t row_stride = 0, col_stride = 1;
  float at(std::int64_t i, std::int64_t j) const { return data[i * row_stride + j * col_stride]; }
};

/// Copies A[i0:i0+rows, p0:p0+depth] into MR-row slivers: sliver s holds rows s·MR.. as
/// [depth][MR], zero-padded past `rows`.
inline void pack_a(const StridedMatrix& a, std::int64_t i0, std::int64_t rows, std::int64_t p0,
                   std::int64_t depth, float* dst) {
  for (std::int64_t s = 0; s < rows; s += mr) {
    const std::int64_t h = std::min(mr, rows - s);
    if (a.col_stride == 1 && h == mr) {
      const float* r[mr];
      for (std::int64_t i = 0; i < mr; ++i) r[i] = a.data + (i0 + s + i) * a.row_stride + p0;
      for (std::int64_t p = 0; p < depth; ++p)
        for (std::int64_t i = 0; i < mr; ++i) *dst++ = r[i][p];
    } else {
      for (std::int64_t p = 0; p < depth; ++p) {
        for (std::int64_t i = 0; i < h; ++i) *dst++ = a.at(i0 + s + i, p0 + p);
        for (std::int64_t i = h; i < mr; ++i) *dst++ = 0.0f;
      }
    }
  }
}

/// Copies B[p0:p0+depth, j0:j0+cols] into NR-column slivers, each [depth][NR], zero-padded past
/// `cols`.
inline void pack_b(const StridedMatrix& b, std::int64_t p0, std::int64_t depth, std::int64_t j0,
                   std::int64_t cols, float* dst) {
  for (std::int64_t s = 0; s < cols; s += nr) {
    const std::int64_t w = std::min(nr, cols - s);
    if (b.col_stride == 1 && w == nr) {
      const float* src = b.data + p0 * b.row_stride + j0 + s;
      for (std::int64_t p = 0; p < depth; ++p, src += b.row_stride, dst += nr)
        std::memcpy(dst, src, sizeof(float) * nr);
    } else if (b.row_stride == 1) {
      // B is the transpose of a row-major matrix (a Linear weight): column j is contiguous. Each
      // step copies a cache line of every one of the NR columns into a small tile and transposes
      // it from there. Reading one float per column per packed row instead touched NR lines a
      // power-of-two stride apart, which share one L1 set, so every read missed: a 2048×1000
      // weight took 4.0 ms to pack, now about 1.2 (an 8 MB memcpy takes 0.45).
      constexpr std::int64_t run = 16;  // floats per column per step: one 64-byte line
      alignas(64) float tile[nr][run];
      for (std::int64_t p = 0; p < depth; p += run) {
        const std::int64_t t = std::min(run, depth - p);
        for (std::int64_t j = 0; j < nr; ++j) {
          if (j >= w) {
            std::fill(tile[j], tile[j] + t, 0.0f);
            continue;
          }
          const float* src = b.data + (j0 + s + j) * b.col_stride + p0 + p;
#if defined(__GNUC__)
          // NR streams are more than the hardware prefetcher follows; 8 lines ahead measured best.
          if (p + 9 * run <= depth) __builtin_prefetch(src + 8 * run);
#endif
          std::memcpy(tile[j], src, sizeof(float) * t);
        }
        for (std::int64_t q = 0; q < t; ++q, dst += nr)
          for (std::int64_t j = 0; j < nr; ++j) dst[j] = tile[j][q];
      }
    } else {
      for (std::int64_t p = 0; p < depth; ++p) {
        for (std::int64_t j = 0; j < w; ++j) *dst++ = b.at(p0 + p, j0 + s + j);
        for (std::int64_t j = w; j < nr; ++j) *dst++ = 0.0f;
      }
    }
  }
}

/// The micro-kernel fetches one cache line of `prefetch` every this many steps of the depth.
inline constexpr std::int64_t prefetch_every = 4;

/// C[0:MR, 0:NR] (leading dimension ldc) = (accumulate ? C : 0) + Ap · Bp over `depth`. With
/// `prefetch`, it also asks for the memory from there on into the cache, a line per
/// prefetch_every steps (blocked_product points it at the next B sliver). With Packets = 1 it
/// computes only the first packet_size columns, for a last sliver that narrow: a 14 × 14 plane is
/// six full slivers and 4 columns, and the whole-width kernel spent an eighth of its work there.
template <bool Accumulate, int Packets = 2>
inline void micro_kernel(std::int64_t depth, const float* ap, const float* bp, float* c,
                         std::int64_t ldc, const float* prefetch = nullptr) {
  static_assert(Packets == 1 || Packets == 2, "micro_kernel: one or two packets per row");
  using namespace Eigen::internal;
  Packet c0[mr], c1[mr];
  for (int i = 0; i < mr; ++i) c0[i] = c1[i] = pset1<Packet>(0.0f);
  // One step: the outer product of an MR-column of A and an NR-row of B added to the accumulators.
  const auto step = [&](const float* a_col, const float* b_row) {
    const Packet b0 = ploadu<Packet>(b_row);
    const Packet b1 = Packets == 2 ? ploadu<Packet>(b_row + packet_size) : b0;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 6
#endif
    for (int i = 0; i < mr; ++i) {
      const Packet a = pset1<Packet>(a_col[i]);
      c0[i] = pmadd(a, b0, c0[i]);
      if constexpr (Packets == 2) c1[i] = pmadd(a, b1, c1[i]);
    }
  };
  std::int64_t p = 0;
#if defined(__GNUC__)
  if (prefetch)
    for (; p + prefetch_every <= depth; p += prefetch_every, prefetch += 64 / sizeof(float)) {
      __builtin_prefetch(prefetch, 0, 3);
      for (std::int64_t q = 0; q < prefetch_every; ++q, ap += mr, bp += nr) step(ap, bp);
    }
#endif
  for (; p < depth; ++p, ap += mr, bp += nr) step(ap, bp);
  for (int i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    if constexpr (Accumulate) {
      c0[i] = padd(c0[i], ploadu<Packet>(row));
      if constexpr (Packets == 2) c1[i] = padd(c1[i], ploadu<Packet>(row + packet_size));
    }
    pstoreu(row, c0[i]);
    if constexpr (Packets == 2) pstoreu(row + packet_size, c1[i]);
  }
}

/// Tile wrapper: full tiles go straight to C; edge tiles through a small buffer.
inline void run_tile(std::int64_t depth, const float* ap, const float* bp, float* c, std::int64_t ldc,
                     std::int64_t rows, std::int64_t cols, bool accumulate, const float* prefetch = nullptr) {
  if (rows == mr && cols == nr) {
    if (accumulate)
      micro_kernel<true>(depth, ap, bp, c, ldc, prefetch);
    else
      micro_kernel<false>(depth, ap, bp, c, ldc, prefetch);
    return;
  }
  alignas(64) float tile[mr * nr];
  if (cols <= packet_size)
    micro_kernel<false, 1>(depth, ap, bp, tile, nr);
  else
    micro_kernel<false>(depth, ap, bp, tile, nr);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j)
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i * nr + j] : tile[i * nr + j];
}

/// Packing buffers, one per thread, grown on demand and kept: every op call would otherwise allocate
/// (and, for fresh pages, fault in) up to a few MB.
struct Buffers {
  std::unique_ptr<float[], void (*)(float*)> a{nullptr, [](float* p) { ::operator delete[](p, std::align_val_t(64)); }};
  std::unique_ptr<float[], void (*)(float*)> b{nullptr, [](float* p) { ::operator delete[](p, std::align_val_t(64)); }};
  std::int64_t a_size = 0, b_size = 0;
  static float* grow(std::unique_ptr<float[], void (*)(float*)>& p, std::int64_t& have, std::int64_t need) {
    if (need > have) {
      p.reset(static_cast<float*>(::operator new[](sizeof(float) * static_cast<std::size_t>(need),
                                                   std::align_val_t(64))));
      have = need;
    }
    return p.get();
  }
};
inline Buffers& thread_buffers() {
  thread_local Buffers buffers;
  return buffers;
}

/// The size, in floats, of B [k, n] packed whole: ceil(n / NR) slivers of [k][NR].
inline std::int64_t packed_b_size(std::int64_t k, std::int64_t n) { return (n + nr - 1) / nr * nr * k; }

/// B [k, n] packed whole, for an operand used by several products (a Linear weight, the keys and
/// values of one attention head, an im2col buffer written in this layout directly).
struct PackedB {
  const float* data = nullptr;  ///< packed_b_size(k, n) floats
  std::int64_t k = 0, n = 0;
};
inline void pack_b_whole(const StridedMatrix& b, std::int64_t k, std::int64_t n, float* dst) {
  pack_b(b, 0, k, 0, n, dst);
}

/// The size, in floats, of A [m, k] packed whole: ceil(m / MR) slivers of [k][MR].
inline std::int64_t packed_a_size(std::int64_t m, std::int64_t k) { return (m + mr - 1) / mr * mr * k; }

/// A [m, k] packed whole, for a left operand used by several products (a convolution's weight,
/// reused by every column block): sliver s holds rows s·MR.. as [k][MR], so the k-block [pc, pc+kc)
/// of a sliver starts at data + s·k·MR + pc·MR.
struct PackedA {
  const float* data = nullptr;  ///< packed_a_size(m, k) floats
  std::int64_t m = 0, k = 0;
};
inline void pack_a_whole(const StridedMatrix& a, std::int64_t m, std::int64_t k, float* dst) {
  pack_a(a, 0, m, 0, k, dst);
}

/// The default epilogue of blocked_product: none.
struct NoFinish {
  void operator()(std::int64_t, std::int64_t, std::int64_t, std::int64_t) const {}
};

/// The blocked loops around the micro-kernel. `a_panel(ic, mc, pc, kc)` returns the packed
/// A[ic:ic+mc, pc:pc+kc] and `b_panel(pc, kc, jc, nc)` the packed B[pc:pc+kc, jc:jc+nc], each as a
/// pointer to its first sliver and the distance between slivers. `finish(i, rows, j, cols)` runs on
/// C[i:i+rows, j:j+cols] as soon as that tile's sum is complete, while it is still in L1: an
/// epilogue there (a Linear's bias) costs no extra pass over C. `finish_panel(i, rows, j, cols)` runs
/// once an MC-row block of a column panel is complete (at most MC × NC, in L2), for epilogues that
/// read other operands row by row (a convolution's residual: read a tile at a time, six rows a
/// page apart, it defeated the prefetchers).
template <typename APanel, typename BPanel, typename Finish = NoFinish, typename FinishPanel = NoFinish>
inline void blocked_product(std::int64_t m, std::int64_t n, std::int64_t k, APanel&& a_panel,
                            BPanel&& b_panel, float* c, std::int64_t ldc, Finish&& finish = {},
                            FinishPanel&& finish_panel = {}, std::int64_t nc_max = nc_block) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (std::int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    finish(0, m, 0, n);
    finish_panel(0, m, 0, n);
    return;
  }
  for (std::int64_t jc = 0; jc < n; jc += nc_max) {
    const std::int64_t nc = std::min(nc_max, n - jc);
    for (std::int64_t pc = 0; pc < k; pc += kc_block) {
      const std::int64_t kc = std::min(kc_block, k - pc);
      const auto [bp, b_stride] = b_panel(pc, kc, jc, nc);
      const bool last = pc + kc >= k;
      for (std::int64_t ic = 0; ic < m; ic += mc_block) {
        const std::int64_t mc = std::min(mc_block, m - ic);
        const auto [ap, a_stride] = a_panel(ic, mc, pc, kc);
        // While the tiles of one B sliver run, the next sliver is fetched, a share per tile: a
        // Linear weight used by a few dozen tokens comes from memory once per forward and the
        // hardware prefetchers stop at every 4 KiB page (CLIP's image tower, 50 tokens: its
        // products ran 1.5x faster).
        const std::int64_t tiles = (mc + mr - 1) / mr, share = (kc * nr + tiles - 1) / tiles;
        for (std::int64_t jr = 0; jr < nc; jr += nr) {
          const float* bs = bp + (jr / nr) * b_stride;
          const float* next = jr + nr < nc ? bs + b_stride : nullptr;
          const std::int64_t cols = std::min(nr, nc - jr);
          for (std::int64_t ir = 0; ir < mc; ir += mr) {
            const std::int64_t rows = std::min(mr, mc - ir);
            run_tile(kc, ap + (ir / mr) * a_stride, bs, c + (ic + ir) * ldc + jc + jr, ldc, rows, cols, pc > 0,
                     next ? next + (ir / mr) * share : nullptr);
            if (last) finish(ic + ir, rows, jc + jr, cols);
          }
        }
        if (last) finish_panel(ic, mc, jc, nc);
      }
    }
  }
}

/// An a_panel for blocked_product that packs A[ic:ic+mc, pc:pc+kc] into this thread's buffer.
inline auto packing_a_panel(const StridedMatrix& a, std::int64_t m, std::int64_t k) {
  Buffers& buf = thread_buffers();
  float* ap = Buffers::grow(buf.a, buf.a_size, std::min(kc_block, k) * std::min(mc_block, (m + mr - 1) / mr * mr));
  return [a, ap](std::int64_t ic, std::int64_t mc, std::int64_t pc, std::int64_t kc) {
    pack_a(a, ic, mc, pc, kc, ap);
    return std::pair<const float*, std::int64_t>{ap, kc * mr};
  };
}

/// An a_panel for blocked_product over rows [i0, i0 + m) of an A packed beforehand (i0 % MR == 0).
inline auto packed_a_panel(const PackedA& a, std::int64_t i0) {
  return [a, i0](std::int64_t ic, std::int64_t, std::int64_t pc, std::int64_t) {
    return std::pair<const float*, std::int64_t>{a.data + ((i0 + ic) / mr) * a.k * mr + pc * mr, a.k * mr};
  };
}

/// A b_panel for blocked_product that packs B[pc:pc+kc, jc:jc+nc] into this thread's buffer.
inline auto packing_b_panel(const StridedMatrix& b) {
  return [b](std::int64_t pc, std::int64_t kc, std::int64_t jc, std::int64_t nc) {
    Buffers& buf = thread_buffers();
    float* bp = Buffers::grow(buf.b, buf.b_size, kc * ((nc + nr - 1) / nr * nr));
    pack_b(b, pc, kc, jc, nc, bp);
    return std::pair<const float*, std::int64_t>{bp, kc * nr};
  };
}

/// A b_panel for blocked_product over columns [j0, j0 + n) of a B packed beforehand (j0 % NR == 0).
inline auto packed_b_panel(const PackedB& b, std::int64_t j0) {
  return [b, j0](std::int64_t pc, std::int64_t, std::int64_t jc, std::int64_t) {
    return std::pair<const float*, std::int64_t>{b.data + ((j0 + jc) / nr) * b.k * nr + pc * nr, b.k * nr};
  };
}

}  // namespace packed

/// C[0:m, 0:n] (row-major, leading dimension ldc) = A[0:m, 0:k] · B[0:k, 0:n]; k == 0 gives zeros.
inline void packed_gemm(std::int64_t m, std::int64_t n, std::int64_t k, const packed::StridedMatrix& a,
                        const packed::StridedMatrix& b, float* c, std::int64_t ldc) {
  using namespace packed;
  blocked_product(m, n, k, packing_a_panel(a, m, k), packing_b_panel(b), c, ldc);
}

/// The same product with B packed beforehand (packed::pack_b_whole); columns [j0, j0 + n) of it;
/// `finish` as in packed::blocked_product (a packed Linear adds its bias there).
template <typename Finish = packed::NoFinish>
inline void packed_gemm(std::int64_t m, std::int64_t n, const packed::StridedMatrix& a,
                        const packed::PackedB& b, std::int64_t j0, float* c, std::int64_t ldc, Finish&& finish = {}) {
  using namespace packed;
  BIQA_CHECK(j0 % nr == 0 && j0 + n <= (b.n + nr - 1) / nr * nr, ErrorCode::internal,
             "packed_gemm: columns [", j0, ", ", j0 + n, ") of a packed B with ", b.n);
  blocked_product(m, n, b.k, packing_a_panel(a, m, b.k), packed_b_panel(b, j0), c, ldc, std::forward<Finish>(finish));
}

/// Rows [i0, i0 + m) of an A packed beforehand (packed::pack_a_whole) times B [k, n], packed here;
/// `finish_panel` as in packed::blocked_product (a convolution's epilogue).
template <typename FinishPanel = packed::NoFinish>
inline void packed_gemm(std::int64_t m, std::int64_t n, const packed::PackedA& a, std::int64_t i0,
                        const packed::StridedMatrix& b, float* c, std::int64_t ldc, FinishPanel&& finish_panel = {}) {
  using namespace packed;
  BIQA_CHECK(i0 % mr == 0 && i0 + m <= a.m, ErrorCode::internal, "packed_gemm: rows [", i0, ", ", i0 + m,
             ") of a packed A with ", a.m);
  blocked_product(m, n, a.k, packed_a_panel(a, i0), packing_b_panel(b), c, ldc, NoFinish{},
                  std::forward<FinishPanel>(finish_panel), conv_nc_block);
}

/// Both operands packed beforehand: rows [i0, i0 + m) of A times columns [j0, j0 + n) of B;
/// `finish_panel` as in packed::blocked_product.
template <typename FinishPanel = packed::NoFinish>
inline void packed_gemm(std::int64_t m, std::int64_t n, const packed::PackedA& a, std::int64_t i0,
                        const packed::PackedB& b, std::int64_t j0, float* c, std::int64_t ldc,
                        FinishPanel&& finish_panel = {}) {
  using namespace packed;
  BIQA_CHECK(a.k == b.k && i0 % mr == 0 && i0 + m <= a.m && j0 % nr == 0 && j0 + n <= (b.n + nr - 1) / nr * nr,
             ErrorCode::internal, "packed_gemm: rows [", i0, ", ", i0 + m, ") of a packed A [", a.m, ", ", a.k,
             "] and columns [", j0, ", ", j0 + n, ") of a packed B [", b.k, ", ", b.n, "]");
  blocked_product(m, n, a.k, packed_a_panel(a, i0), packed_b_panel(b, j0), c, ldc, NoFinish{},
                  std::forward<FinishPanel>(finish_panel), conv_nc_block);
}

}  // namespace biqa::ops::detail
