#pragma once
/// @file
/// What the ops of both backends are configured with, and the output-size rules they share:
/// the activation and binary-op kinds, convolution, transposed-convolution, pooling and interpolation options.
/// Only the standard library and core/ are used here (no Eigen), so ops/cpu and ops/cuda (nvcc)
/// include the same definitions and a layer configured once runs on either device.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "biqa/core/error.hpp"
#include "biqa/core/shape.hpp"

namespace biqa::ops {

/// The activations layers can be configured with (timm's act_layer, open_clip's QuickGELU ...).
enum class Activation { identity, relu, gelu, gelu_tanh, quick_gelu, silu, sigmoid, selu, tanh };

inline const char* activation_name(Activation a) {
  switch (a) {
    case Activation::identity: return "identity";
    case Activation::relu: return "relu";
    case Activation::gelu: return "gelu";
    case Activation::gelu_tanh: return "gelu_tanh";
    case Activation::quick_gelu: return "quick_gelu";
    case Activation::silu: return "silu";
    case Activation::sigmoid: return "sigmoid";
    case Activation::selu: return "selu";
    case Activation::tanh: return "tanh";
  }
  return "?";
}

inline Activation parse_activation(std::string_view name) {
  for (auto a : {Activation::identity, Activation::relu, Activation::gelu, Activation::gelu_tanh,
                 Activation::quick_gelu, Activation::silu, Activation::sigmoid, Activation::selu,
                 Activation::tanh})
    if (name == activation_name(a)) return a;
  fail(ErrorCode::invalid_argument, "unknown activation '", std::string(name),
       "' (expected identity, relu, gelu, gelu_tanh, quick_gelu, silu, sigmoid, selu or tanh)");
}

/// The elementwise binary ops (with broadcasting): a + b, a − b, a · b, a / b.
enum class BinaryOp { add, sub, mul, div };

struct Conv2dOptions {
  std::array<std::int64_t, 2> stride{1, 1};    ///< (h, w)
  std::array<std::int64_t, 2> padding{0, 0};   ///< zeros on both sides
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;
};

struct ConvTranspose2dOptions {
  std::array<std::int64_t, 2> stride{1, 1};          ///< (h, w)
  std::array<std::int64_t, 2> padding{0, 0};         ///< cropped from both sides of the output
  std::array<std::int64_t, 2> output_padding{0, 0};  ///< added at the bottom / right; < stride or dilation
  std::array<std::int64_t, 2> dilation{1, 1};
  std::int64_t groups = 1;
};

/// PyTorch's output extent of a transposed convolution.
inline std::int64_t conv_transpose_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                               std::int64_t pad, std::int64_t output_pad, std::int64_t dilation) {
  return (in - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_pad + 1;
}

struct Pool2dOptions {
  std::array<std::int64_t, 2> kernel{1, 1};
  std::array<std::int64_t, 2> stride{0, 0};  // 0: equal to the kernel (PyTorch's default)
  std::array<std::int64_t, 2> padding{0, 0};
  std::array<std::int64_t, 2> dilation{1, 1};  ///< max pooling only
  bool ceil_mode = false;
  bool count_include_pad = true;               ///< average pooling only
  std::optional<std::int64_t> divisor_override;  ///< average pooling only
};

/// PyTorch's pooling output extent, including the ceil_mode rule that the last window must start
/// inside the input or its left padding.
inline std::int64_t pool_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                     std::int64_t pad, std::int64_t dilation, bool ceil_mode) {
  const std::int64_t num = in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  std::int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

enum class InterpolateMode { nearest, nearest_exact, bilinear, bicubic };

struct InterpolateOptions {
  InterpolateMode mode = InterpolateMode::bilinear;
  bool align_corners = false;  ///< bilinear and bicubic only
  bool antialias = false;      ///< bilinear and bicubic only
};

namespace detail {
/// A pooling's geometry: input [n, c, h, w], output oh × ow, kernel, stride, padding, dilation.
struct PoolGeometry {
  std::int64_t n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
};

/// Checks the options against PyTorch's rules and computes the geometry for an input of `shape`.
inline PoolGeometry pool_geometry(const char* op, const Shape& shape, const Pool2dOptions& o, bool dilated) {
  BIQA_CHECK(shape.rank() == 4, ErrorCode::invalid_argument, op, " needs input [N, C, H, W], got ",
             shape.to_string());
  PoolGeometry g{};
  g.n = shape[0], g.c = shape[1], g.h = shape[2], g.w = shape[3];
  g.kh = o.kernel[0], g.kw = o.kernel[1];
  g.sh = o.stride[0] ? o.stride[0] : g.kh, g.sw = o.stride[1] ? o.stride[1] : g.kw;
  g.ph = o.padding[0], g.pw = o.padding[1];
  g.dh = dilated ? o.dilation[0] : 1, g.dw = dilated ? o.dilation[1] : 1;
  BIQA_CHECK(g.kh > 0 && g.kw > 0 && g.sh > 0 && g.sw > 0 && g.dh > 0 && g.dw > 0 && g.ph >= 0 && g.pw >= 0,
             ErrorCode::invalid_argument, op, ": kernel, stride and dilation must be positive");
  // PyTorch's limit: padding at most half the (dilated) kernel.
  BIQA_CHECK(g.ph <= ((g.kh - 1) * g.dh + 1) / 2 && g.pw <= ((g.kw - 1) * g.dw + 1) / 2,
             ErrorCode::invalid_argument, op, ": padding (", g.ph, ", ", g.pw,
             ") must be at most half the kernel (", g.kh, ", ", g.kw, ")");
  g.oh = pool_output_size(g.h, g.kh, g.sh, g.ph, g.dh, o.ceil_mode);
  g.ow = pool_output_size(g.w, g.kw, g.sw, g.pw, g.dw, o.ceil_mode);
  BIQA_CHECK(g.oh > 0 && g.ow > 0, ErrorCode::invalid_argument, op, ": input ", shape.to_string(),
             " is too small for kernel ", g.kh, "x", g.kw);
  return g;
}
}  // namespace detail

}  // namespace biqa::ops
