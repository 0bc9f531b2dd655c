#pragma once
/// @file
/// nn::ClipTextTransformer: CLIP's text tower in OpenAI's / open_clip 2.24's layout
/// (open_clip/transformer.py TextTransformer; in a CLIP state_dict its keys sit at the top level):
///   token_embedding.weight [vocab, width] gathered by the ids; positional_embedding [context, width]
///   added; transformer.resblocks.N with a causal mask; ln_final; the token at the end-of-text
///   position, which open_clip finds as the argmax of the ids (the end token has the largest id),
///   @ text_projection [width, E] (an nn.Linear "text_projection.weight/.bias" with proj_bias).
/// The causal mask is computed, not read: open_clip 2.24 registers "attn_mask" as a non-persistent
/// buffer, but older versions saved it; a stored one is checked to be the causal mask and dropped.
/// open_clip's CoCa variant (embed_cls, cls_emb) and Hugging Face text towers are not covered.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/clip_transformer.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/ops/cpu/gemm.hpp"

namespace biqa::nn {

class ClipTextTransformer {
 public:
  /// open_clip's CLIPTextCfg names; defaults are ViT-B-32's.
  struct Config {
    std::int64_t context_length = 77;
    std::int64_t vocab_size = 49408;
    std::int64_t width = 512;
    std::int64_t heads = 8;
    std::int64_t layers = 12;
    double mlp_ratio = 4.0;
    std::int64_t output_dim = 512;  // CLIP's embed_dim
    bool quick_gelu = false;
    bool layer_scale = false;          ///< ls_init_value set
    bool causal = true;                ///< !no_causal_mask
    bool proj_bias = false;            ///< text_projection is an nn.Linear
    std::string pool_type = "argmax";  // "argmax" (end-of-text token), "first" or "last"
    float eps = 1e-5f;

    /// Fields of an open_clip "text_cfg" object override `base`.
    static Config from_json(const json::Value& j, Config base) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "CLIP config: text_cfg must be an object");
      clip_detail::reject(j, "text_cfg", {"hf_model_name", "embed_cls", "act_kwargs"});
      if (const auto* v = j.find("context_length")) base.context_length = v->as_int();
      if (const auto* v = j.find("vocab_size")) base.vocab_size = v->as_int();
      if (const auto* v = j.find("width")) base.width = v->as_int();
      if (const auto* v = j.find("heads")) base.heads = v->as_int();
      if (const auto* v = j.find("layers")) base.layers = v->as_int();
      if (const auto* v = j.find("mlp_ratio")) base.mlp_ratio = v->as_number();
      if (const auto* v = j.find("ls_init_value")) base.layer_scale = !v->is_null();
      if (const auto* v = j.find("no_causal_mask")) base.causal = !v->as_bool();
      if (const auto* v = j.find("proj_bias")) base.proj_bias = v->as_bool();
      if (const auto* v = j.find("pool_type")) base.pool_type = v->as_string();
      base.eps = clip_detail::layer_norm_eps(j, base.eps);
      return base;
    }

    /// The dims the weights under `scope` determine override `base`: vocab_size, width,
    /// context_length, layers, mlp_ratio, output_dim, proj_bias, layer_scale. heads is not
    /// visible in the shapes and stays as configured.
    static Config from_weights(const io::WeightStore::Scope& scope, Config base) {
      const auto* emb = scope.record("token_embedding.weight");
      BIQA_CHECK(emb && emb->shape.rank() == 2, ErrorCode::format, "CLIP text: ",
                 scope.full_name("token_embedding.weight"), " [vocab, width] is missing");
      base.vocab_size = emb->shape[0];
      base.width = emb->shape[1];
      if (const auto* pos = scope.record("positional_embedding"); pos && pos->shape.rank() == 2)
        base.context_length = pos->shape[0];
      base.layers = ClipTransformer::count_layers(scope.scope("transformer"));
      if (const auto* fc = scope.record("transformer.resblocks.0.mlp.c_fc.weight"); fc && fc->shape.rank() == 2)
        base.mlp_ratio = static_cast<double>(fc->shape[0]) / static_cast<double>(base.width);
      if (const auto* p = scope.record("text_projection"); p && p->shape.rank() == 2) {
        base.output_dim = p->shape[1];
        base.proj_bias = false;
      } else if (const auto* l = scope.record("text_projection.weight"); l && l->shape.rank() == 2) {
        base.output_dim = l->shape[0];
        base.proj_bias = true;
      }
      base.layer_scale = scope.has("transformer.resblocks.0.ls_1.gamma");
      return base;
    }
  };

  ClipTextTransformer() = default;
  explicit ClipTextTransformer(const Config& config) : config_(config) {
    BIQA_CHECK(config.context_length > 0 && config.vocab_size > 0 && config.width > 0, ErrorCode::invalid_argument,
               "nn::ClipTextTransformer: context_length, vocab_size and width must be positive");
    BIQA_CHECK(config.pool_type == "argmax" || config.pool_type == "first" || config.pool_type == "last",
               ErrorCode::invalid_argument, "nn::ClipTextTransformer: pool_type must be \"argmax\", \"first\" or ",
               "\"last\", got \"", config.pool_type, "\"");
    ln_final_ = LayerNorm(config.width, config.eps);
    ClipResidualBlock::Config b;
    b.width = config.width;
    b.heads = config.heads;
    b.mlp_width = static_cast<std::int64_t>(static_cast<double>(config.width) * config.mlp_ratio);
    b.quick_gelu = config.quick_gelu;
    b.layer_scale = config.layer_scale;
    b.eps = config.eps;
    transformer_ = ClipTransformer(config.layers, b);
  }

  void load(const io::WeightStore::Scope& scope) {
    const std::int64_t w = config_.width, ctx_len = config_.context_length;
    // 16-bit in the low-memory mode: a quarter of a CLIP's parameters, of which a prompt reads 77 rows.
    token_embedding_ = scope.take_stored("token_embedding.weight", {config_.vocab_size, w});
    positional_embedding_ = scope.take("positional_embedding", {ctx_len, w});
    transformer_.load(scope.scope("transformer"));
    ln_final_.load(scope.scope("ln_final"));
    device_ = std::make_shared<DeviceWeights>();
    if (config_.output_dim > 0) {
      if (config_.proj_bias) {
        projection_ = Linear(w, config_.output_dim);
        projection_.load(scope.scope("text_projection"));
      } else {
        text_projection_ = scope.take("text_projection", {w, config_.output_dim});
      }
    }
    if (const auto* r = scope.record("attn_mask"); r != nullptr) {
      const Tensor<float> stored = scope.take("attn_mask", {ctx_len, ctx_len});
      if (r->shape == Shape{ctx_len, ctx_len}) {  // else take() has recorded the wrong shape
        for (std::int64_t i = 0; i < ctx_len; ++i)
          for (std::int64_t j = 0; j < ctx_len; ++j) {
            const float v = stored.data()[i * ctx_len + j];
            const bool ok = j > i ? (config_.causal && std::isinf(v) && v < 0) || (!config_.causal && v == 0) : v == 0;
            BIQA_CHECK(ok, ErrorCode::format, scope.full_name("attn_mask"), ": entry (", i, ", ", j, ") = ", v,
                       " is not that of the ", config_.causal ? "causal" : "empty", " mask");
          }
      }
    }
  }

  /// ids [N, L] (L ≤ context_length; open_clip's tokenizer gives L = context_length) → the
  /// projected embeddings [N, output_dim] (the pooled feature [N, width] without a projection).
  /// On another device (forward<Cuda>): the token and positional embeddings are summed on the host
  /// and the transformer runs on the device.
  template <typename Device = Cpu>
  Tensor<float, Device> forward(const Tensor<std::int64_t>& ids_in, Context& ctx) const {
    BIQA_CHECK(token_embedding_.defined(), ErrorCode::invalid_argument,
               "nn::ClipTextTransformer: forward() before load()");
    BIQA_CHECK(ids_in.dim() == 2 && ids_in.size(1) >= 1 && ids_in.size(1) <= config_.context_length,
               ErrorCode::invalid_argument, "nn::ClipTextTransformer: token ids must be [N, L] with 1 <= L <= ",
               config_.context_length, ", got ", ids_in.shape().to_string());
    const Tensor<std::int64_t> ids = ids_in.contiguous();
    const std::int64_t n = ids.size(0), len = ids.size(1), w = config_.width;
    // The token each row is pooled at: the first maximum id (as torch.argmax), the first or the last.
    std::vector<std::int64_t> pool_at(static_cast<std::size_t>(n), config_.pool_type == "first" ? 0 : len - 1);
    if (config_.pool_type == "argmax")
      for (std::int64_t b = 0; b < n; ++b) {
        std::int64_t& at = pool_at[static_cast<std::size_t>(b)];
        at = 0;
        for (std::int64_t t = 1; t < len; ++t)
          if (ids.data()[b * len + t] > ids.data()[b * len + at]) at = t;
      }
    // Under the causal mask a token's output depends only on the tokens before it, so the padding
    // after the last pooled token changes nothing and is not run: open_clip pads every prompt to
    // 77 tokens; ExIQA's 250 prompts, the longest 23 tokens, now load in about a quarter of the time.
    const std::int64_t run = config_.causal && n > 0 ? *std::max_element(pool_at.begin(), pool_at.end()) + 1 : len;
    Tensor<float> x({n, run, w});
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t t = 0; t < len; ++t) {
        const std::int64_t id = ids.data()[b * len + t];
        BIQA_CHECK(id >= 0 && id < config_.vocab_size, ErrorCode::invalid_argument, "nn::ClipTextTransformer: ",
                   "token id ", id, " at [", b, ", ", t, "] is outside the vocabulary [0, ", config_.vocab_size, ")");
        if (t >= run) continue;  // checked all the same: a bad id is an error wherever it is
        const float* p = positional_embedding_.data() + t * w;
        float* dst = x.data() + (b * run + t) * w;
        token_embedding_.copy_row(id, dst);
        for (std::int64_t c = 0; c < w; ++c) dst[c] += p[c];
      }
    const Tensor<float, Device> y = transformer_.forward(to_device<Device>(x), ctx, config_.causal);

    // ln_final acts per token, so only the pooled tokens are normalized.
    Tensor<float, Device> pooled;
    if constexpr (on_host<Device>) {
      pooled = Tensor<float>({n, w});
      for (std::int64_t b = 0; b < n; ++b)
        std::copy_n(y.data() + (b * run + pool_at[static_cast<std::size_t>(b)]) * w, w, pooled.data() + b * w);
    } else {
      std::vector<Tensor<float, Device>> rows;
      for (std::int64_t b = 0; b < n; ++b)
        rows.push_back(y.select(0, b).slice(0, pool_at[static_cast<std::size_t>(b)], pool_at[static_cast<std::size_t>(b)] + 1));
      pooled = ops::concat(rows, 0);
    }
    pooled = ln_final_.forward(pooled, ctx);
    if (config_.output_dim <= 0) return pooled;
    if (config_.proj_bias) return projection_.forward(pooled, ctx);
    return ops::matmul(pooled, device_->get<Device>(0, text_projection_), ctx);
  }

  const Config& config() const { return config_; }

 private:
  Config config_;
  io::StoredWeight token_embedding_;
  Tensor<float> positional_embedding_, text_projection_;
  Linear projection_;
  LayerNorm ln_final_;
  ClipTransformer transformer_;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();  // text_projection
};

}  // namespace biqa::nn
