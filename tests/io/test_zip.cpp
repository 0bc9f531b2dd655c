#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "biqa/io/mapped_file.hpp"
#include "biqa/io/zip.hpp"
#include "io/pth_builder.hpp"

using biqa::ErrorCode;
using biqa::io::MappedFile;
using biqa::io::ZipArchive;

namespace {

std::string fixture(const std::string& name) {
  return std::string(BIQA_TEST_DATA_DIR) + "/io/pytorch/" + name;
}

std::string text(std::span<const std::byte> s) {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

ErrorCode error_code_of(const std::vector<std::byte>& bytes) {
  try {
    ZipArchive zip(MappedFile::from_bytes(bytes, "test.zip"));
    for (const auto& e : zip.entries()) {
      zip.data(e);
      zip.verify_crc(e);
    }
  } catch (const biqa::Error& e) {
    return e.code();
  }
  return ErrorCode::internal;  // no error
}

}  // namespace

TEST_CASE("zip: CRC-32 check value", "[io][zip]") {
  // The standard check value of CRC-32/ISO-HDLC is crc32("123456789") = 0xcbf43926.
  const auto b = biqa_test::to_bytes("123456789");
  REQUIRE(biqa::io::crc32(b) == 0xcbf43926u);
  REQUIRE(biqa::io::crc32({}) == 0u);
  // Incremental use and the 8-byte path agree with the bytewise tail.
  const auto long_input = biqa_test::to_bytes(std::string(1000, 'a') + "123456789");
  const auto whole = biqa::io::crc32(long_input);
  const auto part = biqa::io::crc32(std::span(long_input).subspan(0, 333));
  REQUIRE(biqa::io::crc32(std::span(long_input).subspan(333), part) == whole);
}

TEST_CASE("zip: archives from torch, Python zipfile and Info-ZIP", "[io][zip]") {
  // torch.save: zip64 end records, entries padded to 64-byte alignment with an extra field.
  {
    ZipArchive zip(MappedFile::open(fixture("single.pt")));
    REQUIRE(zip.entries().size() >= 3);
    REQUIRE(zip.entries()[0].name == "archive/data.pkl");
    const auto* data = zip.find("archive/data/0");
    REQUIRE(data != nullptr);
    REQUIRE(data->uncompressed_size == 24);
    REQUIRE(data->data_offset % 64 == 0);
    REQUIRE(text(zip.data("archive/version")).substr(0, 1) == "3");
    for (const auto& e : zip.entries()) REQUIRE_NOTHROW(zip.verify_crc(e));
  }
  // Info-ZIP with -fz: zip64 extra fields with only the flagged fields, cd offset 0xffffffff.
  // Python zipfile to an unseekable stream: sizes in data descriptors (flag bit 3).
  ZipArchive reference(MappedFile::open(fixture("single.pt")));
  for (const char* name : {"zip64.pt", "streamed.pt"}) {
    INFO(name);
    ZipArchive zip(MappedFile::open(fixture(name)));
    REQUIRE(zip.entries().size() == reference.entries().size());
    for (const auto& e : reference.entries()) {
      const auto* other = zip.find(e.name);
      REQUIRE(other != nullptr);
      REQUIRE(text(zip.data(*other)) == text(reference.data(e)));
      REQUIRE_NOTHROW(zip.verify_crc(*other));
    }
  }
}

TEST_CASE("zip: hand-made archives, plain and zip64", "[io][zip]") {
  for (bool zip64 : {false, true}) {
    INFO("zip64 " << zip64);
    const auto bytes = biqa_test::make_zip({{"a", "hello"}, {"dir/b", ""}, {"c", "xyz"}}, zip64);
    ZipArchive zip(MappedFile::from_bytes(bytes));
    REQUIRE(zip.entries().size() == 3);
    REQUIRE(text(zip.data("a")) == "hello");
    REQUIRE(text(zip.data("dir/b")).empty());
    REQUIRE(text(zip.data("c")) == "xyz");
    REQUIRE(zip.find("missing") == nullptr);
    // Zero-copy: the span points into the mapping.
    REQUIRE(zip.data("a").data() >= zip.file()->data());
    REQUIRE(zip.data("a").data() < zip.file()->data() + zip.file()->size());
    // Every truncation fails cleanly.
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
      INFO("cut " << cut);
      REQUIRE(error_code_of({bytes.begin(), bytes.begin() + std::ptrdiff_t(cut)}) ==
              ErrorCode::format);
    }
    // Every single-byte corruption either still reads or gives biqa::Error.
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      for (unsigned char x : {0x01, 0x80, 0xff}) {
        auto b = bytes;
        b[i] ^= std::byte(x);
        REQUIRE_NOTHROW(error_code_of(b));
      }
    }
  }
}

TEST_CASE("zip: malformed archives give format errors naming the problem", "[io][zip]") {
  auto expect = [](std::vector<std::byte> bytes, ErrorCode code, const std::string& needle) {
    try {
      ZipArchive zip(MappedFile::from_bytes(std::move(bytes), "bad.zip"));
      for (const auto& e : zip.entries()) zip.data(e);
      FAIL("no error");
    } catch (const biqa::Error& e) {
      INFO(e.what());
      REQUIRE(e.code() == code);
      REQUIRE_THAT(e.what(), Catch::Contains("bad.zip") && Catch::Contains(needle));
    }
  };
  const auto good = biqa_test::make_zip({{"a", "hello"}, {"b", "world"}});
  const std::size_t cd = 2 * (30 + 1 + 5);  // two local headers with 1-byte names, 5-byte data

  expect({}, ErrorCode::format, "no end of central directory");
  expect(biqa_test::to_bytes("not a zip at all, but long enough"), ErrorCode::format,
         "no end of central directory");
  auto b = good;
  b[cd] = std::byte{'X'};  // central directory signature
  expect(b, ErrorCode::format, "central directory entry 0");
  b = good;
  b[cd + 28] = std::byte{0xff};  // name length runs past the central directory
  expect(b, ErrorCode::format, "runs past the central directory");
  b = good;
  b[cd + 42] = std::byte{0x40};  // local header offset 64: not a local header
  expect(b, ErrorCode::format, "no local header");
  b = good;
  b[cd + 20] = b[cd + 24] = std::byte{0x7f};  // sizes beyond the data
  expect(b, ErrorCode::format, "'a'");
  b = good;
  b[cd + 24] = std::byte{6};  // stored but sizes differ
  expect(b, ErrorCode::format, "sizes");
  b = good;
  b[cd + 10] = std::byte{8};  // central directory says deflate, local header stored
  expect(b, ErrorCode::format, "method");
  b = good;
  b[30] = std::byte{'z'};  // local header names another file
  expect(b, ErrorCode::format, "local header names it 'z'");
  b = good;
  b[b.size() - 6] = std::byte{0xf0};  // central directory offset past the end
  expect(b, ErrorCode::format, "outside the archive");
  b = good;
  b[b.size() - 14] = std::byte{9};  // 9 entries in a directory that holds 2
  b[b.size() - 12] = std::byte{9};
  expect(b, ErrorCode::format, "cannot hold");

  // Duplicate names are ambiguous.
  expect(biqa_test::make_zip({{"a", "1"}, {"a", "2"}}), ErrorCode::format, "appears twice");

  // Compressed and encrypted entries are refused when read, naming the entry.
  b = good;
  b[8] = b[cd + 10] = std::byte{8};
  expect(b, ErrorCode::unsupported, "zip entry 'a' is compressed (method 8, deflate)");
  b = good;
  b[6] = b[cd + 8] = std::byte{1};
  expect(b, ErrorCode::unsupported, "encrypted");

  // A corrupted byte of data is caught by the CRC.
  b = good;
  b[30 + 1] ^= std::byte{1};
  ZipArchive zip(MappedFile::from_bytes(b, "bad.zip"));
  REQUIRE(text(zip.data("a")) == "iello");
  REQUIRE_THROWS_WITH(zip.verify_crc(*zip.find("a")), Catch::Contains("'a' is corrupt"));
}

TEST_CASE("zip: the Python-written compressed fixture is refused with the entry's name",
          "[io][zip]") {
  ZipArchive zip(MappedFile::open(fixture("bad_compressed.pth")));
  const auto* e = zip.find("plain/data.pkl");
  REQUIRE(e != nullptr);
  REQUIRE(e->method == 8);
  try {
    zip.data(*e);
    FAIL("no error");
  } catch (const biqa::Error& err) {
    REQUIRE(err.code() == ErrorCode::unsupported);
    REQUIRE_THAT(err.what(), Catch::Contains("bad_compressed.pth") &&
                                 Catch::Contains("plain/data.pkl") && Catch::Contains("compressed"));
  }
}
