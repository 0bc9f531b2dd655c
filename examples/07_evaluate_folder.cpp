// Lesson 7: evaluate a scorer on a folder of images with a CSV of subjective scores.
//
//   07_evaluate_folder MODEL FOLDER SCORES.csv
//
// SCORES.csv has a header with an image-name column ("image" or "file") and a score column ("mos"
// or "score"). Each image is scored, then the program prints the per-image predictions and the
// rank (SRCC, KRCC) and linear (PLCC) correlations with the subjective scores. A model whose
// scores fall as quality rises (BRISQUE, NIQE) gives negative correlations: info() says which.

#include <biqa/data/csv.hpp>
#include <biqa/io/image.hpp>
#include <biqa/metrics/correlation.hpp>
#include <biqa/models/all_models.hpp>  // every model, so MODEL can be any of them

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: " << argv[0] << " MODEL FOLDER SCORES.csv\n";
    return 1;
  }
  try {
    const auto model = biqa::load_model(argv[1]);
    const biqa::data::CsvTable table = biqa::data::read_csv(argv[3]);
    const std::size_t name_col = table.column({"image", "file", "filename"}, "image name");
    const std::size_t mos_col = table.column({"mos", "score", "dmos"}, "subjective score");
    std::vector<double> predicted, subjective;
    std::cout << std::setprecision(10);
    for (std::size_t r = 0; r < table.rows.size(); ++r) {
      const std::filesystem::path path = std::filesystem::path(argv[2]) / table.field(r, name_col);
      predicted.push_back(model->score(biqa::io::read_image(path.string())));
      subjective.push_back(table.number(r, mos_col));
      std::cout << table.field(r, name_col) << "\t" << subjective.back() << "\t" << predicted.back() << "\n";
    }
    std::cout << "images " << predicted.size() << "\n"
              << "SRCC " << biqa::metrics::srcc(predicted, subjective) << "\n"
              << "KRCC " << biqa::metrics::krcc(predicted, subjective) << "\n"
              << "PLCC " << biqa::metrics::plcc(predicted, subjective) << "\n"
              << (model->info().lower_is_better ? "lower" : "higher") << " is better for " << argv[1] << "\n";
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
