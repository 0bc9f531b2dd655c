#pragma once
/// @file
/// Element types. float32 is the compute type; f16/bf16 are storage types converted on load.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "biqa/core/error.hpp"

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace biqa {

/// IEEE 754 binary16 storage. Conversions round to nearest even and keep inf/NaN/subnormals.
struct half {
  std::uint16_t bits = 0;
  half() = default;
  explicit half(float f) : bits(from_float(f)) {}
  explicit operator float() const { return to_float(bits); }

  static half from_bits(std::uint16_t b) {
    half h;
    h.bits = b;
    return h;
  }

  static float to_float(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    const std::uint32_t exp = (h >> 10) & 0x1fu;
    std::uint32_t mant = h & 0x3ffu;
    std::uint32_t out;
    if (exp == 0) {
      if (mant == 0) {
        out = sign;
      } else {  // subnormal: normalise into a float exponent
        int e = -1;
        do {
          ++e;
          mant <<= 1;
        } while ((mant & 0x400u) == 0);
        out = sign | std::uint32_t(127 - 15 - e) << 23 | (mant & 0x3ffu) << 13;
      }
    } else if (exp == 0x1f) {
      out = sign | 0x7f800000u | mant << 13;
    } else {
      out = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    std::memcpy(&f, &out, 4);
    return f;
  }

  static std::uint16_t from_float(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
    const std::uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // inf or NaN (keep NaN quiet)
      return std::uint16_t(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    }
    if (absx >= 0x477ff000u) return std::uint16_t(sign | 0x7c00u);  // rounds to inf
    if (absx < 0x38800000u) {  // result is subnormal or zero
      if (absx < 0x33000000u) return sign;  // below half of the smallest subnormal
      const std::uint32_t e = absx >> 23;
      const std::uint32_t m = (absx & 0x7fffffu) | 0x800000u;
      const std::uint32_t drop = 126 - e;  // value = m * 2^(e-150); half subnormal unit is 2^-24
      const std::uint32_t keep = m >> drop;
      const std::uint32_t rem = m & ((1u << drop) - 1u);
      const std::uint32_t halfway = 1u << (drop - 1);
      std::uint32_t res = keep;
      if (rem > halfway || (rem == halfway && (keep & 1u))) ++res;
      return std::uint16_t(sign | res);
    }
    // normal: rebias the exponent, round 13 dropped bits to nearest even
    std::uint32_t res = ((absx >> 13) - ((127u - 15u) << 10));
    const std::uint32_t rem = absx & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (res & 1u))) ++res;
    return std::uint16_t(sign | res);
  }
};

/// bfloat16 storage: the top 16 bits of a float32, rounded to nearest even.
struct bfloat16 {
  std::uint16_t bits = 0;
  bfloat16() = default;
  explicit bfloat16(float f) : bits(from_float(f)) {}
  explicit operator float() const { return to_float(bits); }

  static bfloat16 from_bits(std::uint16_t b) {
    bfloat16 h;
    h.bits = b;
    return h;
  }
  static float to_float(std::uint16_t b) {
    const std::uint32_t x = std::uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
  static std::uint16_t from_float(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((x >> 16) | 0x40u);  // quiet NaN
    const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
    return std::uint16_t((x + rounding) >> 16);
  }
};

enum class DType : std::uint8_t { f32, f64, f16, bf16, i64, i32, i16, i8, u8, boolean };

inline std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::f64:
    case DType::i64: return 8;
    case DType::f32:
    case DType::i32: return 4;
    case DType::f16:
    case DType::bf16:
    case DType::i16: return 2;
    case DType::i8:
    case DType::u8:
    case DType::boolean: return 1;
  }
  return 0;
}

/// Names as safetensors spells them (F32, BF16, I64, BOOL, ...).
inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::i16: return "I16";
    case DType::i8: return "I8";
    case DType::u8: return "U8";
    case DType::boolean: return "BOOL";
  }
  return "?";
}

inline bool parse_dtype_name(std::string_view s, DType& out) {
  static constexpr struct {
    const char* name;
    DType d;
  } table[] = {{"F32", DType::f32}, {"F64", DType::f64}, {"F16", DType::f16},
               {"BF16", DType::bf16}, {"I64", DType::i64}, {"I32", DType::i32},
               {"I16", DType::i16}, {"I8", DType::i8}, {"U8", DType::u8},
               {"BOOL", DType::boolean}};
  for (const auto& e : table) {
    if (s == e.name) {
      out = e.d;
      return true;
    }
  }
  return false;
}

template <typename T>
struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<half> { static constexpr DType value = DType::f16; };
template <> struct dtype_of<bfloat16> { static constexpr DType value = DType::bf16; };
template <> struct dtype_of<std::int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<std::int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<std::int16_t> { static constexpr DType value = DType::i16; };
template <> struct dtype_of<std::int8_t> { static constexpr DType value = DType::i8; };
template <> struct dtype_of<std::uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::boolean; };
template <typename T>
inline constexpr DType dtype_v = dtype_of<T>::value;

/// Reads element `i` of a raw buffer of dtype `d` as double (unaligned-safe).
inline double load_as_double(const void* base, DType d, std::size_t i) {
  const auto* p = static_cast<const unsigned char*>(base) + i * dtype_size(d);
  auto rd = [p](auto v) {
    std::memcpy(&v, p, sizeof(v));
    return v;
  };
  switch (d) {
    case DType::f32: return rd(float{});
    case DType::f64: return rd(double{});
    case DType::f16: return half::to_float(rd(std::uint16_t{}));
    case DType::bf16: return bfloat16::to_float(rd(std::uint16_t{}));
    case DType::i64: return double(rd(std::int64_t{}));
    case DType::i32: return rd(std::int32_t{});
    case DType::i16: return rd(std::int16_t{});
    case DType::i8: return rd(std::int8_t{});
    case DType::u8: return rd(std::uint8_t{});
    case DType::boolean: return rd(std::uint8_t{}) != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

/// Converts `n` contiguous elements of dtype `d` to float.
inline void convert_to_float(const void* src, DType d, std::size_t n, float* dst) {
  if (n == 0) return;  // empty tensors may have null storage
  if (d == DType::f32) {
    std::memcpy(dst, src, n * 4);
    return;
  }
  const auto* p = static_cast<const unsigned char*>(src);
  if (d == DType::f16 || d == DType::bf16) {
    std::size_t start = 0;
#if defined(__F16C__)
    if (d == DType::f16) {  // the x86 F16C instruction: exact, 8 values at a time
      for (; start + 8 <= n; start += 8)
        _mm256_storeu_ps(dst + start, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * start))));
    }
#endif
    for (std::size_t i = start; i < n; ++i) {
      std::uint16_t b;
      std::memcpy(&b, p + 2 * i, 2);
      dst[i] = d == DType::f16 ? half::to_float(b) : bfloat16::to_float(b);
    }
    return;
  }
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load_as_double(src, d, i));
}

}  // namespace biqa
