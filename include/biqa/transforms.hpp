#pragma once
/// @file
/// Image preprocessing on float tensors with torchvision's semantics, namespace biqa::transforms:
/// resize (shorter side or exact, bilinear/bicubic, antialias), crop / center_crop / five_crop,
/// normalize (ImageNet and CLIP constants), to_tensor (H×W×C → [1, C, H, W]) and clip_preprocess.
/// biqa matches torchvision's *tensor* pipeline, not the PIL one (see transforms/resize.hpp).
/// For OpenCV/albumentations pipelines on uint8 images (DGIQA): opencv_resize_linear and the
/// shortest-side resize, normalize_u8_to_chw, and python_random_crops (CPython's random stream).

#include "biqa/transforms/clip_preprocess.hpp"
#include "biqa/transforms/crop.hpp"
#include "biqa/transforms/normalize.hpp"
#include "biqa/transforms/normalize_u8.hpp"
#include "biqa/transforms/opencv_resize.hpp"
#include "biqa/transforms/random_crops.hpp"
#include "biqa/transforms/resize.hpp"
#include "biqa/transforms/to_tensor.hpp"
