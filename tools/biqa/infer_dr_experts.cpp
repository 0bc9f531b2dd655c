// `biqa infer --model dr_experts`: the DR.Experts network on preprocessed crops. --input is a .npy
// (or a .safetensors holding "input") [N, 3, S, S], ImageNet-normalised at the network's size
// (384 for the published model). Outputs "score" [N], "expert_weights" [N, 10] (the DDWM weights
// at the class token), "similarities" [N, 10] (DA-CLIP to the ten prompts) and "cls_attention"
// [N, 10, 1 + grid²]. The config (models::DRExperts::Config JSON: "deit", "daclip", "sign") is
// needed for the sign variant and for shrunken networks (head counts); the DSDM layout is read
// from the keys.

#include "biqa/core/error.hpp"
#include "biqa/models/dr_experts.hpp"
#include "infer.hpp"

namespace {

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  const biqa::Tensor<float>* x = nullptr;
  if (const auto it = req.inputs.find("input"); it != req.inputs.end()) x = &it->second;
  else if (req.input) x = &*req.input;
  BIQA_CHECK(x != nullptr, biqa::ErrorCode::invalid_argument,
             "dr_experts needs --input X.npy (or X.safetensors with \"input\") [N, 3, S, S], ImageNet-normalised");
  const biqa::models::DRExperts model = biqa::models::load_dr_experts(*req.weights, *req.ctx, req.config);
  const auto out = model.forward(*x, *req.ctx);
  return {{"score", out.scores},
          {"expert_weights", out.expert_weights},
          {"similarities", out.similarities},
          {"cls_attention", out.cls_attention}};
}

biqa::cli::RegisterInfer reg{{{"dr_experts"}, "DR.Experts (384 crops): score, expert_weights, similarities, cls_attention", run}};

}  // namespace
