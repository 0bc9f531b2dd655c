// The CUDA backend in the biqa tool (built with -DBIQA_WITH_CUDA=ON): including biqa/cuda.cuh
// fills the models' run-time device slots, which --device cuda uses.

#include "biqa/cuda.cuh"
