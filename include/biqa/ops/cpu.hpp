#pragma once
/// @file
/// The CPU ops, namespace biqa::ops. Conventions shared by every op:
///  - inputs are Tensor<float> of any strides (made contiguous inside when an op needs it); the
///    result is a new contiguous tensor, or the first argument for the *_inplace forms;
///  - arguments come in the order: tensors, required sizes, Context&, options with defaults;
///  - optional tensors (a bias, a norm's affine weight) are passed as an undefined Tensor<float>();
///  - shapes and options are checked up front and a mismatch throws biqa::Error (invalid_argument);
///  - semantics are PyTorch's (the tests compare against it), stated in each header.

#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/attention.hpp"
#include "biqa/ops/cpu/conv2d.hpp"
#include "biqa/ops/cpu/conv_transpose2d.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/gemm.hpp"
#include "biqa/ops/cpu/interpolate.hpp"
#include "biqa/ops/cpu/norm.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/cpu/pool.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"
