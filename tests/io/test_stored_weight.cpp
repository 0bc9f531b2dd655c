#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/nn/linear.hpp"
#include "biqa/nn/multihead_attention.hpp"
#include "support/helpers.hpp"
#include "support/parity.hpp"

// The low-memory mode (WeightStoreOptions::keep_half) keeps 16-bit weight matrices 16-bit and
// widens them per use. Widening is exact, so every output must equal, bit for bit, the one of the
// same file converted to float32 at load.

using namespace biqa;

namespace {

io::TensorBlob random_blob(const std::string& name, const Shape& shape, DType dtype, std::mt19937& rng) {
  std::normal_distribution<float> n(0.0f, 0.5f);
  io::TensorBlob b{name, dtype, shape, std::vector<std::byte>(static_cast<std::size_t>(shape.numel()) * dtype_size(dtype))};
  for (std::int64_t i = 0; i < shape.numel(); ++i) {
    const float v = n(rng);
    if (dtype == DType::f32) {
      std::memcpy(b.bytes.data() + 4 * i, &v, 4);
    } else {
      const std::uint16_t h = dtype == DType::f16 ? half::from_float(v) : bfloat16::from_float(v);
      std::memcpy(b.bytes.data() + 2 * i, &h, 2);
    }
  }
  return b;
}

Tensor<float> random_input(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  Tensor<float> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = n(rng);
  return t;
}

// A store over `path` in the low-memory mode.
io::WeightStore low_memory_store(const std::string& path) {
  io::WeightStoreOptions low;
  low.keep_half = true;
  return io::WeightStore(io::load_weights(path), low);
}

bool bit_equal(const Tensor<float>& a, const Tensor<float>& b) {
  const auto x = a.contiguous(), y = b.contiguous();
  return x.shape() == y.shape() && std::memcmp(x.data(), y.data(), static_cast<std::size_t>(x.numel()) * 4) == 0;
}

}  // namespace

TEST_CASE("low-memory mode: 16-bit Linear weights stay 16-bit and give the same outputs", "[io][nn][low-memory]") {
  for (const DType dtype : {DType::f16, DType::bf16}) {
    test::TempDir dir;
    std::mt19937 rng(3);
    const std::string path = dir.file("linear.safetensors");
    io::write_safetensors(path, {random_blob("weight", {24, 40}, dtype, rng), random_blob("bias", {24}, dtype, rng)});

    io::WeightStore converted(io::load_weights(path));
    io::WeightStore kept = low_memory_store(path);
    nn::Linear a(40, 24), b(40, 24);
    a.load(converted.root());
    b.load(kept.root());
    converted.finish();
    kept.finish();

    CHECK_FALSE(a.stored_weight().is_half());
    REQUIRE(b.stored_weight().is_half());
    CHECK(b.stored_weight().dtype() == dtype);
    CHECK(b.stored_weight().bytes() * 2 == a.stored_weight().bytes());
    CHECK(bit_equal(a.weight(), b.weight()));

    const Tensor<float> x = random_input({3, 5, 40}, 11);
    Context ctx(2);
    const Tensor<float> ya = a.forward(x, ctx);
    CHECK(bit_equal(ya, b.forward(x, ctx)));
    // Some rows alone, widened: those rows of the whole (a projection of a fused q/k/v weight).
    CHECK(bit_equal(b.stored_weight().rows_to_float(5, 7), a.weight().slice(0, 5, 12)));
    CHECK(bit_equal(a.stored_weight().rows_to_float(5, 7), a.weight().slice(0, 5, 12)));
    CHECK_THROWS_WITH(b.stored_weight().rows_to_float(20, 5), Catch::Contains("rows [20, 25) of a weight shaped"));
    ctx.weight_packing = biqa::WeightPacking::always;  // does not apply to a 16-bit weight; still the same values
    CHECK(bit_equal(ya, b.forward(x, ctx)));
  }
}

TEST_CASE("low-memory mode: nn::MultiheadAttention, self and cross attention", "[io][nn][low-memory]") {
  test::TempDir dir;
  std::mt19937 rng(5);
  const std::int64_t e = 16;
  const std::string path = dir.file("mha.safetensors");
  io::write_safetensors(path, {random_blob("in_proj_weight", {3 * e, e}, DType::f16, rng),
                               random_blob("in_proj_bias", {3 * e}, DType::f32, rng),
                               random_blob("out_proj.weight", {e, e}, DType::bf16, rng),
                               random_blob("out_proj.bias", {e}, DType::f32, rng)});
  nn::MultiheadAttention::Config cfg;
  cfg.embed_dim = e;
  cfg.num_heads = 4;
  cfg.batch_first = true;
  io::WeightStore converted(io::load_weights(path));
  io::WeightStore kept = low_memory_store(path);
  nn::MultiheadAttention a(cfg), b(cfg);
  a.load(converted.root());
  b.load(kept.root());
  converted.finish();
  kept.finish();

  const Tensor<float> x = random_input({2, 7, e}, 1), memory = random_input({2, 9, e}, 2);
  Context plain(2);
  const Tensor<float> self_ref = a.forward(x, plain), cross_ref = a.forward(x, memory, memory, plain);
  for (const auto packing : {biqa::WeightPacking::never, biqa::WeightPacking::always}) {  // not for 16-bit weights
    Context ctx(2);
    ctx.weight_packing = packing;
    CHECK(bit_equal(self_ref, b.forward(x, ctx)));
    CHECK(bit_equal(cross_ref, b.forward(x, memory, memory, ctx)));
  }
}

TEST_CASE("low-memory mode: missing and mis-shaped 16-bit weights are still reported", "[io][low-memory]") {
  test::TempDir dir;
  std::mt19937 rng(7);
  const std::string path = dir.file("bad.safetensors");
  io::write_safetensors(path, {random_blob("weight", {24, 41}, DType::f16, rng)});
  io::WeightStore store = low_memory_store(path);
  nn::Linear layer(40, 24);
  layer.load(store.root());
  try {
    store.finish();
    FAIL("finish() accepted a mis-shaped weight and a missing bias");
  } catch (const Error& err) {
    CHECK(err.code() == ErrorCode::key);
    CHECK_THAT(err.what(), Catch::Contains("weight: file has [24, 41], expected [24, 40]") && Catch::Contains("bias [24]"));
  }
}

TEST_CASE("low-memory mode: an embedding row is widened alone and equals the converted table's", "[io][low-memory]") {
  test::TempDir dir;
  std::mt19937 rng(9);
  const std::string path = dir.file("embedding.safetensors");
  io::write_safetensors(path, {random_blob("table", {50, 12}, DType::bf16, rng)});
  io::WeightStore kept = low_memory_store(path), converted(io::load_weights(path));
  const io::StoredWeight half = kept.take_stored("table", Shape{50, 12});
  const io::StoredWeight full = converted.take_stored("table", Shape{50, 12});
  REQUIRE(half.is_half());
  REQUIRE_FALSE(full.is_half());
  float a[12], b[12];
  for (const std::int64_t row : {0, 17, 49}) {
    half.copy_row(row, a);
    full.copy_row(row, b);
    CHECK(std::memcmp(a, b, sizeof a) == 0);
    CHECK(std::memcmp(b, full.f32().data() + row * 12, sizeof b) == 0);
  }
  CHECK_THROWS_AS(half.copy_row(50, a), Error);
}

TEST_CASE("weight packing: a weight mapped from its file is packed once and its pages given back",
          "[io][nn][packing]") {
  test::TempDir dir;
  std::mt19937 rng(11);
  const std::int64_t out = 96, in = 1024;  // 384 KiB: about 96 whole pages
  const std::string path = dir.file("linear.safetensors");
  io::write_safetensors(path, {random_blob("weight", {out, in}, DType::f32, rng),
                               random_blob("bias", {out}, DType::f32, rng)});
  const Tensor<float> x = random_input({2, 9, in}, 3);  // 18 rows: the GEMM path, not dot products

  io::WeightStore store(io::load_weights(path));
  CHECK(store.file().file_mapped());
  nn::Linear layer(in, out);
  layer.load(store.root());
  store.finish();
  REQUIRE(layer.stored_weight().file_mapped());
  const Tensor<float>& w = layer.stored_weight().f32();
  const std::size_t bytes = static_cast<std::size_t>(w.numel()) * sizeof(float);

  Context never(2), automatic(2), always(2);
  never.weight_packing = WeightPacking::never;
  always.weight_packing = WeightPacking::always;
  const Tensor<float> ref = layer.forward(x, never);  // reads every page of the weight
  CHECK_FALSE(layer.holds_packed_weight());
  const std::size_t resident = io::resident_file_pages(w.data(), bytes);
  const bool pagemap_readable = ::access("/proc/self/pagemap", R_OK) == 0;
  if (pagemap_readable) {
    CHECK(resident >= 90);
  } else {
    WARN("/proc/self/pagemap is not readable here: file pages are not given back");
  }
  CHECK(bit_equal(ref, layer.forward(x, automatic)));  // packs, then gives the pages back
  CHECK(layer.holds_packed_weight());
  CHECK(io::resident_file_pages(w.data(), bytes) == 0);
  CHECK(bit_equal(ref, layer.forward(x, automatic)));  // the packed copy again
  CHECK(bit_equal(ref, layer.forward(x, never)));      // the weight itself, read from the file again
  CHECK(bit_equal(ref, layer.forward(x, always)));
  CHECK(bit_equal(layer.weight(), io::load_weights(path).to_float(*io::load_weights(path).find("weight"))));

  SECTION("a value written into the mapped weight before packing is kept, not re-read from the file") {
    io::WeightStore store2(io::load_weights(path));
    nn::Linear edited(in, out);
    edited.load(store2.root());
    Tensor<float> view = edited.stored_weight().f32();  // shares the mapping's bytes
    view.data()[5 * in + 700] = 42.0f;                   // a private copy of that page from now on
    const Tensor<float> edited_ref = edited.forward(x, never);
    CHECK_FALSE(bit_equal(edited_ref, ref));
    CHECK(bit_equal(edited_ref, edited.forward(x, automatic)));
    if (pagemap_readable) CHECK(io::resident_file_pages(view.data(), bytes) == 0);  // the others went back
    CHECK(view.data()[5 * in + 700] == 42.0f);
    CHECK(bit_equal(edited_ref, edited.forward(x, never)));
  }
  SECTION("weights held in memory are packed per call under auto, once under always") {
    const std::vector<unsigned char> raw = io::read_file_bytes(path);
    io::WeightStore in_memory(io::load_weights(io::MappedFile::from_bytes(raw.data(), raw.size())));
    CHECK_FALSE(in_memory.file().file_mapped());
    nn::Linear held(in, out);
    held.load(in_memory.root());
    CHECK_FALSE(held.stored_weight().file_mapped());
    CHECK(held.stored_weight().release_file_pages() == 0);
    CHECK(bit_equal(ref, held.forward(x, automatic)));
    CHECK_FALSE(held.holds_packed_weight());
    CHECK(bit_equal(ref, held.forward(x, always)));
    CHECK(held.holds_packed_weight());
  }
}

TEST_CASE("a mapped file's small float32 tensors are read at load, its large ones viewed", "[io][packing]") {
  test::TempDir dir;
  std::mt19937 rng(2);
  const std::string path = dir.file("two.safetensors");
  io::write_safetensors(path, {random_blob("small", {3, 100}, DType::f32, rng),
                               random_blob("large", {300, 300}, DType::f32, rng)});  // 351 KiB
  const io::WeightFile file = io::load_weights(path);
  REQUIRE(file.file_mapped());
  io::WeightStore store(io::load_weights(path));
  const io::TensorRecord& small = *store.file().find("small");
  const io::TensorRecord& large = *store.file().find("large");
  const Tensor<float> s = store.root().take("small", {3, 100}), l = store.root().take("large", {300, 300});
  CHECK(static_cast<const void*>(s.data()) != static_cast<const void*>(small.data));  // a copy
  CHECK(static_cast<const void*>(l.data()) == static_cast<const void*>(large.data));  // the mapping
  CHECK(bit_equal(s, file.to_float(*file.find("small"))));
  CHECK(bit_equal(l, file.to_float(*file.find("large"))));

  // read_into: the file's bytes, by reading it (or from memory for bytes held in memory); bounds.
  const auto& mapped = *store.file().source;
  std::vector<float> buf(300);
  mapped.read_into(small.data, 1200, buf.data());
  CHECK(std::memcmp(buf.data(), small.data, 1200) == 0);
  CHECK_THROWS_WITH(mapped.read_into(mapped.data() + mapped.size() - 4, 8, buf.data()),
                    Catch::Contains("read outside the file"));
  const auto held = io::MappedFile::from_bytes(mapped.data(), mapped.size());
  CHECK_FALSE(held->is_mapped());
  held->read_into(held->data() + (small.data - mapped.data()), 1200, buf.data());
  CHECK(std::memcmp(buf.data(), small.data, 1200) == 0);
}

TEST_CASE("weight packing: PyTorch checkpoints are mapped too; names parse", "[io][packing]") {
  CHECK(io::load_weights(test::fixture_path("models/dsmix/dsmix_mlp.pth")).file_mapped());
  CHECK(parse_weight_packing("auto") == WeightPacking::automatic);
  CHECK(parse_weight_packing("never") == WeightPacking::never);
  CHECK(std::string(weight_packing_name(parse_weight_packing("always"))) == "always");
  CHECK_THROWS_WITH(parse_weight_packing("yes"), Catch::Contains("unknown weight packing 'yes'"));
  CHECK(Context().weight_packing == WeightPacking::automatic);
}
