#pragma once
/// @file
/// WeightFile: the tensors of one weights file (safetensors or a PyTorch checkpoint), as raw
/// typed views into the mapped file. Nothing is copied until a tensor is converted.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "biqa/core/dtype.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/shape.hpp"
#include "biqa/core/tensor.hpp"
#include "biqa/io/mapped_file.hpp"

namespace biqa::io {

/// One tensor as stored: element type, shape, element strides and the address of element 0.
struct TensorRecord {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  Strides strides{};
  const std::byte* data = nullptr;

  bool is_contiguous() const {
    std::int64_t expected = 1;
    for (int i = shape.rank() - 1; i >= 0; --i) {
      if (shape[i] != 1 && strides[static_cast<std::size_t>(i)] != expected) return false;
      expected *= shape[i];
    }
    return true;
  }
  std::size_t nbytes() const { return static_cast<std::size_t>(shape.numel()) * dtype_size(dtype); }
};

class WeightFile {
 public:
  std::string path;
  std::string format;  // "safetensors" or "pytorch"
  std::map<std::string, std::string> metadata;
  std::vector<TensorRecord> tensors;  ///< in file order
  std::shared_ptr<const void> keep_alive;  ///< the mapping the records point into
  /// The file the records point into, when they do (the safetensors and PyTorch readers).
  std::shared_ptr<const MappedFile> source;

  /// The records point into a mapping of the file (MappedFile::open), not into bytes held in
  /// memory: zero-copy tensors of it may give their pages back (release_file_pages).
  bool file_mapped() const { return source && source->is_mapped(); }
  /// This record's bytes lie in the file's mapping (a record may also point elsewhere: one merged
  /// from another file, or edited).
  bool mapped(const TensorRecord& r) const { return file_mapped() && source->contains(r.data, r.nbytes()); }

  const TensorRecord* find(const std::string& name) const {
    if (index_.size() != tensors.size()) rebuild_index();
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors[it->second];
  }

  const TensorRecord& at(const std::string& name) const {
    const TensorRecord* r = find(name);
    if (!r) fail(ErrorCode::key, path, ": no tensor named '", name, "'");
    return *r;
  }

  /// The tensor's values as float32 (a zero-copy view when stored as aligned contiguous f32).
  Tensor<float> to_float(const TensorRecord& r) const {
    if (r.is_contiguous()) {
      return to_float_tensor(r.data, r.dtype, r.shape,
                             std::const_pointer_cast<void>(keep_alive));
    }
    // Strided storage (a PyTorch view): gather element by element.
    Tensor<float> t(r.shape);
    float* out = t.data();
    Tensor<std::uint8_t>::borrow(nullptr, r.shape, r.strides).for_each_offset(
        [&](std::int64_t off) {
          *out++ = static_cast<float>(load_as_double(r.data + off * std::int64_t(dtype_size(r.dtype)),
                                                     r.dtype, 0));
        });
    return t;
  }

  /// Copies a tensor's elements, row-major, in its own dtype (for writers).
  std::vector<std::byte> contiguous_bytes(const TensorRecord& r) const {
    const std::size_t es = dtype_size(r.dtype);
    std::vector<std::byte> out(r.nbytes());
    if (r.is_contiguous()) {
      if (!out.empty()) std::memcpy(out.data(), r.data, out.size());
      return out;
    }
    std::byte* o = out.data();
    Tensor<std::uint8_t>::borrow(nullptr, r.shape, r.strides).for_each_offset(
        [&](std::int64_t off) {
          std::memcpy(o, r.data + off * std::int64_t(es), es);
          o += es;
        });
    return out;
  }

 private:
  void rebuild_index() const {
    index_.clear();
    for (std::size_t i = 0; i < tensors.size(); ++i) index_[tensors[i].name] = i;
  }
  mutable std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace biqa::io
