#pragma once
/// @file
/// Everything biqa offers on the CPU. Each header also compiles on its own.

#include "biqa/version.hpp"

#include "biqa/core/context.hpp"
#include "biqa/core/device.hpp"
#include "biqa/core/dtype.hpp"
#include "biqa/core/eigen_interop.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/python_random.hpp"
#include "biqa/core/shape.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/core/xtensor_interop.hpp"

#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_file.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/io/exif.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/npy.hpp"

#include "biqa/metrics/bootstrap.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/metrics/evaluation.hpp"
#include "biqa/metrics/input.hpp"
#include "biqa/metrics/levenberg_marquardt.hpp"
#include "biqa/metrics/logistic.hpp"
#include "biqa/metrics/scatter_plot.hpp"
#include "biqa/data/readers.hpp"
#include "biqa/data/score_file.hpp"
#include "biqa/data/split.hpp"
#include "biqa/data/synthetic_picture.hpp"
#include "biqa/probe/head_file.hpp"

#include "biqa/ops/cpu.hpp"

#include "biqa/nn/layers.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "biqa/nn/resnet.hpp"
#include "biqa/nn/swin_transformer.hpp"
#include "biqa/nn/vision_transformer.hpp"

#include "biqa/transforms.hpp"

#include "biqa/distortions.hpp"

#include "biqa/models/depth_anything.hpp"
#include "biqa/models/da_clip.hpp"
#include "biqa/models/dgiqa.hpp"
#include "biqa/models/dsmix.hpp"
#include "biqa/models/dr_experts.hpp"
#include "biqa/models/all_models.hpp"
