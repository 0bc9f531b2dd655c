#pragma once
// The options of an op fixture case (tools/reference/make_op_fixtures.py's JSON), shared by the
// CPU op tests and the CUDA body tests that run the same cases.

#include <string>

#include "biqa/ops/options.hpp"
#include "support/parity.hpp"

namespace biqa::test {

// "mode" ("nearest", "nearest-exact", "bilinear", "bicubic"), "align_corners", "antialias".
inline ops::InterpolateOptions interpolate_options(const json::Value& c) {
  const std::string mode = c["mode"].as_string();
  ops::InterpolateOptions opt;
  opt.mode = mode == "nearest"         ? ops::InterpolateMode::nearest
             : mode == "nearest-exact" ? ops::InterpolateMode::nearest_exact
             : mode == "bicubic"       ? ops::InterpolateMode::bicubic
                                       : ops::InterpolateMode::bilinear;
  opt.align_corners = c["align_corners"].as_bool();
  opt.antialias = c["antialias"].as_bool();
  return opt;
}

// A max ("op": "max": dilation) or average pooling case (count_include_pad, divisor_override).
inline ops::Pool2dOptions pool_options(const json::Value& c) {
  ops::Pool2dOptions opt;
  opt.kernel = pair_of(c["kernel"]);
  opt.stride = pair_of(c["stride"]);
  opt.padding = pair_of(c["padding"]);
  opt.ceil_mode = c["ceil_mode"].as_bool();
  if (c["op"].as_string() == "max") {
    opt.dilation = pair_of(c["dilation"]);
  } else {
    opt.count_include_pad = c["count_include_pad"].as_bool();
    if (c.find("divisor_override")) opt.divisor_override = c["divisor_override"].as_int();
  }
  return opt;
}

// A transposed convolution case: stride, padding, output_padding, dilation, groups.
inline ops::ConvTranspose2dOptions conv_transpose_options(const json::Value& c) {
  ops::ConvTranspose2dOptions opt;
  opt.stride = pair_of(c["stride"]);
  opt.padding = pair_of(c["padding"]);
  opt.output_padding = pair_of(c["output_padding"]);
  opt.dilation = pair_of(c["dilation"]);
  opt.groups = c["groups"].as_int();
  return opt;
}

}  // namespace biqa::test
