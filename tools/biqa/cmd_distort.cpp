// biqa distort: the 25 KADID-10k distortion types on one image, a whole distorted data set, or a
// contact sheet of every type and level.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <sstream>
#include <thread>

#include "biqa/distortions.hpp"
#include "biqa/io/image.hpp"
#include "cli.hpp"
#include "progress.hpp"

namespace {

namespace fs = std::filesystem;
namespace bd = biqa::distortions;
using biqa::ErrorCode;


// A finished output is one that decodes; anything else (missing, truncated) is redone.
bool valid_output(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) == 0) return false;
  try {
    biqa::io::read_image_u8(p.string());
    return true;
  } catch (const biqa::Error&) {
    return false;
  }
}
// Writes through a temporary name and renames, so an interrupted run leaves no partial file.
void write_atomically(const fs::path& p, const bd::Image& img) {
  const fs::path tmp = p.parent_path() / (p.stem().string() + ".part.png");
  biqa::io::write_image(tmp.string(), img);
  fs::rename(tmp, p);
}

struct Job {
  std::size_t ref = 0;
  fs::path out;
  std::vector<bd::Step> steps;
  std::uint64_t seed = 0;
};

std::string steps_text(const std::vector<bd::Step>& steps) {
  std::ostringstream s;
  for (std::size_t i = 0; i < steps.size(); ++i) s << (i ? ";" : "") << steps[i].type << ":" << steps[i].level;
  return s.str();
}

int make_dataset(biqa::cli::Args& args, const bd::ApplyOptions& opt) {
  const auto refs_dir = args.option("--refs"), out_dir = args.option("--out");
  const std::string recipe = args.option_or("--recipe", "kadid");
  const std::uint64_t seed = args.uint64_option("--seed", 0);
  const int jobs = std::max(1, args.int_option("--jobs", 1));
  const int per_ref = args.int_option("--per-ref", 1);
  if (!args.positionals().empty()) biqa::fail(ErrorCode::invalid_argument, "distort --make-dataset takes no positional arguments");
  if (!refs_dir || !out_dir) biqa::fail(ErrorCode::invalid_argument, "distort --make-dataset needs --refs DIR and --out DIR");
  if (recipe != "kadid" && recipe != "multi") biqa::fail(ErrorCode::invalid_argument, "distort: --recipe is kadid or multi, got '", recipe, "'");
  if (per_ref < 1) biqa::fail(ErrorCode::invalid_argument, "distort: --per-ref must be >= 1");
  if (!fs::is_directory(*refs_dir)) biqa::fail(ErrorCode::io, *refs_dir, ": not a directory");

  std::vector<fs::path> refs;
  for (const auto& e : fs::directory_iterator(*refs_dir)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp")) refs.push_back(e.path());
  }
  std::sort(refs.begin(), refs.end());
  if (refs.empty()) biqa::fail(ErrorCode::io, *refs_dir, ": no .png/.jpg/.bmp images");
  fs::create_directories(*out_dir);

  std::vector<Job> work;
  for (std::size_t r = 0; r < refs.size(); ++r) {
    const std::string stem = refs[r].stem().string();
    if (recipe == "kadid") {
      for (const auto& d : bd::distortion_table())
        for (int level = 1; level <= 5; ++level) {
          char name[32];
          std::snprintf(name, sizeof name, "_%02d_%02d.png", d.number, level);
          work.push_back({r, fs::path(*out_dir) / (stem + name), {{std::string(d.name), double(level)}},
                          bd::derive_seed(seed, r, static_cast<std::uint64_t>(d.number * 16 + level))});
        }
    } else {
      for (int k = 0; k < per_ref; ++k) {
        char name[32];
        std::snprintf(name, sizeof name, "_m%03d.png", k);
        const std::uint64_t index = r * static_cast<std::uint64_t>(per_ref) + static_cast<std::uint64_t>(k);
        work.push_back({r, fs::path(*out_dir) / (stem + name), bd::random_recipe(seed, index), bd::derive_seed(seed, index, 0x3017)});
      }
    }
  }

  biqa::cli::ProgressBar progress(work.size(), ::isatty(2) && work.size() > 4);
  std::atomic<std::size_t> next{0}, skipped{0};
  std::mutex err_m;
  std::string first_error;
  ErrorCode first_code = ErrorCode::internal;
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next++;
      if (i >= work.size()) return;
      const Job& j = work[i];
      try {
        if (valid_output(j.out)) {
          ++skipped;
        } else {
          const bd::Image ref = biqa::io::read_image(refs[j.ref].string());
          bd::Image img = ref;
          if (img.size(2) != 3) biqa::fail(ErrorCode::invalid_argument, refs[j.ref].string(), ": need an RGB image");
          write_atomically(j.out, bd::apply_sequence(img, j.steps, j.seed, opt));
        }
      } catch (const biqa::Error& e) {  // keeps its code: a bad reference image is the user's input, not internal
        std::lock_guard<std::mutex> lock(err_m);
        if (first_error.empty()) first_error = j.out.string() + ": " + e.what(), first_code = e.code();
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(err_m);
        if (first_error.empty()) first_error = j.out.string() + ": " + e.what();
      }
      progress.tick();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < jobs; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (!first_error.empty()) biqa::fail(first_code, "distort: ", first_error);

  const fs::path csv = fs::path(*out_dir) / "labels.csv";
  std::ofstream f(csv);
  if (recipe == "kadid") {
    f << "dist_img,ref_img,type,type_name,level,seed\n";
    for (const auto& j : work)
      f << j.out.filename().string() << "," << refs[j.ref].filename().string() << ","
        << bd::find_distortion(j.steps[0].type).number << "," << j.steps[0].type << "," << j.steps[0].level << "," << j.seed << "\n";
  } else {
    f << "dist_img,ref_img,num_types,steps,seed\n";
    for (const auto& j : work)
      f << j.out.filename().string() << "," << refs[j.ref].filename().string() << "," << j.steps.size() << ","
        << steps_text(j.steps) << "," << j.seed << "\n";
  }
  if (!f) biqa::fail(ErrorCode::io, csv.string(), ": cannot write");
  std::cout << work.size() << " images in " << *out_dir << " (" << skipped.load() << " already there), labels in "
            << csv.string() << "\n";
  return 0;
}

// A grid: one row per type, the reference and then levels 1..5 left to right, 2-px white gaps.
int contact_sheet(biqa::cli::Args& args, const bd::ApplyOptions& opt) {
  const std::uint64_t seed = args.uint64_option("--seed", 0);
  const auto files = args.positionals();
  if (files.size() != 2) biqa::fail(ErrorCode::invalid_argument, "distort --contact-sheet needs IN OUT.png");
  const bd::Image img = biqa::io::read_image(files[0]);
  bd::check_rgb(img, files[0]);
  const std::int64_t h = img.size(0), w = img.size(1), gap = 2;
  bd::Image sheet = bd::Image::full(biqa::Shape{25 * (h + gap) - gap, 6 * (w + gap) - gap, 3}, 1.0f);
  auto paste = [&](const bd::Image& tile, std::int64_t row, std::int64_t col) {
    for (std::int64_t y = 0; y < h; ++y)
      std::copy_n(tile.data() + y * w * 3, w * 3, sheet.data() + ((row * (h + gap) + y) * sheet.size(1) + col * (w + gap)) * 3);
  };
  for (const auto& d : bd::distortion_table()) {
    paste(img, d.number - 1, 0);
    for (int level = 1; level <= 5; ++level) paste(bd::apply(d.name, level, img, bd::derive_seed(seed, 0, static_cast<std::uint64_t>(d.number * 16 + level)), opt), d.number - 1, level);
  }
  biqa::io::write_image(files[1], sheet);
  std::cout << files[1] << ": " << sheet.size(1) << "x" << sheet.size(0) << "\n";
  return 0;
}

int run(biqa::cli::Args& args) {
  bd::ApplyOptions opt;
  opt.normalize = !args.flag("--no-normalize");
  if (args.flag("--list")) {
    if (!args.positionals().empty()) biqa::fail(ErrorCode::invalid_argument, "distort --list takes no arguments");
    for (const auto& n : bd::distortion_names()) std::cout << n << "\n";
    return 0;
  }
  if (args.flag("--make-dataset")) return make_dataset(args, opt);
  if (args.flag("--contact-sheet")) return contact_sheet(args, opt);

  const auto type = args.option("--type");
  const double lv = args.double_option("--level", std::numeric_limits<double>::quiet_NaN());  // NaN: not given
  const std::uint64_t seed = args.uint64_option("--seed", 0);
  const auto files = args.positionals();
  if (!type || std::isnan(lv) || files.size() != 2) biqa::fail(ErrorCode::invalid_argument, "distort needs --type NAME --level L IN OUT (see biqa distort --help)");
  const bd::Image img = biqa::io::read_image(files[0]);
  if (img.dim() != 3 || img.size(2) != 3) biqa::fail(ErrorCode::invalid_argument, files[0], ": need an RGB image, got ", img.shape().to_string());
  biqa::io::write_image(files[1], bd::apply(*type, lv, img, seed, opt));
  return 0;
}

biqa::cli::Register reg{{"distort", "apply KADID-10k distortions (one image, a data set, a contact sheet)",
                         "Usage:\n"
                         "  biqa distort --list\n"
                         "  biqa distort --type NAME --level L [--seed S] [--no-normalize] IN OUT\n"
                         "  biqa distort --make-dataset --refs DIR --out DIR [--recipe kadid|multi]\n"
                         "               [--per-ref M] [--seed S] [--jobs N] [--no-normalize]\n"
                         "  biqa distort --contact-sheet [--seed S] IN OUT.png\n\n"
                         "L is 1..5 (1 = mildest); fractional levels interpolate the parameter.\n"
                         "OUT is .png or .jpg (PNG recommended: lossless). The same seed gives the\n"
                         "same bytes on every run and thread count.\n"
                         "--make-dataset: kadid = every type x level per reference (<ref>_TT_LL.png);\n"
                         "multi = M images per reference, each with K in [1,25] distinct types at\n"
                         "random levels (<ref>_mNNN.png). Writes labels.csv; existing valid outputs\n"
                         "are kept (re-run to resume).\n"
                         "--no-normalize: skip MATLAB's min-max normalisation (clip instead).\n",
                         run}};

}  // namespace
