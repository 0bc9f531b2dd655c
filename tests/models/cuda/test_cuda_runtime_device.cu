// Run-time device selection (Context::device, the biqa tool's --device): biqa/cuda.cuh fills the
// models' device slots, so that the scorers, compiled for the host, run their networks on the GPU.
// [no-device]: the slots are filled and a missing GPU is reported as such. With a GPU: DGIQA's
// whole pipeline (depth network, crops, DGIQA) scores as on the CPU, within 1e-4.

#include "biqa/cuda.cuh"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>

#include "support/dgiqa_pipeline.hpp"

using namespace biqa;

TEST_CASE("biqa/cuda.cuh fills the run-time device slots", "[cuda][models][no-device]") {
  CHECK(models::DGIQA::cuda_forward != nullptr);
  CHECK(models::DepthAnything::cuda_forward != nullptr);
  CHECK(models::DSMix::cuda_features != nullptr);
  CHECK(models::ExIQA::cuda_forward != nullptr);
  REQUIRE(cuda_unavailable_reason != nullptr);
  REQUIRE_NOTHROW(require_device(DeviceType::cpu));
  if (!cuda::unavailable_reason().empty()) {  // no GPU: the error says so, not "built without"
    try {
      require_device(DeviceType::cuda);
      FAIL("require_device(cuda) accepted a machine without a usable device");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::unsupported);
      CHECK_THAT(e.what(), Catch::Contains("no usable CUDA device"));
    }
  }
}

TEST_CASE("DGIQA's scorer with Context::device = cuda scores as on the CPU", "[cuda][models][dgiqa]") {
  const models::DgiqaScorer scorer = test::make_scorer({});
  const test::Pipeline& p = test::pipeline();
  Context cpu(2), gpu(2);
  gpu.device = DeviceType::cuda;
  require_device(gpu.device);
  const models::DgiqaResult a = scorer.run(p.image, nullptr, cpu);
  const models::DgiqaResult b = scorer.run(p.image, nullptr, gpu);
  REQUIRE(a.crop_scores.size() == b.crop_scores.size());
  for (std::size_t k = 0; k < a.crop_scores.size(); ++k) CHECK(std::abs(a.crop_scores[k] - b.crop_scores[k]) <= 1e-4);
  CHECK(std::abs(a.score - b.score) <= 1e-4);
  CHECK(std::abs(b.score - p.config["score"].as_number()) <= 1e-4);
}
