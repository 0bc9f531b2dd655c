#pragma once
/// @file
/// A pickle reader for what torch.save writes: a state_dict, or a dict holding state_dicts beside
/// other Python objects. Nothing is executed. The pickle program is run on a small virtual
/// machine that only builds data: None, bools, ints, floats, strings, bytes, lists, tuples, dicts
/// and sets. Classes and functions named by GLOBAL are looked up in a fixed table of the few that
/// torch.save needs (the tensor and parameter rebuild functions, the storage classes,
/// collections.OrderedDict, torch.Size, set/frozenset, bytes/bytearray, _codecs.encode); anything else becomes an
/// opaque object, and calling, instantiating or filling it (REDUCE, NEWOBJ, BUILD, SETITEMS...)
/// yields another opaque object, so a config class, an argparse Namespace, numpy scalars or an
/// optimizer state beside the weights are read past and can be skipped.
///
/// Supported opcodes: the binary ones of protocols 2-5 (see `run`); the text opcodes of protocols
/// 0-1, extension registry opcodes and out-of-band buffers give ErrorCode::unsupported.
/// Containers live in tables of the Document and are referred to by index, so shared and even
/// cyclic structures (possible through the memo) cost nothing to build or destroy.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "biqa/core/dtype.hpp"
#include "biqa/core/error.hpp"

namespace biqa::io::pickle {

enum class Kind : std::uint8_t {
  none,
  boolean,
  integer,      // fits in int64 (i)
  big_integer,  // an int beyond int64: kept as a marker only
  floating,     // f
  string,       // text(v)
  bytes,        // text(v)
  list,         // items(v)
  tuple,        // items(v)
  dict,         // items(v): key0, value0, key1, value1, ... in insertion order
  set,          // items(v) (set and frozenset)
  global,       // a class or function: global(v)
  object,       // an opaque Python object: object(v)
  storage,      // a torch storage named by a persistent id: storage(v)
  tensor,       // a tensor rebuilt by torch._utils._rebuild_tensor_v2: tensor(v)
};

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer:
    case Kind::big_integer: return "int";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::list: return "list";
    case Kind::tuple: return "tuple";
    case Kind::dict: return "dict";
    case Kind::set: return "set";
    case Kind::global: return "global";
    case Kind::object: return "object";
    case Kind::storage: return "storage";
    case Kind::tensor: return "tensor";
  }
  return "?";
}

/// A value on the VM stack or in a container: scalars inline, everything else an index into one
/// of the Document's tables (so containers are shared by reference, as in Python).
struct Value {
  Kind kind = Kind::none;
  std::uint32_t ref = 0;
  union {
    std::int64_t i = 0;
    double f;
  };
};

/// What a GLOBAL names, as far as this reader is concerned.
enum class Builtin : std::uint8_t {
  opaque,                // anything not in the table
  ordered_dict,          // collections.OrderedDict
  set,                   // builtins.set
  frozenset,             // builtins.frozenset
  codecs_encode,         // _codecs.encode (protocol 2 writes bytes through it)
  bytes,                 // builtins.bytes, builtins.bytearray
  torch_size,            // torch.Size
  storage_type,          // torch.FloatStorage and friends
  rebuild_tensor,        // torch._utils._rebuild_tensor (storage, offset, size, stride)
  rebuild_tensor_v2,     // torch._utils._rebuild_tensor_v2 (... requires_grad, hooks[, metadata])
  rebuild_parameter,     // torch._utils._rebuild_parameter(_with_state) (data, ...)
  rebuild_from_type_v2,  // torch._tensor._rebuild_from_type_v2 (func, type, args, state)
  other_tensor_rebuild,  // torch._utils._rebuild_qtensor, _sparse_, ...: a tensor biqa cannot read
};

struct Global {
  std::string module, name;
  Builtin builtin = Builtin::opaque;
  DType dtype = DType::f32;  ///< for storage_type with a known element type
  bool dtype_known = false;
  std::string qualified() const { return module + "." + name; }
};

struct Object {
  std::string type;          // what was called or instantiated, e.g. "__main__.Config"
  bool tensor_like = false;  ///< the result of a torch rebuild function biqa does not read
};

/// ('storage', `torch.<T>Storage`, key, location, numel): the tensor bytes are in `<archive>/data/<key>`.
struct Storage {
  std::string type;  // "torch.FloatStorage"
  DType dtype = DType::f32;
  bool dtype_known = false;
  std::string key, location;
  std::int64_t numel = 0;
};

struct TensorInfo {
  std::uint32_t storage = 0;  ///< index into storages
  std::int64_t offset = 0;    ///< in elements
  std::vector<std::int64_t> size, stride;
  bool requires_grad = false;
};

struct Limits {
  std::size_t max_stack = std::size_t(1) << 20;   ///< values on the VM stack (all marks together)
  std::size_t max_memo = std::size_t(1) << 22;    ///< memo entries
  std::size_t max_values = std::size_t(1) << 26;  ///< values held in containers, in all
  std::size_t max_global_name = 4096;             ///< bytes of a GLOBAL module or name
};

class Document {
 public:
  Value root;

  const std::string& text(const Value& v) const { return strings_.at(v.ref); }
  std::span<const Value> items(const Value& v) const {
    const auto& c = containers_.at(v.ref);
    return {c.data(), c.size()};
  }
  const Global& global(const Value& v) const { return globals_.at(v.ref); }
  const Object& object(const Value& v) const { return objects_.at(v.ref); }
  const Storage& storage(const Value& v) const { return storages_.at(v.ref); }
  const Storage& storage(std::uint32_t index) const { return storages_.at(index); }
  const TensorInfo& tensor(const Value& v) const { return tensors_.at(v.ref); }

  static bool is_container(Kind k) {
    return k == Kind::list || k == Kind::tuple || k == Kind::dict || k == Kind::set;
  }
  std::size_t container_count() const { return containers_.size(); }
  std::size_t value_count() const { return values_; }

  /// The value of string key `key` in a dict (the last one, as Python keeps), or nullptr.
  const Value* get(const Value& dict, std::string_view key) const {
    if (dict.kind != Kind::dict) return nullptr;
    const auto kv = items(dict);
    for (std::size_t i = kv.size(); i >= 2; i -= 2)
      if (kv[i - 2].kind == Kind::string && text(kv[i - 2]) == key) return &kv[i - 1];
    return nullptr;
  }

  /// A short description for error messages: "str 'abc'", "object __main__.Config".
  std::string describe(const Value& v) const {
    switch (v.kind) {
      case Kind::integer: return cat("int ", v.i);
      case Kind::string: {
        const auto& s = text(v);
        return cat("str '", s.size() > 40 ? s.substr(0, 40) + "..." : s, "'");
      }
      case Kind::global: return "global " + global(v).qualified();
      case Kind::object: return "object " + object(v).type;
      default: return kind_name(v.kind);
    }
  }

 private:
  friend class Unpickler;
  std::vector<std::string> strings_;
  std::vector<std::vector<Value>> containers_;
  std::vector<Global> globals_;
  std::vector<Object> objects_;
  std::vector<Storage> storages_;
  std::vector<TensorInfo> tensors_;
  std::size_t values_ = 0;
};

class Unpickler {
 public:
  Unpickler(std::span<const std::byte> data, std::string name, Limits limits = {})
      : data_(data), name_(std::move(name)), limits_(limits) {}

  Document run() {
    while (true) {
      op_pos_ = pos_;
      const std::uint8_t op = u8();
      switch (op) {
        case 0x80: {  // PROTO
          const std::uint8_t p = u8();
          if (p > 5) fail(ErrorCode::unsupported, where(), "pickle protocol ", int(p), " (at most 5 is read)");
          break;
        }
        case 0x95: {  // FRAME: a length prefix for buffered readers; the data follows inline
          const std::uint64_t n = u64();
          if (n > remaining()) bad("frame of ", n, " bytes runs past the end: truncated?");
          break;
        }
        case '.': {  // STOP
          doc_.root = pop();
          return std::move(doc_);
        }
        case '(': push_mark(); break;  // MARK
        case '0': pop(); break;        // POP
        case '1': pop_mark(); break;   // POP_MARK
        case '2': {  // DUP
          const Value v = top();
          push(v);
          break;
        }

        case 'N': push(Value{}); break;  // NONE
        case 0x88: push(boolean(true)); break;   // NEWTRUE
        case 0x89: push(boolean(false)); break;  // NEWFALSE
        case 'J': push(integer(static_cast<std::int32_t>(u32()))); break;  // BININT
        case 'K': push(integer(u8())); break;                              // BININT1
        case 'M': push(integer(u16())); break;                             // BININT2
        case 0x8a: push(long_int(u8())); break;                            // LONG1
        case 0x8b: push(long_int(u32())); break;                           // LONG4
        case 'G': {  // BINFLOAT: big-endian IEEE double
          const auto b = take(8);
          std::uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = bits << 8 | std::to_integer<std::uint64_t>(b[std::size_t(k)]);
          Value v;
          v.kind = Kind::floating;
          std::memcpy(&v.f, &bits, 8);
          push(v);
          break;
        }

        case 'X': push(text(Kind::string, u32())); break;     // BINUNICODE
        case 0x8c: push(text(Kind::string, u8())); break;     // SHORT_BINUNICODE
        case 0x8d: push(text(Kind::string, u64())); break;    // BINUNICODE8
        case 'T': push(text(Kind::string, s32_len())); break; // BINSTRING (Python 2 str)
        case 'U': push(text(Kind::string, u8())); break;      // SHORT_BINSTRING
        case 'C': push(text(Kind::bytes, u8())); break;       // SHORT_BINBYTES
        case 'B': push(text(Kind::bytes, u32())); break;      // BINBYTES
        case 0x8e: push(text(Kind::bytes, u64())); break;     // BINBYTES8
        case 0x96: push(text(Kind::bytes, u64())); break;     // BYTEARRAY8

        case '}': push(container(Kind::dict)); break;   // EMPTY_DICT
        case ']': push(container(Kind::list)); break;   // EMPTY_LIST
        case ')': push(container(Kind::tuple)); break;  // EMPTY_TUPLE
        case 0x8f: push(container(Kind::set)); break;   // EMPTY_SET
        case 't': push(container(Kind::tuple, pop_mark())); break;      // TUPLE
        case 'l': push(container(Kind::list, pop_mark())); break;       // LIST
        case 0x91: push(container(Kind::set, pop_mark())); break;       // FROZENSET
        case 0x85: push(container(Kind::tuple, pop_n(1))); break;       // TUPLE1
        case 0x86: push(container(Kind::tuple, pop_n(2))); break;       // TUPLE2
        case 0x87: push(container(Kind::tuple, pop_n(3))); break;       // TUPLE3
        case 'd': {  // DICT
          auto kv = pop_mark();
          if (kv.size() % 2) bad("DICT with an odd number of items");
          push(container(Kind::dict, std::move(kv)));
          break;
        }
        case 's': {  // SETITEM
          const Value v = pop();
          const Value k = pop();
          add_to(top(), Kind::dict, {k, v}, "SETITEM");
          break;
        }
        case 'u': {  // SETITEMS
          auto kv = pop_mark();
          if (kv.size() % 2) bad("SETITEMS with an odd number of items");
          add_to(top(), Kind::dict, std::move(kv), "SETITEMS");
          break;
        }
        case 'a': {  // APPEND
          const Value v = pop();
          add_to(top(), Kind::list, {v}, "APPEND");
          break;
        }
        case 'e':     // APPENDS
        case 0x90: {  // ADDITEMS
          auto items = pop_mark();  // before top(): the target lies below the mark
          add_to(top(), op == 'e' ? Kind::list : Kind::set, std::move(items),
                 op == 'e' ? "APPENDS" : "ADDITEMS");
          break;
        }

        case 'q': memo_put(u8()); break;    // BINPUT
        case 'r': memo_put(u32()); break;   // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;  // MEMOIZE
        case 'h': memo_get(u8()); break;    // BINGET
        case 'j': memo_get(u32()); break;   // LONG_BINGET

        case 'c': {  // GLOBAL: "module\nname\n"
          std::string module = line();
          std::string name = line();
          push(global(std::move(module), std::move(name)));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const Value name = pop();
          const Value module = pop();
          if (module.kind != Kind::string || name.kind != Kind::string)
            bad("STACK_GLOBAL needs two strings, got ", doc_.describe(module), " and ",
                doc_.describe(name));
          if (doc_.text(module).size() > limits_.max_global_name ||
              doc_.text(name).size() > limits_.max_global_name)
            bad("STACK_GLOBAL name longer than ", limits_.max_global_name, " bytes");
          push(global(doc_.text(module), doc_.text(name)));
          break;
        }
        case 'R': {  // REDUCE: callable(*args)
          const Value args = pop();
          const Value callable = pop();
          push(call(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args)
          const Value args = pop();
          const Value cls = pop();
          push(instantiate(cls, args));
          break;
        }
        case 0x92: {  // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
          pop();
          const Value args = pop();
          const Value cls = pop();
          push(instantiate(cls, args));
          break;
        }
        case 'b': {  // BUILD: obj.__setstate__(state). Object state is of no use here: dropped.
          pop();
          top();
          break;
        }
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID

        default:
          fail(ErrorCode::unsupported, where(), "pickle opcode 0x", hex(op),
               (op >= 0x20 && op < 0x7f) ? cat(" ('", char(op), "')") : std::string(),
               " is outside the subset biqa reads (the binary opcodes torch.save writes)");
      }
    }
  }

 private:
  template <typename... A>
  [[noreturn]] void bad(const A&... what) const {
    fail(ErrorCode::format, where(), what...);
  }
  std::string where() const { return cat(name_, ": pickle offset ", op_pos_, ": "); }
  static std::string hex(std::uint8_t b) {
    static constexpr char d[] = "0123456789abcdef";
    return {d[b >> 4], d[b & 15]};
  }

  /// ---- reading the program ----
  std::size_t remaining() const { return data_.size() - pos_; }
  std::span<const std::byte> take(std::uint64_t n) {
    if (n > remaining())
      bad("opcode needs ", n, " bytes but only ", remaining(), " remain: truncated?");
    auto s = data_.subspan(pos_, static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::uint64_t le(int n) {
    const auto b = take(std::uint64_t(n));
    std::uint64_t v = 0;
    for (int k = n - 1; k >= 0; --k) v = v << 8 | std::to_integer<std::uint64_t>(b[std::size_t(k)]);
    return v;
  }
  std::uint8_t u8() {
    if (pos_ >= data_.size()) bad("the pickle ends without STOP: truncated?");
    return std::to_integer<std::uint8_t>(data_[pos_++]);
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }
  std::uint64_t s32_len() {
    const auto n = static_cast<std::int32_t>(u32());
    if (n < 0) bad("negative string length ", n);
    return std::uint64_t(n);
  }
  std::string line() {
    const std::size_t limit = std::min(remaining(), limits_.max_global_name + 1);
    const auto* p = reinterpret_cast<const char*>(data_.data() + pos_);
    const void* nl = std::memchr(p, '\n', limit);
    if (!nl) bad("GLOBAL name without a newline within ", limit, " bytes");
    const std::size_t n = std::size_t(static_cast<const char*>(nl) - p);
    pos_ += n + 1;
    return std::string(p, n);
  }

  /// ---- the stack ----
  void push(const Value& v) {
    if (stack_.size() >= limits_.max_stack) bad("stack deeper than ", limits_.max_stack);
    stack_.push_back(v);
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Value pop() {
    if (stack_.size() <= floor()) bad("stack underflow");
    const Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  const Value& top() const {
    if (stack_.size() <= floor()) bad("stack underflow");
    return stack_.back();
  }
  void push_mark() {
    if (marks_.size() >= limits_.max_stack) bad("more than ", limits_.max_stack, " marks");
    marks_.push_back(stack_.size());
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) bad("no MARK to pop to");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value> out(stack_.begin() + std::ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  std::vector<Value> pop_n(std::size_t n) {
    if (stack_.size() < floor() + n) bad("stack underflow");
    std::vector<Value> out(stack_.end() - std::ptrdiff_t(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return out;
  }

  /// ---- the memo ----
  void memo_put(std::uint64_t index) {
    const Value v = top();
    if (memo_.size() >= limits_.max_memo && !memo_.count(index))
      bad("memo larger than ", limits_.max_memo, " entries");
    memo_[index] = v;
  }
  void memo_get(std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) bad("memo entry ", index, " was never stored");
    push(it->second);
  }

  /// ---- values ----
  static Value boolean(bool b) {
    Value v;
    v.kind = Kind::boolean;
    v.i = b;
    return v;
  }
  static Value integer(std::int64_t i) {
    Value v;
    v.kind = Kind::integer;
    v.i = i;
    return v;
  }
  /// LONG1/LONG4: little-endian two's complement of n bytes.
  Value long_int(std::uint64_t n) {
    const auto b = take(n);
    if (n > 8) {
      Value v;
      v.kind = Kind::big_integer;
      return v;
    }
    std::uint64_t u = 0;
    for (std::size_t k = n; k-- > 0;) u = u << 8 | std::to_integer<std::uint64_t>(b[k]);
    if (n > 0 && n < 8 && (std::to_integer<unsigned>(b[n - 1]) & 0x80u)) u |= ~std::uint64_t(0) << (8 * n);
    return integer(static_cast<std::int64_t>(u));
  }
  Value text(Kind kind, std::uint64_t n) {
    const auto b = take(n);
    return new_string(kind, std::string(reinterpret_cast<const char*>(b.data()), b.size()));
  }
  Value new_string(Kind kind, std::string s) {
    Value v;
    v.kind = kind;
    v.ref = index_for(doc_.strings_.size());
    doc_.strings_.push_back(std::move(s));
    return v;
  }
  Value container(Kind kind, std::vector<Value> items = {}) {
    count_values(items.size());
    Value v;
    v.kind = kind;
    v.ref = index_for(doc_.containers_.size());
    doc_.containers_.push_back(std::move(items));
    return v;
  }
  Value object(std::string type, bool tensor_like = false) {
    Value v;
    v.kind = Kind::object;
    v.ref = index_for(doc_.objects_.size());
    doc_.objects_.push_back({std::move(type), tensor_like});
    return v;
  }
  std::uint32_t index_for(std::size_t n) const {
    if (n >= 0xffffffffu) bad("too many values");
    return static_cast<std::uint32_t>(n);
  }
  void count_values(std::size_t n) {
    doc_.values_ += n;
    if (doc_.values_ > limits_.max_values) bad("more than ", limits_.max_values, " values");
  }

  /// SETITEM(S)/APPEND(S)/ADDITEMS on a container of the right kind; an opaque object (a dict or
  /// list subclass such as a yacs CfgNode) absorbs them, since its contents are skipped anyway.
  void add_to(const Value& target, Kind kind, std::vector<Value> items, const char* op) {
    if (target.kind == Kind::object) return;
    if (target.kind != kind)
      bad(op, " on a ", kind_name(target.kind), " (needs a ", kind_name(kind), ")");
    count_values(items.size());
    auto& c = doc_.containers_[target.ref];
    c.insert(c.end(), items.begin(), items.end());
  }

  Value global(std::string module, std::string name) {
    Global g;
    g.module = std::move(module);
    g.name = std::move(name);
    classify(g);
    Value v;
    v.kind = Kind::global;
    v.ref = index_for(doc_.globals_.size());
    doc_.globals_.push_back(std::move(g));
    return v;
  }

  static void classify(Global& g) {
    const std::string& m = g.module;
    const std::string& n = g.name;
    if (m == "collections" && n == "OrderedDict") {
      g.builtin = Builtin::ordered_dict;
    } else if ((m == "builtins" || m == "__builtin__") && (n == "set" || n == "frozenset")) {
      g.builtin = n == "set" ? Builtin::set : Builtin::frozenset;
    } else if ((m == "builtins" || m == "__builtin__") && (n == "bytes" || n == "bytearray")) {
      g.builtin = Builtin::bytes;
    } else if (m == "_codecs" && n == "encode") {
      g.builtin = Builtin::codecs_encode;
    } else if (m == "torch" && n == "Size") {
      g.builtin = Builtin::torch_size;
    } else if ((m == "torch" || m == "torch.cuda") && n.size() > 7 &&
               n.compare(n.size() - 7, 7, "Storage") == 0) {
      g.builtin = Builtin::storage_type;
      static constexpr struct {
        const char* name;
        DType dtype;
      } table[] = {{"FloatStorage", DType::f32},   {"DoubleStorage", DType::f64},
                   {"HalfStorage", DType::f16},    {"BFloat16Storage", DType::bf16},
                   {"LongStorage", DType::i64},    {"IntStorage", DType::i32},
                   {"ShortStorage", DType::i16},   {"CharStorage", DType::i8},
                   {"ByteStorage", DType::u8},     {"BoolStorage", DType::boolean}};
      for (const auto& e : table)
        if (n == e.name) {
          g.dtype = e.dtype;
          g.dtype_known = true;
        }
    } else if (m == "torch._utils" && n == "_rebuild_tensor_v2") {
      g.builtin = Builtin::rebuild_tensor_v2;
    } else if (m == "torch._utils" && n == "_rebuild_tensor") {
      g.builtin = Builtin::rebuild_tensor;
    } else if (m == "torch._utils" &&
               (n == "_rebuild_parameter" || n == "_rebuild_parameter_with_state")) {
      g.builtin = Builtin::rebuild_parameter;
    } else if (m == "torch._tensor" && n == "_rebuild_from_type_v2") {
      g.builtin = Builtin::rebuild_from_type_v2;
    } else if ((m == "torch._utils" || m == "torch._tensor") && n.rfind("_rebuild_", 0) == 0) {
      g.builtin = Builtin::other_tensor_rebuild;
    }
  }

  /// The items of a tuple, list or set (a copy: the tables may grow while it is used); none for
  /// anything else.
  std::vector<Value> tuple_items(const Value& args) const {
    if (args.kind != Kind::tuple && args.kind != Kind::list && args.kind != Kind::set) return {};
    const auto s = doc_.items(args);
    return {s.begin(), s.end()};
  }

  Value call(const Value& callable, const Value& args) {
    if (callable.kind != Kind::global) return object("<call of " + doc_.describe(callable) + ">");
    const Global g = doc_.global(callable);
    const std::vector<Value> a = tuple_items(args);
    switch (g.builtin) {
      case Builtin::ordered_dict: {
        // OrderedDict() or OrderedDict([(k, v), ...])
        std::vector<Value> kv;
        if (!a.empty() && (a[0].kind == Kind::list || a[0].kind == Kind::tuple)) {
          for (const Value& pair : tuple_items(a[0])) {
            const auto p = tuple_items(pair);
            if (p.size() != 2) bad("OrderedDict item is not a (key, value) pair");
            kv.push_back(p[0]);
            kv.push_back(p[1]);
          }
        }
        return container(Kind::dict, std::move(kv));
      }
      case Builtin::set:
      case Builtin::frozenset: {
        return container(Kind::set, a.empty() ? std::vector<Value>{} : tuple_items(a[0]));
      }
      case Builtin::torch_size:
        if (a.size() == 1 && (a[0].kind == Kind::tuple || a[0].kind == Kind::list))
          return container(Kind::tuple, tuple_items(a[0]));
        bad("torch.Size needs one tuple argument");
      case Builtin::codecs_encode: return codecs_encode(a);
      case Builtin::bytes:
        // bytes() / bytearray(b) / bytearray(str, 'latin-1'), as protocol 2 writes them
        if (a.empty()) return new_string(Kind::bytes, {});
        if (a.size() == 1 && a[0].kind == Kind::bytes) return a[0];
        return codecs_encode(a);
      case Builtin::rebuild_tensor:
      case Builtin::rebuild_tensor_v2: return rebuild_tensor(g, a);
      case Builtin::rebuild_parameter:
        if (a.empty() || a[0].kind != Kind::tensor)
          bad(g.qualified(), " needs a tensor as its first argument");
        return a[0];
      case Builtin::rebuild_from_type_v2: {
        // (func, type, args, state): a tensor subclass; rebuild the plain tensor.
        if (a.size() < 3 || a[2].kind != Kind::tuple)
          bad(g.qualified(), " needs (func, type, args, state)");
        if (++rebuild_depth_ > 8) bad(g.qualified(), " nested more than 8 deep");
        const Value v = call(a[0], a[2]);
        --rebuild_depth_;
        return v;
      }
      case Builtin::other_tensor_rebuild: return object(g.qualified(), true);
      case Builtin::storage_type:
      case Builtin::opaque: break;
    }
    return object(g.qualified());
  }

  Value instantiate(const Value& cls, const Value& args) {
    if (cls.kind == Kind::global) {
      const Builtin b = doc_.global(cls).builtin;
      if (b == Builtin::ordered_dict) return container(Kind::dict);
      if (b == Builtin::set || b == Builtin::frozenset) return call(cls, args);
      return object(doc_.global(cls).qualified());
    }
    return object("<instance of " + doc_.describe(cls) + ">");
  }

  /// Protocol 2 pickles bytes as _codecs.encode(str, 'latin1'): undo the latin-1 decoding.
  Value codecs_encode(const std::vector<Value>& a) {
    if (a.size() != 2 || a[0].kind != Kind::string || a[1].kind != Kind::string)
      return object("<bytes from unknown arguments>");
    const std::string& enc = doc_.text(a[1]);
    if (enc != "latin1" && enc != "latin-1") return object("<bytes in encoding " + enc + ">");
    const std::string s = doc_.text(a[0]);
    std::string out;
    for (std::size_t k = 0; k < s.size();) {
      const auto c = static_cast<unsigned char>(s[k]);
      if (c < 0x80) {
        out += char(c);
        k += 1;
      } else if ((c & 0xe0u) == 0xc0u && k + 1 < s.size() && c <= 0xc3u) {
        out += char(((c & 0x1fu) << 6) | (static_cast<unsigned char>(s[k + 1]) & 0x3fu));
        k += 2;
      } else {
        bad("_codecs.encode argument is not latin-1 text");
      }
    }
    return new_string(Kind::bytes, std::move(out));
  }

  Value persistent_load(const Value& pid) {
    // torch.save: ('storage', storage_type, key, location, numel)
    const auto t = tuple_items(pid);
    if (pid.kind != Kind::tuple || t.size() != 5 || t[0].kind != Kind::string ||
        doc_.text(t[0]) != "storage")
      bad("persistent id is not a ('storage', type, key, location, numel) tuple but ",
          doc_.describe(pid));
    if (t[1].kind != Kind::global || doc_.global(t[1]).builtin != Builtin::storage_type)
      bad("persistent id names ", doc_.describe(t[1]), " instead of a torch storage class");
    if (t[2].kind != Kind::string || t[3].kind != Kind::string || t[4].kind != Kind::integer)
      bad("persistent id needs a string key, a string location and an int size");
    const Global& g = doc_.global(t[1]);
    Storage s;
    s.type = g.qualified();
    s.dtype = g.dtype;
    s.dtype_known = g.dtype_known;
    s.key = doc_.text(t[2]);
    s.location = doc_.text(t[3]);
    s.numel = t[4].i;
    Value v;
    v.kind = Kind::storage;
    v.ref = index_for(doc_.storages_.size());
    doc_.storages_.push_back(std::move(s));
    return v;
  }

  std::vector<std::int64_t> int_tuple(const Value& v, const char* what) const {
    if (v.kind != Kind::tuple && v.kind != Kind::list)
      bad("tensor ", what, " is a ", kind_name(v.kind), ", not a tuple");
    std::vector<std::int64_t> out;
    for (const Value& e : doc_.items(v)) {
      if (e.kind != Kind::integer) bad("tensor ", what, " holds a ", kind_name(e.kind));
      out.push_back(e.i);
    }
    return out;
  }

  Value rebuild_tensor(const Global& g, const std::vector<Value>& a) {
    const bool v2 = g.builtin == Builtin::rebuild_tensor_v2;
    if (v2 ? (a.size() != 6 && a.size() != 7) : a.size() != 4)
      bad(g.qualified(), " called with ", a.size(), " arguments");
    if (a[0].kind != Kind::storage) bad(g.qualified(), " needs a storage, got ", doc_.describe(a[0]));
    if (a[1].kind != Kind::integer) bad(g.qualified(), " needs an int storage offset");
    TensorInfo t;
    t.storage = a[0].ref;
    t.offset = a[1].i;
    t.size = int_tuple(a[2], "size");
    t.stride = int_tuple(a[3], "stride");
    if (t.size.size() != t.stride.size())
      bad("tensor size has ", t.size.size(), " dimensions but stride ", t.stride.size());
    t.requires_grad = v2 && a[4].kind == Kind::boolean && a[4].i != 0;
    count_values(t.size.size() * 2);
    Value v;
    v.kind = Kind::tensor;
    v.ref = index_for(doc_.tensors_.size());
    doc_.tensors_.push_back(std::move(t));
    return v;
  }

  std::span<const std::byte> data_;
  std::string name_;
  Limits limits_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  int rebuild_depth_ = 0;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value> memo_;
  Document doc_;
};

/// Runs a pickle program; `name` prefixes error messages ("model.pth:archive/data.pkl").
inline Document load(std::span<const std::byte> data, std::string name = "<pickle>",
                     Limits limits = {}) {
  return Unpickler(data, std::move(name), limits).run();
}

}  // namespace biqa::io::pickle
