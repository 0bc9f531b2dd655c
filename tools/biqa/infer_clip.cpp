// biqa infer --model clip-image | clip-text: OpenAI / open_clip CLIP (nn::Clip).
//
// Weights: a whole open_clip / OpenAI CLIP state_dict or one tower's own state_dict. Config: an
// open_clip model config (embed_dim, quick_gelu, vision_cfg, text_cfg); what the weight shapes
// determine is read from them, the rest (quick_gelu, head_width, text heads) comes from the config,
// else from open_clip's ViT-B-32.json. Outputs, not normalized:
//   clip-image: --input X.npy float32 [N, 3, H, W] (CLIP-preprocessed) → "image_features" [N, embed_dim]
//   clip-text:  --input ids.npy int64 [N, context_length], or --text "..." (repeatable, tokenized with
//               the CLIP BPE vocabulary at $BIQA_CLIP_VOCAB, else data/clip/bpe_simple_vocab_16e6.txt.gz)
//               → "text_features" [N, embed_dim]

#include <cstdlib>
#include <filesystem>
#include <string>

#include "biqa/core/error.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "infer.hpp"

namespace {

using biqa::ErrorCode;
using biqa::nn::Clip;

Clip load_clip(biqa::cli::InferRequest& req) {
  BIQA_CHECK(req.config.is_null() || req.config.is_object(), ErrorCode::invalid_argument,
             req.model, ": the config must be a JSON object");
  const Clip::Config config = Clip::Config::from_weights(req.weights->root(), Clip::Config::from_json(req.config));
  Clip clip(config);
  clip.load(req.weights->root());
  req.weights->finish();
  return clip;
}

std::string vocab_path() {
  if (const char* env = std::getenv("BIQA_CLIP_VOCAB"); env && *env) return env;
  return "data/clip/bpe_simple_vocab_16e6.txt.gz";
}

biqa::cli::InferOutputs run_image(biqa::cli::InferRequest& req) {
  BIQA_CHECK(req.input.has_value() && req.texts.empty(), ErrorCode::invalid_argument,
             "clip-image needs --input X.npy, a float32 [N, 3, H, W] batch");
  const Clip clip = load_clip(req);
  BIQA_CHECK(clip.has_vision(), ErrorCode::invalid_argument, req.weights_path, ": no image tower (visual.*)");
  return {{"image_features", clip.encode_image(*req.input, *req.ctx)}};
}

biqa::cli::InferOutputs run_text(biqa::cli::InferRequest& req) {
  BIQA_CHECK(req.tokens.has_value() != !req.texts.empty() && !req.input.has_value(), ErrorCode::invalid_argument,
             "clip-text needs either --input ids.npy (int64 [N, context_length]) or --text \"...\" (repeatable)");
  const Clip clip = load_clip(req);
  BIQA_CHECK(clip.has_text(), ErrorCode::invalid_argument, req.weights_path, ": no text tower (token_embedding.*)");
  if (req.tokens) return {{"text_features", clip.encode_text(*req.tokens, *req.ctx)}};
  const std::string vocab = vocab_path();
  BIQA_CHECK(std::filesystem::exists(vocab), ErrorCode::io, "clip-text --text: the CLIP vocabulary ", vocab,
             " is missing (run scripts/fetch_clip_vocab, or set BIQA_CLIP_VOCAB to bpe_simple_vocab_16e6.txt[.gz])");
  const auto tokenizer = biqa::clip::Tokenizer::from_file(vocab);
  return {{"text_features", clip.encode_text(req.texts, tokenizer, *req.ctx)}};
}

biqa::cli::RegisterInfer reg_image{{{"clip-image"}, "OpenAI / open_clip CLIP image tower (projected embeddings)", run_image}};
biqa::cli::RegisterInfer reg_text{{{"clip-text"}, "OpenAI / open_clip CLIP text tower (projected embeddings)", run_text}};

}  // namespace
