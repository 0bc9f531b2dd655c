#pragma once
/// @file
/// One activation of one value, with PyTorch's definitions (as ops::scalar::apply), and PReLU. The C float
/// functions (expf, erff, tanhf, expm1f) exist both in the host's libm and in CUDA's device library.

#include <math.h>

#include "biqa/ops/cuda/bodies/host_device.hpp"
#include "biqa/ops/options.hpp"

namespace biqa::cuda::bodies {

BIQA_HOST_DEVICE inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

BIQA_HOST_DEVICE inline float activation_value(ops::Activation a, float x) {
  switch (a) {
    case ops::Activation::identity: return x;
    case ops::Activation::relu: return x < 0.0f ? 0.0f : x;  // NaN stays NaN, as in PyTorch
    case ops::Activation::gelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case ops::Activation::gelu_tanh:
      return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));  // sqrt(2/pi)
    case ops::Activation::quick_gelu: return x * sigmoid(1.702f * x);
    case ops::Activation::silu: return x * sigmoid(x);
    case ops::Activation::sigmoid: return sigmoid(x);
    case ops::Activation::selu: return 1.0507009873554804934f * (x > 0.0f ? x : 1.6732632423543772848f * expm1f(x));
    case ops::Activation::tanh: return tanhf(x);
  }
  return x;
}

/// PReLU with the slope of x's channel: x if x ≥ 0, else slope · x.
BIQA_HOST_DEVICE inline float prelu_value(float x, float slope) { return x >= 0.0f ? x : slope * x; }

}  // namespace biqa::cuda::bodies
