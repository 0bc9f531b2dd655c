// `biqa infer --model swin`: timm's SwinTransformer (plain or features_only weights). Outputs the
// logits first when the weights have a head, then the stage outputs "layers_0".. (NHWC, before
// the final norm). The config takes timm's names (img_size, patch_size, embed_dim, depths,
// num_heads, window_size, mlp_ratio, qkv_bias, num_classes, global_pool); what the weight shapes
// tell (embed_dim, depths, heads, patch size, mlp ratio, qkv bias, classes) comes from them, the
// image size from the input and the window from stage 0's bias table unless configured.

#include <string>

#include "biqa/core/error.hpp"
#include "biqa/nn/swin_transformer.hpp"
#include "infer.hpp"

namespace {

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  using biqa::nn::SwinTransformer;
  BIQA_CHECK(req.input.has_value(), biqa::ErrorCode::invalid_argument, "swin needs --input [B, C, H, W].npy");
  const biqa::Tensor<float>& x = *req.input;
  BIQA_CHECK(x.dim() == 4, biqa::ErrorCode::invalid_argument, "swin: input must be [B, C, H, W], got ",
             x.shape().to_string());
  SwinTransformer::Config base = SwinTransformer::Config::from_json(req.config);  // timm's swin_tiny defaults
  const bool configured = req.config.is_object();
  if (!configured || !req.config.find("img_size")) base.img_size = {x.size(2), x.size(3)};
  const bool window_given = configured && req.config.find("window_size");
  const auto root = req.weights->root();
  const SwinTransformer::Config config = SwinTransformer::Config::from_weights(root, base, !window_given);
  SwinTransformer model(config);
  model.load(root);
  req.weights->finish();
  auto out = model.forward(x, *req.ctx);
  biqa::cli::InferOutputs outputs;
  if (out.logits.defined()) outputs.emplace_back("logits", out.logits);
  for (std::size_t s = 0; s < out.stages.size(); ++s) outputs.emplace_back("layers_" + std::to_string(s), out.stages[s]);
  return outputs;
}

biqa::cli::RegisterInfer reg{{{"swin"}, "timm SwinTransformer: logits (with a head), stage outputs layers_0.. (NHWC)", run}};

}  // namespace
