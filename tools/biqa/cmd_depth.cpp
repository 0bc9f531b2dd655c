// biqa depth --weights W [--encoder vits|vitb|vitl] [--threads N] [--raw OUT.npy] IN OUT.png:
// the Depth Anything V1 depth map of an image, as DGIQA makes it (models::depth_image): an 8-bit
// map at the image's size, min-max scaled (near = bright), written as a 3-channel PNG / JPEG.

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/depth_anything.hpp"
#include "biqa/models/dgiqa_scorer.hpp"
#include "cli.hpp"

namespace {

using namespace biqa;

int run(cli::Args& args) {
  const auto weights = args.option("--weights", "-w");
  const auto encoder = args.option("--encoder");
  const auto raw = args.option("--raw");
  const int threads = args.int_option("--threads", 1);
  const bool quiet = args.flag("--quiet");
  const auto files = args.positionals();
  if (!weights) fail(ErrorCode::invalid_argument, "depth: --weights is required");
  if (files.size() != 2) fail(ErrorCode::invalid_argument, "depth: expected IN OUT");
  if (threads < 1) fail(ErrorCode::invalid_argument, "depth: --threads must be positive");

  // --encoder names a published layout; otherwise the shapes decide, with the file's "biqa.config"
  // metadata (JSON, as DepthAnything::Config::update reads it) for what shapes cannot tell.
  const auto model_ptr = models::load_depth_anything(*weights, encoder.value_or(""));
  const models::DepthAnything& model = *model_ptr;
  const models::DepthAnything::Config& config = model.config();

  const Tensor<std::uint8_t> image = io::read_image_u8(files[0]);
  Context ctx(threads);
  const auto t0 = std::chrono::steady_clock::now();
  const Tensor<float> map = models::depth_map(model, image, ctx);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  io::write_image(files[1], models::replicate_to_rgb(models::depth_to_u8(map)));
  if (raw) io::write_npy(*raw, map);
  if (!quiet) {
    const auto [h1, w1] = models::depth_input_size(image.size(0), image.size(1));
    std::fprintf(stderr, "depth: %s, %lldx%lld image, network input %lldx%lld, %.2f s on %d thread%s\n",
                 config.encoder.c_str(), static_cast<long long>(image.size(0)), static_cast<long long>(image.size(1)),
                 static_cast<long long>(h1), static_cast<long long>(w1), seconds, threads, threads == 1 ? "" : "s");
  }
  return cli::ok;
}

cli::Register reg{{"depth", "Depth Anything V1 depth map of an image (DGIQA's depth prior)",
    "Usage: biqa depth -w|--weights W [--encoder vits|vitb|vitl] [--threads N] [--raw OUT.npy] [--quiet]\n"
    "                  IN OUT.png\n\n"
    "Runs Depth Anything V1 (depth_anything_vit{s,b,l}14 weights as .safetensors or .pth) on IN as\n"
    "DGIQA's inference script does: bicubic resize to a multiple of 14 with both sides at least 518,\n"
    "the network, bilinear resize back to the image size, min-max scaling to 0..255 (truncated).\n"
    "OUT gets that 8-bit map (near = bright) in 3 equal channels; --raw also writes the float map\n"
    "before scaling. The variant is read from the weight shapes (and the file's biqa.config\n"
    "metadata) unless --encoder names it.\n",
    run}};

}  // namespace
