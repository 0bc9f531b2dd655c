// biqa infer --model vit: timm's VisionTransformer (nn::VisionTransformer).
//
// Config: timm's constructor argument names (img_size, patch_size, embed_dim, depth, num_heads,
// mlp_ratio, qkv_bias, init_values, class_token, no_embed_class, reg_tokens, global_pool, fc_norm,
// pre_norm, num_classes, dynamic_img_size), plus "out_indices": [blocks whose tokens to return] and
// "out_norm": pass them through the final norm. What the config leaves out is read from the weight
// shapes, else taken from deit3_small_patch16_224; the strict load then checks every key.
// Outputs: "output" (the head's logits when the file has head.weight, else the pooled features),
// "tokens" (forward_features), "block<i>" for each of out_indices.

#include <cstdint>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/nn/vision_transformer.hpp"
#include "infer.hpp"

namespace {

using biqa::ErrorCode;
using biqa::Tensor;
using ViT = biqa::nn::VisionTransformer;

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  BIQA_CHECK(req.input.has_value(), ErrorCode::invalid_argument, "vit needs --input X.npy [B, C, H, W] float32");
  const biqa::json::Value& j = req.config;
  BIQA_CHECK(j.is_null() || j.is_object(), ErrorCode::invalid_argument, "vit: the config must be a JSON object");
  const ViT::Config config = ViT::Config::from_weights(req.weights->root(), j);
  ViT vit(config);
  vit.load(req.weights->root());
  req.weights->finish();

  std::vector<std::int64_t> indices;
  if (const auto* v = j.find("out_indices"))
    for (const auto& i : v->as_array()) indices.push_back(i.as_int());
  const bool norm = j.find("out_norm") && j["out_norm"].as_bool();

  biqa::Context& ctx = *req.ctx;
  std::vector<Tensor<float>> taken;
  const Tensor<float> tokens = vit.forward_features(*req.input, ctx, indices, &taken, norm);
  biqa::cli::InferOutputs out;
  out.emplace_back("output", vit.forward_head(tokens, ctx));
  out.emplace_back("tokens", tokens);
  for (std::size_t k = 0; k < indices.size(); ++k) out.emplace_back("block" + std::to_string(indices[k]), taken[k]);
  return out;
}

biqa::cli::RegisterInfer reg{{{"vit"}, "timm VisionTransformer (ViT, DeiT-III, DINOv2 encoder)", run}};

}  // namespace
