// biqa downscale --max-side N IN OUT: shrinks an image by box averaging (an integer factor) so
// that its longer side is at most N. Used by scripts/fetch_samples; needs nothing but biqa.

#include <algorithm>

#include "biqa/io/image.hpp"
#include "cli.hpp"

namespace {

int run(biqa::cli::Args& args) {
  const int max_side = args.int_option("--max-side", 512);
  const int quality = args.int_option("--quality", 95);
  const auto files = args.positionals();
  if (files.size() != 2) biqa::fail(biqa::ErrorCode::invalid_argument, "downscale: expected IN OUT");
  if (max_side < 1) biqa::fail(biqa::ErrorCode::invalid_argument, "downscale: --max-side must be positive");
  const auto in = biqa::io::read_image(files[0]);
  const int h = static_cast<int>(in.size(0)), w = static_cast<int>(in.size(1));
  const int f = std::max(1, (std::max(h, w) + max_side - 1) / max_side);
  const int oh = std::max(1, h / f), ow = std::max(1, w / f);
  biqa::Tensor<float> out({oh, ow, 3});
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (int dy = 0; dy < f; ++dy)
          for (int dx = 0; dx < f; ++dx) s += in(y * f + dy, x * f + dx, c);
        out(y, x, c) = static_cast<float>(s / (f * f));
      }
  biqa::io::write_image(files[1], out, quality);
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"downscale", "shrink an image by an integer box filter",
                         "biqa downscale [--max-side N (512)] [--quality Q (95)] IN OUT\n\n"
                         "Averages f×f blocks, f the smallest integer that brings the longer side "
                         "to at most N; writes PNG or JPEG by OUT's extension.",
                         run}};

}  // namespace
