// A program that uses an installed (or add_subdirectory'd) biqa: writes a small generated picture
// as PNG, reads it back and scores it with BRISQUE, whose model is compiled into the headers.
//   consumer write IMAGE.png          writes the picture
//   consumer check IMAGE.png [SCORE]  scores it; with SCORE (from `biqa score`), they must agree
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <biqa/io/image.hpp>
#include <biqa/models/registry.hpp>
#include <biqa/version.hpp>

namespace {

// Smooth shading plus a little deterministic noise: something BRISQUE's statistics can fit.
biqa::Tensor<std::uint8_t> picture(std::int64_t h, std::int64_t w) {
  biqa::Tensor<std::uint8_t> img({h, w, 3});
  std::uint32_t state = 12345;
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (std::int64_t c = 0; c < 3; ++c) {
        state = state * 1664525u + 1013904223u;
        const double noise = double(state >> 24) / 255.0 - 0.5;
        const double v = 128 + 60 * std::sin(0.11 * double(x) + 0.7 * double(c)) *
                                   std::cos(0.07 * double(y)) + 20 * noise;
        img(y, x, c) = static_cast<std::uint8_t>(std::lround(std::fmin(255.0, std::fmax(0.0, v))));
      }
  return img;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: consumer write|check IMAGE.png [SCORE]\n");
    return 1;
  }
  const std::string mode = argv[1], path = argv[2];
  try {
    if (mode == "write") {
      biqa::io::write_image(path, picture(72, 96));
      std::printf("biqa %s: wrote %s\n", BIQA_VERSION_STRING, path.c_str());
      return 0;
    }
    const auto model = biqa::load_model("brisque");
    const auto image = biqa::io::read_image(path);
    biqa::Context ctx;
    const double score = model->score(image, ctx);
    if (!std::isfinite(score)) {
      std::printf("consumer failed: BRISQUE score %g\n", score);
      return 1;
    }
    if (argc > 3) {
      // The tool was built with other flags (-O2, maybe -march=native): allow rounding-level drift.
      const double want = std::strtod(argv[3], nullptr);
      if (std::fabs(score - want) > 1e-4 * std::fmax(1.0, std::fabs(want))) {
        std::printf("consumer failed: BRISQUE %.9g here, %.9g from the biqa tool\n", score, want);
        return 1;
      }
    }
    std::printf("consumer ok, biqa %s, brisque %.6f%s\n", BIQA_VERSION_STRING, score,
                argc > 3 ? " (agrees with the biqa tool)" : "");
    return 0;
  } catch (const biqa::Error& e) {
    std::printf("consumer failed: %s\n", e.what());
    return 1;
  }
}
