#pragma once
/// @file
/// Image decoding and encoding through stb (JPEG, PNG, BMP, TGA in; PNG, JPEG out).
/// Decoded images are H×W×3 (RGB): grey is replicated, alpha is dropped (not composited), and
/// 16-bit PNGs keep their precision in the float path. A JPEG's EXIF orientation is applied by
/// default (DecodeOptions), as OpenCV's imread does: the pixels come out the way viewers show them.

#include <cctype>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>

#include "biqa/core/tensor.hpp"
#include "biqa/io/exif.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::io {

/// Decoding refuses images above this many pixels (a 16k × 16k photo) before allocating.
inline constexpr std::int64_t max_image_pixels = std::int64_t(1) << 28;

enum class ImageFormat { jpeg, png, bmp, tga, unknown };

struct DecodeOptions {
  /// Rotate/flip JPEGs upright per their EXIF Orientation tag (OpenCV's imread and PIL's
  /// ImageOps.exif_transpose do; PIL's Image.open and torchvision's decoders by default do not).
  bool apply_exif_orientation = true;
};

inline const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg: return "JPEG";
    case ImageFormat::png: return "PNG";
    case ImageFormat::bmp: return "BMP";
    case ImageFormat::tga: return "TGA";
    default: return "unknown";
  }
}

namespace detail {

/// Identifies the container by its signature; formats stb also reads (GIF, PSD, HDR, PNM, PIC)
/// are refused so that only the four supported decoders ever see untrusted bytes.
inline ImageFormat sniff_image(const unsigned char* p, std::size_t n, const std::string& name) {
  auto starts = [&](std::initializer_list<unsigned char> sig) {
    if (n < sig.size()) return false;
    std::size_t i = 0;
    for (unsigned char c : sig)
      if (p[i++] != c) return false;
    return true;
  };
  if (starts({0xff, 0xd8, 0xff})) return ImageFormat::jpeg;
  if (starts({0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a})) return ImageFormat::png;
  if (starts({'B', 'M'})) return ImageFormat::bmp;
  if (starts({'G', 'I', 'F'}) || starts({'8', 'B', 'P', 'S'}) || starts({'#', '?'}) ||
      (n >= 2 && p[0] == 'P' && p[1] >= '1' && p[1] <= '7') || starts({0x53, 0x80, 0xf6, 0x34}))
    fail(ErrorCode::unsupported, name, ": image format not supported (JPEG, PNG, BMP, TGA are)");
  // TGA has no signature: a valid header has colour-map type 0/1 and a known image type.
  if (n >= 18 && p[1] <= 1 && (p[2] == 1 || p[2] == 2 || p[2] == 3 || p[2] == 9 || p[2] == 10 || p[2] == 11))
    return ImageFormat::tga;
  return ImageFormat::unknown;
}

/// Checks every Huffman table (DHT segment) of a JPEG before stb parses it: the stb_image in
/// Debian 12 writes past a 257-entry array when a table declares more than 256 codes.
inline void check_jpeg_huffman_tables(const unsigned char* p, std::size_t n, const std::string& name) {
  auto bad = [&](const char* what) { fail(ErrorCode::format, name, ": corrupt JPEG: ", what); };
  std::size_t i = 2;  // after SOI
  while (i + 4 <= n) {
    if (p[i] != 0xff) {
      // Entropy-coded data after a scan header: skip to the next marker that is not a stuffed
      // zero, a restart marker or fill.
      while (i + 1 < n && !(p[i] == 0xff && p[i + 1] != 0x00 && p[i + 1] != 0xff &&
                            (p[i + 1] < 0xd0 || p[i + 1] > 0xd7)))
        ++i;
      if (i + 4 > n) return;
    }
    const unsigned char marker = p[i + 1];
    if (marker == 0xd9) return;  // EOI
    if (marker == 0xff) {        // fill byte
      ++i;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // no length field
      i += 2;
      continue;
    }
    const std::size_t len = std::size_t(p[i + 2]) << 8 | p[i + 3];
    if (len < 2) bad("segment length below 2");
    const std::size_t end = std::min(n, i + 2 + len);
    if (marker == 0xc4) {  // DHT: one or more tables of 1 + 16 + sum(counts) bytes
      std::size_t t = i + 4;
      while (t < end) {
        if (t + 17 > end) bad("truncated Huffman table");
        std::size_t codes = 0;
        for (int k = 1; k <= 16; ++k) codes += p[t + std::size_t(k)];
        if (codes > 256) bad("Huffman table with more than 256 codes");
        t += 17 + codes;
      }
    }
    i += 2 + len;
  }
}

/// Checks that every PNG chunk lies inside the file: stb grows its IDAT buffer to a chunk's
/// declared length before reading it, so a lying length would allocate gigabytes.
inline void check_png_chunks(const unsigned char* p, std::size_t n, const std::string& name) {
  std::size_t i = 8;  // after the signature
  while (i + 8 <= n) {
    const std::size_t len = std::size_t(p[i]) << 24 | std::size_t(p[i + 1]) << 16 |
                            std::size_t(p[i + 2]) << 8 | p[i + 3];
    if (len > n - i - 8 || n - i - 8 - len < 4)
      fail(ErrorCode::format, name, ": corrupt PNG: a chunk of ", len, " bytes runs past the end of the file");
    if (std::memcmp(p + i + 4, "IEND", 4) == 0) return;
    i += 12 + len;
  }
}

inline void check_image_header(const unsigned char* p, std::size_t n, const std::string& name) {
  BIQA_CHECK(n > 0, ErrorCode::format, name, ": empty image file");
  BIQA_CHECK(n <= std::size_t(INT_MAX), ErrorCode::format, name, ": image file too large");
  const ImageFormat format = sniff_image(p, n, name);
  if (format == ImageFormat::unknown)
    fail(ErrorCode::format, name, ": not a JPEG, PNG, BMP or TGA image");
  if (format == ImageFormat::jpeg) check_jpeg_huffman_tables(p, n, name);
  if (format == ImageFormat::png) check_png_chunks(p, n, name);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(p, static_cast<int>(n), &w, &h, &c))
    fail(ErrorCode::format, name, ": cannot read image header: ", stbi_failure_reason());
  BIQA_CHECK(w > 0 && h > 0, ErrorCode::format, name, ": image has no pixels");
  BIQA_CHECK(std::int64_t(w) * h <= max_image_pixels, ErrorCode::format, name, ": image of ", w,
             "×", h, " pixels exceeds the limit of ", max_image_pixels);
  // A header may claim far more pixels than its bytes can encode (a 147-byte BMP claiming 131M
  // pixels made the decoders allocate gigabytes). No codec here packs more than ~8k pixels per
  // byte (deflate's 1032:1 on 1-bit PNG rows), so a generous bound of 16384 per byte, never below
  // 4M pixels, refuses such files before anything is allocated.
  const std::int64_t plausible = std::max<std::int64_t>(std::int64_t(1) << 22, std::int64_t(n) * 16384);
  BIQA_CHECK(std::int64_t(w) * h <= plausible, ErrorCode::format, name, ": header claims ", w, "×", h,
             " pixels, more than ", n, " bytes can hold; the file is truncated or corrupt");
}

}  // namespace detail

/// Decodes to uint8 RGB, H×W×3 (16-bit input is reduced to 8 bits).
inline Tensor<std::uint8_t> decode_image_u8(const void* data, std::size_t n,
                                            const std::string& name = "<memory>",
                                            const DecodeOptions& options = {}) {
  const auto* p = static_cast<const unsigned char*>(data);
  detail::check_image_header(p, n, name);
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load_from_memory(p, static_cast<int>(n), &w, &h, &c, 3);
  if (!px) fail(ErrorCode::format, name, ": cannot decode image: ", stbi_failure_reason());
  std::shared_ptr<void> owner(px, [](void* q) { stbi_image_free(q); });
  Tensor<std::uint8_t> img = Tensor<std::uint8_t>::borrow(px, {h, w, 3}, owner);
  if (options.apply_exif_orientation && detail::sniff_image(p, n, name) == ImageFormat::jpeg)
    return apply_exif_orientation(img, jpeg_exif_orientation(p, n));
  return img;
}

/// Decodes to float RGB in [0, 1], H×W×3 (16-bit PNGs divided by 65535, others by 255).
inline Tensor<float> decode_image(const void* data, std::size_t n,
                                  const std::string& name = "<memory>", const DecodeOptions& options = {}) {
  const auto* p = static_cast<const unsigned char*>(data);
  detail::check_image_header(p, n, name);
  int w = 0, h = 0, c = 0;
  if (stbi_is_16_bit_from_memory(p, static_cast<int>(n))) {
    stbi_us* px = stbi_load_16_from_memory(p, static_cast<int>(n), &w, &h, &c, 3);
    if (!px) fail(ErrorCode::format, name, ": cannot decode image: ", stbi_failure_reason());
    Tensor<float> out({h, w, 3});
    const std::size_t count = std::size_t(h) * std::size_t(w) * 3;
    for (std::size_t i = 0; i < count; ++i) out.data()[i] = float(px[i]) / 65535.0f;
    stbi_image_free(px);
    return out;
  }
  const Tensor<std::uint8_t> u8 = decode_image_u8(data, n, name, options);
  Tensor<float> out(u8.shape());
  for (std::int64_t i = 0; i < u8.numel(); ++i) out.data()[i] = float(u8.data()[i]) / 255.0f;
  return out;
}

inline Tensor<float> read_image(const std::string& path, const DecodeOptions& options = {}) {
  const auto f = MappedFile::open(path);
  return decode_image(f->data(), f->size(), path, options);
}
inline Tensor<std::uint8_t> read_image_u8(const std::string& path, const DecodeOptions& options = {}) {
  const auto f = MappedFile::open(path);
  return decode_image_u8(f->data(), f->size(), path, options).clone();  // detach from the mapping
}

namespace detail {
inline Tensor<std::uint8_t> to_u8_hwc(const Tensor<float>& img) {
  Tensor<std::uint8_t> out(img.shape());
  const Tensor<float> c = img.contiguous();
  for (std::int64_t i = 0; i < c.numel(); ++i) {
    const float v = c.data()[i] * 255.0f + 0.5f;
    out.data()[i] = static_cast<std::uint8_t>(v <= 0.0f ? 0.0f : v >= 255.0f ? 255.0f : v);
  }
  return out;
}
inline int checked_channels(const Shape& s, const std::string& path) {
  BIQA_CHECK((s.rank() == 3 && (s[2] == 1 || s[2] == 3 || s[2] == 4)) || s.rank() == 2,
             ErrorCode::invalid_argument, path, ": expected an H×W×{1,3,4} image, got ",
             s.to_string());
  BIQA_CHECK(s[0] > 0 && s[1] > 0 && s[0] <= INT_MAX && s[1] <= INT_MAX,
             ErrorCode::invalid_argument, path, ": bad image size ", s.to_string());
  return s.rank() == 2 ? 1 : static_cast<int>(s[2]);
}
}  // namespace detail

/// Writes PNG (".png") or JPEG (".jpg"/".jpeg", `jpeg_quality` 1-100) from uint8 H×W×C.
inline void write_image(const std::string& path, const Tensor<std::uint8_t>& img, int jpeg_quality = 95) {
  const int c = detail::checked_channels(img.shape(), path);
  const Tensor<std::uint8_t> px = img.contiguous();
  const int h = static_cast<int>(px.size(0)), w = static_cast<int>(px.size(1));
  auto ends_with = [&](const char* ext) {
    const std::size_t n = std::strlen(ext);
    if (path.size() < n) return false;
    for (std::size_t i = 0; i < n; ++i)
      if (std::tolower(static_cast<unsigned char>(path[path.size() - n + i])) != ext[i]) return false;
    return true;
  };
  int ok = 0;
  if (ends_with(".png")) {
    ok = stbi_write_png(path.c_str(), w, h, c, px.data(), w * c);
  } else if (ends_with(".jpg") || ends_with(".jpeg")) {
    ok = stbi_write_jpg(path.c_str(), w, h, c, px.data(), jpeg_quality);
  } else {
    fail(ErrorCode::invalid_argument, path, ": unknown image extension (use .png or .jpg)");
  }
  if (!ok) fail(ErrorCode::io, path, ": cannot write image");
}

/// Float images in [0, 1] are rounded to uint8 first.
inline void write_image(const std::string& path, const Tensor<float>& img, int jpeg_quality = 95) {
  write_image(path, detail::to_u8_hwc(img), jpeg_quality);
}

/// Encodes PNG into memory (tests, network transfer).
inline std::vector<unsigned char> encode_png(const Tensor<std::uint8_t>& img) {
  const int c = detail::checked_channels(img.shape(), "<png>");
  const Tensor<std::uint8_t> px = img.contiguous();
  std::vector<unsigned char> out;
  auto sink = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<unsigned char>*>(ctx);
    const auto* b = static_cast<unsigned char*>(data);
    v->insert(v->end(), b, b + size);
  };
  if (!stbi_write_png_to_func(sink, &out, static_cast<int>(px.size(1)), static_cast<int>(px.size(0)),
                              c, px.data(), static_cast<int>(px.size(1)) * c))
    fail(ErrorCode::internal, "PNG encoding failed");
  return out;
}

}  // namespace biqa::io
