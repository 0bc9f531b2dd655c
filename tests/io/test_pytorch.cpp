#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "biqa/io/json.hpp"
#include "biqa/io/pytorch.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "io/pth_builder.hpp"

using biqa::DType;
using biqa::ErrorCode;
using biqa::Shape;
using biqa::io::MappedFile;
using biqa::io::PytorchReadOptions;
using biqa::io::read_pytorch;
using biqa::io::WeightFile;
using biqa_test::PickleWriter;

namespace {

std::string fixture(const std::string& name) {
  return std::string(BIQA_TEST_DATA_DIR) + "/io/pytorch/" + name;
}

std::vector<std::byte> file_bytes(const std::string& path) {
  const auto v = biqa::io::read_file_bytes(path);
  const auto* p = reinterpret_cast<const std::byte*>(v.data());
  return {p, p + v.size()};
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

// Compares every tensor of `wf` with the values torch.load produced for it (the fixture's
// .expected.safetensors): names in order, dtypes, shapes, and the exact bytes.
void require_matches(const WeightFile& wf, const std::string& expected_file) {
  const WeightFile expected = biqa::io::read_safetensors(fixture(expected_file));
  const auto order = split(expected.metadata.at("order"), ',');
  REQUIRE(wf.tensors.size() == order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& r = wf.tensors[i];
    INFO("tensor " << order[i]);
    REQUIRE(r.name == order[i]);
    const auto& e = expected.at(order[i]);
    REQUIRE(r.dtype == e.dtype);
    REQUIRE(r.shape == e.shape);
    REQUIRE(wf.contiguous_bytes(r) == expected.contiguous_bytes(e));
    // The float view agrees bit for bit too (strided views are gathered).
    const auto a = wf.to_float(r).to_vector();
    const auto b = expected.to_float(e).to_vector();
    REQUIRE(a.size() == b.size());
    if (!a.empty()) REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  }
  const std::string key = expected.metadata.at("source_key");
  if (key.empty()) {
    REQUIRE(wf.metadata.count("biqa.source_key") == 0);
  } else {
    REQUIRE(wf.metadata.at("biqa.source_key") == key);
  }
}

// Runs a reader on `bytes`; returns the error code, or internal when it read without error.
ErrorCode outcome(std::vector<std::byte> bytes, const PytorchReadOptions& opts = {}) {
  try {
    read_pytorch(MappedFile::from_bytes(std::move(bytes), "mem.pth"), opts);
  } catch (const biqa::Error& e) {
    return e.code();
  }
  return ErrorCode::internal;
}

void require_error(std::vector<std::byte> bytes, ErrorCode code, const std::string& needle) {
  try {
    read_pytorch(MappedFile::from_bytes(std::move(bytes), "mem.pth"));
    FAIL("read without error; expected: " << needle);
  } catch (const biqa::Error& e) {
    INFO(e.what());
    REQUIRE(e.code() == code);
    REQUIRE_THAT(e.what(), Catch::Contains("mem.pth") && Catch::Contains(needle));
  }
}

void require_error(const std::string& fixture_name, ErrorCode code,
                   std::initializer_list<const char*> needles) {
  try {
    read_pytorch(fixture(fixture_name));
    FAIL("read without error");
  } catch (const biqa::Error& e) {
    INFO(e.what());
    REQUIRE(e.code() == code);
    REQUIRE_THAT(e.what(), Catch::Contains(fixture_name));
    for (const char* n : needles) REQUIRE_THAT(e.what(), Catch::Contains(n));
  }
}

// The central directory of a torch-written archive: the first "PK\1\2".
std::size_t central_directory(const std::vector<std::byte>& b) {
  for (std::size_t i = 0; i + 4 <= b.size(); ++i)
    if (b[i] == std::byte{'P'} && b[i + 1] == std::byte{'K'} && b[i + 2] == std::byte{1} &&
        b[i + 3] == std::byte{2})
      return i;
  FAIL("no central directory");
  return 0;
}

std::size_t find(const std::vector<std::byte>& b, std::string_view s) {
  const std::string hay(reinterpret_cast<const char*>(b.data()), b.size());
  const auto p = hay.find(s);
  REQUIRE(p != std::string::npos);
  return p;
}

}  // namespace

TEST_CASE("pytorch: every fixture reads back with torch's values, dtypes and shapes",
          "[io][pytorch]") {
  for (const char* name : {"plain", "views", "views_p4", "checkpoint", "wrapped", "nested"}) {
    INFO(name);
    const auto wf = read_pytorch(fixture(std::string(name) + ".pth"));
    REQUIRE(wf.format == "pytorch");
    require_matches(wf, std::string(name) + ".expected.safetensors");
  }
  // torch.save(tensor), and the same archive rewritten by Info-ZIP (zip64 extras) and by a
  // streaming Python zipfile (data descriptors).
  for (const char* name : {"single.pt", "zip64.pt", "streamed.pt"}) {
    INFO(name);
    require_matches(read_pytorch(fixture(name)), "single.expected.safetensors");
  }
  const auto wf = read_pytorch(fixture("crafted_ok.pth"));
  REQUIRE(wf.to_float(wf.at("x")).to_vector() == std::vector<float>{2, 3, 4});
}

TEST_CASE("pytorch: a plain state_dict has every dtype, 0-d and empty tensors",
          "[io][pytorch]") {
  const auto wf = read_pytorch(fixture("plain.pth"));
  REQUIRE(wf.at("bn.num_batches_tracked").dtype == DType::i64);
  REQUIRE(wf.at("bn.num_batches_tracked").shape.rank() == 0);
  REQUIRE(wf.to_float(wf.at("bn.num_batches_tracked")).to_vector() == std::vector<float>{1});
  REQUIRE(wf.at("empty").shape == Shape{0, 3});
  REQUIRE(wf.at("conv.weight").shape == Shape{3, 2, 3, 3});
  const struct {
    const char* name;
    DType dtype;
  } dtypes[] = {{"f16", DType::f16}, {"bf16", DType::bf16}, {"f64", DType::f64},
                {"special", DType::f32}, {"i64", DType::i64}, {"i32", DType::i32},
                {"i16", DType::i16}, {"i8", DType::i8}, {"u8", DType::u8},
                {"flags", DType::boolean}};
  for (const auto& d : dtypes) REQUIRE(wf.at(d.name).dtype == d.dtype);
  // Aligned contiguous float32 tensors are borrowed from the mapping, not copied.
  const auto& w = wf.at("conv.weight");
  REQUIRE(static_cast<const void*>(wf.to_float(w).data()) == static_cast<const void*>(w.data));
}

TEST_CASE("pytorch: views keep their storage offsets and strides", "[io][pytorch]") {
  const auto wf = read_pytorch(fixture("views.pth"));
  const auto expected = biqa::io::read_safetensors(fixture("views.expected.safetensors"));
  const auto layout = biqa::json::parse(expected.metadata.at("layout"));
  // Tensors torch saved over one storage point into the same bytes of the file.
  const std::vector<std::vector<std::string>> groups = {
      {"base", "row", "col", "transposed", "block", "step"}, {"a", "b"}, {"expanded"}};
  for (const auto& group : groups) {
    const auto& first = wf.at(group[0]);
    const std::int64_t first_offset = layout[group[0]].as_array()[0].as_int();
    for (const auto& name : group) {
      INFO(name);
      const auto& r = wf.at(name);
      const auto& l = layout[name].as_array();
      const std::int64_t es = std::int64_t(biqa::dtype_size(r.dtype));
      REQUIRE((r.data - first.data) / es == l[0].as_int() - first_offset);
      REQUIRE((r.data - first.data) % es == 0);
      const auto& strides = l[1].as_array();
      REQUIRE(strides.size() == std::size_t(r.shape.rank()));
      for (std::size_t d = 0; d < strides.size(); ++d) REQUIRE(r.strides[d] == strides[d].as_int());
    }
  }
  REQUIRE_FALSE(wf.at("transposed").is_contiguous());
  REQUIRE(wf.at("expanded").strides[0] == 0);
  REQUIRE(wf.to_float(wf.at("col")).to_vector() == std::vector<float>{2, 8, 14, 20});
}

TEST_CASE("pytorch: state_dict selection and flattening", "[io][pytorch]") {
  // "state_dict" wins over "model" although "model" comes first in the file.
  const auto wrapped = read_pytorch(fixture("wrapped.pth"));
  REQUIRE(wrapped.metadata.at("biqa.source_key") == "state_dict");
  REQUIRE(wrapped.find("decoy") == nullptr);
  REQUIRE(wrapped.find("module.conv.weight") != nullptr);
  // The optimizer state, a user's config class, an argparse Namespace, numpy scalars, sets,
  // bytes and big ints beside "model" are skipped.
  const auto ckpt = read_pytorch(fixture("checkpoint.pth"));
  REQUIRE(ckpt.metadata.at("biqa.source_key") == "model");
  for (const auto& r : ckpt.tensors) REQUIRE(r.name.rfind("optimizer", 0) == std::string::npos);
  // No well-known key: nested dicts and lists join with '.', int keys included.
  const auto nested = read_pytorch(fixture("nested.pth"));
  REQUIRE(nested.find("encoder.sub.b") != nullptr);
  REQUIRE(nested.find("heads.1") != nullptr);
  REQUIRE(nested.find("7") != nullptr);

  // load_weights picks the reader by content; WeightStore strips DataParallel's "module.".
  REQUIRE(biqa::io::load_weights(fixture("plain.pth")).format == "pytorch");
  auto store = biqa::io::open_weights(fixture("wrapped.pth"));
  REQUIRE(store.contains("conv.weight"));
  REQUIRE(store.contains("conv.bias"));
}

TEST_CASE("pytorch: invalid fixtures give errors that say what is wrong", "[io][pytorch]") {
  require_error("bad_compressed.pth", ErrorCode::unsupported, {"plain/data.pkl", "compressed"});
  require_error("bad_legacy.pth", ErrorCode::unsupported, {"legacy", "torch>=1.6"});
  require_error("bad_opcode.pth", ErrorCode::unsupported,
                {"bad_opcode/data.pkl", "offset 2", "opcode 0x70 ('p')"});
  require_error("bad_missing_storage.pth", ErrorCode::format, {"plain/data/3", "missing"});
  require_error("bad_view.pth", ErrorCode::format, {"past_end", "element 4", "storage '0'"});
  // The legacy format is recognised through load_weights too.
  REQUIRE_THROWS_WITH(biqa::io::load_weights(fixture("bad_legacy.pth")),
                      Catch::Contains("legacy"));
  // Not a checkpoint at all.
  REQUIRE(outcome(biqa_test::to_bytes("hello")) == ErrorCode::format);
  REQUIRE(outcome(biqa_test::to_bytes(std::string_view("\x80\x02}q\x00.", 6))) ==
          ErrorCode::unsupported);
  REQUIRE(outcome({}) == ErrorCode::format);
}

TEST_CASE("pytorch: truncation at every cut point is a clean error", "[io][pytorch]") {
  for (const char* name : {"plain.pth", "checkpoint.pth"}) {
    INFO(name);
    const auto bytes = file_bytes(fixture(name));
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      INFO("cut " << cut);
      std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + std::ptrdiff_t(cut));
      try {
        read_pytorch(MappedFile::from_bytes(std::move(prefix), "cut.pth"));
        FAIL("read a truncated file");
      } catch (const biqa::Error& e) {
        REQUIRE(e.code() == ErrorCode::format);
        REQUIRE_THAT(e.what(), Catch::Contains("cut.pth"));
      }
    }
  }
}

TEST_CASE("pytorch: corrupted bytes anywhere give biqa::Error or a valid read",
          "[io][pytorch]") {
  const auto bytes = file_bytes(fixture("views.pth"));
  PytorchReadOptions no_crc;
  no_crc.verify_pickle_crc = false;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      auto b = bytes;
      b[i] ^= std::byte(x);
      INFO("byte " << i << " ^ " << int(x));
      REQUIRE_NOTHROW(outcome(b));
      REQUIRE_NOTHROW(outcome(b, no_crc));
    }
  }
  // Specific damage to the central directory of a torch-written file.
  const std::size_t cd = central_directory(bytes);
  auto b = bytes;
  b[cd + 1] = std::byte{'X'};
  require_error(b, ErrorCode::format, "central directory entry 0");
  b = bytes;
  b[cd + 28] = b[cd + 29] = std::byte{0xff};
  require_error(b, ErrorCode::format, "runs past the central directory");
  b = bytes;
  b[cd + 42] = b[cd + 43] = b[cd + 44] = std::byte{0x7f};
  require_error(b, ErrorCode::format, "no local header");
}

TEST_CASE("pytorch: checksums catch corrupted structure and, on request, data",
          "[io][pytorch]") {
  const auto bytes = file_bytes(fixture("views.pth"));
  // Rename "transposed" to "transposeD" inside data.pkl: the CRC no longer matches.
  auto b = bytes;
  b[find(b, "transposed") + 9] = std::byte{'D'};
  require_error(b, ErrorCode::format, "views/data.pkl' is corrupt");
  PytorchReadOptions no_crc;
  no_crc.verify_pickle_crc = false;
  REQUIRE(read_pytorch(MappedFile::from_bytes(b), no_crc).find("transposeD") != nullptr);

  // A flipped bit in tensor data passes by default (no full read) and fails when asked.
  const auto mapped = MappedFile::from_bytes(bytes);
  const auto wf = read_pytorch(mapped);
  b = bytes;
  b[std::size_t(wf.at("base").data - mapped->data()) + 4] ^= std::byte{1};
  REQUIRE(outcome(b) == ErrorCode::internal);
  PytorchReadOptions data_crc;
  data_crc.verify_data_crc = true;
  REQUIRE(outcome(b, data_crc) == ErrorCode::format);
  REQUIRE(outcome(bytes, data_crc) == ErrorCode::internal);
}

TEST_CASE("pytorch: hand-made archives reach every check", "[io][pytorch]") {
  using biqa_test::floats;
  using biqa_test::make_checkpoint;
  const std::string four = floats({1, 2, 3, 4});
  auto one = [&](auto&& add_tensor, const std::vector<std::pair<std::string, std::string>>& st) {
    PickleWriter w;
    w.proto().empty_dict().str("t");
    add_tensor(w);
    w.setitem().stop();
    return make_checkpoint(w, st);
  };

  // Valid: a zero-size view may sit at the very end; stride 0 repeats an element.
  {
    const auto wf = read_pytorch(MappedFile::from_bytes(one(
        [](PickleWriter& w) { w.tensor("FloatStorage", "0", 4, 4, {0, 2}, {2, 1}); }, {{"0", four}})));
    REQUIRE(wf.at("t").shape == Shape{0, 2});
    const auto wf2 = read_pytorch(MappedFile::from_bytes(one(
        [](PickleWriter& w) { w.tensor("FloatStorage", "0", 4, 3, {3}, {0}); }, {{"0", four}})));
    REQUIRE(wf2.to_float(wf2.at("t")).to_vector() == std::vector<float>{4, 4, 4});
  }
  require_error(one([](PickleWriter& w) { w.tensor("FloatStorage", "0", 5, 0, {4}, {1}); },
                    {{"0", four}}),
                ErrorCode::format, "declares 5 elements");
  require_error(one([](PickleWriter& w) { w.tensor("DoubleStorage", "0", 4, 0, {4}, {1}); },
                    {{"0", four}}),
                ErrorCode::format, "holds 16 bytes");
  require_error(one([](PickleWriter& w) { w.tensor("FloatStorage", "0", 4, 0, {2}, {-1}); },
                    {{"0", four}}),
                ErrorCode::format, "negative size or stride");
  require_error(one([](PickleWriter& w) { w.tensor("FloatStorage", "0", 4, -1, {2}, {1}); },
                    {{"0", four}}),
                ErrorCode::format, "negative storage offset");
  require_error(one([](PickleWriter& w) { w.tensor("FloatStorage", "0", 4, 5, {0}, {1}); },
                    {{"0", four}}),
                ErrorCode::format, "reaches element");
  require_error(one([](PickleWriter& w) {
                  w.tensor("FloatStorage", "0", 4, 0, {1LL << 40, 1LL << 40}, {1LL << 40, 1LL << 40});
                },
                    {{"0", four}}),
                ErrorCode::format, "too large");
  require_error(one([](PickleWriter& w) {
                  w.tensor("FloatStorage", "0", 4, 0, {1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1});
                },
                    {{"0", four}}),
                ErrorCode::unsupported, "rank 9");
  require_error(one([](PickleWriter& w) { w.tensor("ComplexFloatStorage", "0", 2, 0, {2}, {1}); },
                    {{"0", four}}),
                ErrorCode::unsupported, "torch.ComplexFloatStorage");
  require_error(one([](PickleWriter& w) {
                  w.global("torch._utils", "_rebuild_qtensor").op(')').op('R');
                },
                    {}),
                ErrorCode::unsupported, "_rebuild_qtensor");

  // Unreadable tensors beside the selected state_dict do not matter.
  {
    PickleWriter w;
    w.proto().empty_dict();
    w.str("optimizer").empty_dict().str("x").tensor("ComplexFloatStorage", "9", 2, 0, {2}, {1});
    w.setitem().setitem();
    w.str("model").empty_dict().str("w").tensor("FloatStorage", "0", 4, 0, {4}, {1});
    w.setitem().setitem().stop();
    const auto wf = read_pytorch(MappedFile::from_bytes(make_checkpoint(w, {{"0", four}})));
    REQUIRE(wf.tensors.size() == 1);
    REQUIRE(wf.tensors[0].name == "w");
  }

  // torch.save(model): a pickled module instead of a state_dict.
  {
    PickleWriter w;
    w.proto().global("__main__", "Net").op(')').op('\x81').empty_dict().op('b').stop();
    require_error(make_checkpoint(w, {}), ErrorCode::unsupported, "model.state_dict()");
  }
  // A dict that contains itself; nesting beyond the depth limit; a structure whose sharing
  // would name 2^40 tensors; two tensors under the same name.
  {
    PickleWriter w;
    w.proto().empty_dict().put(0).str("self").get(0).setitem().stop();
    require_error(make_checkpoint(w, {}), ErrorCode::format, "contains itself");
  }
  {
    PickleWriter w;
    w.proto();
    for (int i = 0; i < 100; ++i) w.empty_dict().str("k");
    w.op('N');
    for (int i = 0; i < 100; ++i) w.setitem();
    w.stop();
    require_error(make_checkpoint(w, {}), ErrorCode::format, "nested more than 64");
  }
  {
    PickleWriter w;
    w.proto().empty_dict().str("t").tensor("FloatStorage", "0", 4, 0, {4}, {1}).setitem();
    w.raw({'r', 0, 0, 1, 0});
    for (int i = 1; i <= 40; ++i) {
      const char lo = char(i & 0xff);
      w.empty_dict().str("a").raw({'j', char((i - 1) & 0xff), 0, 1, 0}).setitem();
      w.str("b").raw({'j', char((i - 1) & 0xff), 0, 1, 0}).setitem().raw({'r', lo, 0, 1, 0});
    }
    w.stop();
    require_error(make_checkpoint(w, {{"0", four}}), ErrorCode::format, "shares its parts");
  }
  {
    PickleWriter w;
    w.proto().empty_dict().str("a.b").tensor("FloatStorage", "0", 4, 0, {4}, {1}).setitem();
    w.str("a").empty_dict().str("b").tensor("FloatStorage", "0", 4, 0, {4}, {1}).setitem();
    w.setitem().stop();
    require_error(make_checkpoint(w, {{"0", four}}), ErrorCode::format, "two tensors are named 'a.b'");
  }

  // Archive-level checks.
  {
    PickleWriter w;
    w.proto().empty_dict().stop();
    require_error(biqa_test::make_zip({{"x/data.pkl", w.bytes}, {"y/data.pkl", w.bytes}}),
                  ErrorCode::format, "several data.pkl");
    require_error(biqa_test::make_zip({{"x/other.pkl", w.bytes}}), ErrorCode::format,
                  "without <archive>/data.pkl");
    require_error(biqa_test::make_zip({{"x/data.pkl", w.bytes}, {"x/constants.pkl", w.bytes}}),
                  ErrorCode::unsupported, "TorchScript");
    require_error(biqa_test::make_zip({{"x/data.pkl", w.bytes}, {"x/byteorder", "big"}}),
                  ErrorCode::unsupported, "byte order");
    const auto empty = read_pytorch(MappedFile::from_bytes(
        biqa_test::make_zip({{"x/data.pkl", w.bytes}, {"x/byteorder", "little"}}, true)));
    REQUIRE(empty.tensors.empty());
  }
}

#ifdef BIQA_CLI_PATH
namespace {

struct CliResult {
  int status = -1;
  std::string out, err;
};

std::string quote(const std::string& s) { return "'" + s + "'"; }

CliResult run_cli(const std::string& args, const std::filesystem::path& dir) {
  const auto err_path = dir / "stderr.txt";
  const std::string cmd = quote(BIQA_CLI_PATH) + " " + args + " 2>" + quote(err_path.string());
  CliResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  std::ifstream in(err_path);
  r.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return r;
}

}  // namespace

TEST_CASE("pytorch: biqa inspect and convert on .pth files", "[io][pytorch][cli]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("biqa_test_pytorch_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  // inspect --json lists every tensor with torch's dtype and shape.
  {
    const auto r = run_cli("inspect --json " + quote(fixture("checkpoint.pth")), dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const auto j = biqa::json::parse(r.out);
    REQUIRE(j["format"].as_string() == "pytorch");
    REQUIRE(j["metadata"]["biqa.source_key"].as_string() == "model");
    const auto expected = biqa::io::read_safetensors(fixture("checkpoint.expected.safetensors"));
    const auto order = split(expected.metadata.at("order"), ',');
    const auto& tensors = j["tensors"].as_array();
    REQUIRE(tensors.size() == order.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      const auto& e = expected.at(order[i]);
      REQUIRE(tensors[i]["name"].as_string() == order[i]);
      REQUIRE(tensors[i]["dtype"].as_string() == biqa::dtype_name(e.dtype));
      std::vector<std::int64_t> shape;
      for (const auto& d : tensors[i]["shape"].as_array()) shape.push_back(d.as_int());
      REQUIRE(Shape(shape) == e.shape);
    }
  }

  // convert writes the same values and dtypes (views made contiguous).
  for (const char* name : {"plain", "views"}) {
    INFO(name);
    const auto out = dir / (std::string(name) + ".safetensors");
    const auto r = run_cli("convert " + quote(fixture(std::string(name) + ".pth")) + " " +
                               quote(out.string()),
                           dir);
    INFO(r.err);
    REQUIRE(r.status == 0);
    const auto converted = biqa::io::read_safetensors(out.string());
    REQUIRE(converted.metadata.at("biqa.converted_from") == "pytorch");
    require_matches(converted, std::string(name) + ".expected.safetensors");
  }

  // A broken file: exit status 2 and a one-line message naming the file.
  for (const char* name : {"bad_view.pth", "bad_compressed.pth", "bad_legacy.pth"}) {
    INFO(name);
    const auto r = run_cli("inspect " + quote(fixture(name)), dir);
    REQUIRE(r.status == 2);
    REQUIRE(r.out.empty());
    REQUIRE(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    REQUIRE(r.err.back() == '\n');
    REQUIRE_THAT(r.err, Catch::Contains(name));
    const auto c = run_cli("convert " + quote(fixture(name)) + " " + quote((dir / "x.safetensors").string()), dir);
    REQUIRE(c.status == 2);
    REQUIRE_FALSE(std::filesystem::exists(dir / "x.safetensors"));
  }
  std::filesystem::remove_all(dir);
}
#endif
