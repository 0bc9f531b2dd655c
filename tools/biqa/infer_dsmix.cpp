// `biqa infer --model dsmix`: DSMix on preprocessed crops, --input [N, 3, S, S] (ImageNet-normalised,
// S = the crop size, 224 at full size) → "score" [N] (one per crop) and "features" [N, D] (the pooled
// encoder output). The weights file holds encoder.* and head.* (models/dsmix.hpp).
// `biqa infer --model dsm`: the DSM predictor, --input [N, 3, H, W] (multiples of the patch) →
// "dsm" [N, 1, H/p, W/p]; the weights hold encoder.* (or plain timm keys) and decoder.*.

#include "biqa/core/error.hpp"
#include "biqa/models/dsmix.hpp"
#include "infer.hpp"

namespace {

const biqa::Tensor<float>& input_of(biqa::cli::InferRequest& req, const char* what) {
  BIQA_CHECK(req.input.has_value(), biqa::ErrorCode::invalid_argument, req.model, " needs --input X.npy holding ",
             what);
  return *req.input;
}

biqa::cli::InferOutputs run_dsmix(biqa::cli::InferRequest& req) {
  const auto& x = input_of(req, "[N, 3, S, S] normalised crops");
  biqa::models::DSMix::Config c;
  c.update(req.config);
  auto& store = *req.weights;
  const auto model = biqa::models::DSMix::load(store.scope("encoder"), store.scope("head"), c);
  store.finish();
  const biqa::Tensor<float> features = model.features(x, *req.ctx);
  return {{"score", model.head(features, *req.ctx)}, {"features", features}};
}

biqa::cli::InferOutputs run_dsm(biqa::cli::InferRequest& req) {
  const auto& x = input_of(req, "[N, 3, H, W] normalised images");
  auto& store = *req.weights;
  const bool prefixed = !store.keys_with_prefix("encoder.").empty();
  const auto model = biqa::models::DSMPredictor::load(prefixed ? store.scope("encoder") : store.root(),
                                                      store.scope("decoder"), req.config);
  store.finish();
  return {{"dsm", model.forward(x, *req.ctx)}};
}

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  return req.model == "dsm" ? run_dsm(req) : run_dsmix(req);
}

biqa::cli::RegisterInfer reg{
    {{"dsmix", "dsm"}, "DSMix: per-crop score and features (dsmix); the DSM predictor's map (dsm)", run}};

}  // namespace
