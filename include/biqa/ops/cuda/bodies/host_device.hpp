#pragma once
/// @file
/// BIQA_HOST_DEVICE marks the functions in ops/cuda/bodies/: what one CUDA thread computes for
/// one output element. Under nvcc they are __host__ __device__; under a plain C++ compiler they are
/// ordinary inline functions, so the CPU test suite runs the very code the kernels run and checks
/// it against ops/cpu on every machine, GPU or not (tests/ops/cuda/test_bodies.cpp).

#if defined(__CUDACC__)
#define BIQA_HOST_DEVICE __host__ __device__
#else
#define BIQA_HOST_DEVICE
#endif
