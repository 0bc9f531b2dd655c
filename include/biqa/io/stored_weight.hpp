#pragma once
/// @file
/// StoredWeight: a layer's weight matrix as float32, or — in the low-memory mode
/// (WeightStoreOptions::keep_half) — as the f16/bf16 values of the mapped weights file, widened to
/// float32 only while the layer runs. Half the resident bytes for a 16-bit checkpoint, for one
/// conversion per use.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "biqa/core/dtype.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::io {

class StoredWeight {
 public:
  StoredWeight() = default;
  /// A float32 weight (the usual case).
  StoredWeight(Tensor<float> t) : f32_(std::move(t)) {}  // NOLINT: implicit, as a Tensor stands for one
  /// A float32 weight; `file_mapped`: it is a zero-copy view of a file mapping (MappedFile::open),
  /// whose pages release_file_pages() may give back.
  StoredWeight(Tensor<float> t, bool file_mapped) : f32_(std::move(t)), file_mapped_(file_mapped) {}
  /// 16-bit values kept as they are stored; `keep_alive` owns the memory they lie in.
  StoredWeight(const std::byte* data, DType dtype, Shape shape, std::shared_ptr<const void> keep_alive)
      : half_(data), dtype_(dtype), shape_(std::move(shape)), keep_alive_(std::move(keep_alive)) {
    BIQA_CHECK(dtype == DType::f16 || dtype == DType::bf16, ErrorCode::unsupported,
               "StoredWeight: only f16 and bf16 are kept unconverted, got ", dtype_name(dtype));
  }

  bool defined() const { return half_ != nullptr || f32_.defined(); }
  /// True when the weight is held in its 16-bit form.
  bool is_half() const { return half_ != nullptr; }
  DType dtype() const { return is_half() ? dtype_ : DType::f32; }
  const Shape& shape() const { return is_half() ? shape_ : f32_.shape(); }
  /// Bytes this weight keeps resident (the mapped 16-bit values, or the float32 tensor).
  std::size_t bytes() const {
    return static_cast<std::size_t>(shape().numel()) * dtype_size(dtype());
  }

  /// The weight as float32: the tensor itself when held as float32 (no copy), else a new widened
  /// copy that lives as long as the caller keeps it.
  Tensor<float> to_float() const {
    return is_half() ? to_float_tensor(half_, dtype_, shape_) : f32_;
  }
  /// Rows [first, first + count) of a 2-d weight as float32: a view of the tensor when held as
  /// float32, else only those rows widened (one projection of a fused q/k/v weight).
  Tensor<float> rows_to_float(std::int64_t first, std::int64_t count) const {
    const Shape& s = shape();
    BIQA_CHECK(s.rank() == 2 && first >= 0 && count >= 0 && first + count <= s[0], ErrorCode::invalid_argument,
               "StoredWeight::rows_to_float: rows [", first, ", ", first + count, ") of a weight shaped ",
               s.to_string());
    if (!is_half()) return f32_.slice(0, first, first + count);
    return to_float_tensor(half_ + first * s[1] * 2, dtype_, Shape{count, s[1]});
  }
  /// Row `i` of a 2-d weight as float32 into `dst` (an embedding lookup that widens one row, not
  /// the whole table).
  void copy_row(std::int64_t i, float* dst) const {
    const Shape& s = shape();
    BIQA_CHECK(s.rank() == 2 && i >= 0 && i < s[0], ErrorCode::invalid_argument, "StoredWeight::copy_row: row ", i,
               " of a weight shaped ", s.to_string());
    const std::int64_t cols = s[1];
    if (is_half()) {
      convert_to_float(half_ + i * cols * 2, dtype_, static_cast<std::size_t>(cols), dst);
      return;
    }
    for (std::int64_t c = 0; c < cols; ++c) dst[c] = f32_.data()[i * f32_.stride(0) + c * f32_.stride(1)];
  }
  /// The float32 tensor when not half (undefined otherwise), for code that needs a reference.
  const Tensor<float>& f32() const { return f32_; }

  /// True for a float32 weight that is a zero-copy view of a memory-mapped weights file.
  bool file_mapped() const { return file_mapped_ && f32_.defined(); }
  /// Gives this weight's resident file pages back to the kernel (io::release_file_pages), for a
  /// layer that keeps another copy of the values (the GEMM kernel's packed layout) and reads these
  /// rarely if ever again; they are read from the file when touched. Returns the bytes given back
  /// (0 unless file_mapped()).
  std::size_t release_file_pages() const {
    if (!file_mapped()) return 0;
    return io::release_file_pages(f32_.data(), static_cast<std::size_t>(f32_.numel()) * sizeof(float));
  }

 private:
  Tensor<float> f32_;
  const std::byte* half_ = nullptr;
  DType dtype_ = DType::f32;
  Shape shape_;
  std::shared_ptr<const void> keep_alive_;
  bool file_mapped_ = false;
};

}  // namespace biqa::io
