// Lesson 3: build a Vision Transformer from a config and follow the token shapes through it.
//
//   03_vit_from_config [CONFIG.json|-] [SAVE.safetensors]
//
// nn::VisionTransformer takes timm's constructor arguments (img_size, patch_size, embed_dim, depth,
// num_heads, init_values, no_embed_class, …). The default here is a DeiT-III in miniature (LayerScale,
// position embeddings on the patches only); CONFIG.json, in timm's names, overrides any of it. The
// weights are random but seeded, written in timm's state_dict layout, and loaded strictly: finish()
// would list any key this program forgot, which makes the list below a map of a ViT's parameters.
// SAVE, when given, receives those weights plus the "input" tensor, so anyone can rerun the numbers.

#include <biqa/core/python_random.hpp>
#include <biqa/io/json.hpp>
#include <biqa/io/safetensors.hpp>
#include <biqa/io/weight_store.hpp>
#include <biqa/nn/vision_transformer.hpp>

#include <cmath>
#include <iostream>
#include <string>

namespace {
using Vit = biqa::nn::VisionTransformer;

// A 32×32 image in 8×8 patches: a 4×4 grid of 16 patch tokens (+ 1 class token) of width 48.
Vit::Config tiny_deit3() {
  Vit::Config c = Vit::Config::deit3_small(32);
  c.patch_size = {8, 8};
  c.embed_dim = 48, c.depth = 3, c.num_heads = 3, c.num_classes = 5;
  c.init_values = 0.1;  // LayerScale's starting value (DeiT-III uses 1e-6; 0.1 lets the blocks show)
  return c;
}

// Random parameters under timm's names, for every option of the config that changes the key list.
std::vector<biqa::io::TensorBlob> random_weights(const Vit::Config& c, biqa::PythonRandom& rng) {
  std::vector<biqa::io::TensorBlob> out;
  auto add = [&](const std::string& name, const biqa::Shape& shape, double bound, float offset = 0) {
    biqa::Tensor<float> t(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = offset + static_cast<float>((2 * rng.random() - 1) * bound);
    out.push_back(biqa::io::make_blob(name, t));
  };
  auto linear = [&](const std::string& name, std::int64_t in, std::int64_t outs, bool bias = true) {
    add(name + ".weight", {outs, in}, 1 / std::sqrt(double(in)));  // PyTorch's default range
    if (bias) add(name + ".bias", {outs}, 1 / std::sqrt(double(in)));
  };
  auto norm = [&](const std::string& name) { add(name + ".weight", {c.embed_dim}, 0.1, 1.0f), add(name + ".bias", {c.embed_dim}, 0.1); };
  const std::int64_t e = c.embed_dim, hidden = std::int64_t(double(e) * c.mlp_ratio);
  const std::int64_t patch_in = c.in_chans * c.patch_size[0] * c.patch_size[1];
  add("patch_embed.proj.weight", {e, c.in_chans, c.patch_size[0], c.patch_size[1]}, 1 / std::sqrt(double(patch_in)));
  if (!c.pre_norm) add("patch_embed.proj.bias", {e}, 1 / std::sqrt(double(patch_in)));
  if (c.class_token) add("cls_token", {1, 1, e}, 0.5);
  if (c.reg_tokens > 0) add("reg_token", {1, c.reg_tokens, e}, 0.5);
  const auto [gh, gw] = c.grid();
  add("pos_embed", {1, gh * gw + (c.no_embed_class ? 0 : c.num_prefix_tokens()), e}, 0.5);
  if (c.pre_norm) norm("norm_pre");
  for (std::int64_t i = 0; i < c.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    norm(b + "norm1");
    linear(b + "attn.qkv", e, 3 * e, c.qkv_bias);
    linear(b + "attn.proj", e, e);
    norm(b + "norm2");
    linear(b + "mlp.fc1", e, hidden);
    linear(b + "mlp.fc2", hidden, e);
    if (c.init_values) add(b + "ls1.gamma", {e}, 0, float(*c.init_values)), add(b + "ls2.gamma", {e}, 0, float(*c.init_values));
  }
  norm(c.use_fc_norm() ? "fc_norm" : "norm");
  if (c.num_classes > 0) linear("head", e, c.num_classes);
  return out;
}

void show(const std::string& stage, const biqa::Tensor<float>& t) { std::cout << stage << " " << t.shape().to_string() << "\n"; }
}  // namespace

int main(int argc, char** argv) {
  if (argc > 3) {
    std::cerr << "usage: " << argv[0] << " [CONFIG.json|-] [SAVE.safetensors]\n";
    return 1;
  }
  try {
    Vit::Config config = tiny_deit3();
    if (argc > 1 && std::string(argv[1]) != "-") {
      const auto text = biqa::io::read_file_bytes(argv[1]);
      config.update(biqa::json::parse(std::string(text.begin(), text.end()), argv[1]));
    }
    Vit vit(config);  // checks the sizes (img_size a multiple of patch_size, …); no weights yet
    biqa::PythonRandom rng(3);
    std::vector<biqa::io::TensorBlob> blobs = random_weights(config, rng);
    // The input: a smooth deterministic pattern in [-1, 1], [1, C, H, W].
    biqa::Tensor<float> x({1, config.in_chans, config.img_size[0], config.img_size[1]});
    for (std::int64_t c = 0; c < x.size(1); ++c)
      for (std::int64_t i = 0; i < x.size(2); ++i)
        for (std::int64_t j = 0; j < x.size(3); ++j) x(0, c, i, j) = float(std::sin(0.3 * double(i) + 0.2 * double(j) + double(c)));
    blobs.push_back(biqa::io::make_blob("input", x));
    const auto bytes = biqa::io::encode_safetensors(blobs);
    biqa::io::WeightStore store(biqa::io::read_safetensors(biqa::io::MappedFile::from_bytes(bytes.data(), bytes.size(), "random")));
    store.ignore("input");
    vit.load(store.root());
    store.finish();  // strict: every key used, none missing

    biqa::Context ctx;
    const auto [gh, gw] = config.grid();
    std::cout << "grid " << config.img_size[0] << "/" << config.patch_size[0] << " x " << config.img_size[1] << "/"
              << config.patch_size[1] << " = " << gh << " x " << gw << " = " << gh * gw << " patches, "
              << config.num_prefix_tokens() << " prefix token(s), width " << config.embed_dim << "\n";
    show("input", x);
    show("patch embedding", vit.patch_embed().forward(x, ctx));  // one token per patch
    biqa::Tensor<float> t = vit.embed(x, ctx);  // + class / register tokens, + position embeddings
    show("tokens", t);
    for (std::int64_t i = 0; i < vit.depth(); ++i) show("block " + std::to_string(i + 1), t = vit.block(i).forward(t, ctx));
    const biqa::Tensor<float> features = vit.forward_features(x, ctx);  // the same blocks, + final norm
    show("features", features);
    const biqa::Tensor<float> out = vit.forward_head(features, ctx);  // pool, (fc_norm), head
    show("output", out);
    double sum = 0;
    for (float v : out.contiguous().to_vector()) sum += v;
    std::cout.precision(9);
    std::cout << "output sum " << sum << "\n";
    if (argc > 2) {
      biqa::io::write_safetensors(argv[2], blobs);
      std::cout << "saved weights and input to " << argv[2] << "\n";
    }
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
