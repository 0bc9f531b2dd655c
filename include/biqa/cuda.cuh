#pragma once
/// @file
/// Everything biqa offers, with the CUDA backend (nvcc only, BIQA_WITH_CUDA). The device overloads
/// of ops:: come first, so that the layers and models, written once against ops::, run on
/// Tensor<float, Cuda> inputs: `to_device<Cuda>(x)` in, `to_device<Cpu>(y)` out.
///
/// Including it also fills the models' run-time device slots (DGIQA::cuda_forward, ...), so that
/// code compiled by the host compiler — the scorers, the biqa tool — runs the networks on the GPU
/// when Context::device is DeviceType::cuda. One translation unit of a program including it is
/// enough (the biqa tool's is tools/biqa/cuda_backend.cu).
/// Each slot runs on the Context's stream (Context::cuda_stream, through a cuda::StreamScope).

#include "biqa/ops/cuda/dispatch.cuh"

#include "biqa/biqa.hpp"

namespace biqa::detail {

/// Fills the slots at start-up; every translation unit that includes this header shares the one
/// variable (an inline variable: initialised once per program).
inline const bool cuda_forwards_registered = [] {
  cuda_unavailable_reason = [] { return cuda::unavailable_reason(); };
  models::DGIQA::cuda_forward = [](const models::DGIQA& m, const Tensor<float>& rgb, const Tensor<float>& depth,
                                   Context& ctx, const models::DGIQA::ForwardOptions& options) {
    const cuda::StreamScope on_stream(ctx);
    return models::DGIQA::on_host(m.forward(to_device<Cuda>(rgb), to_device<Cuda>(depth), ctx, options));
  };
  models::DepthAnything::cuda_forward = [](const models::DepthAnything& m, const Tensor<float>& x, Context& ctx) {
    const cuda::StreamScope on_stream(ctx);
    return to_device<Cpu>(m.forward(to_device<Cuda>(x), ctx));
  };
  models::DSMix::cuda_features = [](const models::DSMix& m, const Tensor<float>& crops, Context& ctx) {
    const cuda::StreamScope on_stream(ctx);
    return to_device<Cpu>(m.features(to_device<Cuda>(crops), ctx));
  };
  models::DRExperts::cuda_forward = [](const models::DRExperts& m, const Tensor<float>& crops, Context& ctx,
                                       const models::DRExperts::Options& options) {
    const cuda::StreamScope on_stream(ctx);
    return m.forward(to_device<Cuda>(crops), ctx, options);
  };
  models::ExIQA::cuda_forward = [](const models::ExIQA& m, const Tensor<float>& images, Context& ctx) {
    const cuda::StreamScope on_stream(ctx);
    return m.forward(to_device<Cuda>(images), ctx);
  };
  return true;
}();

}  // namespace biqa::detail
