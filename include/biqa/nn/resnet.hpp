#pragma once
/// @file
/// nn::ResNet in torchvision's layout (torchvision.models.resnet, "v1.5": the stride of a
/// bottleneck sits on its 3×3 convolution). The state_dict keys are torchvision's, unchanged:
///   conv1, bn1, layer{1..4}.{i}.conv1/bn1/conv2/bn2[/conv3/bn3][/downsample.0/downsample.1], fc
/// and are loaded strictly (under any scope prefix, e.g. "encoder."). Every BatchNorm is folded into
/// the convolution before it at load time, so a block costs two or three convolutions. The network
/// is immutable after load(); forward() is const and takes the Context.
///
/// Channel widths follow torchvision from `base_width` (64 there): the stem has base_width channels,
/// stage s has planes = base_width·2^s, and a bottleneck's inner width is
/// int(planes · width_per_group / 64) · groups. detect() reads the widths, groups and the classifier
/// from weight shapes, so the depth only chooses the block type and the block counts.
///
/// On the CPU the network runs in the channel-blocked layout (Config::blocked_layout, on by
/// default when groups = 1): every convolution is a direct one (ops::conv2d_blocked), the max
/// pooling and the global average pooling work on blocked tensors, and only stage outputs that a
/// caller asks for are converted back to [N, C, H, W]. Its convolutions keep only the blocked
/// packing of their weights then.

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/nn/conv2d.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/ops/cpu/activation.hpp"
#include "biqa/ops/cpu/conv2d_blocked.hpp"
#include "biqa/ops/cpu/pool.hpp"

namespace biqa::nn {

enum class ResNetBlock { basic, bottleneck };

/// Every stage's output, for models that tap them (feature pyramids, distillation losses).
template <typename Device = Cpu>
struct BasicResNetStages {
  Tensor<float, Device> stem;  ///< relu(bn1(conv1(x))), before the max pool: [N, base_width, H/2, W/2]
  std::array<Tensor<float, Device>, 4> layers;  ///< layer1..layer4 outputs
};
using ResNetStages = BasicResNetStages<Cpu>;

class ResNet {
 public:
  struct Config {
    ResNetBlock block = ResNetBlock::bottleneck;
    std::array<std::int64_t, 4> layers{3, 4, 6, 3};  ///< blocks per stage
    std::int64_t base_width = 64;       ///< stem channels; stage s has base_width·2^s planes
    std::int64_t groups = 1;            ///< grouped 3×3 convolutions (ResNeXt); bottleneck only
    std::int64_t width_per_group = 64;  ///< bottleneck inner width per group, relative to 64 planes
    /// Stages 2, 3, 4: dilate instead of striding (torchvision's replace_stride_with_dilation).
    std::array<bool, 3> replace_stride_with_dilation{false, false, false};
    std::int64_t num_classes = 1000;  ///< 0: no `fc`, forward() returns the pooled features
    float bn_eps = 1e-5f;
    /// On the CPU, run in the channel-blocked layout with direct convolutions (groups = 1 only;
    /// otherwise im2col + GEMM on [N, C, H, W], as with false).
    bool blocked_layout = true;

    /// torchvision's resnet18/34/50/101/152.
    static Config for_depth(int depth) {
      Config c;
      switch (depth) {
        case 18: c.block = ResNetBlock::basic, c.layers = {2, 2, 2, 2}; break;
        case 34: c.block = ResNetBlock::basic, c.layers = {3, 4, 6, 3}; break;
        case 50: c.layers = {3, 4, 6, 3}; break;
        case 101: c.layers = {3, 4, 23, 3}; break;
        case 152: c.layers = {3, 8, 36, 3}; break;
        default: fail(ErrorCode::invalid_argument, "nn::ResNet: depth ", depth, " is not one of 18, 34, 50, 101, 152");
      }
      return c;
    }

    std::int64_t expansion() const { return block == ResNetBlock::basic ? 1 : 4; }
    std::int64_t planes(int stage) const { return base_width << stage; }
    std::int64_t out_channels(int stage) const { return planes(stage) * expansion(); }
    std::int64_t inner_width(int stage) const {
      if (block == ResNetBlock::basic) return planes(stage);
      return static_cast<std::int64_t>(static_cast<double>(planes(stage)) *
                                       (static_cast<double>(width_per_group) / 64.0)) * groups;
    }
    std::int64_t num_features() const { return out_channels(3); }
  };

  ResNet() = default;
  explicit ResNet(const Config& config) : config_(config) {
    const auto& c = config;
    BIQA_CHECK(c.base_width > 0 && c.groups > 0 && c.width_per_group > 0 && c.num_classes >= 0,
               ErrorCode::invalid_argument, "nn::ResNet: widths, groups and num_classes must be positive");
    for (auto n : c.layers)
      BIQA_CHECK(n > 0, ErrorCode::invalid_argument, "nn::ResNet: every stage needs at least one block");
    if (c.block == ResNetBlock::basic) {
      // torchvision refuses these for BasicBlock as well.
      BIQA_CHECK(c.groups == 1 && c.width_per_group == 64, ErrorCode::invalid_argument,
                 "nn::ResNet: BasicBlock only supports groups=1 and width_per_group=64");
      for (bool d : c.replace_stride_with_dilation)
        BIQA_CHECK(!d, ErrorCode::invalid_argument, "nn::ResNet: BasicBlock does not support dilation");
    }
    for (int s = 0; s < 4; ++s)
      BIQA_CHECK(c.inner_width(s) > 0, ErrorCode::invalid_argument, "nn::ResNet: stage ", s + 1,
                 " has no channels (base_width ", c.base_width, ", width_per_group ", c.width_per_group, ")");
    build();
  }

  /// Completes `config` (block type and counts kept) from the weights under `scope`: base_width from
  /// conv1, groups and width_per_group from layer1.0.conv2 of a bottleneck, num_classes from fc
  /// (0 when there is none). Missing keys are left for load() to report.
  static Config detect(Config config, const io::WeightStore::Scope& scope) {
    if (const auto* r = scope.record("conv1.weight"); r && r->shape.rank() == 4) config.base_width = r->shape[0];
    if (config.block == ResNetBlock::bottleneck) {
      const auto* r = scope.record("layer1.0.conv2.weight");
      if (r && r->shape.rank() == 4 && r->shape[1] > 0 && r->shape[0] % r->shape[1] == 0) {
        config.groups = r->shape[0] / r->shape[1];
        config.width_per_group = r->shape[1] * 64 / config.base_width;
      }
    }
    const auto* fc = scope.record("fc.weight");
    config.num_classes = fc && fc->shape.rank() == 2 ? fc->shape[0] : 0;
    return config;
  }

  /// Takes every key of the network under `scope` (call finish() on the store afterwards).
  void load(const io::WeightStore::Scope& scope) {
    const float eps = config_.bn_eps;
    // Each convolution packs its folded weight once, for the layout it will run in.
    blocked_ = config_.blocked_layout && config_.groups == 1;
    if (blocked_) {
      stem_.use_blocked_layout(true);
      for (auto& stage : stages_)
        for (Block& b : stage) {
          for (auto& conv : b.convs)
            if (conv.config().in_channels > 0) conv.use_blocked_layout();
          if (b.has_downsample) b.downsample.use_blocked_layout();
        }
    }
    stem_.load(scope.scope("conv1"));
    stem_.fold_batchnorm(scope.scope("bn1"), eps);
    for (int s = 0; s < 4; ++s) {
      const auto layer = scope.scope("layer" + std::to_string(s + 1));
      for (std::size_t i = 0; i < stages_[s].size(); ++i) {
        Block& b = stages_[s][i];
        const auto bs = layer.scope(static_cast<int>(i));
        const int convs = config_.block == ResNetBlock::basic ? 2 : 3;
        for (int k = 0; k < convs; ++k) {
          b.convs[k].load(bs.scope("conv" + std::to_string(k + 1)));
          b.convs[k].fold_batchnorm(bs.scope("bn" + std::to_string(k + 1)), eps);
        }
        if (b.has_downsample) {
          b.downsample.load(bs.scope("downsample").scope(0));
          b.downsample.fold_batchnorm(bs.scope("downsample").scope(1), eps);
        }
      }
    }
    if (config_.num_classes > 0) fc_.load(scope.scope("fc"));
    loaded_ = true;
  }

  /// x [N, 3, H, W] → logits [N, num_classes], or the pooled features [N, num_features()] without fc.
  /// `stages`, when given, receives every stage's output.
  template <typename Device>
  Tensor<float, Device> forward(const Tensor<float, Device>& x, Context& ctx,
                                BasicResNetStages<Device>* stages = nullptr) const {
    if constexpr (on_host<Device>) {
      if (blocked_ && !stages) {  // no stage wanted back in [N, C, H, W]: pool the blocked output
        Tensor<float> out = ops::global_avg_pool_blocked(forward_blocked(x, ctx, nullptr), config_.num_features(), ctx);
        if (config_.num_classes > 0) out = fc_.forward(out, ctx);
        return out;
      }
    }
    BasicResNetStages<Device> local;
    BasicResNetStages<Device>& st = stages ? *stages : local;
    st = forward_stages(x, ctx);
    Tensor<float, Device> out = pool(st.layers[3], ctx);
    if (config_.num_classes > 0) out = fc_.forward(out, ctx);
    if (!stages) st = {};
    return out;
  }

  /// The stem and the four stage outputs, without the pooling and the classifier.
  template <typename Device>
  BasicResNetStages<Device> forward_stages(const Tensor<float, Device>& x, Context& ctx) const {
    check_input(x.shape());
    BasicResNetStages<Device> st;
    if constexpr (on_host<Device>) {
      if (blocked_) {
        forward_blocked(x, ctx, &st);
        return st;
      }
    }
    st.stem = stem_.forward(x, ctx, {{}, ops::Activation::relu});
    Tensor<float, Device> h = ops::max_pool2d(st.stem, ctx, stem_pooling());
    for (int s = 0; s < 4; ++s) {
      for (const Block& b : stages_[s])
        h = block_forward(b, h, [&](const Conv2d& conv, const Tensor<float, Device>& in,
                                    const ops::BasicConv2dEpilogue<Device>& epilogue) {
          return conv.forward(in, ctx, epilogue);
        });
      st.layers[s] = h;
    }
    return st;
  }

  /// Global average pooling: [N, C, H, W] → [N, C].
  template <typename Device>
  static Tensor<float, Device> pool(const Tensor<float, Device>& x, Context& ctx) {
    Tensor<float, Device> p = ops::adaptive_avg_pool2d(x, 1, 1, ctx);
    return p.reshape({p.size(0), p.size(1)});
  }

  const Config& config() const { return config_; }
  bool has_fc() const { return config_.num_classes > 0; }
  /// Whether the CPU forward runs in the channel-blocked layout (after load()).
  bool blocked_layout() const { return blocked_; }

 private:
  struct Block {
    std::array<Conv2d, 3> convs;  ///< conv3 only in a bottleneck
    Conv2d downsample;
    bool has_downsample = false;
  };

  static Conv2d make_conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                          std::int64_t dilation = 1, std::int64_t groups = 1) {
    Conv2d::Config c;
    c.in_channels = in, c.out_channels = out, c.kernel_size = {k, k}, c.stride = {stride, stride};
    const std::int64_t pad = k == 3 ? dilation : k / 2;  // conv3x3: padding = dilation
    c.padding = {pad, pad}, c.dilation = {dilation, dilation}, c.groups = groups, c.bias = false;
    return Conv2d(c);
  }

  /// torchvision's ResNet._make_layer for every stage.
  void build() {
    const auto& c = config_;
    stem_ = make_conv(3, c.base_width, 7, 2);
    std::int64_t inplanes = c.base_width, dilation = 1;
    for (int s = 0; s < 4; ++s) {
      std::int64_t stride = s == 0 ? 1 : 2;
      const std::int64_t previous_dilation = dilation;
      if (s > 0 && c.replace_stride_with_dilation[s - 1]) dilation *= stride, stride = 1;
      const std::int64_t planes = c.planes(s), width = c.inner_width(s), out = c.out_channels(s);
      stages_[s].resize(static_cast<std::size_t>(c.layers[s]));
      for (std::size_t i = 0; i < stages_[s].size(); ++i) {
        Block& b = stages_[s][i];
        const std::int64_t st = i == 0 ? stride : 1, d = i == 0 ? previous_dilation : dilation;
        if (c.block == ResNetBlock::basic) {
          b.convs[0] = make_conv(inplanes, planes, 3, st);
          b.convs[1] = make_conv(planes, planes, 3, 1);
        } else {
          b.convs[0] = make_conv(inplanes, width, 1, 1);
          b.convs[1] = make_conv(width, width, 3, st, d, c.groups);
          b.convs[2] = make_conv(width, out, 1, 1);
        }
        if (i == 0 && (stride != 1 || inplanes != out)) {
          b.has_downsample = true;
          b.downsample = make_conv(inplanes, out, 1, stride);
        }
        inplanes = out;
      }
    }
    if (c.num_classes > 0) fc_ = Linear(c.num_features(), c.num_classes);
  }

  /// One residual block, each convolution run by `conv(layer, input, epilogue)` (Conv2d::forward,
  /// or forward_blocked in the blocked layout). The ReLUs and the shortcut add run inside the
  /// convolutions' output pass.
  template <typename Device, typename Conv>
  Tensor<float, Device> block_forward(const Block& b, const Tensor<float, Device>& x, Conv&& conv) const {
    using Epilogue = ops::BasicConv2dEpilogue<Device>;
    const int convs = config_.block == ResNetBlock::basic ? 2 : 3;
    Tensor<float, Device> h = x;
    for (int k = 0; k + 1 < convs; ++k) h = conv(b.convs[k], h, Epilogue{{}, ops::Activation::relu});
    Tensor<float, Device> shortcut = b.has_downsample ? conv(b.downsample, x, Epilogue{}) : x;
    return conv(b.convs[convs - 1], h, Epilogue{std::move(shortcut), ops::Activation::relu});
  }

  void check_input(const Shape& x) const {
    BIQA_CHECK(loaded_, ErrorCode::invalid_argument, "nn::ResNet: forward() before load()");
    BIQA_CHECK(x.rank() == 4 && x[1] == 3, ErrorCode::invalid_argument, "nn::ResNet: input must be [N, 3, H, W], got ",
               x.to_string());
  }
  /// The max pooling after the stem: 3×3, stride 2, padding 1.
  static ops::Pool2dOptions stem_pooling() {
    ops::Pool2dOptions mp;
    mp.kernel = {3, 3}, mp.stride = {2, 2}, mp.padding = {1, 1};
    return mp;
  }

  /// The CPU forward in the blocked layout: x [N, 3, H, W] → layer4's output, blocked; the stem and
  /// stage outputs into `st` in [N, C, H, W] when given.
  Tensor<float> forward_blocked(const Tensor<float>& x, Context& ctx, ResNetStages* st) const {
    check_input(x.shape());
    const Tensor<float> stem = stem_.forward_blocked(x, ctx, {{}, ops::Activation::relu});
    if (st) st->stem = ops::from_blocked(stem, config_.base_width, ctx);
    Tensor<float> h = ops::max_pool2d_blocked(stem, ctx, stem_pooling());
    const auto conv = [&](const Conv2d& layer, const Tensor<float>& in, const ops::Conv2dEpilogue& epilogue) {
      return layer.forward_blocked(in, ctx, epilogue);
    };
    for (int s = 0; s < 4; ++s) {
      for (const Block& b : stages_[s]) h = block_forward(b, h, conv);
      if (st) st->layers[s] = ops::from_blocked(h, config_.out_channels(s), ctx);
    }
    return h;
  }

  Config config_;
  Conv2d stem_;
  std::array<std::vector<Block>, 4> stages_;
  Linear fc_;
  bool loaded_ = false;
  bool blocked_ = false;  ///< CPU forward in the blocked layout
};

}  // namespace biqa::nn
