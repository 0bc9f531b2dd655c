#pragma once
/// @file
/// Tensor<T, Device>: an n-d array handle. Row-major and contiguous by default; views (slice,
/// permute, select) share storage through strides. Copying a Tensor copies the handle, not the
/// data, as in PyTorch; clone() copies the data. Storage is either owned (64-byte aligned) or
/// borrowed (e.g. a memory-mapped weights file), kept alive by a shared owner.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <numeric>
#include <type_traits>
#include <vector>

#include "biqa/core/device.hpp"
#include "biqa/core/dtype.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/shape.hpp"

namespace biqa {

using Strides = std::array<std::int64_t, Shape::max_rank>;

template <typename T, typename Device = Cpu>
class Tensor {
  static constexpr bool on_cpu = std::is_same_v<Device, Cpu>;

 public:
  using value_type = T;
  using device_type = Device;

  Tensor() = default;

  // Uninitialised storage of the given shape.
  explicit Tensor(const Shape& shape)
      : owner_(DeviceAllocator<Device>::allocate(sizeof(T) * static_cast<std::size_t>(shape.numel()))),
        data_(static_cast<T*>(owner_.get())),
        shape_(shape),
        strides_(shape.contiguous_strides()) {}

  static Tensor empty(const Shape& shape) { return Tensor(shape); }

  static Tensor full(const Shape& shape, T value) {
    static_assert(on_cpu, "full() fills on the CPU; copy to the device afterwards");
    Tensor t(shape);
    std::fill_n(t.data_, t.numel(), value);
    return t;
  }
  static Tensor zeros(const Shape& shape) { return full(shape, T(0)); }

  static Tensor from_vector(const Shape& shape, const std::vector<T>& values) {
    static_assert(on_cpu, "from_vector() builds on the CPU");
    BIQA_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(),
               ErrorCode::invalid_argument, "from_vector: ", values.size(),
               " values for shape ", shape.to_string());
    Tensor t(shape);
    std::copy(values.begin(), values.end(), t.data_);
    return t;
  }
  static Tensor from_list(const Shape& shape, std::initializer_list<T> values) {
    return from_vector(shape, std::vector<T>(values));
  }

  // A view of memory owned elsewhere. `keep_alive` (optional) is held as long as any view lives.
  static Tensor borrow(T* data, const Shape& shape, std::shared_ptr<void> keep_alive = {}) {
    return borrow(data, shape, shape.contiguous_strides(), std::move(keep_alive));
  }
  static Tensor borrow(T* data, const Shape& shape, const Strides& strides,
                       std::shared_ptr<void> keep_alive = {}) {
    Tensor t;
    t.owner_ = std::move(keep_alive);
    t.data_ = data;
    t.shape_ = shape;
    t.strides_ = strides;
    return t;
  }

  const Shape& shape() const { return shape_; }
  int dim() const { return shape_.rank(); }
  std::int64_t size(int axis) const { return shape_.dim(axis); }
  std::int64_t stride(int axis) const {
    return strides_[static_cast<std::size_t>(shape_.normalize_axis(axis))];
  }
  const Strides& strides() const { return strides_; }
  std::int64_t numel() const { return shape_.numel(); }
  bool defined() const { return data_ != nullptr; }

  T* data() { return data_; }
  const T* data() const { return data_; }
  const std::shared_ptr<void>& owner() const { return owner_; }

  bool is_contiguous() const {
    std::int64_t expected = 1;
    for (int i = dim() - 1; i >= 0; --i) {
      const auto d = shape_[i];
      if (d != 1 && strides_[static_cast<std::size_t>(i)] != expected) return false;
      expected *= d;
    }
    return true;
  }

  // Element access (CPU): t(i, j, k).
  template <typename... Idx>
  T& operator()(Idx... idx) {
    return data_[offset_of({static_cast<std::int64_t>(idx)...})];
  }
  template <typename... Idx>
  const T& operator()(Idx... idx) const {
    return data_[offset_of({static_cast<std::int64_t>(idx)...})];
  }
  T& at(std::initializer_list<std::int64_t> idx) { return data_[offset_of(idx)]; }
  const T& at(std::initializer_list<std::int64_t> idx) const { return data_[offset_of(idx)]; }

  // ---- views (share storage) ----

  Tensor reshape(const Shape& new_shape) const {
    Shape s = infer_shape(new_shape);
    BIQA_CHECK(is_contiguous(), ErrorCode::invalid_argument,
               "reshape of a non-contiguous tensor ", shape_.to_string(),
               "; call contiguous() first");
    Tensor t = *this;
    t.shape_ = s;
    t.strides_ = s.contiguous_strides();
    return t;
  }

  Tensor permute(std::initializer_list<int> order) const {
    return permute(std::vector<int>(order));
  }
  Tensor permute(const std::vector<int>& order) const {
    BIQA_CHECK(static_cast<int>(order.size()) == dim(), ErrorCode::invalid_argument,
               "permute: ", order.size(), " axes for a rank-", dim(), " tensor");
    std::array<bool, Shape::max_rank> seen{};
    Tensor t = *this;
    for (int i = 0; i < dim(); ++i) {
      const int a = shape_.normalize_axis(order[static_cast<std::size_t>(i)]);
      BIQA_CHECK(!seen[static_cast<std::size_t>(a)], ErrorCode::invalid_argument,
                 "permute: axis ", a, " repeated");
      seen[static_cast<std::size_t>(a)] = true;
      t.shape_[i] = shape_[a];
      t.strides_[static_cast<std::size_t>(i)] = strides_[static_cast<std::size_t>(a)];
    }
    return t;
  }

  Tensor transpose(int a, int b) const {
    std::vector<int> order(static_cast<std::size_t>(dim()));
    std::iota(order.begin(), order.end(), 0);
    std::swap(order[static_cast<std::size_t>(shape_.normalize_axis(a))],
              order[static_cast<std::size_t>(shape_.normalize_axis(b))]);
    return permute(order);
  }

  // Elements [start, end) with a step along `axis`; negative start/end count from the end.
  Tensor slice(int axis, std::int64_t start, std::int64_t end, std::int64_t step = 1) const {
    const int a = shape_.normalize_axis(axis);
    const std::int64_t n = shape_[a];
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = std::clamp<std::int64_t>(start, 0, n);
    end = std::clamp<std::int64_t>(end, start, n);
    BIQA_CHECK(step > 0, ErrorCode::invalid_argument, "slice step must be positive");
    Tensor t = *this;
    t.data_ = data_ + start * strides_[static_cast<std::size_t>(a)];
    t.shape_[a] = (end - start + step - 1) / step;
    t.strides_[static_cast<std::size_t>(a)] *= step;
    return t;
  }

  // Drops `axis`, keeping index `index` of it.
  Tensor select(int axis, std::int64_t index) const {
    const int a = shape_.normalize_axis(axis);
    if (index < 0) index += shape_[a];
    BIQA_CHECK(index >= 0 && index < shape_[a], ErrorCode::invalid_argument, "select: index ",
               index, " out of range for axis ", a, " of ", shape_.to_string());
    Tensor t;
    t.owner_ = owner_;
    t.data_ = data_ + index * strides_[static_cast<std::size_t>(a)];
    for (int i = 0, j = 0; i < dim(); ++i) {
      if (i == a) continue;
      t.shape_.push_back(shape_[i]);
      t.strides_[static_cast<std::size_t>(j++)] = strides_[static_cast<std::size_t>(i)];
    }
    return t;
  }

  Tensor unsqueeze(int axis) const {
    const int r = dim();
    const int a = axis < 0 ? axis + r + 1 : axis;
    BIQA_CHECK(a >= 0 && a <= r, ErrorCode::invalid_argument, "unsqueeze: bad axis ", axis);
    Tensor t;
    t.owner_ = owner_;
    t.data_ = data_;
    for (int i = 0, j = 0; i <= r; ++i) {
      if (i == a) {
        t.shape_.push_back(1);
        t.strides_[static_cast<std::size_t>(i)] =
            a < r ? strides_[static_cast<std::size_t>(a)] * shape_[a] : 1;
      } else {
        t.shape_.push_back(shape_[j]);
        t.strides_[static_cast<std::size_t>(i)] = strides_[static_cast<std::size_t>(j)];
        ++j;
      }
    }
    return t;
  }

  // ---- copies ----

  // A contiguous copy (always new storage); on another device, that device's copy kernel.
  Tensor clone() const {
    if constexpr (on_cpu) {
      Tensor t(shape_);
      copy_to(t.data_);
      return t;
    } else {
      return DeviceCopy<Device>::contiguous_copy(*this);
    }
  }
  // This tensor if already contiguous, else a contiguous copy.
  Tensor contiguous() const { return is_contiguous() ? *this : clone(); }

  // Writes the elements in row-major order to `out` (numel() elements).
  void copy_to(T* out) const {
    static_assert(on_cpu);
    if (is_contiguous()) {
      std::copy_n(data_, numel(), out);
      return;
    }
    for_each_offset([&](std::int64_t off) { *out++ = data_[off]; });
  }

  // Copies `src` (same shape, any strides) into this tensor's elements.
  void assign(const Tensor<T, Device>& src) {
    static_assert(on_cpu);
    BIQA_CHECK(src.shape() == shape_, ErrorCode::invalid_argument, "assign: shape ",
               src.shape().to_string(), " into ", shape_.to_string());
    if (is_contiguous() && src.is_contiguous()) {
      std::copy_n(src.data(), numel(), data_);
      return;
    }
    const Tensor s = src.contiguous();
    const T* in = s.data();
    for_each_offset([&](std::int64_t off) { data_[off] = *in++; });
  }

  void fill(T value) {
    static_assert(on_cpu);
    for_each_offset([&](std::int64_t off) { data_[off] = value; });
  }

  std::vector<T> to_vector() const {
    std::vector<T> v(static_cast<std::size_t>(numel()));
    copy_to(v.data());
    return v;
  }

  // Visits the storage offset of every element in row-major order.
  template <typename F>
  void for_each_offset(F&& f) const {
    const int r = dim();
    if (numel() == 0) return;
    if (r == 0) {
      f(std::int64_t{0});
      return;
    }
    std::array<std::int64_t, Shape::max_rank> idx{};
    std::int64_t off = 0;
    const std::int64_t inner = shape_[r - 1];
    const std::int64_t inner_stride = strides_[static_cast<std::size_t>(r - 1)];
    while (true) {
      for (std::int64_t i = 0; i < inner; ++i) f(off + i * inner_stride);
      int d = r - 2;
      for (; d >= 0; --d) {
        const auto du = static_cast<std::size_t>(d);
        ++idx[du];
        off += strides_[du];
        if (idx[du] < shape_[d]) break;
        off -= strides_[du] * shape_[d];
        idx[du] = 0;
      }
      if (d < 0) return;
    }
  }

 private:
  std::int64_t offset_of(std::initializer_list<std::int64_t> idx) const {
    BIQA_CHECK(static_cast<int>(idx.size()) == dim(), ErrorCode::invalid_argument, "index of rank ",
               idx.size(), " into a rank-", dim(), " tensor");
    std::int64_t off = 0;
    int i = 0;
    for (auto v : idx) {
      const auto n = shape_[i];
      BIQA_CHECK(v >= 0 && v < n, ErrorCode::invalid_argument, "index ", v,
                 " out of range for axis ", i, " of ", shape_.to_string());
      off += v * strides_[static_cast<std::size_t>(i)];
      ++i;
    }
    return off;
  }

  Shape infer_shape(const Shape& s) const {
    BIQA_CHECK(s.numel() == numel(), ErrorCode::invalid_argument, "reshape ",
               shape_.to_string(), " (", numel(), " elements) to ", s.to_string());
    return s;
  }

  std::shared_ptr<void> owner_;
  T* data_ = nullptr;
  Shape shape_;
  Strides strides_{};
};

/// `t` on device `To`: the same handle when it is there already, else a row-major copy (from the
/// host through DeviceCopy<To>::from_host, back to it through DeviceCopy<From>::to_host). Code
/// written once over the device moves its inputs and results with it; a device other than the CPU
/// needs its backend's header (ops/cuda.cuh) where the copy is instantiated.
template <typename To, typename T, typename From>
Tensor<T, To> to_device(const Tensor<T, From>& t) {
  if constexpr (std::is_same_v<To, From>) {
    return t;
  } else if constexpr (std::is_same_v<From, Cpu>) {
    return DeviceCopy<To>::from_host(t);
  } else {
    static_assert(std::is_same_v<To, Cpu>, "to_device: copies between two non-CPU devices go through the host");
    return DeviceCopy<From>::to_host(t);
  }
}

/// Views raw float data of any dtype as float32: borrowed when already f32, converted otherwise.
inline Tensor<float> to_float_tensor(const void* data, DType dtype, const Shape& shape,
                                     std::shared_ptr<void> keep_alive = {}) {
  if (dtype == DType::f32 && reinterpret_cast<std::uintptr_t>(data) % alignof(float) == 0) {
    return Tensor<float>::borrow(static_cast<float*>(const_cast<void*>(data)), shape,
                                 std::move(keep_alive));
  }
  Tensor<float> t(shape);
  convert_to_float(data, dtype, static_cast<std::size_t>(shape.numel()), t.data());
  return t;
}

}  // namespace biqa
