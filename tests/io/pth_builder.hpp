#pragma once
// Small writers for hand-made test inputs: pickle programs opcode by opcode, and ZIP archives of
// stored entries (optionally with zip64 extra fields), to reach the error paths of the readers
// that no real torch.save output takes.

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "biqa/io/zip.hpp"

namespace biqa_test {

inline std::vector<std::byte> to_bytes(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

inline void put_le(std::string& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

class PickleWriter {
 public:
  std::string bytes;

  PickleWriter& proto(int p = 2) { return raw({'\x80', char(p)}); }
  PickleWriter& op(char c) {
    bytes += c;
    return *this;
  }
  PickleWriter& raw(std::initializer_list<char> cs) {
    for (char c : cs) bytes += c;
    return *this;
  }
  PickleWriter& str(std::string_view s) {
    bytes += 'X';
    put_le(bytes, s.size(), 4);
    bytes += s;
    return *this;
  }
  PickleWriter& integer(std::int64_t v) {
    if (v >= 0 && v < 256) {
      bytes += 'K';
      bytes += static_cast<char>(v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      bytes += 'J';
      put_le(bytes, static_cast<std::uint32_t>(v), 4);
    } else {
      bytes += '\x8a';
      bytes += '\x08';
      put_le(bytes, static_cast<std::uint64_t>(v), 8);
    }
    return *this;
  }
  PickleWriter& global(std::string_view module, std::string_view name) {
    bytes += 'c';
    bytes += module;
    bytes += '\n';
    bytes += name;
    bytes += '\n';
    return *this;
  }
  PickleWriter& mark() { return op('('); }
  PickleWriter& tuple() { return op('t'); }
  PickleWriter& empty_dict() { return op('}'); }
  PickleWriter& empty_list() { return op(']'); }
  PickleWriter& setitem() { return op('s'); }
  PickleWriter& stop() { return op('.'); }
  PickleWriter& put(std::uint8_t i) { return raw({'q', char(i)}); }
  PickleWriter& get(std::uint8_t i) { return raw({'h', char(i)}); }

  // What torch.save writes for one tensor:
  //   _rebuild_tensor_v2(persistent_load(('storage', torch.<storage_class>, key, 'cpu', numel)),
  //                      offset, size, stride, False, OrderedDict())
  PickleWriter& tensor(std::string_view storage_class, std::string_view key, std::int64_t numel,
                       std::int64_t offset, std::initializer_list<std::int64_t> size,
                       std::initializer_list<std::int64_t> stride) {
    global("torch._utils", "_rebuild_tensor_v2");
    mark();
    mark().str("storage").global("torch", storage_class).str(key).str("cpu").integer(numel).tuple();
    op('Q');
    integer(offset);
    mark();
    for (auto s : size) integer(s);
    tuple();
    mark();
    for (auto s : stride) integer(s);
    tuple();
    op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    tuple();
    return op('R');
  }

  std::vector<std::byte> data() const { return to_bytes(bytes); }
};

struct ZipMember {
  std::string name;
  std::string data;
};

// A ZIP of stored entries. With zip64, sizes and offsets are written as 0xffffffff in the fixed
// fields and given in zip64 extra fields, and the zip64 end records are added.
inline std::vector<std::byte> make_zip(const std::vector<ZipMember>& members, bool zip64 = false) {
  std::string out, cd;
  for (const auto& m : members) {
    const std::uint32_t crc = biqa::io::crc32(
        {reinterpret_cast<const std::byte*>(m.data.data()), m.data.size()});
    const std::uint64_t offset = out.size();
    std::string extra;
    if (zip64) {
      put_le(extra, 1, 2);
      put_le(extra, 24, 2);
      put_le(extra, m.data.size(), 8);
      put_le(extra, m.data.size(), 8);
      put_le(extra, offset, 8);
    }
    const std::uint64_t size32 = zip64 ? 0xffffffffu : m.data.size();
    put_le(out, biqa::io::ZipArchive::local_header_signature, 4);
    put_le(out, zip64 ? 45 : 20, 2);
    put_le(out, 0, 2);  // flags
    put_le(out, 0, 2);  // stored
    put_le(out, 0, 4);  // time, date
    put_le(out, crc, 4);
    put_le(out, size32, 4);
    put_le(out, size32, 4);
    put_le(out, m.name.size(), 2);
    put_le(out, 0, 2);
    out += m.name;
    out += m.data;

    put_le(cd, biqa::io::ZipArchive::central_header_signature, 4);
    put_le(cd, zip64 ? 45 : 20, 2);
    put_le(cd, zip64 ? 45 : 20, 2);
    put_le(cd, 0, 2);
    put_le(cd, 0, 2);
    put_le(cd, 0, 4);
    put_le(cd, crc, 4);
    put_le(cd, size32, 4);
    put_le(cd, size32, 4);
    put_le(cd, m.name.size(), 2);
    put_le(cd, extra.size(), 2);
    put_le(cd, 0, 2);  // comment
    put_le(cd, 0, 2);  // disk
    put_le(cd, 0, 2);
    put_le(cd, 0, 4);
    put_le(cd, zip64 ? 0xffffffffu : offset, 4);
    cd += m.name;
    cd += extra;
  }
  const std::uint64_t cd_offset = out.size();
  out += cd;
  if (zip64) {
    const std::uint64_t z = out.size();
    put_le(out, biqa::io::ZipArchive::zip64_end_signature, 4);
    put_le(out, 44, 8);
    put_le(out, 45, 2);
    put_le(out, 45, 2);
    put_le(out, 0, 4);
    put_le(out, 0, 4);
    put_le(out, members.size(), 8);
    put_le(out, members.size(), 8);
    put_le(out, cd.size(), 8);
    put_le(out, cd_offset, 8);
    put_le(out, biqa::io::ZipArchive::zip64_locator_signature, 4);
    put_le(out, 0, 4);
    put_le(out, z, 8);
    put_le(out, 1, 4);
  }
  put_le(out, biqa::io::ZipArchive::end_signature, 4);
  put_le(out, 0, 4);
  put_le(out, zip64 ? 0xffff : members.size(), 2);
  put_le(out, zip64 ? 0xffff : members.size(), 2);
  put_le(out, zip64 ? 0xffffffffu : cd.size(), 4);
  put_le(out, zip64 ? 0xffffffffu : cd_offset, 4);
  put_le(out, 0, 2);
  return to_bytes(out);
}

inline std::string floats(std::initializer_list<float> v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.begin(), s.size());
  return s;
}

// A torch.save-like archive: <archive>/data.pkl, <archive>/data/<key>..., <archive>/version.
inline std::vector<std::byte> make_checkpoint(const PickleWriter& pkl,
                                              const std::vector<std::pair<std::string, std::string>>& storages,
                                              const std::string& archive = "archive") {
  std::vector<ZipMember> m{{archive + "/data.pkl", pkl.bytes}};
  for (const auto& [k, v] : storages) m.push_back({archive + "/data/" + k, v});
  m.push_back({archive + "/version", "3\n"});
  return make_zip(m);
}

}  // namespace biqa_test
