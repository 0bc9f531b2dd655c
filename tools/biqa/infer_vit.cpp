// biqa infer --model vit: timm's VisionTransformer (nn::VisionTransformer).
//
// Config: timm's constructor argument names (img_size, patch_size, embed_dim, depth, num_heads,
// mlp_ratio, qkv_bias, init_values, class_token, no_embed_class, reg_tokens, global_pool, fc_norm,
// pre_norm, num_classes, dynamic_img_size), plus "out_indices": [blocks whose tokens to return] and
// "out_norm": pass them through the final norm. What the config leaves out is read from the weight
// shapes, else taken from deit3_small_patch16_224; the strict load then checks every key.
// Outputs: "output" (the head's logits when the file has head.weight, else the pooled features),
// "tokens" (forward_features), "block<i>" for each of out_indices.

#include <cmath>
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

bool is_square(std::int64_t n, std::int64_t& root) {
  if (n <= 0) return false;
  root = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
  return root * root == n;
}

ViT::Config config_from(const biqa::io::WeightStore& store, const biqa::json::Value& j) {
  ViT::Config c = ViT::Config::deit3_small();
  auto record = [&](const std::string& k) { return store.record(k); };
  auto given = [&](const char* k) { return j.find(k) != nullptr; };

  // depth: the number of blocks.N
  std::int64_t depth = 0;
  for (const auto& k : store.keys_with_prefix("blocks.")) {
    const auto dot = k.find('.', 7);
    depth = std::max<std::int64_t>(depth, std::stoll(k.substr(7, dot - 7)) + 1);
  }
  c.depth = depth;
  if (auto* r = record("patch_embed.proj.weight"); r && r->shape.rank() == 4) {
    c.embed_dim = r->shape[0];
    c.in_chans = r->shape[1];
    c.patch_size = {r->shape[2], r->shape[3]};
    c.pre_norm = record("patch_embed.proj.bias") == nullptr && record("norm_pre.weight") != nullptr;
  }
  c.class_token = record("cls_token") != nullptr;
  if (auto* r = record("reg_token"); r && r->shape.rank() == 3) c.reg_tokens = r->shape[1];
  else c.reg_tokens = 0;
  if (auto* r = record("head.weight"); r && r->shape.rank() == 2) c.num_classes = r->shape[0];
  else c.num_classes = 0;
  if (record("blocks.0.ls1.gamma")) c.init_values = c.init_values.value_or(1e-6);
  else c.init_values.reset();
  if (auto* r = record("blocks.0.mlp.fc1.weight"); r && r->shape.rank() == 2 && c.embed_dim > 0)
    c.mlp_ratio = static_cast<double>(r->shape[0]) / static_cast<double>(c.embed_dim);
  c.qkv_bias = depth == 0 || record("blocks.0.attn.qkv.bias") != nullptr;
  c.global_pool = c.class_token ? ViT::GlobalPool::token : ViT::GlobalPool::avg;
  if (record("fc_norm.weight")) c.fc_norm = true;
  else if (record("norm.weight")) c.fc_norm = false;

  c.update(j);  // what the config states wins; the load reports any disagreement with the file

  if (!given("num_heads")) {  // not visible in the shapes: timm's ViTs use heads of 64 channels
    BIQA_CHECK(c.embed_dim % 64 == 0, ErrorCode::invalid_argument, "vit: embed_dim ", c.embed_dim,
               " is not a multiple of 64; give num_heads in the config");
    c.num_heads = c.embed_dim / 64;
  }
  // The pos_embed length tells whether it covers the prefix tokens and, without an img_size, the
  // (square) grid it was trained on.
  if (auto* r = record("pos_embed"); r && r->shape.rank() == 3) {
    const std::int64_t len = r->shape[1], prefix = c.num_prefix_tokens();
    if (given("img_size")) {
      const auto [gh, gw] = c.grid();
      if (!given("no_embed_class") && prefix > 0 && (len == gh * gw || len == gh * gw + prefix))
        c.no_embed_class = len == gh * gw;
    } else {
      std::int64_t g = 0;
      if (!given("no_embed_class")) {
        if (prefix > 0 && is_square(len - prefix, g)) c.no_embed_class = false;
        else if (is_square(len, g)) c.no_embed_class = true;
      }
      if (is_square(len - (c.no_embed_class ? 0 : prefix), g)) c.img_size = {g * c.patch_size[0], g * c.patch_size[1]};
    }
  }
  return c;
}

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  BIQA_CHECK(req.input.has_value(), ErrorCode::invalid_argument, "vit needs --input X.npy [B, C, H, W] float32");
  const biqa::json::Value& j = req.config;
  BIQA_CHECK(j.is_null() || j.is_object(), ErrorCode::invalid_argument, "vit: the config must be a JSON object");
  const ViT::Config config = config_from(*req.weights, j);
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
