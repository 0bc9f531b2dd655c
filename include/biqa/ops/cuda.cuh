#pragma once
/// @file
/// The CUDA backend (nvcc and BIQA_WITH_CUDA only; docs/cuda.md): device tensors, copies, and the
/// ops written so far. It grows op by op towards the CPU backend's set (ops/cpu.hpp).

#include "biqa/ops/cuda/attention.cuh"
#include "biqa/ops/cuda/conv2d.cuh"
#include "biqa/ops/cuda/conv_transpose2d.cuh"
#include "biqa/ops/cuda/elementwise.cuh"
#include "biqa/ops/cuda/gemm.cuh"
#include "biqa/ops/cuda/interpolate.cuh"
#include "biqa/ops/cuda/norm.cuh"
#include "biqa/ops/cuda/pool.cuh"
#include "biqa/ops/cuda/runtime.cuh"
#include "biqa/ops/cuda/shape_ops.cuh"
