#pragma once
/// @file
/// ZipArchive: the entries of a ZIP file held in a MappedFile, as spans into the mapping.
/// Enough of the format for PyTorch checkpoints (torch.save writes every entry stored, i.e.
/// uncompressed, and always adds the zip64 end records): the end-of-central-directory record
/// (searched backwards over a possible comment), the zip64 end record and zip64 extra fields, the
/// central directory, and each entry's local header, which is checked against its central entry.
/// Every offset and length is checked against the file before it is used; a malformed archive
/// gives ErrorCode::format, a compressed or encrypted entry ErrorCode::unsupported when read.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "biqa/core/error.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::io {

/// CRC-32 (ISO-HDLC, the one ZIP uses), eight bytes at a time.
namespace detail {
struct Crc32Tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  constexpr Crc32Tables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xffu];
  }
};
inline constexpr Crc32Tables crc32_tables{};
}  // namespace detail

inline std::uint32_t crc32(std::span<const std::byte> data, std::uint32_t crc = 0) {
  const auto& t = detail::crc32_tables.t;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  crc = ~crc;
  while (n >= 8) {
    const std::uint32_t lo = crc ^ (std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 |
                                     std::uint32_t(p[2]) << 16 | std::uint32_t(p[3]) << 24);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

struct ZipEntry {
  std::string name;
  std::uint16_t flags = 0;   ///< general purpose bit flags (bit 0: encrypted)
  std::uint16_t method = 0;  ///< 0 stored, 8 deflate, ...
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint64_t local_header_offset = 0;
  std::uint64_t data_offset = 0;  // where the entry's (possibly compressed) bytes start

  bool is_stored() const { return method == 0; }
};

class ZipArchive {
 public:
  static constexpr std::uint32_t local_header_signature = 0x04034b50;
  static constexpr std::uint32_t central_header_signature = 0x02014b50;
  static constexpr std::uint32_t end_signature = 0x06054b50;
  static constexpr std::uint32_t zip64_end_signature = 0x06064b50;
  static constexpr std::uint32_t zip64_locator_signature = 0x07064b50;

  explicit ZipArchive(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) { parse(); }

  const std::string& path() const { return file_->path(); }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }

  const ZipEntry* find(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &entries_[it->second];
  }

  /// The bytes of a stored entry, pointing into the mapping.
  std::span<const std::byte> data(const ZipEntry& e) const {
    if (e.flags & 1u)
      fail(ErrorCode::unsupported, path(), ": zip entry '", e.name, "' is encrypted");
    if (!e.is_stored())
      fail(ErrorCode::unsupported, path(), ": zip entry '", e.name, "' is compressed (method ",
           e.method, method_name(e.method),
           "); only stored entries are read, as torch.save writes them");
    return {file_->data() + e.data_offset, static_cast<std::size_t>(e.compressed_size)};
  }

  std::span<const std::byte> data(std::string_view name) const {
    const ZipEntry* e = find(name);
    if (!e) fail(ErrorCode::format, path(), ": the archive has no entry '", name, "'");
    return data(*e);
  }

  /// Throws ErrorCode::format when a stored entry's bytes do not match its recorded CRC-32.
  void verify_crc(const ZipEntry& e) const {
    const auto bytes = data(e);
    const std::uint32_t c = crc32(bytes);
    if (c != e.crc32)
      fail(ErrorCode::format, path(), ": zip entry '", e.name, "' is corrupt (CRC-32 ", hex(c),
           ", recorded ", hex(e.crc32), ")");
  }

 private:
  static constexpr std::uint64_t end_size = 22;          ///< without the comment
  static constexpr std::uint64_t zip64_end_size = 56;    ///< without the extensible data
  static constexpr std::uint64_t zip64_locator_size = 20;
  static constexpr std::uint64_t central_header_size = 46;
  static constexpr std::uint64_t local_header_size = 30;

  static const char* method_name(std::uint16_t m) {
    switch (m) {
      case 8: return ", deflate";
      case 9: return ", deflate64";
      case 12: return ", bzip2";
      case 14: return ", lzma";
      case 93: return ", zstd";
      default: return "";
    }
  }
  static std::string hex(std::uint32_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "0x";
    for (int i = 7; i >= 0; --i) s += digits[(v >> (4 * i)) & 0xfu];
    return s;
  }

  template <typename... A>
  [[noreturn]] void bad(const A&... what) const {
    fail(ErrorCode::format, path(), ": ", what...);
  }

  std::uint64_t size() const { return file_->size(); }
  const unsigned char* bytes() const { return reinterpret_cast<const unsigned char*>(file_->data()); }

  /// Little-endian reads; the caller has checked that [pos, pos + n) lies inside the file.
  std::uint64_t le(std::uint64_t pos, int n) const {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | bytes()[pos + std::uint64_t(i)];
    return v;
  }
  std::uint16_t u16(std::uint64_t pos) const { return static_cast<std::uint16_t>(le(pos, 2)); }
  std::uint32_t u32(std::uint64_t pos) const { return static_cast<std::uint32_t>(le(pos, 4)); }
  std::uint64_t u64(std::uint64_t pos) const { return le(pos, 8); }

  bool fits(std::uint64_t pos, std::uint64_t n, std::uint64_t limit) const {
    return pos <= limit && n <= limit - pos;
  }

  void parse() {
    // The end record is the last thing in the file, followed only by its comment (< 64 KiB).
    if (size() < end_size)
      bad("truncated or not a zip archive: ", size(), " bytes, no end of central directory record");
    std::uint64_t eocd = size();
    const std::uint64_t lowest = size() - end_size > 0xffff ? size() - end_size - 0xffff : 0;
    for (std::uint64_t p = size() - end_size + 1; p-- > lowest;) {
      if (u32(p) == end_signature && p + end_size + u16(p + 20) == size()) {
        eocd = p;
        break;
      }
    }
    if (eocd == size())
      bad("truncated or not a zip archive: no end of central directory record");

    std::uint64_t count = u16(eocd + 10);
    std::uint64_t cd_size = u32(eocd + 12);
    std::uint64_t cd_offset = u32(eocd + 16);
    if (u16(eocd + 4) != 0 || u16(eocd + 6) != 0 || u16(eocd + 8) != u16(eocd + 10))
      fail(ErrorCode::unsupported, path(), ": multi-disk zip archives are not supported");
    std::uint64_t cd_limit = eocd;  // the central directory ends before the end records

    // zip64: a locator just before the end record points at the zip64 end record, whose
    // 64-bit counts replace the 16/32-bit ones.
    if (eocd >= zip64_locator_size && u32(eocd - zip64_locator_size) == zip64_locator_signature) {
      const std::uint64_t loc = eocd - zip64_locator_size;
      const std::uint64_t z = u64(loc + 8);
      if (u32(loc + 4) != 0 || u32(loc + 16) > 1)
        fail(ErrorCode::unsupported, path(), ": multi-disk zip archives are not supported");
      if (!fits(z, zip64_end_size, loc))
        bad("zip64 end of central directory offset ", z, " lies outside the archive");
      if (u32(z) != zip64_end_signature) bad("no zip64 end of central directory record at ", z);
      if (u32(z + 16) != 0 || u32(z + 20) != 0 || u64(z + 24) != u64(z + 32))
        fail(ErrorCode::unsupported, path(), ": multi-disk zip archives are not supported");
      count = u64(z + 32);
      cd_size = u64(z + 40);
      cd_offset = u64(z + 48);
      cd_limit = z;
    } else if (count == 0xffff || cd_size == 0xffffffffu || cd_offset == 0xffffffffu) {
      bad("zip64 sizes are flagged but the zip64 end of central directory locator is missing");
    }

    if (!fits(cd_offset, cd_size, cd_limit))
      bad("central directory (offset ", cd_offset, ", ", cd_size,
          " bytes) lies outside the archive: truncated?");
    if (count > cd_size / central_header_size)
      bad("central directory of ", cd_size, " bytes cannot hold ", count, " entries");

    entries_.reserve(static_cast<std::size_t>(count));
    std::uint64_t pos = cd_offset;
    const std::uint64_t cd_end = cd_offset + cd_size;
    for (std::uint64_t i = 0; i < count; ++i) {
      if (!fits(pos, central_header_size, cd_end) || u32(pos) != central_header_signature)
        bad("central directory entry ", i, " at offset ", pos, " is malformed");
      ZipEntry e;
      e.flags = u16(pos + 8);
      e.method = u16(pos + 10);
      e.crc32 = u32(pos + 16);
      e.compressed_size = u32(pos + 20);
      e.uncompressed_size = u32(pos + 24);
      const std::uint64_t name_len = u16(pos + 28);
      const std::uint64_t extra_len = u16(pos + 30);
      const std::uint64_t comment_len = u16(pos + 32);
      const std::uint16_t disk = u16(pos + 34);
      e.local_header_offset = u32(pos + 42);
      const std::uint64_t var = name_len + extra_len + comment_len;
      if (!fits(pos + central_header_size, var, cd_end))
        bad("central directory entry ", i, " runs past the central directory");
      e.name.assign(reinterpret_cast<const char*>(bytes() + pos + central_header_size), name_len);
      read_zip64_extra(e, disk, pos + central_header_size + name_len, extra_len);
      pos += central_header_size + var;
      check_local_header(e, cd_offset);
      if (!index_.emplace(e.name, entries_.size()).second)
        bad("zip entry '", e.name, "' appears twice");
      entries_.push_back(std::move(e));
    }
  }

  /// The zip64 extra field holds, in this order, whichever of uncompressed size, compressed size,
  /// local header offset and disk number are 0xffffffff (0xffff) in the fixed fields.
  void read_zip64_extra(ZipEntry& e, std::uint16_t disk, std::uint64_t pos, std::uint64_t len) {
    const bool need_u = e.uncompressed_size == 0xffffffffu;
    const bool need_c = e.compressed_size == 0xffffffffu;
    const bool need_o = e.local_header_offset == 0xffffffffu;
    const bool need_d = disk == 0xffff;
    const std::uint64_t end = pos + len;
    bool found = false;
    while (pos + 4 <= end) {
      const std::uint16_t id = u16(pos);
      const std::uint64_t n = u16(pos + 2);
      pos += 4;
      if (n > end - pos) bad("zip entry '", e.name, "' has an extra field running past its end");
      if (id == 0x0001 && !found) {
        found = true;
        std::uint64_t p = pos;
        const std::uint64_t q = pos + n;
        auto take = [&](std::uint64_t& field) {
          if (q - p < 8) bad("zip entry '", e.name, "' has a short zip64 extra field");
          field = u64(p);
          p += 8;
        };
        if (need_u) take(e.uncompressed_size);
        if (need_c) take(e.compressed_size);
        if (need_o) take(e.local_header_offset);
        if (need_d) {
          if (q - p < 4) bad("zip entry '", e.name, "' has a short zip64 extra field");
          if (u32(p) != 0)
            fail(ErrorCode::unsupported, path(), ": multi-disk zip archives are not supported");
        }
      }
      pos += n;
    }
    if ((need_u || need_c || need_o || need_d) && !found)
      bad("zip entry '", e.name, "' flags zip64 sizes but has no zip64 extra field");
    if (!need_d && disk != 0)
      fail(ErrorCode::unsupported, path(), ": multi-disk zip archives are not supported");
  }

  /// Entries (header and data) lie before the central directory, which starts at `limit`.
  void check_local_header(ZipEntry& e, std::uint64_t limit) const {
    const std::uint64_t lh = e.local_header_offset;
    if (!fits(lh, local_header_size, limit) || u32(lh) != local_header_signature)
      bad("zip entry '", e.name, "': no local header at offset ", lh);
    const std::uint16_t flags = u16(lh + 6);
    const std::uint16_t method = u16(lh + 8);
    const std::uint64_t name_len = u16(lh + 26);
    const std::uint64_t extra_len = u16(lh + 28);
    if (!fits(lh + local_header_size, name_len + extra_len, limit))
      bad("zip entry '", e.name, "': local header runs past the end of the file");
    const std::string_view local_name(reinterpret_cast<const char*>(bytes() + lh + local_header_size),
                                      name_len);
    if (local_name != e.name)
      bad("zip entry '", e.name, "': local header names it '", local_name, "'");
    if (method != e.method)
      bad("zip entry '", e.name, "': local header says method ", method, ", central directory ",
          e.method);
    if ((flags & 8u) == 0) {  // sizes in the local header too (otherwise in a data descriptor)
      const std::uint32_t c = u32(lh + 18), u = u32(lh + 22);
      if ((c != 0xffffffffu && c != e.compressed_size) ||
          (u != 0xffffffffu && u != e.uncompressed_size))
        bad("zip entry '", e.name, "': local header sizes disagree with the central directory");
    }
    e.data_offset = lh + local_header_size + name_len + extra_len;
    if (!fits(e.data_offset, e.compressed_size, limit))
      bad("zip entry '", e.name, "' (", e.compressed_size, " bytes at offset ", e.data_offset,
          ") runs into the central directory at ", limit);
    if (e.is_stored() && e.compressed_size != e.uncompressed_size)
      bad("zip entry '", e.name, "' is stored but its sizes differ (", e.compressed_size, " vs ",
          e.uncompressed_size, ")");
  }

  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace biqa::io
