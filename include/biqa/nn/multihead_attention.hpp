#pragma once
/// @file
/// nn::MultiheadAttention with torch.nn.MultiheadAttention's state_dict and semantics: packed
/// "in_proj_weight" [3E, E] (rows q, k, v) and "in_proj_bias" [3E], or separate
/// "q_proj_weight" / "k_proj_weight" / "v_proj_weight" when kdim or vdim differ from E; then
/// "out_proj.weight" / "out_proj.bias". Inputs are [L, N, E] (sequence first, PyTorch's default)
/// or [N, L, E] with batch_first, or unbatched [L, E]. attn_mask (float: added, bool: nonzero
/// blocks) and key_padding_mask (nonzero: ignore that key) follow PyTorch. Only the output is
/// returned (need_weights=False); add_bias_kv and add_zero_attn are not supported.

#include <cstdint>
#include <limits>
#include <memory>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/detail/weight_packing.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/ops/cpu/attention.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/gemm.hpp"

namespace biqa::nn {

/// The optional masks of MultiheadAttention::forward (PyTorch's conventions).
struct MultiheadAttentionMasks {
  Tensor<float> attn_mask;                ///< additive, [L, S] or [N·num_heads, L, S]
  Tensor<std::uint8_t> attn_mask_bool;    ///< PyTorch's bool attn_mask: nonzero = may not attend
  Tensor<std::uint8_t> key_padding_mask;  ///< [N, S] (or [S] unbatched): nonzero = padding
  bool is_causal = false;
};

class MultiheadAttention {
 public:
  struct Config {
    std::int64_t embed_dim = 0;
    std::int64_t num_heads = 1;
    bool bias = true;
    std::int64_t kdim = 0;  ///< 0: embed_dim
    std::int64_t vdim = 0;  ///< 0: embed_dim
    bool batch_first = false;
  };

  using Masks = MultiheadAttentionMasks;

  MultiheadAttention() = default;
  explicit MultiheadAttention(const Config& config) : config_(config) {
    BIQA_CHECK(config.embed_dim > 0 && config.num_heads > 0 && config.embed_dim % config.num_heads == 0,
               ErrorCode::invalid_argument, "nn::MultiheadAttention: embed_dim ", config.embed_dim,
               " does not split into ", config.num_heads, " heads");
    if (config_.kdim == 0) config_.kdim = config_.embed_dim;
    if (config_.vdim == 0) config_.vdim = config_.embed_dim;
  }

  bool packed() const { return config_.kdim == config_.embed_dim && config_.vdim == config_.embed_dim; }

  void load(const io::WeightStore::Scope& scope) {
    const std::int64_t e = config_.embed_dim;
    if (packed()) {
      in_weight_ = scope.take_stored("in_proj_weight", {3 * e, e});  // 16-bit in the low-memory mode
    } else {
      wq_ = scope.take("q_proj_weight", {e, e});
      wk_ = scope.take("k_proj_weight", {e, config_.kdim});
      wv_ = scope.take("v_proj_weight", {e, config_.vdim});
    }
    if (config_.bias) {
      packed_bias_ = scope.take("in_proj_bias", {3 * e});
      bq_ = packed_bias_.slice(0, 0, e), bk_ = packed_bias_.slice(0, e, 2 * e),
      bv_ = packed_bias_.slice(0, 2 * e, 3 * e);
    }
    out_weight_ = scope.take_stored("out_proj.weight", {e, e});
    in_packed_ = std::make_shared<ops::PackedOnce>();
    out_packed_ = std::make_shared<ops::PackedOnce>();
    device_ = std::make_shared<DeviceWeights>();
    if (config_.bias) out_bias_ = scope.take("out_proj.bias", {e});
  }

  /// Self-attention: query = key = value = x.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx, const Masks& masks = {}) const {
    return forward(x, x, x, ctx, masks);
  }

  /// On any device; the masks are host tensors (they are combined there and copied over).
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& query, const Tensor<float, Device>& key,
                                const Tensor<float, Device>& value, Context& ctx, const Masks& masks = {}) const {
    BIQA_CHECK(out_weight_.defined(), ErrorCode::invalid_argument,
               "nn::MultiheadAttention: forward() before load()");
    const bool batched = query.dim() == 3;
    BIQA_CHECK((query.dim() == 3 || query.dim() == 2) && key.dim() == query.dim() && value.dim() == query.dim(),
               ErrorCode::invalid_argument, "nn::MultiheadAttention: query, key and value must all be "
               "[L, N, E] / [N, L, E] or unbatched [L, E], got ", query.shape().to_string(), ", ",
               key.shape().to_string(), ", ", value.shape().to_string());
    // Batch-first views [N, L, E].
    auto batch_first = [&](const Tensor<float, Device>& t) {
      if (!batched) return t.unsqueeze(0);
      return config_.batch_first ? t : t.transpose(0, 1);
    };
    const Tensor<float, Device> q_in = batch_first(query), k_in = batch_first(key), v_in = batch_first(value);
    const std::int64_t e = config_.embed_dim, h = config_.num_heads, d = e / h;
    const std::int64_t n = q_in.size(0), l = q_in.size(1), s = k_in.size(1);
    BIQA_CHECK(q_in.size(2) == e && k_in.size(2) == config_.kdim && v_in.size(2) == config_.vdim &&
                   k_in.size(0) == n && v_in.size(0) == n && v_in.size(1) == s,
               ErrorCode::invalid_argument, "nn::MultiheadAttention(E=", e, ", kdim=", config_.kdim,
               ", vdim=", config_.vdim, "): query ", query.shape().to_string(), ", key ",
               key.shape().to_string(), ", value ", value.shape().to_string(), " do not fit");

    Tensor<float, Device> q, k, v;  // [N, L or S, E]
    const bool self = query.data() == key.data() && key.data() == value.data() &&
                      query.shape() == key.shape() && key.shape() == value.shape() && packed();
    if constexpr (on_host<Device>) {
      if (self) {  // one GEMM for the three projections
        const Tensor<float> qkv = detail::linear_rows(q_in, in_weight_, *in_packed_, packed_bias_, ctx);
        q = qkv.slice(2, 0, e), k = qkv.slice(2, e, 2 * e), v = qkv.slice(2, 2 * e, 3 * e);
      } else if (packed()) {  // rows [0, E), [E, 2E), [2E, 3E) of the fused in-projection
        q = detail::linear_rows(q_in, in_weight_, *in_packed_, bq_, ctx, 0, e);
        k = detail::linear_rows(k_in, in_weight_, *in_packed_, bk_, ctx, e, e);
        v = detail::linear_rows(v_in, in_weight_, *in_packed_, bv_, ctx, 2 * e, e);
      } else {
        q = ops::linear(q_in, wq_, bq_, ctx);
        k = ops::linear(k_in, wk_, bk_, ctx);
        v = ops::linear(v_in, wv_, bv_, ctx);
      }
    } else {
      const Tensor<float, Device> bias = device_->get<Device>(1, packed_bias_);
      auto bias_rows = [&](std::int64_t i) { return bias.defined() ? bias.slice(0, i * e, (i + 1) * e) : bias; };
      if (packed()) {
        const Tensor<float, Device> in_w = device_->get_from<Device>(0, [&] { return in_weight_.to_float(); });
        if (self) {
          const Tensor<float, Device> qkv = ops::linear(q_in, in_w, bias, ctx);
          q = qkv.slice(2, 0, e), k = qkv.slice(2, e, 2 * e), v = qkv.slice(2, 2 * e, 3 * e);
        } else {
          q = ops::linear(q_in, in_w.slice(0, 0, e), bias_rows(0), ctx);
          k = ops::linear(k_in, in_w.slice(0, e, 2 * e), bias_rows(1), ctx);
          v = ops::linear(v_in, in_w.slice(0, 2 * e, 3 * e), bias_rows(2), ctx);
        }
      } else {
        q = ops::linear(q_in, device_->get<Device>(2, wq_), bias_rows(0), ctx);
        k = ops::linear(k_in, device_->get<Device>(3, wk_), bias_rows(1), ctx);
        v = ops::linear(v_in, device_->get<Device>(4, wv_), bias_rows(2), ctx);
      }
    }
    const Tensor<float, Device> qh = split_heads(q, n, l, h, d), kh = split_heads(k, n, s, h, d),
                                vh = split_heads(v, n, s, h, d);

    ops::BasicAttentionOptions<Device> opt;
    opt.causal = masks.is_causal;
    const Tensor<float> mask = combined_mask(masks, n, l, s, batched);
    if (mask.defined()) opt.mask = to_device<Device>(mask);
    const Tensor<float, Device> o = ops::scaled_dot_product_attention(qh, kh, vh, ctx, opt);  // [N, H, L, D]
    const Tensor<float, Device> heads_joined = o.permute({0, 2, 1, 3}).contiguous().reshape({n, l, e});
    Tensor<float, Device> y;
    if constexpr (on_host<Device>) {
      y = detail::linear_rows(heads_joined, out_weight_, *out_packed_, out_bias_, ctx);
    } else {
      y = ops::linear(heads_joined, device_->get_from<Device>(5, [&] { return out_weight_.to_float(); }),
                      device_->get<Device>(6, out_bias_), ctx);
    }
    if (!batched) return y.reshape({l, e});
    return config_.batch_first ? y : y.transpose(0, 1).contiguous();
  }

  const Config& config() const { return config_; }

 private:
  /// [N, len, E] (last axis contiguous, rows possibly strided) as a [N, H, len, D] view.
  template <typename Device>
  static Tensor<float, Device> split_heads(const Tensor<float, Device>& t, std::int64_t n, std::int64_t len,
                                           std::int64_t h, std::int64_t d) {
    Strides st{};
    st[0] = t.stride(0), st[1] = d, st[2] = t.stride(1), st[3] = 1;
    return Tensor<float, Device>::borrow(const_cast<float*>(t.data()), Shape{n, h, len, d}, st, t.owner());
  }

  /// All masks as one additive [N, H, L, S] tensor (undefined when there are none).
  Tensor<float> combined_mask(const Masks& m, std::int64_t n, std::int64_t l, std::int64_t s,
                              bool batched) const {
    const std::int64_t h = config_.num_heads;
    if (!m.attn_mask.defined() && !m.attn_mask_bool.defined() && !m.key_padding_mask.defined()) return {};
    Tensor<float> mask = Tensor<float>::zeros({n, h, l, s});
    Context serial(1);
    auto add_attn = [&](const Tensor<float>& a) {
      if (a.dim() == 2) {
        BIQA_CHECK(a.size(0) == l && a.size(1) == s, ErrorCode::invalid_argument,
                   "nn::MultiheadAttention: attn_mask ", a.shape().to_string(), ", expected [", l, ", ", s, "]");
        ops::add_inplace(mask, a, serial);
      } else {
        BIQA_CHECK(a.dim() == 3 && a.size(0) == n * h && a.size(1) == l && a.size(2) == s,
                   ErrorCode::invalid_argument, "nn::MultiheadAttention: attn_mask ", a.shape().to_string(),
                   ", expected [", l, ", ", s, "] or [", n * h, ", ", l, ", ", s, "]");
        ops::add_inplace(mask, a.contiguous().reshape({n, h, l, s}), serial);
      }
    };
    if (m.attn_mask.defined()) add_attn(m.attn_mask);
    if (m.attn_mask_bool.defined()) {
      Tensor<std::uint8_t> allowed(m.attn_mask_bool.shape());
      std::uint8_t* out = allowed.data();
      m.attn_mask_bool.for_each_offset([&](std::int64_t off) { *out++ = m.attn_mask_bool.data()[off] ? 0 : 1; });
      add_attn(ops::additive_mask_from_bool(allowed));
    }
    if (m.key_padding_mask.defined()) {
      const Tensor<std::uint8_t>& p = m.key_padding_mask;
      const bool ok = batched ? (p.dim() == 2 && p.size(0) == n && p.size(1) == s) : (p.dim() == 1 && p.size(0) == s);
      BIQA_CHECK(ok, ErrorCode::invalid_argument, "nn::MultiheadAttention: key_padding_mask ",
                 p.shape().to_string(), ", expected [", n, ", ", s, "]");
      Tensor<std::uint8_t> allowed({n, 1, 1, s});
      std::uint8_t* out = allowed.data();
      p.for_each_offset([&](std::int64_t off) { *out++ = p.data()[off] ? 0 : 1; });
      ops::add_inplace(mask, ops::additive_mask_from_bool(allowed), serial);
    }
    return mask;
  }

  Config config_;
  io::StoredWeight in_weight_;  ///< in_proj_weight (all three projections in one), when packed()
  Tensor<float> packed_bias_;   ///< in_proj_bias
  Tensor<float> wq_, wk_, wv_, bq_, bk_, bv_;  ///< wq_, wk_, wv_: only when kdim or vdim differs
  io::StoredWeight out_weight_;
  Tensor<float> out_bias_;
  /// Context::weight_packing: the GEMM kernel's layout of in_proj_weight and out_proj.weight.
  std::shared_ptr<ops::PackedOnce> in_packed_ = std::make_shared<ops::PackedOnce>();
  std::shared_ptr<ops::PackedOnce> out_packed_ = std::make_shared<ops::PackedOnce>();
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();
};

}  // namespace biqa::nn
