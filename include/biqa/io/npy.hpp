#pragma once
/// @file
/// NumPy .npy files (format versions 1-3, C order, little-endian f32/f64/i64/u8 and a few more).

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "biqa/core/dtype.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::io {

struct NpyArray {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<std::byte> bytes;  ///< row-major

  Tensor<float> to_float() const {
    Tensor<float> t(shape);
    convert_to_float(bytes.data(), dtype, static_cast<std::size_t>(shape.numel()), t.data());
    return t;
  }
  template <typename T>
  Tensor<T> as() const {
    BIQA_CHECK(dtype == dtype_v<T>, ErrorCode::invalid_argument, "npy array holds ",
               dtype_name(dtype), ", not ", dtype_name(dtype_v<T>));
    Tensor<T> t(shape);
    if (!bytes.empty()) std::memcpy(t.data(), bytes.data(), bytes.size());
    return t;
  }
};

namespace detail {

inline const char* npy_descr(DType d) {
  switch (d) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::f16: return "<f2";
    case DType::i64: return "<i8";
    case DType::i32: return "<i4";
    case DType::i16: return "<i2";
    case DType::i8: return "|i1";
    case DType::u8: return "|u1";
    case DType::boolean: return "|b1";
    default: return nullptr;
  }
}

inline bool npy_parse_descr(std::string_view s, DType& d) {
  static constexpr DType all[] = {DType::f32, DType::f64, DType::f16, DType::i64, DType::i32,
                                  DType::i16, DType::i8, DType::u8, DType::boolean};
  for (DType c : all) {
    std::string_view want = npy_descr(c);
    // one-byte types may be written with '|', '<' or '='
    if (s == want || (want[0] == '|' && s.size() == 3 && (s[0] == '<' || s[0] == '=') &&
                      s.substr(1) == want.substr(1))) {
      d = c;
      return true;
    }
    if (want[0] == '<' && s.size() == 3 && s[0] == '=' && s.substr(1) == want.substr(1)) {
      d = c;
      return true;
    }
  }
  return false;
}

/// Parses the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class NpyHeader {
 public:
  NpyHeader(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  void parse(DType& dtype, Shape& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    ws();
    expect('{');
    while (true) {
      ws();
      if (peek() == '}') break;
      const std::string key = quoted();
      ws();
      expect(':');
      ws();
      if (key == "descr") {
        const std::string d = quoted();
        if (!npy_parse_descr(d, dtype))
          fail(ErrorCode::unsupported, name_, ": npy dtype '", d, "' not supported");
        have_descr = true;
      } else if (key == "fortran_order") {
        if (s_.substr(pos_, 5) == "False") {
          pos_ += 5;
        } else if (s_.substr(pos_, 4) == "True") {
          fail(ErrorCode::unsupported, name_, ": Fortran-order npy arrays are not supported");
        } else {
          bad("fortran_order is not True/False");
        }
        have_order = true;
      } else if (key == "shape") {
        expect('(');
        while (true) {
          ws();
          if (peek() == ')') break;
          std::int64_t v = 0;
          int digits = 0;
          while (peek() >= '0' && peek() <= '9') {
            if (v > (std::int64_t(1) << 50)) bad("shape entry too large");
            v = v * 10 + (s_[pos_++] - '0');
            ++digits;
          }
          if (!digits) bad("bad shape entry");
          if (shape.rank() == Shape::max_rank) bad("rank above 8");
          shape.push_back(v);
          ws();
          if (peek() == ',') ++pos_;
        }
        expect(')');
        have_shape = true;
      } else {
        bad("unknown header key");
      }
      ws();
      if (peek() == ',') ++pos_;
    }
    if (!have_descr || !have_order || !have_shape) bad("header lacks descr, fortran_order or shape");
  }

 private:
  [[noreturn]] void bad(const char* what) const {
    fail(ErrorCode::format, name_, ": bad npy header at byte ", pos_, ": ", what);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void ws() {
    while (peek() == ' ' || peek() == '\n') ++pos_;
  }
  void expect(char c) {
    if (peek() != c) bad("unexpected character");
    ++pos_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string");
    ++pos_;
    const std::size_t end = s_.find(q, pos_);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  std::string_view s_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

}  // namespace detail

inline NpyArray decode_npy(const void* data, std::size_t n, const std::string& name = "<memory>") {
  const auto* p = static_cast<const unsigned char*>(data);
  BIQA_CHECK(n >= 10 && std::memcmp(p, "\x93NUMPY", 6) == 0, ErrorCode::format, name,
             ": not a .npy file (bad magic)");
  const int major = p[6];
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = std::size_t(p[8]) | std::size_t(p[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    BIQA_CHECK(n >= 12, ErrorCode::format, name, ": truncated .npy header");
    header_len = std::size_t(p[8]) | std::size_t(p[9]) << 8 | std::size_t(p[10]) << 16 |
                 std::size_t(p[11]) << 24;
    header_start = 12;
  } else {
    fail(ErrorCode::unsupported, name, ": .npy format version ", major, " not supported");
  }
  BIQA_CHECK(header_len <= n - header_start, ErrorCode::format, name,
             ": .npy header runs past the end of the file");
  NpyArray a;
  detail::NpyHeader(std::string_view(reinterpret_cast<const char*>(p + header_start), header_len), name)
      .parse(a.dtype, a.shape);
  const std::size_t body = header_start + header_len;
  std::int64_t count = 1;
  for (auto d : a.shape)
    if (__builtin_mul_overflow(count, d, &count))
      fail(ErrorCode::format, name, ": .npy shape ", a.shape.to_string(), " has too many elements");
  const auto need = static_cast<unsigned long long>(a.shape.numel()) * dtype_size(a.dtype);
  BIQA_CHECK(need == n - body, ErrorCode::format, name, ": .npy data has ", n - body,
             " bytes, shape ", a.shape.to_string(), " of ", dtype_name(a.dtype), " needs ", need);
  const auto* b = reinterpret_cast<const std::byte*>(p + body);
  a.bytes.assign(b, b + need);
  return a;
}

inline NpyArray read_npy(const std::string& path) {
  const auto f = MappedFile::open(path);
  return decode_npy(f->data(), f->size(), path);
}

inline std::vector<std::byte> encode_npy(DType dtype, const Shape& shape, const void* data) {
  const char* descr = detail::npy_descr(dtype);
  BIQA_CHECK(descr != nullptr, ErrorCode::unsupported, "cannot write ", dtype_name(dtype), " to .npy");
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < shape.rank(); ++i) header += std::to_string(shape[i]) + (shape.rank() == 1 ? "," : i + 1 < shape.rank() ? ", " : "");
  header += "), }";
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const std::size_t nbytes = static_cast<std::size_t>(shape.numel()) * dtype_size(dtype);
  std::vector<std::byte> out(10 + header.size() + nbytes);
  std::memcpy(out.data(), "\x93NUMPY\x01\x00", 8);
  out[8] = std::byte(header.size() & 0xff);
  out[9] = std::byte(header.size() >> 8);
  std::memcpy(out.data() + 10, header.data(), header.size());
  if (nbytes) std::memcpy(out.data() + 10 + header.size(), data, nbytes);
  return out;
}

template <typename T>
void write_npy(const std::string& path, const Tensor<T>& t) {
  const Tensor<T> c = t.contiguous();
  const auto bytes = encode_npy(dtype_v<T>, c.shape(), c.data());
  write_file_bytes(path, bytes.data(), bytes.size());
}

}  // namespace biqa::io
