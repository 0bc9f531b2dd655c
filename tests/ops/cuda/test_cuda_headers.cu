// A second translation unit with every CUDA header: the kernels and functions they define must
// not clash when several translation units of one program include them (header-only code).

#include <catch2/catch.hpp>

#include "biqa/ops/cuda.cuh"

TEST_CASE("cuda: the headers link into a program from several translation units", "[no-device]") {
  CHECK(biqa::cuda::blocks_for(1) == 1u);
  CHECK(biqa::cuda::blocks_for(std::int64_t(1) << 30) == 65535u);
  CHECK(biqa::cuda::blocks_for(1000, 256) == 4u);
}
