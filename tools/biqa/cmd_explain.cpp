// biqa explain: a model's interpretable internals for one image: its named values (sub-scores,
// features, crop windows) and its maps (depth, attention) written as heat-map PNGs.

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "biqa/io/heatmap.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/models/registry.hpp"
#include "cli.hpp"

namespace {

namespace fs = std::filesystem;

int run(biqa::cli::Args& args) {
  const std::string model_name = args.option_or("--model", "brisque", "-m");
  const auto weights = args.option("--weights");
  const auto depth = args.option("--depth");
  const std::string out_dir = args.option_or("--out", "");
  const bool as_json = args.flag("--json");
  const std::string alpha_text = args.option_or("--alpha", "0.5");
  char* alpha_end = nullptr;
  const float alpha = std::strtof(alpha_text.c_str(), &alpha_end);
  if (alpha_end == alpha_text.c_str() || *alpha_end != '\0' || !(alpha >= 0.0f && alpha <= 1.0f))
    biqa::fail(biqa::ErrorCode::invalid_argument, "explain: --alpha expects a number in [0, 1], got '", alpha_text, "'");
  int threads = args.int_option("--threads", 0);
  const auto settings = biqa::cli::model_settings(args, "explain");
  const auto files = args.positionals();
  if (files.size() != 1) biqa::fail(biqa::ErrorCode::invalid_argument, "explain: expected one IMAGE");
  if (depth && model_name != "dgiqa")
    biqa::fail(biqa::ErrorCode::invalid_argument, "explain: --depth applies to --model dgiqa only");
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  biqa::LoadOptions o;
  o.threads = threads;
  if (weights) o.weights = *weights;
  o.settings = settings;
  const auto model = biqa::load_model(model_name, o);
  biqa::Context ctx(threads);

  biqa::Explanation e;
  if (depth) {
    const auto* guided = dynamic_cast<const biqa::DepthGuidedModel*>(model.get());
    if (!guided) biqa::fail(biqa::ErrorCode::invalid_argument, "explain: --model ", model_name, " takes no depth image");
    e = guided->explain_with_depth(biqa::io::read_image_u8(files[0]), biqa::io::read_image_u8(*depth), ctx);
  } else {
    e = model->explain(biqa::io::read_image(files[0]), ctx);
  }

  std::vector<std::string> written, overlays;
  if (!e.maps.empty() && !out_dir.empty()) {
    fs::create_directories(out_dir);
    const std::string stem = fs::path(files[0]).stem().string();
    const auto picture = biqa::io::read_image_u8(files[0]);
    for (const auto& [name, map] : e.maps) {
      const std::string path = (fs::path(out_dir) / (stem + "_" + name + ".png")).string();
      biqa::io::write_image(path, biqa::io::heatmap_rgb(map));
      written.push_back(path);
      // The same map over the picture (resized to it), for seeing where on the image it points.
      const std::string over = (fs::path(out_dir) / (stem + "_" + name + "_overlay.png")).string();
      biqa::io::write_image(over, biqa::io::overlay_heatmap(picture, map, alpha));
      overlays.push_back(over);
    }
  }

  if (as_json) {
    biqa::json::Value j;
    j.set("image", files[0]);
    j.set("model", model_name);
    biqa::json::Value values = biqa::json::Object{};
    for (const auto& [k, v] : e.values) values.set(k, std::isfinite(v) ? biqa::json::Value(v) : biqa::json::Value());
    j.set("values", values);
    biqa::json::Value maps = biqa::json::Object{};
    for (std::size_t m = 0; m < e.maps.size(); ++m) {
      biqa::json::Value info;
      info.set("height", e.maps[m].second.size(0));
      info.set("width", e.maps[m].second.size(1));
      if (m < written.size()) info.set("png", written[m]);
      if (m < overlays.size()) info.set("overlay_png", overlays[m]);
      maps.set(e.maps[m].first, info);
    }
    j.set("maps", maps);
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& [k, v] : e.values) std::printf("%-24s %.6g\n", k.c_str(), v);
    for (std::size_t m = 0; m < e.maps.size(); ++m)
      std::printf("map %-20s %lldx%lld%s%s%s%s\n", e.maps[m].first.c_str(), static_cast<long long>(e.maps[m].second.size(0)),
                  static_cast<long long>(e.maps[m].second.size(1)), m < written.size() ? " -> " : "",
                  m < written.size() ? written[m].c_str() : "", m < overlays.size() ? ", over the image: " : "",
                  m < overlays.size() ? overlays[m].c_str() : "");
    if (!e.maps.empty() && out_dir.empty()) std::printf("(pass --out DIR to write the maps as PNG heat maps)\n");
  }
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"explain", "a model's interpretable internals for one image (values, heat maps)",
    "Usage: biqa explain [-m|--model NAME] [--weights FILE] [--set KEY=VALUE]... [--depth-weights FILE]\n"
    "                    [--crops K] [--depth FILE] [--out DIR [--alpha A]] [--json] [--threads N] IMAGE\n\n"
    "Prints the model's named values (e.g. dgiqa: the score, each crop's score, logit and window)\n"
    "and writes its maps (dgiqa: 'depth', the depth image; 'attention', the cross-attention the\n"
    "image positions receive from the depth queries, pasted into the crop windows of the resized\n"
    "image) to DIR/IMAGE-STEM_MAP.png as heat maps (dark = low, bright = high), and each map resized\n"
    "onto the picture and blended over it (weight A of the heat map, default 0.5) to\n"
    "DIR/IMAGE-STEM_MAP_overlay.png. --json prints one object {image, model, values, maps}.\n",
    run}};

}  // namespace
