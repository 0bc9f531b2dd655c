#pragma once
// The layers described by the "config" metadata of the nn fixtures (tools/reference/
// make_layer_fixtures.py and make_resnet_fixtures.py), shared by the CPU layer tests and the
// CUDA ones, which run the same fixtures on the device.

#include <cstdint>

#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/conv_transpose2d.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/mlp.hpp"
#include "biqa/nn/multihead_attention.hpp"
#include "biqa/nn/patch_embed.hpp"
#include "biqa/nn/resnet.hpp"
#include "biqa/nn/transformer_block.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "support/parity.hpp"

namespace biqa::test {

inline nn::Linear linear_from(const json::Value& c) {
  return nn::Linear(c["in_features"].as_int(), c["out_features"].as_int(), c["bias"].as_bool());
}

inline nn::Conv2d conv_from(const json::Value& c) {
  nn::Conv2d::Config cfg;
  cfg.in_channels = c["in_channels"].as_int();
  cfg.out_channels = c["out_channels"].as_int();
  cfg.kernel_size = pair_of(c["kernel_size"]);
  cfg.stride = pair_of(c["stride"]);
  cfg.padding = pair_of(c["padding"]);
  cfg.dilation = pair_of(c["dilation"]);
  cfg.groups = c["groups"].as_int();
  cfg.bias = c["bias"].as_bool();
  return nn::Conv2d(cfg);
}

inline nn::ConvTranspose2d deconv_from(const json::Value& c) {
  nn::ConvTranspose2d::Config cfg;
  cfg.in_channels = c["in_channels"].as_int();
  cfg.out_channels = c["out_channels"].as_int();
  cfg.kernel_size = pair_of(c["kernel_size"]);
  cfg.stride = pair_of(c["stride"]);
  cfg.padding = pair_of(c["padding"]);
  cfg.output_padding = pair_of(c["output_padding"]);
  cfg.dilation = pair_of(c["dilation"]);
  cfg.groups = c["groups"].as_int();
  cfg.bias = c["bias"].as_bool();
  return nn::ConvTranspose2d(cfg);
}

inline nn::Mlp mlp_from(const json::Value& c) {
  nn::Mlp::Config cfg;
  cfg.in_features = c["in_features"].as_int();
  cfg.hidden_features = c["hidden_features"].as_int();
  cfg.out_features = c["out_features"].as_int();
  cfg.act = ops::parse_activation(c["act"].as_string());
  cfg.norm = c["norm"].as_bool();
  return nn::Mlp(cfg);
}

inline nn::MultiheadAttention mha_from(const json::Value& c) {
  nn::MultiheadAttention::Config cfg;
  cfg.embed_dim = c["embed_dim"].as_int();
  cfg.num_heads = c["num_heads"].as_int();
  cfg.bias = c["bias"].as_bool();
  cfg.batch_first = c["batch_first"].as_bool();
  if (c.find("kdim")) cfg.kdim = c["kdim"].as_int();
  if (c.find("vdim")) cfg.vdim = c["vdim"].as_int();
  return nn::MultiheadAttention(cfg);
}

/// A fixture's 0/1 float mask as PyTorch's bool one.
inline Tensor<std::uint8_t> as_bool(const Tensor<float>& t) {
  Tensor<std::uint8_t> b(t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) b.data()[i] = t.data()[i] != 0.0f;
  return b;
}

inline nn::PatchEmbed embed_from(const json::Value& c) {
  nn::PatchEmbed::Config cfg;
  cfg.patch_size = pair_of(c["patch_size"]);
  cfg.in_chans = c["in_chans"].as_int();
  cfg.embed_dim = c["embed_dim"].as_int();
  cfg.output = c["output"].as_string() == "nhwc" ? nn::PatchEmbed::Output::nhwc : nn::PatchEmbed::Output::tokens;
  cfg.norm = c["norm"].as_bool();
  if (c.find("norm_eps")) cfg.norm_eps = static_cast<float>(c["norm_eps"].as_number());
  return nn::PatchEmbed(cfg);
}

inline nn::TransformerBlock block_from(const json::Value& c) {
  nn::TransformerBlock::Config cfg;
  cfg.dim = c["dim"].as_int();
  cfg.num_heads = c["num_heads"].as_int();
  cfg.mlp_ratio = c["mlp_ratio"].as_number();
  cfg.qkv_bias = c["qkv_bias"].as_bool();
  cfg.layer_scale = c["layer_scale"].as_bool();
  cfg.norm_eps = static_cast<float>(c["norm_eps"].as_number());
  return nn::TransformerBlock(cfg);
}

inline nn::ResNet::Config resnet_config_from(const json::Value& c) {
  nn::ResNet::Config cfg;
  cfg.block = c["block"].as_string() == "basic" ? nn::ResNetBlock::basic : nn::ResNetBlock::bottleneck;
  for (int s = 0; s < 4; ++s) cfg.layers[s] = c["layers"].as_array().at(s).as_int();
  cfg.base_width = c["base_width"].as_int();
  cfg.groups = c["groups"].as_int();
  cfg.width_per_group = c["width_per_group"].as_int();
  for (int s = 0; s < 3; ++s)
    cfg.replace_stride_with_dilation[s] = c["replace_stride_with_dilation"].as_array().at(s).as_bool();
  cfg.num_classes = c["num_classes"].as_int();
  return cfg;
}

}  // namespace biqa::test
