// `biqa infer --model dgiqa`: the DGIQA network on preprocessed crops. --input is a .safetensors
// file holding "image" and "depth", both [N, 3, 224, 224] (ImageNet-normalised, the depth image's
// three identical channels normalised like RGB). Outputs "score" [N] (sigmoid), "logit" [N] and
// "cross_attention" [N, 49, 49] (depth queries over RGB positions, averaged over the heads). The
// config (models::DGIQA::Config JSON) is needed only for shrunken networks: image size, heads.

#include "biqa/core/error.hpp"
#include "biqa/models/dgiqa.hpp"
#include "infer.hpp"

namespace {

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  const auto image = req.inputs.find("image"), depth = req.inputs.find("depth");
  BIQA_CHECK(image != req.inputs.end() && depth != req.inputs.end(), biqa::ErrorCode::invalid_argument,
             "dgiqa needs --input X.safetensors holding \"image\" and \"depth\" [N, 3, 224, 224]");
  const biqa::models::DGIQA model = biqa::models::load_dgiqa(*req.weights, req.config);
  const auto out = model.forward(image->second, depth->second, *req.ctx);
  return {{"score", out.scores}, {"logit", out.logits}, {"cross_attention", out.cross_attention_probs}};
}

biqa::cli::RegisterInfer reg{{{"dgiqa"}, "DGIQA (image + depth crops): score, logit, cross_attention", run}};

}  // namespace
