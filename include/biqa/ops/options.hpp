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

/// A transposed convolution's geometry: input [n, c_in, h, w], weight [c_in, out_per_group, kh,
/// kw] in `groups` groups, stride, padding, dilation, output oh × ow.
struct ConvTransposeGeometry {
  std::int64_t n, c_in, h, w, groups, out_per_group, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
};

/// Checks a transposed convolution's shapes and options against PyTorch's rules (bias: its shape,
/// or null without one) and computes its geometry.
inline ConvTransposeGeometry conv_transpose_geometry(const char* op, const Shape& x, const Shape& weight,
                                                     const Shape* bias, const ConvTranspose2dOptions& o) {
  BIQA_CHECK(x.rank() == 4, ErrorCode::invalid_argument, op, " needs input [N, C, H, W], got ", x.to_string());
  BIQA_CHECK(weight.rank() == 4, ErrorCode::invalid_argument, op, " needs weight [C_in, C_out/groups, KH, KW], got ",
             weight.to_string());
  ConvTransposeGeometry g{};
  g.sh = o.stride[0], g.sw = o.stride[1], g.ph = o.padding[0], g.pw = o.padding[1];
  g.dh = o.dilation[0], g.dw = o.dilation[1], g.groups = o.groups;
  const auto [oph, opw] = o.output_padding;
  BIQA_CHECK(g.sh > 0 && g.sw > 0 && g.dh > 0 && g.dw > 0 && g.ph >= 0 && g.pw >= 0 && g.groups > 0 && oph >= 0 &&
                 opw >= 0,
             ErrorCode::invalid_argument, op,
             ": stride, dilation and groups must be positive, padding and output_padding non-negative");
  // PyTorch's rule: output_padding must be smaller than either stride or dilation.
  BIQA_CHECK((oph < g.sh || oph < g.dh) && (opw < g.sw || opw < g.dw), ErrorCode::invalid_argument, op,
             ": output_padding (", oph, ", ", opw, ") must be smaller than stride or dilation");
  g.n = x[0], g.c_in = x[1], g.h = x[2], g.w = x[3];
  g.out_per_group = weight[1], g.kh = weight[2], g.kw = weight[3];
  BIQA_CHECK(weight[0] == g.c_in && g.c_in % g.groups == 0, ErrorCode::invalid_argument, op, ": input ", x.to_string(),
             " and weight ", weight.to_string(), " do not match with groups=", g.groups,
             " (the weight's first axis must equal the ", g.c_in, " input channels)");
  const std::int64_t c_out = g.out_per_group * g.groups;
  BIQA_CHECK(!bias || (bias->rank() == 1 && (*bias)[0] == c_out), ErrorCode::invalid_argument, op, ": bias ",
             bias ? bias->to_string() : std::string(), " for ", c_out, " output channels");
  g.oh = conv_transpose_output_size(g.h, g.kh, g.sh, g.ph, oph, g.dh);
  g.ow = conv_transpose_output_size(g.w, g.kw, g.sw, g.pw, opw, g.dw);
  BIQA_CHECK(g.oh > 0 && g.ow > 0, ErrorCode::invalid_argument, op, ": input ", x.to_string(),
             " gives an empty output (", g.oh, "x", g.ow, ") with padding (", g.ph, ", ", g.pw, ")");
  return g;
}
}  // namespace detail

}  // namespace biqa::ops
