// biqa infer --model depth-anything: Depth Anything V1 (models::DepthAnything) on an
// ImageNet-normalised NCHW batch whose sides are multiples of 14.
//
// Config: {"encoder": "vits"|"vitb"|"vitl"} and/or the shapes (embed_dim, depth, num_heads,
// mlp_ratio, patch_size, img_size, features, out_channels); without one, everything is read from
// the weight shapes. Outputs: "depth" [N, H, W] (relative inverse depth), then "block<i>" [N, gh·gw,
// D] and "cls<i>" [N, D], i = 0..3, the encoder's four normed taps (get_intermediate_layers(x, 4,
// return_class_token=True)).

#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/models/depth_anything.hpp"
#include "infer.hpp"

namespace {

using biqa::ErrorCode;
using biqa::Tensor;
using biqa::models::DepthAnything;

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  BIQA_CHECK(req.input.has_value(), ErrorCode::invalid_argument,
             "depth-anything needs --input X.npy [N, 3, H, W] float32 (H, W multiples of 14)");
  DepthAnything::Config config = DepthAnything::Config::from_weights(*req.weights);
  config.update(req.config);  // what the config states wins; the strict load checks it against the file
  DepthAnything model(config);
  model.load(*req.weights);
  req.weights->finish();

  std::vector<Tensor<float>> tokens, cls;
  biqa::cli::InferOutputs out;
  out.emplace_back("depth", model.forward(*req.input, *req.ctx, &tokens, &cls));
  const auto* taps = req.config.is_object() ? req.config.find("out_taps") : nullptr;
  if (taps == nullptr || taps->as_bool()) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      out.emplace_back("block" + std::to_string(i), tokens[i]);
      out.emplace_back("cls" + std::to_string(i), cls[i]);
    }
  }
  return out;
}

biqa::cli::RegisterInfer reg{{{"depth-anything", "depth_anything"}, "Depth Anything V1 (DINOv2 + DPT head)", run}};

}  // namespace
