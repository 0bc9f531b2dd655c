// ops:: on device tensors (ops/cuda/dispatch.cuh): device views made contiguous, broadcasting
// binary ops, matmul, prelu, concat, softmax along any axis, RMSNorm, each against the CPU op on
// the same data; then a block written once against ops:: run on both devices. Tolerances: copies,
// binary ops and prelu exact (the same float operation); matmul and row reductions 1e-5 and the
// block 1e-4 of the largest reference value (other summation orders, cuBLAS); TF32, float16 and
// bfloat16 products their stated 1e-2, 1e-2 and 5e-2. The [no-device] cases check that the
// overloads exist for device tensors, run the block's CPU instantiation, and check the streams'
// bookkeeping (StreamScope, the overloads' refusal of work outside a Context's stream).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include "biqa/ops/cuda/dispatch.cuh"
#include "ops/cuda/support.hpp"

using biqa::Context;
using biqa::Cpu;
using biqa::Cuda;
using biqa::Shape;
using biqa::Tensor;
namespace cuda = biqa::cuda;
namespace ops = biqa::ops;

using biqa::test::error_against;
using biqa::test::random_tensor;

namespace {

// One pre-norm attention block and a convolutional tail, written once: every call resolves to the
// CPU or the CUDA op by the tensors' device.
template <typename D>
struct BlockWeights {
  Tensor<float, D> ln_w, ln_b, qkv_w, qkv_b, proj_w, proj_b, conv_w, conv_b, gn_w, gn_b;
};

template <typename D>
Tensor<float, D> block(const Tensor<float, D>& x, const BlockWeights<D>& w, std::int64_t heads, Context& ctx) {
  const std::int64_t b = x.size(0), n = x.size(1), c = x.size(2), hd = c / heads;
  const Tensor<float, D> qkv = ops::linear(ops::layer_norm(x, w.ln_w, w.ln_b, ctx), w.qkv_w, w.qkv_b, ctx)
                                   .reshape({b, n, 3, heads, hd})
                                   .permute({2, 0, 3, 1, 4});
  const Tensor<float, D> attn =
      ops::scaled_dot_product_attention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2), ctx);
  Tensor<float, D> y = ops::add(x, ops::linear(attn.permute({0, 2, 1, 3}).contiguous().reshape({b, n, c}), w.proj_w,
                                               w.proj_b, ctx),
                                ctx);
  y = ops::gelu(y, ctx);
  // Tokens as a 4×(n/4) map: conv, GroupNorm, pooling, resize, a broadcast scale, log_softmax.
  Tensor<float, D> map = y.permute({0, 2, 1}).contiguous().reshape({b, c, 4, n / 4});
  ops::Conv2dOptions conv;
  conv.padding = {1, 1};
  map = ops::silu(ops::group_norm(ops::conv2d(map, w.conv_w, w.conv_b, ctx, conv), 2, w.gn_w, w.gn_b, ctx), ctx);
  ops::Pool2dOptions pool;
  pool.kernel = {2, 2};
  map = ops::interpolate(ops::max_pool2d(map, ctx, pool), 4, n / 4, ctx);
  map = ops::mul(map, ops::rms_norm(map, Tensor<float, D>(), ctx), ctx);
  return ops::log_softmax(ops::div(map, 2.0f, ctx), ctx, 1);
}

template <typename D>
BlockWeights<D> move_weights(const BlockWeights<Cpu>& w) {
  if constexpr (std::is_same_v<D, Cpu>) {
    return w;
  } else {
    return {cuda::to_device(w.ln_w),   cuda::to_device(w.ln_b),   cuda::to_device(w.qkv_w),  cuda::to_device(w.qkv_b),
            cuda::to_device(w.proj_w), cuda::to_device(w.proj_b), cuda::to_device(w.conv_w), cuda::to_device(w.conv_b),
            cuda::to_device(w.gn_w),   cuda::to_device(w.gn_b)};
  }
}

BlockWeights<Cpu> random_weights(std::int64_t c) {
  return {random_tensor({c}, 60),        random_tensor({c}, 61),        random_tensor({3 * c, c}, 62, 0.2f),
          random_tensor({3 * c}, 63),    random_tensor({c, c}, 64, 0.2f), random_tensor({c}, 65),
          random_tensor({c, c, 3, 3}, 66, 0.1f), random_tensor({c}, 67), random_tensor({c}, 68),
          random_tensor({c}, 69)};
}

}  // namespace

TEST_CASE("cuda dispatch: ops:: has a device overload for every op the block uses", "[no-device]") {
  using T = Tensor<float, Cuda>;
  STATIC_REQUIRE(std::is_same_v<decltype(ops::relu(std::declval<const T&>(), std::declval<Context&>())), T>);
  STATIC_REQUIRE(std::is_same_v<decltype(ops::add(std::declval<const T&>(), std::declval<const T&>(),
                                                  std::declval<Context&>())),
                                T>);
  STATIC_REQUIRE(std::is_same_v<decltype(ops::softmax(std::declval<const T&>(), std::declval<Context&>(), 0)), T>);
  STATIC_REQUIRE(std::is_same_v<decltype(std::declval<const T&>().contiguous()), T>);
  STATIC_REQUIRE(std::is_same_v<decltype(ops::matmul(std::declval<const T&>(), std::declval<const T&>(),
                                                     std::declval<Context&>())),
                                T>);
  STATIC_REQUIRE(std::is_same_v<decltype(ops::concat(std::declval<const std::vector<T>&>(), 0)), T>);
  // The block's CPU instantiation runs anywhere: the template compiles for both devices.
  Context cpu(1);
  const Tensor<float> x = random_tensor({2, 8, 12}, 70);
  const Tensor<float> y = block(x, random_weights(12), 3, cpu);
  CHECK(y.shape() == Shape{2, 12, 4, 2});
}

TEST_CASE("cuda dispatch: contiguous() and to_host of device views equal the host's", "[cuda]") {
  const Tensor<float> h = random_tensor({3, 4, 5}, 71);
  const Tensor<float, Cuda> d = cuda::to_device(h);
  CHECK(error_against(cuda::to_host(d.permute({2, 0, 1}).contiguous()), h.permute({2, 0, 1}).contiguous()) == 0.0);
  CHECK(error_against(cuda::to_host(d.select(1, 2)), h.select(1, 2).contiguous()) == 0.0);
  CHECK(error_against(cuda::to_host(d.slice(2, 1, 5, 2)), h.slice(2, 1, 5, 2).contiguous()) == 0.0);
  CHECK(error_against(cuda::to_host(d.transpose(0, 2).clone()), h.transpose(0, 2).contiguous()) == 0.0);
}

TEST_CASE("cuda dispatch: broadcasting binary ops equal the CPU's, any operand layout", "[cuda]") {
  Context ctx(1);
  const Tensor<float> a = random_tensor({2, 3, 4}, 72), row = random_tensor({4}, 73), col = random_tensor({3, 1}, 74),
                      t = random_tensor({4, 3, 2}, 75);
  const auto da = cuda::to_device(a), drow = cuda::to_device(row), dcol = cuda::to_device(col), dt = cuda::to_device(t);
  CHECK(error_against(cuda::to_host(ops::add(da, drow, ctx)), ops::add(a, row, ctx)) == 0.0);
  CHECK(error_against(cuda::to_host(ops::sub(dcol, da, ctx)), ops::sub(col, a, ctx)) == 0.0);
  CHECK(error_against(cuda::to_host(ops::mul(da, dt.permute({2, 1, 0}), ctx)), ops::mul(a, t.permute({2, 1, 0}), ctx)) == 0.0);
  CHECK(error_against(cuda::to_host(ops::div(da, dcol, ctx)), ops::div(a, col, ctx)) == 0.0);
  CHECK(error_against(cuda::to_host(ops::mul(da.transpose(0, 2), 3.0f, ctx)), ops::mul(a.transpose(0, 2), 3.0f, ctx)) == 0.0);
  CHECK_THROWS_AS(ops::add(da, cuda::to_device(random_tensor({5}, 76)), ctx), biqa::Error);
}

TEST_CASE("cuda dispatch: matmul with broadcast batches, prelu, concat and assign equal the CPU's", "[cuda]") {
  Context ctx(1);
  const Tensor<float> a = random_tensor({2, 1, 5, 7}, 80), b = random_tensor({3, 7, 4}, 81), m = random_tensor({7, 6}, 82);
  const auto da = cuda::to_device(a), db = cuda::to_device(b), dm = cuda::to_device(m);
  CHECK(error_against(cuda::to_host(ops::matmul(da, db, ctx)), ops::matmul(a, b, ctx)) <= 1e-5);
  CHECK(error_against(cuda::to_host(ops::matmul(da, dm, ctx)), ops::matmul(a, m, ctx)) <= 1e-5);
  CHECK(error_against(cuda::to_host(ops::matmul(db.transpose(-1, -2), da.select(1, 0).transpose(-1, -2).select(0, 1), ctx)),
                      ops::matmul(b.transpose(-1, -2), a.select(1, 0).transpose(-1, -2).select(0, 1), ctx)) <= 1e-5);
  CHECK_THROWS_AS(ops::matmul(da, da, ctx), biqa::Error);
  const Tensor<float> x = random_tensor({2, 3, 4, 5}, 83), slopes = random_tensor({3}, 84), one = random_tensor({1}, 85);
  const auto dx = cuda::to_device(x);
  CHECK(error_against(cuda::to_host(ops::prelu(dx, cuda::to_device(slopes), ctx)), ops::prelu(x, slopes, ctx)) == 0.0);
  CHECK(error_against(cuda::to_host(ops::prelu(dx, cuda::to_device(one), ctx)), ops::prelu(x, one, ctx)) == 0.0);
  const Tensor<float> y = random_tensor({2, 1, 4, 5}, 86);
  CHECK(error_against(cuda::to_host(ops::concat({dx, cuda::to_device(y), dx.slice(1, 1, 3)}, 1)),
                      ops::concat(std::vector<Tensor<float>>{x, y, x.slice(1, 1, 3)}, 1)) == 0.0);
  Tensor<float, Cuda> target = cuda::to_device(Tensor<float>::zeros({5, 4}));
  cuda::assign(target.transpose(0, 1), cuda::to_device(random_tensor({4, 5}, 87)));
  CHECK(error_against(cuda::to_host(target).transpose(0, 1), random_tensor({4, 5}, 87)) == 0.0);
}

TEST_CASE("cuda dispatch: softmax and log_softmax along any axis, and RMSNorm, equal the CPU's", "[cuda]") {
  Context ctx(1);
  const Tensor<float> x = random_tensor({3, 70, 5}, 77, 3.0f), w = random_tensor({5}, 78);
  const auto dx = cuda::to_device(x);
  for (int axis : {0, 1, -1}) {
    INFO("axis " << axis);
    CHECK(error_against(cuda::to_host(ops::softmax(dx, ctx, axis)), ops::softmax(x, ctx, axis)) <= 1e-5);
    CHECK(error_against(cuda::to_host(ops::log_softmax(dx, ctx, axis)), ops::log_softmax(x, ctx, axis)) <= 1e-5);
  }
  CHECK(error_against(cuda::to_host(ops::rms_norm(dx, cuda::to_device(w), ctx)), ops::rms_norm(x, w, ctx)) <= 1e-5);
  CHECK(error_against(cuda::to_host(ops::rms_norm(dx.transpose(0, 2), Tensor<float, Cuda>(), ctx)),
                      ops::rms_norm(x.transpose(0, 2), Tensor<float>(), ctx)) <= 1e-5);
}

TEST_CASE("cuda dispatch: a block written once against ops:: gives the CPU's result on the GPU", "[cuda]") {
  Context ctx(1);
  const Tensor<float> x = random_tensor({2, 16, 12}, 79);
  const BlockWeights<Cpu> w = random_weights(12);
  const Tensor<float> on_cpu = block(x, w, 3, ctx);
  const Tensor<float> on_gpu = cuda::to_host(block(cuda::to_device(x), move_weights<Cuda>(w), 3, ctx));
  CHECK(error_against(on_gpu, on_cpu) <= 1e-4);
}

TEST_CASE("cuda dispatch: Context::matmul_precision rounds the products' inputs, each within its stated bound", "[cuda]") {
  // TF32 and float16 keep a 10-bit mantissa (2^-11 relative), bfloat16 a 7-bit one (2^-8): over
  // K = 1024 random terms the error stays near 1e-3 (1e-2 for bfloat16) of the largest output.
  // The precision follows each call's Context.
  const Tensor<float> x = random_tensor({64, 1024}, 90), w = random_tensor({256, 1024}, 91), b = random_tensor({256}, 92);
  const auto dx = cuda::to_device(x), dw = cuda::to_device(w), db = cuda::to_device(b);
  Context fp32(1);
  const Tensor<float> cpu = ops::linear(x, w, b, fp32);
  const Tensor<float> exact = cuda::to_host(ops::linear(dx, dw, db, fp32));
  CHECK(error_against(exact, cpu) <= 1e-5);
  const Tensor<float> a = random_tensor({4, 32, 96}, 93), c = random_tensor({4, 96, 40}, 94);
  const Tensor<float> wc = random_tensor({24, 16, 3, 3}, 95), xc = random_tensor({2, 16, 12, 12}, 96);
  ops::Conv2dOptions pad1;
  pad1.padding = {1, 1};
  for (const auto& [precision, bound] : {std::pair{biqa::MatmulPrecision::tf32, 1e-2},
                                         std::pair{biqa::MatmulPrecision::fp16, 1e-2},
                                         std::pair{biqa::MatmulPrecision::bf16, 5e-2}}) {
    INFO(biqa::matmul_precision_name(precision));
    Context fast(1);
    fast.matmul_precision = precision;
    CHECK(error_against(cuda::to_host(ops::linear(dx, dw, db, fast)), cpu) <= bound);
    CHECK(error_against(cuda::to_host(ops::matmul(cuda::to_device(a), cuda::to_device(c), fast)),
                        ops::matmul(a, c, fp32)) <= bound);
    CHECK(error_against(cuda::to_host(ops::conv2d(cuda::to_device(xc), cuda::to_device(wc), Tensor<float, Cuda>(), fast, pad1)),
                        ops::conv2d(xc, wc, Tensor<float>(), fp32, pad1)) <= bound);
    CHECK(error_against(cuda::to_host(ops::linear(dx, dw, db, fp32)), exact) == 0.0);  // back to float32
  }
}

TEST_CASE("cuda dispatch: a Context's stream is the thread's inside its StreamScope; the ops refuse another", "[no-device]") {
  // Only stream handles are compared here: nothing is queued, so the fake handle is never used.
  Context plain(1), own(1);
  own.cuda_stream = reinterpret_cast<void*>(std::uintptr_t{0x1000});
  const auto own_stream = static_cast<cudaStream_t>(own.cuda_stream);
  CHECK(cuda::stream() == cudaStreamPerThread);
  CHECK_NOTHROW(cuda::require_stream_of(plain));
  CHECK_THROWS_WITH(cuda::require_stream_of(own), Catch::Contains("StreamScope"));
  // Every device overload checks before it touches the device (undefined tensors: no allocation).
  CHECK_THROWS_WITH(ops::add(Tensor<float, Cuda>(), Tensor<float, Cuda>(), own), Catch::Contains("StreamScope"));
  CHECK_THROWS_WITH(ops::linear(Tensor<float, Cuda>(), Tensor<float, Cuda>(), Tensor<float, Cuda>(), own),
                    Catch::Contains("StreamScope"));
  {
    const cuda::StreamScope on_stream(own);
    CHECK(cuda::stream() == own_stream);
    CHECK_NOTHROW(cuda::require_stream_of(own));
    CHECK_THROWS(cuda::require_stream_of(plain));
    {
      const cuda::StreamScope nested(plain);
      CHECK(cuda::stream() == cudaStreamPerThread);
    }
    CHECK(cuda::stream() == own_stream);
  }
  CHECK(cuda::stream() == cudaStreamPerThread);
}

TEST_CASE("cuda dispatch: a block on the caller's own stream gives the CPU's result", "[cuda]") {
  cudaStream_t mine = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) == cudaSuccess);
  Context ctx(1);
  ctx.cuda_stream = mine;
  const Tensor<float> x = random_tensor({2, 16, 12}, 97);
  const BlockWeights<Cpu> w = random_weights(12);
  Context host(1);
  const Tensor<float> on_cpu = block(x, w, 3, host);
  Tensor<float> on_gpu;
  {
    const cuda::StreamScope on_stream(ctx);
    on_gpu = cuda::to_host(block(cuda::to_device(x), move_weights<Cuda>(w), 3, ctx));
  }
  CHECK(error_against(on_gpu, on_cpu) <= 1e-4);
  CHECK(cudaStreamDestroy(mine) == cudaSuccess);
}
