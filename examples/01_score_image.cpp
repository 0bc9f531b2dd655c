// Lesson 1: score images with the default model.
//
//   01_score_image IMAGE...
//
// BRISQUE needs no weights file: its model (OpenCV's, fitted on LIVE) is compiled into the library.
// Every model in biqa::load_model() offers the same two calls: info() describes the score, score()
// computes it for an H×W×3 float image in [0, 1], which is what io::read_image() returns.

#include <biqa/io/image.hpp>
#include <biqa/models/registry.hpp>  // BRISQUE and NIQE; biqa/models/all_models.hpp adds the deep models

#include <iomanip>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " IMAGE...\n";
    return 1;
  }
  try {
    const auto model = biqa::load_model("brisque");
    const biqa::ModelInfo& card = model->info();
    std::cout << card.full_name << ": " << (card.lower_is_better ? "lower" : "higher") << " is better, typically "
              << card.range_min << " to " << card.range_max << "\n";
    for (int i = 1; i < argc; ++i) {
      const biqa::Tensor<float> image = biqa::io::read_image(argv[i]);  // EXIF orientation applied
      std::cout << argv[i] << "\t" << std::setprecision(10) << model->score(image) << "\n";
    }
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
