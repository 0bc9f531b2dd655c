// biqa fit-niqe [--patch 96] [--sharpness 0.75] IMAGE|DIR... OUT.safetensors

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "biqa/io/image.hpp"
#include "biqa/models/niqe.hpp"
#include "cli.hpp"

namespace {

namespace fs = std::filesystem;

int run(biqa::cli::Args& args) {
  biqa::models::NiqeOptions opt;
  opt.patch = args.int_option("--patch", opt.patch);
  opt.sharpness_ratio = args.double_option("--sharpness", opt.sharpness_ratio);
  auto pos = args.positionals();
  if (pos.size() < 2) biqa::fail(biqa::ErrorCode::invalid_argument, "fit-niqe: expected IMAGE|DIR... OUT.safetensors");
  const std::string out = pos.back();
  pos.pop_back();
  std::vector<std::string> files;
  for (const auto& p : pos) {
    if (fs::is_directory(p)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(p)) {
        std::string ext = e.path().extension().string();
        std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
        if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(p);
    }
  }
  std::vector<biqa::Tensor<float>> images;
  std::string names;
  for (const auto& f : files) {
    images.push_back(biqa::io::read_image(f));
    names += (names.empty() ? "" : ", ") + fs::path(f).filename().string();
  }
  const auto model = biqa::models::Niqe::fit(images, opt, {{"pristine_images", names}});
  model.save(out);
  std::cerr << "fit-niqe: " << images.size() << " images -> " << out << "\n";
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"fit-niqe", "fit NIQE's pristine Gaussian on a folder of pristine photos",
                         "biqa fit-niqe [--patch 96] [--sharpness 0.75] IMAGE|DIR... OUT.safetensors\n\n"
                         "Keeps the patches whose sharpness exceeds the given fraction of each "
                         "image's sharpest patch; writes mu [36] and cov [36,36] (f32) with the "
                         "image names in __metadata__.\n",
                         run}};

}  // namespace
