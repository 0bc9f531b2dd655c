// biqa infer --model resnet18|resnet34|resnet50|resnet101|resnet152: torchvision's ResNet.
// The depth comes from the name; widths, groups and the classifier (present or not) from the weight
// shapes; the config JSON may override "layers" ([4] blocks per stage),
// "replace_stride_with_dilation" ([3] bools), "bn_eps" and "prefix" (a key scope, e.g. "encoder").
// Outputs: "logits" (with fc) or "features" (pooled, without), then "stem" and "layer1".."layer4"
// (only written by a .safetensors output; a .npy output receives the first).

#include <string>

#include "biqa/core/error.hpp"
#include "biqa/nn/resnet.hpp"
#include "infer.hpp"

namespace {

using namespace biqa;

nn::ResNet::Config config_for(const cli::InferRequest& req, const io::WeightStore::Scope& scope) {
  const int depth = std::stoi(req.model.substr(std::string("resnet").size()));
  nn::ResNet::Config cfg = nn::ResNet::detect(nn::ResNet::Config::for_depth(depth), scope);
  const json::Value& c = req.config;
  if (c.is_null()) return cfg;
  BIQA_CHECK(c.is_object(), ErrorCode::invalid_argument, req.model, ": the config must be a JSON object");
  if (const auto* v = c.find("layers")) {
    BIQA_CHECK(v->as_array().size() == 4, ErrorCode::invalid_argument, req.model, ": config \"layers\" needs 4 counts");
    for (int s = 0; s < 4; ++s) cfg.layers[s] = v->as_array()[static_cast<std::size_t>(s)].as_int();
  }
  if (const auto* v = c.find("replace_stride_with_dilation")) {
    BIQA_CHECK(v->as_array().size() == 3, ErrorCode::invalid_argument, req.model,
               ": config \"replace_stride_with_dilation\" needs 3 booleans");
    for (int s = 0; s < 3; ++s) cfg.replace_stride_with_dilation[s] = v->as_array()[static_cast<std::size_t>(s)].as_bool();
  }
  if (const auto* v = c.find("bn_eps")) cfg.bn_eps = static_cast<float>(v->as_number());
  return cfg;
}

cli::InferOutputs run(cli::InferRequest& req) {
  BIQA_CHECK(req.input.has_value(), ErrorCode::invalid_argument, req.model, " needs --input [N, 3, H, W]");
  std::string prefix;
  if (req.config.is_object())
    if (const auto* v = req.config.find("prefix")) prefix = v->as_string();
  const auto scope = req.weights->scope(prefix);
  nn::ResNet net(config_for(req, scope));
  net.load(scope);
  req.weights->finish();

  nn::ResNetStages st;
  cli::InferOutputs out;
  Tensor<float> head = net.forward(*req.input, *req.ctx, &st);
  out.emplace_back(net.has_fc() ? "logits" : "features", std::move(head));
  out.emplace_back("stem", st.stem);
  for (int s = 0; s < 4; ++s) out.emplace_back("layer" + std::to_string(s + 1), st.layers[s]);
  return out;
}

biqa::cli::RegisterInfer reg{{{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"},
                              "torchvision ResNet (logits or pooled features, then stem, layer1..layer4)", run}};

}  // namespace
