#pragma once
/// @file
/// nn::SwinTransformer, timm 0.9's SwinTransformer (timm/models/swin_transformer.py) with its
/// state_dict layout, for inference on NCHW images:
///   patch_embed.proj (Conv k = s = patch) → NHWC → patch_embed.norm
///   layers.{s}: for s > 0 a PatchMerging at the *start* of the stage (layers.{s}.downsample.norm,
///     .reduction; the 2×2 neighbours concatenated as (r0,c0), (r1,c0), (r0,c1), (r1,c1)), then
///     blocks.{b}: x += proj(WMSA(norm1(x))); x += mlp(norm2(x)), odd blocks with shifted windows
///   norm (final LayerNorm), head.fc (after average pooling over H, W with global_pool "avg").
/// Window attention adds relative_position_bias_table[index(i, j)] per head and, in shifted
/// blocks, −100 between tokens from different regions of the rolled map. As in timm, a stage whose
/// resolution is ≤ the window along an axis uses a window the size of the map and no shift there;
/// maps not divisible by the window are zero-padded (bottom, right) after the roll.
/// The feature maps are the four stage outputs before the final norm, NHWC. Weights load under
/// either "layers.{s}" or the features_only wrapper's "layers_{s}" (which has no norm and head).
/// The non-persistent buffers relative_position_index and attn_mask are computed; when a checkpoint
/// stores them they are checked against the computed ones.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/device_weights.hpp"
#include "biqa/nn/layer_norm.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/mlp.hpp"
#include "biqa/nn/patch_embed.hpp"
#include "biqa/ops/cpu/attention.hpp"
#include "biqa/ops/cpu/elementwise.hpp"
#include "biqa/ops/cpu/parallel.hpp"
#include "biqa/ops/cpu/pool.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"

namespace biqa::nn {

namespace swin_detail {

using Size2 = std::array<std::int64_t, 2>;

inline std::int64_t round_up(std::int64_t v, std::int64_t m) { return (v + m - 1) / m * m; }

/// timm's get_relative_position_index: [wh·ww, wh·ww] indices into a (2wh−1)(2ww−1) table.
inline std::vector<std::int64_t> relative_position_index(Size2 win) {
  const auto [wh, ww] = win;
  const std::int64_t n = wh * ww;
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n * n));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t dy = i / ww - j / ww, dx = i % ww - j % ww;
      idx[static_cast<std::size_t>(i * n + j)] = (dy + wh - 1) * (2 * ww - 1) + (dx + ww - 1);
    }
  return idx;
}

/// Region label along one axis of the padded, rolled map, as timm's three slices
/// (0, −w), (−w, −s), (−s, None) label it. With s = 0 the last slice is the whole axis.
inline std::int64_t region(std::int64_t p, std::int64_t padded, std::int64_t w, std::int64_t s) {
  if (s == 0) return 2;
  return p < padded - w ? 0 : p < padded - s ? 1 : 2;
}

/// timm's attn_mask: [nW, N, N] with 0 inside a region and −100 across regions (empty without shift).
inline Tensor<float> shift_mask(Size2 res, Size2 win, Size2 shift) {
  if (shift[0] == 0 && shift[1] == 0) return {};
  const std::int64_t hp = round_up(res[0], win[0]), wp = round_up(res[1], win[1]);
  const std::int64_t nwh = hp / win[0], nww = wp / win[1], n = win[0] * win[1];
  Tensor<float> mask({nwh * nww, n, n});
  std::vector<std::int64_t> label(static_cast<std::size_t>(n));
  for (std::int64_t w = 0; w < nwh * nww; ++w) {
    for (std::int64_t t = 0; t < n; ++t) {
      const std::int64_t y = (w / nww) * win[0] + t / win[1], x = (w % nww) * win[1] + t % win[1];
      label[static_cast<std::size_t>(t)] =
          3 * region(y, hp, win[0], shift[0]) + region(x, wp, win[1], shift[1]);
    }
    float* m = mask.data() + w * n * n;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        m[i * n + j] = label[static_cast<std::size_t>(i)] == label[static_cast<std::size_t>(j)] ? 0.0f : -100.0f;
  }
  return mask;
}

/// x [B, H, W, C] → windows [B·nW, wh·ww, C] of the map rolled by −shift and zero-padded to a
/// multiple of the window (timm's roll, pad and window_partition in one gather).
inline Tensor<float> partition(const Tensor<float>& x_in, Size2 win, Size2 shift, const Context& ctx) {
  const Tensor<float> x = x_in.contiguous();
  const std::int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const std::int64_t nwh = round_up(h, win[0]) / win[0], nww = round_up(w, win[1]) / win[1];
  const std::int64_t n = win[0] * win[1];
  Tensor<float> out({b * nwh * nww, n, c});
  ops::parallel_for(ctx, b * nwh * nww, 1, [&](std::int64_t w0, std::int64_t w1) {
    for (std::int64_t wi = w0; wi < w1; ++wi) {
      const std::int64_t bi = wi / (nwh * nww), wy = (wi / nww) % nwh, wx = wi % nww;
      for (std::int64_t t = 0; t < n; ++t) {
        const std::int64_t y = wy * win[0] + t / win[1], xx = wx * win[1] + t % win[1];
        float* dst = out.data() + (wi * n + t) * c;
        if (y < h && xx < w) {
          const float* src = x.data() + ((bi * h + (y + shift[0]) % h) * w + (xx + shift[1]) % w) * c;
          std::memcpy(dst, src, static_cast<std::size_t>(c) * sizeof(float));
        } else {
          std::fill(dst, dst + c, 0.0f);
        }
      }
    }
  });
  return out;
}

/// The inverse of partition: windows [B·nW, wh·ww, C] → [B, H, W, C], padding dropped, roll undone.
inline Tensor<float> merge(const Tensor<float>& win_in, std::int64_t b, Size2 res, Size2 win, Size2 shift,
                           const Context& ctx) {
  const Tensor<float> wins = win_in.contiguous();
  const auto [h, w] = res;
  const std::int64_t c = wins.size(2), nwh = round_up(h, win[0]) / win[0], nww = round_up(w, win[1]) / win[1];
  const std::int64_t n = win[0] * win[1];
  Tensor<float> out({b, h, w, c});
  ops::parallel_for(ctx, b * nwh * nww, 1, [&](std::int64_t w0, std::int64_t w1) {
    for (std::int64_t wi = w0; wi < w1; ++wi) {
      const std::int64_t bi = wi / (nwh * nww), wy = (wi / nww) % nwh, wx = wi % nww;
      for (std::int64_t t = 0; t < n; ++t) {
        const std::int64_t y = wy * win[0] + t / win[1], xx = wx * win[1] + t % win[1];
        if (y >= h || xx >= w) continue;
        float* dst = out.data() + ((bi * h + (y + shift[0]) % h) * w + (xx + shift[1]) % w) * c;
        std::memcpy(dst, wins.data() + (wi * n + t) * c, static_cast<std::size_t>(c) * sizeof(float));
      }
    }
  });
  return out;
}

/// torch.roll(x, (−shift[0], −shift[1]), (1, 2)) of x [B, H, W, C], or with `undo` the roll back:
/// each axis as two slices joined in the other order. On any device.
template <typename Device>
Tensor<float, Device> roll_hw(const Tensor<float, Device>& x, Size2 shift, bool undo) {
  Tensor<float, Device> out = x;
  for (int a = 0; a < 2; ++a) {
    const std::int64_t len = out.size(a + 1), s = shift[static_cast<std::size_t>(a)] % len;
    if (s == 0) continue;
    const std::int64_t cut = undo ? len - s : s;  // out[i] = x[(i + cut) % len]
    out = ops::concat(std::vector<Tensor<float, Device>>{out.slice(a + 1, cut, len), out.slice(a + 1, 0, cut)}, a + 1);
  }
  return out;
}

/// partition written with views, concatenation and copies only, for devices without a gather of
/// their own (the CPU test suite checks it against partition).
template <typename Device>
Tensor<float, Device> partition_by_views(const Tensor<float, Device>& x, Size2 win, Size2 shift) {
  const std::int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const std::int64_t hp = round_up(h, win[0]), wp = round_up(w, win[1]);
  Tensor<float, Device> r = roll_hw(x, shift, false);
  if (hp > h)
    r = ops::concat(std::vector<Tensor<float, Device>>{r, to_device<Device>(Tensor<float>::zeros({b, hp - h, w, c}))}, 1);
  if (wp > w)
    r = ops::concat(std::vector<Tensor<float, Device>>{r, to_device<Device>(Tensor<float>::zeros({b, hp, wp - w, c}))}, 2);
  const std::int64_t nwh = hp / win[0], nww = wp / win[1];
  return r.contiguous()
      .reshape({b, nwh, win[0], nww, win[1], c})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .reshape({b * nwh * nww, win[0] * win[1], c});
}

/// merge written with views and copies only (checked against merge by the CPU test suite).
template <typename Device>
Tensor<float, Device> merge_by_views(const Tensor<float, Device>& wins, std::int64_t b, Size2 res, Size2 win,
                                     Size2 shift) {
  const std::int64_t c = wins.size(2), hp = round_up(res[0], win[0]), wp = round_up(res[1], win[1]);
  const std::int64_t nwh = hp / win[0], nww = wp / win[1];
  const Tensor<float, Device> map = wins.contiguous()
                                        .reshape({b, nwh, nww, win[0], win[1], c})
                                        .permute({0, 1, 3, 2, 4, 5})
                                        .contiguous()
                                        .reshape({b, hp, wp, c})
                                        .slice(1, 0, res[0])
                                        .slice(2, 0, res[1]);
  return roll_hw(map, shift, true).contiguous();
}

/// The mean over H and W of x [B, H, W, C]: in double on the CPU, as an average pool elsewhere.
template <typename Device>
Tensor<float, Device> mean_hw(const Tensor<float, Device>& x_in, Context& ctx) {
  const Tensor<float, Device> x = x_in.contiguous();
  const std::int64_t b = x.size(0), hw = x.size(1) * x.size(2), c = x.size(3);
  if constexpr (!std::is_same_v<Device, Cpu>) {
    return ops::adaptive_avg_pool2d(x.permute({0, 3, 1, 2}), 1, 1, ctx).reshape({b, c});
  } else {
    Tensor<float> out = Tensor<float>::zeros({b, c});
    for (std::int64_t i = 0; i < b; ++i) {
      float* o = out.data() + i * c;
      std::vector<double> acc(static_cast<std::size_t>(c), 0.0);
      for (std::int64_t p = 0; p < hw; ++p)
        for (std::int64_t k = 0; k < c; ++k) acc[static_cast<std::size_t>(k)] += x.data()[(i * hw + p) * c + k];
      for (std::int64_t k = 0; k < c; ++k) o[k] = static_cast<float>(acc[static_cast<std::size_t>(k)] / double(hw));
    }
    return out;
  }
}

}  // namespace swin_detail

/// One Swin block (timm's SwinTransformerBlock) at a fixed input resolution.
class SwinTransformerBlock {
 public:
  using Size2 = swin_detail::Size2;
  struct Config {
    std::int64_t dim = 0;
    std::int64_t num_heads = 1;
    Size2 input_resolution{0, 0};
    std::int64_t window_size = 7;
    std::int64_t shift_size = 0;  ///< window_size / 2 in odd blocks
    double mlp_ratio = 4.0;
    bool qkv_bias = true;
  };

  SwinTransformerBlock() = default;
  explicit SwinTransformerBlock(const Config& config) : config_(config) {
    BIQA_CHECK(config.dim > 0 && config.num_heads > 0 && config.dim % config.num_heads == 0,
               ErrorCode::invalid_argument, "nn::SwinTransformerBlock: dim ", config.dim,
               " does not split into ", config.num_heads, " heads");
    BIQA_CHECK(config.window_size > 0 && config.input_resolution[0] > 0 && config.input_resolution[1] > 0,
               ErrorCode::invalid_argument, "nn::SwinTransformerBlock: window and resolution must be positive");
    // timm's _calc_window_shift: an axis no longer than the window takes the whole axis, unshifted.
    for (int a = 0; a < 2; ++a) {
      const std::int64_t r = config.input_resolution[static_cast<std::size_t>(a)];
      window_[static_cast<std::size_t>(a)] = std::min(r, config.window_size);
      shift_[static_cast<std::size_t>(a)] = r <= window_[static_cast<std::size_t>(a)] ? 0 : config.shift_size;
    }
    norm1_ = LayerNorm(config.dim, 1e-5f);
    norm2_ = LayerNorm(config.dim, 1e-5f);
    qkv_ = Linear(config.dim, 3 * config.dim, config.qkv_bias);
    proj_ = Linear(config.dim, config.dim, true);
    Mlp::Config m;
    m.in_features = config.dim;
    m.hidden_features = static_cast<std::int64_t>(static_cast<double>(config.dim) * config.mlp_ratio);
    mlp_ = Mlp(m);
  }

  /// Takes norm1.*, attn.relative_position_bias_table, attn.qkv.*, attn.proj.*, norm2.*, mlp.*;
  /// attn.relative_position_index and attn_mask are checked when present.
  void load(const io::WeightStore::Scope& scope) {
    const std::int64_t n = window_[0] * window_[1], heads = config_.num_heads;
    const std::int64_t table_rows = (2 * window_[0] - 1) * (2 * window_[1] - 1);
    norm1_.load(scope.scope("norm1"));
    const auto attn = scope.scope("attn");
    const Tensor<float> table = attn.take("relative_position_bias_table", {table_rows, heads});
    qkv_.load(attn.scope("qkv"));
    proj_.load(attn.scope("proj"));
    norm2_.load(scope.scope("norm2"));
    mlp_.load(scope.scope("mlp"));

    const std::vector<std::int64_t> index = swin_detail::relative_position_index(window_);
    if (const auto* r = attn.record("relative_position_index"); r != nullptr) {
      const Tensor<float> stored = attn.take("relative_position_index", {n, n});
      if (r->shape == Shape{n, n}) {  // else take() has recorded the wrong shape for finish()
        for (std::int64_t i = 0; i < n * n; ++i)
          BIQA_CHECK(stored.data()[i] == static_cast<float>(index[static_cast<std::size_t>(i)]), ErrorCode::format,
                     attn.full_name("relative_position_index"), ": differs from the index of a ", window_[0],
                     "x", window_[1], " window at entry ", i);
      }
    }
    const Tensor<float> mask = swin_detail::shift_mask(config_.input_resolution, window_, shift_);
    if (const auto* r = scope.record("attn_mask"); r != nullptr) {
      BIQA_CHECK(mask.defined(), ErrorCode::format, scope.full_name("attn_mask"),
                 ": present, but this block has no shifted windows");
      const Tensor<float> stored = scope.take("attn_mask", mask.shape());
      if (r->shape == mask.shape()) {
        for (std::int64_t i = 0; i < mask.numel(); ++i)
          BIQA_CHECK(stored.data()[i] == mask.data()[i], ErrorCode::format, scope.full_name("attn_mask"),
                     ": differs from the shifted-window mask at entry ", i);
      }
    }

    // bias_mask [nW or 1, heads, N, N] = table[index[i, j], h] (+ mask[w, i, j]), added to the logits.
    const std::int64_t nw = mask.defined() ? mask.size(0) : 1;
    device_ = std::make_shared<DeviceWeights>();
    bias_mask_ = Tensor<float>({nw, heads, n, n});
    for (std::int64_t w = 0; w < nw; ++w)
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < n * n; ++i)
          bias_mask_.data()[(w * heads + h) * n * n + i] =
              table.data()[index[static_cast<std::size_t>(i)] * heads + h] +
              (mask.defined() ? mask.data()[w * n * n + i] : 0.0f);
  }

  /// x [B, H, W, dim] at the configured resolution → same shape.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(bias_mask_.defined(), ErrorCode::invalid_argument, "nn::SwinTransformerBlock: forward() before load()");
    const auto [h, w] = config_.input_resolution;
    BIQA_CHECK(x.dim() == 4 && x.size(1) == h && x.size(2) == w && x.size(3) == config_.dim,
               ErrorCode::invalid_argument, "nn::SwinTransformerBlock: input must be [B, ", h, ", ", w, ", ",
               config_.dim, "], got ", x.shape().to_string());
    const std::int64_t b = x.size(0), c = config_.dim, heads = config_.num_heads, d = c / heads;
    const std::int64_t n = window_[0] * window_[1];
    const Tensor<float, Device> normed = norm1_.forward(x, ctx);
    Tensor<float, Device> windows;
    if constexpr (on_host<Device>) windows = swin_detail::partition(normed, window_, shift_, ctx);
    else windows = swin_detail::partition_by_views(normed, window_, shift_);
    const std::int64_t bw = windows.size(0), nw = bw / b;
    // [B·nW, N, 3C] viewed as [3, B·nW, heads, N, d].
    const Tensor<float, Device> qkv =
        qkv_.forward(windows, ctx).reshape({bw, n, 3, heads, d}).permute({2, 0, 3, 1, 4});
    ops::BasicAttentionOptions<Device> opt;
    opt.mask = device_->get<Device>(0, bias_mask_);  // per window of one image: attend image by image
    std::vector<Tensor<float, Device>> per_image;
    per_image.reserve(static_cast<std::size_t>(b));
    for (std::int64_t i = 0; i < b; ++i) {
      const auto part = [&](std::int64_t which) { return qkv.select(0, which).slice(0, i * nw, (i + 1) * nw); };
      per_image.push_back(ops::scaled_dot_product_attention(part(0), part(1), part(2), ctx, opt));
    }
    const Tensor<float, Device> o = b == 1 ? per_image.front() : ops::concat(per_image, 0);  // [B·nW, heads, N, d]
    const Tensor<float, Device> attended =
        proj_.forward(o.permute({0, 2, 1, 3}).contiguous().reshape({bw, n, c}), ctx);
    Tensor<float, Device> y;
    if constexpr (on_host<Device>) y = swin_detail::merge(attended, b, config_.input_resolution, window_, shift_, ctx);
    else y = swin_detail::merge_by_views(attended, b, config_.input_resolution, window_, shift_);
    ops::add_inplace(y, x, ctx);
    Tensor<float, Device> m = mlp_.forward(norm2_.forward(y, ctx), ctx);
    ops::add_inplace(m, y, ctx);
    return m;
  }

  const Config& config() const { return config_; }
  Size2 window_size() const { return window_; }  // after clamping to the resolution
  Size2 shift_size() const { return shift_; }

 private:
  Config config_;
  Size2 window_{0, 0}, shift_{0, 0};
  LayerNorm norm1_, norm2_;
  Linear qkv_, proj_;
  Mlp mlp_;
  Tensor<float> bias_mask_;
  std::shared_ptr<DeviceWeights> device_ = std::make_shared<DeviceWeights>();  // bias_mask_
};

/// timm's PatchMerging: [B, H, W, C] → [B, H/2, W/2, out], norm over the 4C concatenation.
class PatchMerging {
 public:
  PatchMerging() = default;
  PatchMerging(std::int64_t dim, std::int64_t out_dim)
      : dim_(dim), norm_(4 * dim, 1e-5f), reduction_(4 * dim, out_dim, false) {}

  void load(const io::WeightStore::Scope& scope) {
    norm_.load(scope.scope("norm"));
    reduction_.load(scope.scope("reduction"));
  }

  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BIQA_CHECK(x.dim() == 4 && x.size(3) == dim_ && x.size(1) % 2 == 0 && x.size(2) % 2 == 0,
               ErrorCode::invalid_argument, "nn::PatchMerging: input must be [B, even H, even W, ", dim_,
               "], got ", x.shape().to_string());
    const std::int64_t b = x.size(0), h = x.size(1) / 2, w = x.size(2) / 2;
    // (B, H/2, 2 rows, W/2, 2 cols, C) → (B, H/2, W/2, col, row, C): order r0c0, r1c0, r0c1, r1c1.
    const Tensor<float, Device> merged =
        x.reshape({b, h, 2, w, 2, dim_}).permute({0, 1, 3, 4, 2, 5}).contiguous().reshape({b, h, w, 4 * dim_});
    return reduction_.forward(norm_.forward(merged, ctx), ctx);
  }

 private:
  std::int64_t dim_ = 0;
  LayerNorm norm_;
  Linear reduction_;
};

class SwinTransformer {
 public:
  using Size2 = swin_detail::Size2;

  /// timm's constructor arguments (a single window size for all stages).
  struct Config {
    Size2 img_size{224, 224};
    std::int64_t patch_size = 4;
    std::int64_t in_chans = 3;
    std::int64_t embed_dim = 96;
    std::vector<std::int64_t> depths{2, 2, 6, 2};
    std::vector<std::int64_t> num_heads{3, 6, 12, 24};
    std::int64_t window_size = 7;
    double mlp_ratio = 4.0;
    bool qkv_bias = true;
    std::int64_t num_classes = 1000;  ///< 0: no head
    std::string global_pool = "avg";  // "avg" or "" (the head then runs per position)
    /// Only the stage outputs: no final norm and no head are loaded or run (as timm's
    /// features_only models; set automatically for "layers_{s}" weights).
    bool features_only = false;

    /// Fields present in `j` (timm's names; img_size an int or [h, w]) override `base`.
    static Config from_json(const json::Value& j) { return from_json(j, Config()); }
    static Config from_json(const json::Value& j, Config base) {
      if (j.is_null()) return base;
      BIQA_CHECK(j.is_object(), ErrorCode::invalid_argument, "SwinTransformer config: expected a JSON object");
      if (const auto* v = j.find("img_size"))
        base.img_size = v->is_array() ? Size2{v->as_array().at(0).as_int(), v->as_array().at(1).as_int()}
                                      : Size2{v->as_int(), v->as_int()};
      if (const auto* v = j.find("patch_size")) base.patch_size = v->as_int();
      if (const auto* v = j.find("in_chans")) base.in_chans = v->as_int();
      if (const auto* v = j.find("embed_dim")) base.embed_dim = v->as_int();
      const auto ints = [](const json::Value& a) {
        std::vector<std::int64_t> out;
        for (const auto& e : a.as_array()) out.push_back(e.as_int());
        return out;
      };
      if (const auto* v = j.find("depths")) base.depths = ints(*v);
      if (const auto* v = j.find("num_heads")) base.num_heads = ints(*v);
      if (const auto* v = j.find("window_size")) base.window_size = v->as_int();
      if (const auto* v = j.find("mlp_ratio")) base.mlp_ratio = v->as_number();
      if (const auto* v = j.find("qkv_bias")) base.qkv_bias = v->as_bool();
      if (const auto* v = j.find("num_classes")) base.num_classes = v->as_int();
      if (const auto* v = j.find("global_pool")) base.global_pool = v->as_string();
      if (const auto* v = j.find("features_only")) base.features_only = v->as_bool();
      return base;
    }

    /// Dimensions read from the weight shapes under `root` (either key layout) override `base`:
    /// patch_size, in_chans, embed_dim, depths, num_heads, mlp_ratio, qkv_bias, num_classes,
    /// features_only. The window size is read from stage 0's bias table when `window_from_weights`.
    static Config from_weights(const io::WeightStore::Scope& root, Config base,
                               bool window_from_weights = false) {
      const auto* proj = root.record("patch_embed.proj.weight");
      BIQA_CHECK(proj && proj->shape.rank() == 4, ErrorCode::format, "SwinTransformer: ",
                 root.full_name("patch_embed.proj.weight"), " [E, C, p, p] is missing");
      base.embed_dim = proj->shape[0];
      base.in_chans = proj->shape[1];
      base.patch_size = proj->shape[2];
      const bool wrapper = root.has_scope("layers_0");
      base.depths.clear();
      base.num_heads.clear();
      for (int s = 0;; ++s) {
        const auto stage = stage_scope(root, s, wrapper);
        if (!stage.has_scope("blocks")) break;
        std::int64_t depth = 0;
        while (stage.scope("blocks").has_scope(std::to_string(depth))) ++depth;
        base.depths.push_back(depth);
        const auto* table = stage.record("blocks.0.attn.relative_position_bias_table");
        BIQA_CHECK(table && table->shape.rank() == 2, ErrorCode::format, "SwinTransformer: ",
                   stage.full_name("blocks.0.attn.relative_position_bias_table"), " is missing");
        base.num_heads.push_back(table->shape[1]);
        if (s == 0) {
          if (window_from_weights) {
            const auto side = static_cast<std::int64_t>(std::lround(std::sqrt(double(table->shape[0]))));
            BIQA_CHECK(side * side == table->shape[0] && side % 2 == 1, ErrorCode::format, "SwinTransformer: ",
                       stage.full_name("blocks.0.attn.relative_position_bias_table"), " ",
                       table->shape.to_string(), " is not the table of a square window");
            base.window_size = (side + 1) / 2;
          }
          if (const auto* fc1 = stage.record("blocks.0.mlp.fc1.weight"))
            base.mlp_ratio = double(fc1->shape[0]) / double(base.embed_dim);
          base.qkv_bias = stage.has("blocks.0.attn.qkv.bias");
        }
      }
      BIQA_CHECK(!base.depths.empty(), ErrorCode::format, "SwinTransformer: no stages under ",
                 root.full_name("layers.0"), " or ", root.full_name("layers_0"));
      base.features_only = base.features_only || wrapper;
      if (!base.features_only) {
        const auto* fc = root.record("head.fc.weight");
        base.num_classes = fc ? fc->shape[0] : 0;
      }
      return base;
    }
  };

  SwinTransformer() = default;
  explicit SwinTransformer(const Config& config) : config_(config) {
    const std::size_t stages = config.depths.size();
    BIQA_CHECK(stages > 0 && config.num_heads.size() == stages, ErrorCode::invalid_argument,
               "nn::SwinTransformer: depths and num_heads must have the same nonzero length, got ",
               config.depths.size(), " and ", config.num_heads.size());
    BIQA_CHECK(config.patch_size > 0 && config.embed_dim > 0 && config.window_size > 0 && config.mlp_ratio > 0,
               ErrorCode::invalid_argument, "nn::SwinTransformer: sizes must be positive");
    BIQA_CHECK(config.global_pool == "avg" || config.global_pool.empty(), ErrorCode::invalid_argument,
               "nn::SwinTransformer: global_pool must be \"avg\" or \"\", got \"", config.global_pool, "\"");
    PatchEmbed::Config pe;
    pe.patch_size = {config.patch_size, config.patch_size};
    pe.in_chans = config.in_chans;
    pe.embed_dim = config.embed_dim;
    pe.output = PatchEmbed::Output::nhwc;
    pe.norm = true;
    pe.norm_eps = 1e-5f;
    pe.img_size = config.img_size;
    patch_embed_ = PatchEmbed(pe);
    Size2 res{config.img_size[0] / config.patch_size, config.img_size[1] / config.patch_size};
    BIQA_CHECK(res[0] > 0 && res[1] > 0, ErrorCode::invalid_argument, "nn::SwinTransformer: image ",
               config.img_size[0], "x", config.img_size[1], " is smaller than a patch");
    std::int64_t dim = config.embed_dim;
    for (std::size_t s = 0; s < stages; ++s) {
      Stage stage;
      const std::int64_t out_dim = config.embed_dim << s;
      if (s > 0) {
        BIQA_CHECK(res[0] % 2 == 0 && res[1] % 2 == 0, ErrorCode::invalid_argument,
                   "nn::SwinTransformer: stage ", s, " merges patches of an odd ", res[0], "x", res[1], " map");
        stage.downsample = PatchMerging(dim, out_dim);
        stage.has_downsample = true;
        res = {res[0] / 2, res[1] / 2};
      }
      stage.resolution = res;
      stage.dim = out_dim;
      for (std::int64_t i = 0; i < config.depths[s]; ++i) {
        SwinTransformerBlock::Config b;
        b.dim = out_dim;
        b.num_heads = config.num_heads[s];
        b.input_resolution = res;
        b.window_size = config.window_size;
        b.shift_size = i % 2 == 0 ? 0 : config.window_size / 2;
        b.mlp_ratio = config.mlp_ratio;
        b.qkv_bias = config.qkv_bias;
        stage.blocks.emplace_back(b);
      }
      stages_.push_back(std::move(stage));
      dim = out_dim;
    }
    num_features_ = dim;
    if (!config.features_only) {
      norm_ = LayerNorm(num_features_, 1e-5f);
      if (config.num_classes > 0) head_ = Linear(num_features_, config.num_classes, true);
    }
  }

  /// Loads from `root` with stages under "layers.{s}" or, as timm's features_only wrapper names
  /// them, "layers_{s}" (that layout requires features_only: it has no norm and no head).
  void load(const io::WeightStore::Scope& root) {
    const bool wrapper = root.has_scope("layers_0");
    BIQA_CHECK(!wrapper || config_.features_only, ErrorCode::format, "SwinTransformer: ",
               root.full_name("layers_0"), ".* are a features_only model's weights (no norm, no head): "
               "configure features_only");
    // Before timm 0.9 (and in Microsoft's checkpoints) the merge closed a stage: layers.0.downsample.
    BIQA_CHECK(!stage_scope(root, 0, wrapper).has_scope("downsample"), ErrorCode::format, "SwinTransformer: ",
               stage_scope(root, 0, wrapper).full_name("downsample"), ".* found: weights in the pre-0.9 layout "
               "(patch merging at the end of a stage); convert them with timm's checkpoint_filter_fn");
    patch_embed_.load(root.scope("patch_embed"));
    for (std::size_t s = 0; s < stages_.size(); ++s) {
      const auto scope = stage_scope(root, static_cast<int>(s), wrapper);
      if (s > 0) stages_[s].downsample.load(scope.scope("downsample"));
      const auto blocks = scope.scope("blocks");
      for (std::size_t i = 0; i < stages_[s].blocks.size(); ++i) stages_[s].blocks[i].load(blocks.scope(static_cast<int>(i)));
    }
    if (!config_.features_only) {
      norm_.load(root.scope("norm"));
      if (config_.num_classes > 0) head_.load(root.scope("head").scope("fc"));
    }
  }

  template <typename Device = Cpu>
  struct BasicOutputs {
    std::vector<Tensor<float, Device>> stages;  ///< [B, H_s, W_s, C_s], before the final norm
    Tensor<float, Device> features;  ///< norm(stage 3) [B, H, W, C]; undefined with features_only
    Tensor<float, Device> logits;    ///< [B, classes] ([B, H, W, classes] without pooling); undefined without a head
  };
  using Outputs = BasicOutputs<Cpu>;

  /// x [B, in_chans, H, W] with H, W = img_size.
  template <typename Device>
  BasicOutputs<Device> forward(const Tensor<float, Device>& x, Context& ctx) const {
    BasicOutputs<Device> out;
    Tensor<float, Device> h = patch_embed_.forward(x, ctx);
    for (const Stage& stage : stages_) {
      if (stage.has_downsample) h = stage.downsample.forward(h, ctx);
      for (const auto& block : stage.blocks) h = block.forward(h, ctx);
      out.stages.push_back(h);
    }
    if (config_.features_only) return out;
    out.features = norm_.forward(h, ctx);
    if (config_.num_classes > 0) {
      Tensor<float, Device> pooled = out.features;
      if (config_.global_pool == "avg") pooled = swin_detail::mean_hw(out.features, ctx);
      out.logits = head_.forward(pooled, ctx);
    }
    return out;
  }

  /// The four (len(depths)) stage outputs, NHWC, before the final norm.
  template <typename Device>
  std::vector<Tensor<float, Device>> forward_stages(const Tensor<float, Device>& x, Context& ctx) const {
    return forward(x, ctx).stages;
  }

  const Config& config() const { return config_; }
  std::size_t num_stages() const { return stages_.size(); }
  const std::vector<SwinTransformerBlock>& blocks(std::size_t stage) const { return stages_.at(stage).blocks; }
  std::int64_t num_features() const { return num_features_; }

  static io::WeightStore::Scope stage_scope(const io::WeightStore::Scope& root, int s, bool wrapper) {
    return wrapper ? root.scope("layers_" + std::to_string(s)) : root.scope("layers").scope(s);
  }

 private:
  struct Stage {
    PatchMerging downsample;  ///< stages after the first
    std::vector<SwinTransformerBlock> blocks;
    Size2 resolution{0, 0};
    std::int64_t dim = 0;
    bool has_downsample = false;
  };

  Config config_;
  PatchEmbed patch_embed_;
  std::vector<Stage> stages_;
  std::int64_t num_features_ = 0;
  LayerNorm norm_;
  Linear head_;
};

}  // namespace biqa::nn
