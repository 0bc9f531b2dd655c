#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "support/helpers.hpp"

using namespace biqa;
using biqa::io::MappedFile;

namespace {

io::WeightFile read_bytes(const std::vector<std::byte>& b) {
  return io::read_safetensors(MappedFile::from_bytes(b.data(), b.size(), "case.safetensors"));
}

// A file with the given JSON header (padded to 8 bytes) and `data_size` zero bytes of data.
std::vector<std::byte> with_header(const std::string& header, std::size_t data_size) {
  std::string h = header;
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<std::byte> out(8 + h.size() + data_size);
  const std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = std::byte((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, h.data(), h.size());
  return out;
}

std::string error_of(const std::vector<std::byte>& b) {
  try {
    read_bytes(b);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("safetensors: reads a file written by the reference implementation", "[io]") {
  const auto wf = io::read_safetensors(test::data_path("io/reference.safetensors"));
  REQUIRE(wf.format == "safetensors");
  REQUIRE(wf.metadata.at("note") == "fixture");
  REQUIRE(wf.tensors.size() == 10);
  const auto expected =
      json::parse(std::string(reinterpret_cast<const char*>(io::read_file_bytes(test::data_path("io/reference_expected.json")).data()),
                              io::read_file_bytes(test::data_path("io/reference_expected.json")).size()));
  for (const auto& [name, exp] : expected.as_object()) {
    INFO(name);
    const auto& r = wf.at(name);
    std::vector<std::int64_t> shape;
    for (const auto& d : exp["shape"].as_array()) shape.push_back(d.as_int());
    REQUIRE(r.shape == Shape(shape));
    const auto& values = exp["values"].as_array();
    REQUIRE(static_cast<std::int64_t>(values.size()) == r.shape.numel());
    for (std::size_t i = 0; i < values.size(); ++i)
      REQUIRE(load_as_double(r.data, r.dtype, i) == values[i].as_number());
  }
  REQUIRE(wf.at("bf16").dtype == DType::bf16);
  REQUIRE(wf.at("f16").dtype == DType::f16);
  REQUIRE(wf.at("bool").dtype == DType::boolean);
  // f32 tensors are views into the mapping, not copies.
  const auto t = wf.to_float(wf.at("f32"));
  REQUIRE(reinterpret_cast<const std::byte*>(t.data()) == wf.at("f32").data);
}

TEST_CASE("safetensors: write then read keeps names, order, dtypes, values, metadata", "[io]") {
  std::vector<io::TensorBlob> blobs;
  blobs.push_back(io::make_blob("b.weight", Tensor<float>::from_list({2, 2}, {1, -2, 3.5f, 4})));
  std::vector<std::byte> hb(6);
  const std::uint16_t hv[3] = {half(1.5f).bits, half(-0.25f).bits, half(65504.f).bits};
  std::memcpy(hb.data(), hv, 6);
  blobs.push_back({"a.half", DType::f16, Shape{3}, hb});
  const auto bytes = io::encode_safetensors(blobs, {{"biqa.config", "{\"x\": 1}"}});
  const auto wf = read_bytes(bytes);
  REQUIRE(wf.tensors[0].name == "b.weight");
  REQUIRE(wf.tensors[1].name == "a.half");
  REQUIRE(wf.metadata.at("biqa.config") == "{\"x\": 1}");
  REQUIRE(wf.to_float(wf.at("a.half")).to_vector() == std::vector<float>{1.5f, -0.25f, 65504.f});
  REQUIRE(wf.to_float(wf.at("b.weight"))(1, 0) == 3.5f);
  REQUIRE_THROWS_AS(io::encode_safetensors({blobs[0], blobs[0]}), Error);
}

TEST_CASE("safetensors: every kind of bad input is a clear error", "[io][bad-input]") {
  const auto good = io::encode_safetensors({io::make_blob("w", Tensor<float>::zeros({4, 4}))});

  SECTION("truncated at every length") {
    for (std::size_t n = 0; n < good.size(); ++n) {
      std::vector<std::byte> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
      REQUIRE_THROWS_AS(read_bytes(cut), Error);
    }
  }
  SECTION("header length past the end") {
    auto b = good;
    b[0] = std::byte(0xff);
    b[1] = std::byte(0xff);
    REQUIRE_THAT(error_of(b), Catch::Contains("runs past the end"));
    b[6] = std::byte(0x7f);
    REQUIRE_THAT(error_of(b), Catch::Contains("implausibly large"));
  }
  SECTION("header that is not JSON") {
    REQUIRE_THAT(error_of(with_header("{\"w\": {\"dtype\": ", 0)), Catch::Contains("invalid JSON"));
    REQUIRE_THAT(error_of(with_header("[1, 2]", 0)), Catch::Contains("not a JSON object"));
  }
  SECTION("offsets outside the data") {
    REQUIRE_THAT(error_of(with_header(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8)),
                 Catch::Contains("outside the data"));
    REQUIRE_THAT(error_of(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8)),
                 Catch::Contains("reversed"));
  }
  SECTION("overlapping tensors and holes") {
    REQUIRE_THAT(error_of(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12)),
                 Catch::Contains("overlaps"));
    REQUIRE_THAT(error_of(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
                 Catch::Contains("hole"));
    REQUIRE_THAT(error_of(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8)),
                 Catch::Contains("belong to no tensor"));
  }
  SECTION("misaligned tensor") {
    REQUIRE_THAT(error_of(with_header(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 6)),
                 Catch::Contains("misaligned"));
  }
  SECTION("shape and byte count disagree") {
    REQUIRE_THAT(error_of(with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)),
                 Catch::Contains("needs 12"));
    REQUIRE_THAT(error_of(with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
                 Catch::Contains("non-negative integer"));
    REQUIRE_THAT(error_of(with_header(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4)),
                 Catch::Contains("non-negative integer"));
  }
  SECTION("unknown dtype") {
    const auto b = with_header(R"({"a":{"dtype":"F8_E5M2","shape":[1],"data_offsets":[0,1]}})", 1);
    REQUIRE_THAT(error_of(b), Catch::Contains("unknown dtype 'F8_E5M2'"));
    try {
      read_bytes(b);
    } catch (const Error& e) {
      REQUIRE(e.code() == ErrorCode::unsupported);
    }
  }
  SECTION("errors name the file") {
    REQUIRE_THAT(error_of(with_header("{", 0)), Catch::StartsWith("case.safetensors"));
  }
}

TEST_CASE("weight store: scoped, shape-checked, strict", "[io]") {
  std::vector<io::TensorBlob> blobs = {
      io::make_blob("module.blocks.0.attn.qkv.weight", Tensor<float>::full({6, 2}, 1.f)),
      io::make_blob("module.blocks.0.attn.qkv.bias", Tensor<float>::full({6}, 2.f)),
      io::make_blob("module.head.weight", Tensor<float>::full({1, 2}, 3.f)),
      io::make_blob("module.bn.num_batches_tracked", Tensor<float>::full({}, 0.f)),
  };
  const auto bytes = io::encode_safetensors(blobs);
  auto wf = io::read_safetensors(MappedFile::from_bytes(bytes.data(), bytes.size(), "w.safetensors"));

  SECTION("a complete load passes, with the module. prefix stripped") {
    io::WeightStore store(wf);
    auto attn = store.root().scope("blocks").scope(0).scope("attn");
    REQUIRE(attn.full_name("qkv.weight") == "blocks.0.attn.qkv.weight");
    REQUIRE(attn.take("qkv.weight", {6, 2})(5, 1) == 1.0f);
    REQUIRE(attn.take_optional("qkv.bias", {6}).has_value());
    REQUIRE_FALSE(attn.take_optional("proj.bias", {2}).has_value());
    REQUIRE(store.root().take_any("head.weight").shape() == Shape{1, 2});
    store.root().scope("bn").ignore("num_batches_tracked");
    REQUIRE_NOTHROW(store.finish());
  }
  SECTION("missing, mis-shaped and unexpected keys are all named at once") {
    io::WeightStore store(wf);
    auto root = store.root();
    root.take("blocks.0.attn.qkv.weight", {6, 3});
    root.take("blocks.0.attn.proj.weight", {2, 2});
    root.take("blocks.0.attn.proj.bias", {2});
    try {
      store.finish();
      FAIL("finish() should throw");
    } catch (const Error& e) {
      const std::string msg = e.what();
      REQUIRE(e.code() == ErrorCode::key);
      REQUIRE_THAT(msg, Catch::Contains("missing keys (2)"));
      REQUIRE_THAT(msg, Catch::Contains("blocks.0.attn.proj.weight [2, 2]"));
      REQUIRE_THAT(msg, Catch::Contains("blocks.0.attn.qkv.weight: file has [6, 2], expected [6, 3]"));
      REQUIRE_THAT(msg, Catch::Contains("unexpected keys (3)"));
      REQUIRE_THAT(msg, Catch::Contains("head.weight"));
      REQUIRE_THAT(msg, Catch::StartsWith("w.safetensors"));
    }
  }
  SECTION("non-strict loads ignore unexpected keys") {
    io::WeightStore store(wf, {.strip_prefixes = {"module."}, .strict = false});
    store.root().take("head.weight", {1, 2});
    REQUIRE_NOTHROW(store.finish());
    REQUIRE(store.unexpected().size() == 3);
  }
}
