// nn::Clip against open_clip_torch 2.24.0 (fixtures from tools/reference/make_clip_fixtures.py),
// max|out − ref| / max|ref| ≤ 1e-4 in float32; error reporting; `biqa infer --model clip-*`.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/nn/clip.hpp"
#include "biqa/nn/clip_tokenizer.hpp"
#include "biqa/ops/cpu/shape_ops.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

using namespace biqa;
using biqa::nn::Clip;

namespace {

io::WeightFile fixture_file(const std::string& name) {
  return io::load_weights(test::fixture_path("nn/" + name + ".safetensors"));
}

bool is_io(const std::string& key) { return key.rfind("io.", 0) == 0; }

// The fixture's weights alone, keys passed through `rename` (an empty name drops the tensor).
template <typename Rename>
io::WeightFile weights_only(io::WeightFile file, Rename rename) {
  std::erase_if(file.tensors, [](const io::TensorRecord& r) { return is_io(r.name); });
  for (auto& r : file.tensors) r.name = rename(r.name);
  std::erase_if(file.tensors, [](const io::TensorRecord& r) { return r.name.empty(); });
  return file;
}
io::WeightFile weights_only(io::WeightFile file) {
  return weights_only(std::move(file), [](const std::string& k) { return k; });
}

Tensor<float> io_float(const io::WeightFile& file, const std::string& name) { return file.to_float(file.at("io." + name)); }
Tensor<std::int64_t> io_ids(const io::WeightFile& file, const std::string& name) {
  const auto& r = file.at("io." + name);
  REQUIRE(r.dtype == DType::i64);
  Tensor<std::int64_t> t(r.shape);
  std::memcpy(t.data(), r.data, static_cast<std::size_t>(t.numel()) * sizeof(std::int64_t));
  return t;
}

json::Value fixture_config(const io::WeightFile& file) { return json::parse(file.metadata.at("config"), "config"); }

void check_fixture(const std::string& name) {
  const io::WeightFile file = fixture_file(name);
  io::WeightStore store(weights_only(file));
  const auto config = Clip::Config::from_weights(store.root(), Clip::Config::from_json(fixture_config(file)));
  Clip clip(config);
  clip.load(store.root());
  store.finish();
  CHECK(clip.has_vision());
  CHECK(clip.has_text());
  Context ctx(2);
  const Tensor<float> img = clip.encode_image(io_float(file, "image"), ctx);
  const Tensor<float> txt = clip.encode_text(io_ids(file, "text"), ctx);
  test::check_parity(name + " image_features", img, io_float(file, "image_features"));
  test::check_parity(name + " text_features", txt, io_float(file, "text_features"));
  test::check_parity(name + " logits", clip.logits(img, txt, ctx), io_float(file, "logits"));

  // The test sees the activation: the other one misses the reference by far more than 1e-4.
  auto flipped = config;
  flipped.quick_gelu = !config.quick_gelu;
  flipped.sync();
  Clip other(flipped);
  io::WeightStore again(weights_only(file));
  other.load(again.root());
  CHECK(test::parity_error(other.encode_image(io_float(file, "image"), ctx), io_float(file, "image_features")) > 1e-3);
  CHECK(test::parity_error(other.encode_text(io_ids(file, "text"), ctx), io_float(file, "text_features")) > 1e-3);
}

std::string vocab_path() {
  if (const char* env = std::getenv("BIQA_CLIP_VOCAB"); env && *env) return env;
  return std::string(BIQA_SOURCE_DIR) + "/data/clip/bpe_simple_vocab_16e6.txt.gz";
}

std::vector<std::string> fixture_texts(const io::WeightFile& file) {
  std::vector<std::string> texts;
  const json::Value list = json::parse(file.metadata.at("texts"), "texts");
  for (const auto& t : list.as_array()) texts.push_back(t.as_string());
  return texts;
}

// Weights (and optionally extra tensors) as a safetensors file with the fixture config as metadata.
void write_weights(const std::string& path, const io::WeightFile& file, const io::WeightFile& weights,
                   const std::vector<io::TensorBlob>& extra = {}) {
  std::vector<io::TensorBlob> blobs = extra;
  for (const auto& r : weights.tensors) blobs.push_back(io::make_blob(r.name, weights.to_float(r)));
  io::write_safetensors(path, blobs, {{"biqa.config", file.metadata.at("config")}});
}

}  // namespace

TEST_CASE("Clip matches open_clip: QuickGELU, square image, context 77", "[nn][clip]") {
  check_fixture("clip_quickgelu");
}

TEST_CASE("Clip text tower: tokens after the last end token change nothing (they are not run)", "[nn][clip]") {
  // Rows 0 and 2 of the fixture end at tokens 5 and 20 of 77: the tower runs 21 positions (the
  // causal mask makes the rest irrelevant) and must still match open_clip, which ran all 77.
  const io::WeightFile file = fixture_file("clip_quickgelu");
  io::WeightStore store(weights_only(file));
  Clip clip(Clip::Config::from_weights(store.root(), Clip::Config::from_json(fixture_config(file))));
  clip.load(store.root());
  Context ctx(1);
  const Tensor<std::int64_t> ids = io_ids(file, "text");
  const Tensor<float> ref = io_float(file, "text_features");
  REQUIRE(ids.size(1) == 77);
  for (const std::int64_t row : {0, 2}) {
    const Tensor<float> out = clip.encode_text(ids.slice(0, row, row + 1), ctx);
    test::check_parity("text row " + std::to_string(row), out, ref.slice(0, row, row + 1).contiguous());
  }
  // Rows 0 and 2 together (21 positions run), against the same rows of the reference.
  const Tensor<std::int64_t> pair = ids.slice(0, 0, 3, 2).contiguous();
  const Tensor<float> pair_ref = ref.slice(0, 0, 3, 2).contiguous();
  test::check_parity("text rows 0 and 2", clip.encode_text(pair, ctx), pair_ref);
  // Garbage after the end token (any id in range) gives the same features.
  Tensor<std::int64_t> noisy = pair.clone();
  for (std::int64_t t = 21; t < 77; ++t) noisy.data()[t] = noisy.data()[77 + t] = 3;
  test::check_parity("text rows 0 and 2, noisy padding", clip.encode_text(noisy, ctx), pair_ref);
  // An out-of-range id in the padding is still an error.
  noisy.data()[60] = 1 << 20;
  CHECK_THROWS_AS(clip.encode_text(noisy, ctx), Error);
  // An empty batch gives no features (nothing to pool at).
  CHECK(clip.encode_text(Tensor<std::int64_t>({0, 77}), ctx).size(0) == 0);
}

TEST_CASE("Clip matches open_clip: GELU, LayerScale, 24x40 image, proj_bias, logit_bias", "[nn][clip]") {
  check_fixture("clip_gelu");
}

TEST_CASE("Clip matches open_clip: average pooling, final_ln_after_pool, no_ln_pre, eps, no causal mask",
          "[nn][clip]") {
  check_fixture("clip_avg_final_ln");  // text pool_type "last"
  check_fixture("clip_avg");           // text pool_type "first"
}

TEST_CASE("Clip config: open_clip JSON, dims from the weight shapes", "[nn][clip]") {
  const auto b32 = Clip::Config::vit_b_32();
  CHECK(b32.embed_dim == 512);
  CHECK(b32.vision.width == 768);
  CHECK(b32.vision.heads() == 12);
  CHECK(b32.vision.patch_size[0] == 32);
  CHECK(b32.vision.num_tokens() == 50);
  CHECK(b32.text.heads == 8);
  CHECK_FALSE(b32.quick_gelu);

  const io::WeightFile file = fixture_file("clip_gelu");
  io::WeightStore store(weights_only(file));
  const auto from_json = Clip::Config::from_json(fixture_config(file));
  // Everything but the activation and the head counts is in the shapes.
  auto base = Clip::Config::vit_b_32();
  base.vision.head_width = 16;
  base.text.heads = 2;
  base.vision.image_size = {24, 40};  // a non-square grid needs the configured size
  const auto derived = Clip::Config::from_weights(store.root(), base);
  CHECK(derived.embed_dim == from_json.embed_dim);
  CHECK(derived.vision.width == from_json.vision.width);
  CHECK(derived.vision.layers == from_json.vision.layers);
  CHECK(derived.vision.patch_size == from_json.vision.patch_size);
  CHECK(derived.vision.mlp_ratio == from_json.vision.mlp_ratio);
  CHECK(derived.vision.layer_scale);
  CHECK(derived.text.context_length == 16);
  CHECK(derived.text.vocab_size == 64);
  CHECK(derived.text.layers == 1);
  CHECK(derived.text.proj_bias);
  CHECK(derived.logit_bias);

  // A square grid is found from the positional embedding alone.
  const io::WeightFile q = fixture_file("clip_quickgelu");
  io::WeightStore qs(weights_only(q));
  const auto qd = Clip::Config::from_weights(qs.root(), Clip::Config::vit_b_32());
  CHECK(qd.vision.image_size == std::array<std::int64_t, 2>{32, 32});
  CHECK(qd.text.context_length == 77);

  SECTION("unsupported open_clip options are named") {
    CHECK_THROWS_WITH(Clip::Config::from_json(json::parse(R"({"vision_cfg": {"attentional_pool": true}})", "j")),
                      Catch::Contains("vision_cfg.attentional_pool"));
    CHECK_THROWS_WITH(Clip::Config::from_json(json::parse(R"({"text_cfg": {"hf_model_name": "x"}})", "j")),
                      Catch::Contains("text_cfg.hf_model_name"));
  }
}

TEST_CASE("Clip loads a lone tower, and open_clip's CustomTextCLIP layout", "[nn][clip]") {
  Context ctx(1);
  SECTION("CustomTextCLIP: the text tower under text.") {
    const io::WeightFile file = fixture_file("clip_quickgelu");
    io::WeightStore store(weights_only(file, [](const std::string& k) {
      return k.rfind("visual.", 0) == 0 || k == "logit_scale" ? k : "text." + k;
    }));
    Clip clip(Clip::Config::from_weights(store.root(), Clip::Config::from_json(fixture_config(file))));
    clip.load(store.root());
    store.finish();
    test::check_parity("text. layout", clip.encode_text(io_ids(file, "text"), ctx), io_float(file, "text_features"));
  }
  SECTION("the vision tower's own keys (no visual. prefix)") {
    const io::WeightFile file = fixture_file("clip_quickgelu");
    io::WeightStore store(weights_only(file, [](const std::string& k) {
      return k.rfind("visual.", 0) == 0 ? k.substr(7) : std::string();
    }));
    Clip clip(Clip::Config::from_weights(store.root(), Clip::Config::from_json(fixture_config(file))));
    clip.load(store.root());
    store.finish();
    CHECK(clip.has_vision());
    CHECK_FALSE(clip.has_text());
    test::check_parity("vision tower", clip.encode_image(io_float(file, "image"), ctx), io_float(file, "image_features"));
    CHECK_THROWS_WITH(clip.encode_text(io_ids(file, "text"), ctx), Catch::Contains("no text tower"));
    CHECK_THROWS_WITH(clip.logits(io_float(file, "image_features"), io_float(file, "text_features"), ctx),
                      Catch::Contains("logit_scale"));
  }
  SECTION("the text tower with the real vocabulary: tokenizer ids and encode_text(strings)") {
    const io::WeightFile file = fixture_file("clip_text_tokens");
    io::WeightStore store(weights_only(file));
    Clip clip(Clip::Config::from_weights(store.root(), Clip::Config::from_json(fixture_config(file))));
    clip.load(store.root());
    store.finish();
    CHECK_FALSE(clip.has_vision());
    CHECK(clip.config().text.vocab_size == 49408);
    const Tensor<float> ref = io_float(file, "text_features");
    test::check_parity("text tower ids", clip.encode_text(io_ids(file, "tokens"), ctx), ref);

    const std::string path = vocab_path();
    if (!std::filesystem::exists(path))
      FAIL("CLIP vocabulary not found at " << path << ": run scripts/fetch_clip_vocab (or set BIQA_CLIP_VOCAB)");
    const auto tokenizer = clip::Tokenizer::from_file(path);
    const auto texts = fixture_texts(file);
    const Tensor<std::int64_t> ids = tokenizer.tokenize(texts, 77);
    CHECK(ids.to_vector() == io_ids(file, "tokens").to_vector());
    test::check_parity("text tower strings", clip.encode_text(texts, tokenizer, ctx), ref);
  }
}

TEST_CASE("Clip reports bad weights and inputs", "[nn][clip]") {
  const io::WeightFile file = fixture_file("clip_quickgelu");
  const auto config = Clip::Config::from_json(fixture_config(file));
  Context ctx(1);

  SECTION("a missing key is named") {
    io::WeightFile w = weights_only(file);
    std::erase_if(w.tensors, [](const io::TensorRecord& r) { return r.name == "transformer.resblocks.1.attn.in_proj_weight"; });
    io::WeightStore store(std::move(w));
    Clip clip(config);
    clip.load(store.root());
    CHECK_THROWS_WITH(store.finish(), Catch::Contains("missing keys") &&
                                          Catch::Contains("transformer.resblocks.1.attn.in_proj_weight"));
  }
  SECTION("a wrong shape is named (a config that disagrees with the file)") {
    io::WeightStore store(weights_only(file));
    auto wrong = config;
    wrong.vision.width = 48;
    wrong.vision.head_width = 8;
    Clip clip(wrong);
    clip.load(store.root());
    CHECK_THROWS_WITH(store.finish(), Catch::Contains("wrong shape") && Catch::Contains("visual.conv1.weight") &&
                                          Catch::Contains("visual.class_embedding"));
  }
  SECTION("an unexpected key is named") {
    io::WeightFile w = weights_only(file);
    for (auto& r : w.tensors)
      if (r.name == "visual.ln_pre.bias") r.name = "visual.ln_mid.bias";
    io::WeightStore store(std::move(w));
    Clip clip(config);
    clip.load(store.root());
    CHECK_THROWS_WITH(store.finish(), Catch::Contains("visual.ln_mid.bias") && Catch::Contains("visual.ln_pre.bias"));
  }
  SECTION("a stored causal attn_mask (older open_clip) and OpenAI's scalars are accepted; another mask is not") {
    test::TempDir dir;
    const std::int64_t n = 77;
    Tensor<float> mask = Tensor<float>::zeros({n, n});
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = i + 1; j < n; ++j) mask.data()[i * n + j] = -std::numeric_limits<float>::infinity();
    // OpenAI's checkpoints also hold three scalars that open_clip drops before loading.
    std::vector<io::TensorBlob> extra{io::make_blob("attn_mask", mask)};
    for (const char* k : {"input_resolution", "context_length", "vocab_size"})
      extra.push_back(io::make_blob(k, Tensor<float>::zeros(Shape{})));
    write_weights(dir.file("ok.safetensors"), file, weights_only(file), extra);
    io::WeightStore ok(io::load_weights(dir.file("ok.safetensors")));
    Clip clip(config);
    clip.load(ok.root());
    ok.finish();
    test::check_parity("with attn_mask", clip.encode_text(io_ids(file, "text"), ctx), io_float(file, "text_features"));

    mask.data()[n + 0] = -1.0f;
    write_weights(dir.file("bad.safetensors"), file, weights_only(file), {io::make_blob("attn_mask", mask)});
    io::WeightStore bad(io::load_weights(dir.file("bad.safetensors")));
    Clip other(config);
    CHECK_THROWS_WITH(other.load(bad.root()), Catch::Contains("attn_mask") && Catch::Contains("(1, 0)"));
  }
  SECTION("inputs") {
    io::WeightStore store(weights_only(file));
    Clip clip(config);
    clip.load(store.root());
    store.finish();
    CHECK_THROWS_WITH(clip.encode_image(Tensor<float>::zeros({1, 3, 32, 40}), ctx), Catch::Contains("[N, 3, 32, 32]"));
    Tensor<std::int64_t> ids = Tensor<std::int64_t>::zeros({1, 77});
    ids.data()[3] = 96;
    CHECK_THROWS_WITH(clip.encode_text(ids, ctx), Catch::Contains("token id 96") && Catch::Contains("[0, 96)"));
    CHECK_THROWS_WITH(clip.encode_text(Tensor<std::int64_t>::zeros({1, 78}), ctx), Catch::Contains("1 <= L <= 77"));
  }
  SECTION("no tower at all") {
    io::WeightStore store(weights_only(file, [](const std::string& k) { return k == "logit_scale" ? k : std::string(); }));
    Clip clip(config);
    CHECK_THROWS_WITH(clip.load(store.root()), Catch::Contains("no CLIP tower"));
  }
}

TEST_CASE("biqa infer --model clip-image / clip-text", "[nn][clip][cli]") {
  test::TempDir dir;
  const io::WeightFile file = fixture_file("clip_quickgelu");
  write_weights(dir.file("w.safetensors"), file, weights_only(file));
  io::write_npy(dir.file("x.npy"), io_float(file, "image"));
  io::write_npy(dir.file("ids.npy"), io_ids(file, "text"));
  const std::string w = " --weights '" + dir.file("w.safetensors") + "'";

  auto r = test::run_cli("infer --model clip-image" + w + " --input '" + dir.file("x.npy") + "' --output '" +
                         dir.file("img.npy") + "'");
  INFO(r.out);
  REQUIRE(r.status == 0);
  test::check_parity("cli clip-image", io::read_npy(dir.file("img.npy")).to_float(), io_float(file, "image_features"));

  r = test::run_cli("infer --model clip-text" + w + " --input '" + dir.file("ids.npy") + "' --output '" +
                    dir.file("txt.npy") + "' --threads 2");
  INFO(r.out);
  REQUIRE(r.status == 0);
  test::check_parity("cli clip-text ids", io::read_npy(dir.file("txt.npy")).to_float(), io_float(file, "text_features"));

  // Float input to the text tower, no input at all to the image tower: usage errors (exit 1 or 2).
  r = test::run_cli("infer --model clip-text" + w + " --input '" + dir.file("x.npy") + "' --output '" +
                    dir.file("bad.npy") + "'");
  CHECK(r.status != 0);
  CHECK_THAT(r.out, Catch::Contains("int64"));
  r = test::run_cli("infer --model clip-image" + w + " --text 'a cat' --output '" + dir.file("bad.npy") + "'");
  CHECK(r.status != 0);
  CHECK_THAT(r.out, Catch::Contains("--input X.npy"));

  SECTION("--text with the real vocabulary") {
    const io::WeightFile tf = fixture_file("clip_text_tokens");
    write_weights(dir.file("t.safetensors"), tf, weights_only(tf));
    const std::string path = vocab_path();
    if (!std::filesystem::exists(path)) FAIL("CLIP vocabulary not found at " << path);
    ::setenv("BIQA_CLIP_VOCAB", path.c_str(), 1);  // inherited by the tool
    const auto texts = fixture_texts(tf);
    // Texts 0 and 2 (no single quote in them): plain words; accents, CJK, an emoji, HTML entities.
    const auto rt = test::run_cli("infer --model clip-text --weights '" + dir.file("t.safetensors") + "' --output '" +
                                  dir.file("t.npy") + "' --text '" + texts[0] + "' --text '" + texts[2] + "'");
    INFO(rt.out);
    REQUIRE(rt.status == 0);
    const Tensor<float> all = io_float(tf, "text_features");
    const Tensor<float> ref = ops::concat(std::vector<Tensor<float>>{all.slice(0, 0, 1), all.slice(0, 2, 3)}, 0);
    test::check_parity("cli clip-text --text", io::read_npy(dir.file("t.npy")).to_float(), ref);
  }
}
