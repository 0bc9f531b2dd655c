// Lesson 6: the 25 KADID-10k distortion types on one photo, as a 5×5 contact sheet.
//
//   06_distortion_contact_sheet PHOTO OUT.png [LEVEL=4] [TILE=128]
//
// Each tile is the photo's centre square, resized to TILE×TILE, then distorted at LEVEL (1 = mild,
// 5 = strong) by distortions::apply(). Tiles run left to right, top to bottom, in KADID order; the
// program prints the order with each tile's mean absolute change, so the sheet can be read without
// labels. The default level is 4 because KADID-10k's level 3 of mean_shift and contrast_change is
// the identity (their parameters run from + through 0 to −).

#include <biqa/distortions.hpp>
#include <biqa/io/image.hpp>
#include <biqa/transforms/resize.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::cerr << "usage: " << argv[0] << " PHOTO OUT.png [LEVEL=4] [TILE=128]\n";
    return 1;
  }
  try {
    const double level = argc > 3 ? std::stod(argv[3]) : 4.0;
    const std::int64_t tile = argc > 4 ? std::stoll(argv[4]) : 128;
    biqa::Context ctx;
    const biqa::Tensor<float> photo = biqa::io::read_image(argv[1]);  // H×W×3
    const std::int64_t side = std::min(photo.size(0), photo.size(1));
    const biqa::Tensor<float> square =
        photo.slice(0, (photo.size(0) - side) / 2, (photo.size(0) - side) / 2 + side)
            .slice(1, (photo.size(1) - side) / 2, (photo.size(1) - side) / 2 + side);
    // resize() works on C×H×W tensors: permute in, resize with antialiasing, permute back.
    biqa::transforms::ResizeOptions ro;
    ro.antialias = true;
    const biqa::Tensor<float> small =
        biqa::transforms::resize(square.permute({2, 0, 1}).contiguous(), tile, tile, ctx, ro).permute({1, 2, 0}).contiguous();

    biqa::Tensor<float> sheet = biqa::Tensor<float>::zeros({5 * tile, 5 * tile, 3});
    const auto names = biqa::distortions::distortion_names();
    for (std::size_t k = 0; k < names.size(); ++k) {
      const biqa::Tensor<float> d = biqa::distortions::apply(names[k], level, small, /*seed=*/k + 1);
      double change = 0;
      for (std::int64_t i = 0; i < d.numel(); ++i) change += std::fabs(d.data()[i] - small.data()[i]);
      const std::int64_t r = std::int64_t(k) / 5, c = std::int64_t(k) % 5;
      sheet.slice(0, r * tile, (r + 1) * tile).slice(1, c * tile, (c + 1) * tile).assign(d);
      std::cout << std::setw(2) << k + 1 << " " << std::left << std::setw(22) << names[k] << std::right
                << " mean |change| " << std::fixed << std::setprecision(4) << change / double(d.numel()) << "\n";
    }
    biqa::io::write_image(argv[2], sheet);
    std::cout << "wrote " << argv[2] << " (" << 5 * tile << "x" << 5 * tile << ")\n";
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {  // std::stod on a bad LEVEL
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
