#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/io/pickle.hpp"
#include "io/pth_builder.hpp"

using biqa::ErrorCode;
namespace pickle = biqa::io::pickle;
namespace json = biqa::json;

namespace {

std::string data_path(const std::string& name) {
  return std::string(BIQA_TEST_DATA_DIR) + "/io/" + name;
}

std::vector<std::byte> read_bytes(const std::string& path) {
  const auto v = biqa::io::read_file_bytes(path);
  const auto* p = reinterpret_cast<const std::byte*>(v.data());
  return {p, p + v.size()};
}

// The same typed description tools/reference/make_checkpoints.py writes for Python values.
json::Value describe(const pickle::Document& doc, const pickle::Value& v) {
  using pickle::Kind;
  auto seq = [&](const char* tag) {
    json::Value items = json::Array{};
    for (const auto& x : doc.items(v)) items.push_back(describe(doc, x));
    return json::Value(json::Array{tag, items});
  };
  switch (v.kind) {
    case Kind::none: return json::Array{"none"};
    case Kind::boolean: return json::Array{"bool", v.i != 0};
    case Kind::integer: return json::Array{"int", std::to_string(v.i)};
    case Kind::big_integer: return json::Array{"bigint"};
    case Kind::floating: {
      std::uint64_t bits;
      std::memcpy(&bits, &v.f, 8);
      return json::Array{"float", std::to_string(bits)};
    }
    case Kind::string: return json::Array{"str", doc.text(v)};
    case Kind::bytes: {
      static constexpr char hex[] = "0123456789abcdef";
      std::string h;
      for (unsigned char c : doc.text(v)) {
        h += hex[c >> 4];
        h += hex[c & 15];
      }
      return json::Array{"bytes", h};
    }
    case Kind::list: return seq("list");
    case Kind::tuple: return seq("tuple");
    case Kind::set: return seq("set");
    case Kind::dict: {
      json::Value items = json::Array{};
      const auto kv = doc.items(v);
      for (std::size_t i = 0; i + 1 < kv.size(); i += 2)
        items.push_back(json::Array{describe(doc, kv[i]), describe(doc, kv[i + 1])});
      return json::Array{"dict", items};
    }
    default: return json::Array{"other", doc.describe(v)};
  }
}

ErrorCode error_of(const std::vector<std::byte>& bytes, pickle::Limits limits = {}) {
  try {
    pickle::load(bytes, "test.pkl", limits);
  } catch (const biqa::Error& e) {
    return e.code();
  }
  return ErrorCode::internal;  // no error
}

std::string message_of(const biqa_test::PickleWriter& w) {
  try {
    pickle::load(w.data(), "test.pkl");
  } catch (const biqa::Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("pickle: Python values of protocols 2, 4 and 5 read as Python wrote them",
          "[io][pickle]") {
  const auto expected = json::parse(
      std::string_view(reinterpret_cast<const char*>(read_bytes(data_path("pickle/values.json")).data()),
                       read_bytes(data_path("pickle/values.json")).size()));
  for (int proto : {2, 4, 5}) {
    INFO("protocol " << proto);
    const auto bytes = read_bytes(data_path("pickle/values_p" + std::to_string(proto) + ".pkl"));
    const auto doc = pickle::load(bytes, "values.pkl");
    REQUIRE(describe(doc, doc.root).dump() == expected.dump());
    // Every truncation is an error, never a crash.
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      INFO("cut " << cut);
      REQUIRE(error_of({bytes.begin(), bytes.begin() + std::ptrdiff_t(cut)}) == ErrorCode::format);
    }
  }
}

TEST_CASE("pickle: unknown classes become opaque objects that absorb their state",
          "[io][pickle]") {
  // A dict subclass instance (as yacs CfgNode pickles): NEWOBJ, SETITEMS, BUILD; a REDUCE of an
  // unknown function; a call of the result; and a list subclass filled with APPENDS.
  biqa_test::PickleWriter w;
  w.proto().empty_dict();
  w.str("cfg").global("yacs.config", "CfgNode").op(')').op('\x81');
  w.mark().str("lr").integer(1).op('u');
  w.empty_dict().op('b').setitem();
  w.str("fn").global("os", "system").mark().str("rm -rf /").tuple().op('R').setitem();
  w.str("call").global("numpy", "dtype").op(')').op('R').op(')').op('R').setitem();
  w.str("lst").global("mylib", "MyList").op(')').op('\x81').mark().integer(1).integer(2).op('e');
  w.setitem();
  w.str("q").global("torch._utils", "_rebuild_qtensor").op(')').op('R').setitem().stop();
  const auto doc = pickle::load(w.data());
  REQUIRE(doc.root.kind == pickle::Kind::dict);
  const auto* cfg = doc.get(doc.root, "cfg");
  REQUIRE(cfg->kind == pickle::Kind::object);
  REQUIRE(doc.object(*cfg).type == "yacs.config.CfgNode");
  REQUIRE(doc.object(*doc.get(doc.root, "fn")).type == "os.system");
  REQUIRE(doc.get(doc.root, "call")->kind == pickle::Kind::object);
  REQUIRE(doc.object(*doc.get(doc.root, "lst")).type == "mylib.MyList");
  REQUIRE_FALSE(doc.object(*cfg).tensor_like);
  REQUIRE(doc.object(*doc.get(doc.root, "q")).tensor_like);
}

TEST_CASE("pickle: torch tensors, storages, parameters and torch.Size", "[io][pickle]") {
  biqa_test::PickleWriter w;
  w.proto().empty_dict();
  w.str("t").tensor("HalfStorage", "7", 12, 2, {2, 3}, {1, 2}).setitem();
  // _rebuild_parameter(tensor, requires_grad, hooks)
  w.str("p").global("torch._utils", "_rebuild_parameter").mark();
  w.tensor("LongStorage", "8", 1, 0, {}, {}).op('\x88').global("collections", "OrderedDict");
  w.op(')').op('R').tuple().op('R').setitem();
  // torch.Size((4, 5))
  w.str("size").global("torch", "Size").mark().integer(4).integer(5).tuple().op('\x85').op('R');
  w.setitem().stop();
  const auto doc = pickle::load(w.data());
  const auto& t = doc.tensor(*doc.get(doc.root, "t"));
  REQUIRE(t.offset == 2);
  REQUIRE(t.size == std::vector<std::int64_t>{2, 3});
  REQUIRE(t.stride == std::vector<std::int64_t>{1, 2});
  const auto& s = doc.storage(t.storage);
  REQUIRE(s.type == "torch.HalfStorage");
  REQUIRE(s.dtype == biqa::DType::f16);
  REQUIRE(s.dtype_known);
  REQUIRE(s.key == "7");
  REQUIRE(s.location == "cpu");
  REQUIRE(s.numel == 12);
  const auto& p = doc.tensor(*doc.get(doc.root, "p"));
  REQUIRE(doc.storage(p.storage).dtype == biqa::DType::i64);
  REQUIRE(p.size.empty());
  const auto* size = doc.get(doc.root, "size");
  REQUIRE(size->kind == pickle::Kind::tuple);
  REQUIRE(doc.items(*size).size() == 2);
  REQUIRE(doc.items(*size)[1].i == 5);
}

TEST_CASE("pickle: errors name the opcode and offset", "[io][pickle]") {
  using biqa_test::PickleWriter;
  // Outside the subset: text opcodes, extension registry, out-of-band buffers.
  for (char op : {'I', 'p', 'g', 'S', '\x82', '\x97', 'i', 'o'}) {
    PickleWriter w;
    w.proto().op(op).raw({'1', '\n', '.'});
    INFO(int(op));
    REQUIRE(error_of(w.data()) == ErrorCode::unsupported);
  }
  PickleWriter ext;
  ext.proto().empty_list().op('\x82').raw({5, '.'});
  REQUIRE_THAT(message_of(ext), Catch::Contains("test.pkl") && Catch::Contains("offset 3") &&
                                    Catch::Contains("opcode 0x82"));
  REQUIRE_THAT(message_of(PickleWriter().proto(6).stop()), Catch::Contains("protocol 6"));

  // Malformed programs are format errors.
  auto expect_format = [](const PickleWriter& w, const std::string& needle) {
    INFO(needle);
    REQUIRE(error_of(w.data()) == ErrorCode::format);
    REQUIRE_THAT(message_of(w), Catch::Contains(needle));
  };
  expect_format(PickleWriter().proto().stop(), "stack underflow");
  expect_format(PickleWriter().proto().mark().stop(), "stack underflow");
  expect_format(PickleWriter().proto().op('t'), "no MARK");
  expect_format(PickleWriter().proto().get(3).stop(), "memo entry 3");
  expect_format(PickleWriter().proto().integer(0).integer(1).integer(2).setitem().stop(),
                "SETITEM on a int");
  expect_format(PickleWriter().proto().empty_dict().integer(1).op('a').stop(), "APPEND on a dict");
  expect_format(PickleWriter().proto().mark().integer(1).op('d').stop(), "odd number");
  expect_format(PickleWriter().proto().empty_list(), "without STOP");
  expect_format(PickleWriter().proto().raw({'X', 10, 0, 0, 0, 'a'}), "truncated");
  expect_format(PickleWriter().proto().raw({'\x8d', 0, 0, 0, 0, 0, 0, 0, '\x80'}), "truncated");
  expect_format(PickleWriter().proto().raw({'T', 0, 0, 0, '\x80'}), "negative string length");
  expect_format(PickleWriter().proto().raw({'\x95', 100, 0, 0, 0, 0, 0, 0, 0}).stop(), "frame");
  expect_format(PickleWriter().proto().raw({'c', 'a', 'b'}), "newline");
  expect_format(PickleWriter().proto().integer(1).integer(2).op('\x93').stop(), "STACK_GLOBAL");
  // Persistent ids must be torch storages; rebuild arguments must have the right types.
  expect_format(PickleWriter().proto().str("x").op('Q').stop(), "persistent id");
  expect_format(PickleWriter().proto().mark().str("storage").global("os", "system").str("0")
                    .str("cpu").integer(1).tuple().op('Q').stop(),
                "torch storage class");
  expect_format(PickleWriter().proto().global("torch._utils", "_rebuild_tensor_v2").mark()
                    .integer(1).integer(2).integer(3).integer(4).integer(5).integer(6).tuple()
                    .op('R').stop(),
                "needs a storage");
  expect_format(PickleWriter().proto().global("torch._utils", "_rebuild_tensor_v2").op(')')
                    .op('R').stop(),
                "0 arguments");
  expect_format(PickleWriter().proto().global("torch._utils", "_rebuild_parameter").op(')')
                    .op('R').stop(),
                "needs a tensor");
}

TEST_CASE("pickle: limits hold against hostile programs", "[io][pickle]") {
  pickle::Limits small;
  small.max_stack = 100;
  small.max_memo = 10;
  small.max_values = 1000;
  biqa_test::PickleWriter deep;
  deep.proto();
  for (int i = 0; i < 200; ++i) deep.op('N');
  deep.stop();
  REQUIRE(error_of(deep.data(), small) == ErrorCode::format);
  REQUIRE(error_of(deep.data()) == ErrorCode::internal);  // fine with the default limits

  biqa_test::PickleWriter memo;
  memo.proto().op('N');
  for (int i = 0; i < 20; ++i) memo.raw({'r', char(i), 1, 0, 0});
  memo.stop();
  REQUIRE(error_of(memo.data(), small) == ErrorCode::format);

  biqa_test::PickleWriter values;
  values.proto().empty_list().op('q').raw({0});
  for (int i = 0; i < 1100; ++i) values.op('N').op('a');
  values.stop();
  REQUIRE(error_of(values.data(), small) == ErrorCode::format);

  // A list that contains itself, and 100000 nested lists: built and destroyed without recursion.
  biqa_test::PickleWriter cycle;
  cycle.proto().empty_list().put(0).get(0).op('a').stop();
  const auto doc = pickle::load(cycle.data());
  REQUIRE(doc.items(doc.root).size() == 1);
  REQUIRE(doc.items(doc.root)[0].ref == doc.root.ref);
  biqa_test::PickleWriter nested;
  nested.proto();
  for (int i = 0; i < 100000; ++i) nested.empty_list();
  for (int i = 0; i < 99999; ++i) nested.op('a');
  nested.stop();
  REQUIRE(pickle::load(nested.data()).container_count() == 100000);

  // A tensor subclass nested in itself more than a few levels is refused, not recursed into:
  // _rebuild_from_type_v2(_rebuild_from_type_v2, None, (_rebuild_from_type_v2, None, (...), None), None)
  biqa_test::PickleWriter sub;
  sub.proto().global("torch._tensor", "_rebuild_from_type_v2");
  for (int i = 0; i < 20; ++i) sub.mark().global("torch._tensor", "_rebuild_from_type_v2").op('N');
  sub.op(')');
  for (int i = 0; i < 20; ++i) sub.op('N').tuple();
  sub.op('R').stop();
  REQUIRE(error_of(sub.data()) == ErrorCode::format);
  REQUIRE_THAT(message_of(sub), Catch::Contains("nested more than 8"));
}
