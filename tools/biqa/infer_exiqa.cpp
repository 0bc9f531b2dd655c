// `biqa infer --model exiqa`: the ExIQA network (models::ExIQA) on CLIP-preprocessed images.
// --input X.npy float32 [N, 3, S, S]; --weights an ExIQA checkpoint or a plain CLIP state_dict
// (zero-shot); --config an open_clip model config (else the file's metadata). The attribute list is
// the checkpoint's ("exiqa.attributes" metadata), else biqa's builtin one; the CLIP vocabulary is
// $BIQA_CLIP_VOCAB, else data/clip/bpe_simple_vocab_16e6.txt.gz. Outputs "attribute_probs" [N, A],
// "distortion_probs" [N, D], "image_features" [N, embed_dim] and, with a regressor, "scores" [N, 1].

#include "biqa/core/error.hpp"
#include "biqa/models/exiqa.hpp"
#include "infer.hpp"

namespace {

biqa::cli::InferOutputs run(biqa::cli::InferRequest& req) {
  BIQA_CHECK(req.input.has_value() && req.texts.empty(), biqa::ErrorCode::invalid_argument,
             "exiqa needs --input X.npy, a float32 [N, 3, S, S] batch (CLIP-preprocessed)");
  biqa::models::ExiqaLoadOptions opt;
  opt.config = req.config;
  const biqa::models::ExIQA model = biqa::models::load_exiqa(*req.weights, opt, *req.ctx);
  auto out = model.forward(*req.input, *req.ctx);
  biqa::cli::InferOutputs result{{"attribute_probs", out.attribute_probs},
                                 {"distortion_probs", out.distortion_probs},
                                 {"image_features", out.image_features}};
  if (out.scores.defined()) result.emplace_back("scores", out.scores);
  return result;
}

biqa::cli::RegisterInfer reg{{{"exiqa"}, "ExIQA (CLIP + distortion attributes): attribute/distortion probabilities, scores", run}};

}  // namespace
