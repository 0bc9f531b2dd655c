#pragma once
/// @file
/// EXIF orientation of JPEG files, and the flips/rotations that bring an image upright.
/// jpeg_exif_orientation reads only the Orientation tag (0x0112) of IFD0 in the first APP1
/// "Exif\0\0" segment; anything missing, truncated or out of range reads as 1 (upright), the way
/// OpenCV's imread treats it. Every read is bounds-checked: the input is untrusted.
/// apply_exif_orientation maps the stored pixels to the displayed ones as OpenCV's imread and
/// PIL's ImageOps.exif_transpose do:
///   1 as stored   2 mirror left-right   3 rotate 180°     4 mirror top-bottom
///   5 transpose   6 rotate 90° clockwise 7 transverse     8 rotate 90° counter-clockwise

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"

namespace biqa::io {

namespace detail {

/// The orientation value from a TIFF structure (the APP1 payload after "Exif\0\0"), or 1.
inline int tiff_orientation(const unsigned char* t, std::size_t n) {
  if (n < 8) return 1;
  bool little;
  if (t[0] == 'I' && t[1] == 'I') little = true;
  else if (t[0] == 'M' && t[1] == 'M') little = false;
  else return 1;
  auto u16 = [&](std::size_t at) -> std::uint32_t {
    return little ? std::uint32_t(t[at]) | std::uint32_t(t[at + 1]) << 8
                  : std::uint32_t(t[at]) << 8 | std::uint32_t(t[at + 1]);
  };
  auto u32 = [&](std::size_t at) -> std::uint32_t {
    return little ? u16(at) | u16(at + 2) << 16 : u16(at) << 16 | u16(at + 2);
  };
  if (u16(2) != 42) return 1;
  const std::uint32_t ifd = u32(4);
  if (ifd < 8 || ifd > n || n - ifd < 2) return 1;
  const std::uint32_t count = u16(ifd);
  for (std::uint32_t e = 0; e < count; ++e) {
    const std::size_t at = std::size_t(ifd) + 2 + std::size_t(e) * 12;
    if (at > n || n - at < 12) return 1;
    if (u16(at) != 0x0112) continue;
    const std::uint32_t type = u16(at + 2);
    std::uint32_t v = 0;
    if (type == 3) v = u16(at + 8);        // SHORT, the type the standard prescribes
    else if (type == 4) v = u32(at + 8);   // LONG, written by a few tools
    else return 1;
    return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
  }
  return 1;
}

}  // namespace detail

/// The EXIF orientation (1-8) of a JPEG file in memory; 1 when absent or unreadable.
inline int jpeg_exif_orientation(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (n < 4 || p[0] != 0xff || p[1] != 0xd8) return 1;
  std::size_t i = 2;
  while (i + 4 <= n) {
    if (p[i] != 0xff) return 1;  // metadata segments come first; anything else ends the search
    const unsigned char marker = p[i + 1];
    if (marker == 0xff) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xda || marker == 0xd9) return 1;  // start of scan / end of image
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {  // no length field
      i += 2;
      continue;
    }
    const std::size_t len = std::size_t(p[i + 2]) << 8 | p[i + 3];
    if (len < 2 || len > n - i - 2) return 1;
    if (marker == 0xe1 && len >= 8 && std::memcmp(p + i + 4, "Exif\0\0", 6) == 0)
      return detail::tiff_orientation(p + i + 10, len - 8);
    i += 2 + len;
  }
  return 1;
}

/// The displayed image for a stored H×W or H×W×C image with EXIF orientation `orientation`
/// (values outside 1-8 leave it as stored). Orientation 1 returns `img` itself.
template <typename T>
Tensor<T> apply_exif_orientation(const Tensor<T>& img, int orientation) {
  const Shape& s = img.shape();
  BIQA_CHECK(s.rank() == 2 || s.rank() == 3, ErrorCode::invalid_argument,
             "apply_exif_orientation: expected an H×W or H×W×C image, got ", s.to_string());
  if (orientation < 2 || orientation > 8) return img;
  const std::int64_t h = s[0], w = s[1], c = s.rank() == 3 ? s[2] : 1;
  const bool swap = orientation >= 5;
  const std::int64_t oh = swap ? w : h, ow = swap ? h : w;
  Tensor<T> out(s.rank() == 3 ? Shape{oh, ow, c} : Shape{oh, ow});
  const Tensor<T> src = img.contiguous();
  const T* in = src.data();
  T* o = out.data();
  for (std::int64_t y = 0; y < oh; ++y)
    for (std::int64_t x = 0; x < ow; ++x) {
      std::int64_t sy = 0, sx = 0;  // the stored pixel shown at (y, x)
      switch (orientation) {
        case 2: sy = y, sx = w - 1 - x; break;
        case 3: sy = h - 1 - y, sx = w - 1 - x; break;
        case 4: sy = h - 1 - y, sx = x; break;
        case 5: sy = x, sx = y; break;
        case 6: sy = h - 1 - x, sx = y; break;
        case 7: sy = h - 1 - x, sx = w - 1 - y; break;
        default: sy = x, sx = w - 1 - y; break;  // 8
      }
      std::memcpy(o + (y * ow + x) * c, in + (sy * w + sx) * c, sizeof(T) * std::size_t(c));
    }
  return out;
}

}  // namespace biqa::io
