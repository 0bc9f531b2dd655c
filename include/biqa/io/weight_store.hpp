#pragma once
/// @file
/// WeightStore: how layers take their parameters. Lookups are scoped ("blocks.3.attn" then
/// "qkv.weight"), shape-checked, and recorded, so that a strict load can list every missing,
/// mis-shaped and unexpected key at once instead of failing on the first.

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "biqa/core/tensor.hpp"
#include "biqa/io/stored_weight.hpp"
#include "biqa/io/weight_file.hpp"

namespace biqa::io {

namespace detail {
/// This thread's default for WeightStoreOptions::keep_half (set by KeepHalfScope).
inline bool& keep_half_default() {
  thread_local bool keep = false;
  return keep;
}
}  // namespace detail

/// While alive, WeightStores constructed on this thread with default options use the low-memory
/// mode (or not): how load_model passes LoadOptions::low_memory to the loaders it calls.
class KeepHalfScope {
 public:
  explicit KeepHalfScope(bool keep) : saved_(detail::keep_half_default()) { detail::keep_half_default() = keep; }
  ~KeepHalfScope() { detail::keep_half_default() = saved_; }
  KeepHalfScope(const KeepHalfScope&) = delete;
  KeepHalfScope& operator=(const KeepHalfScope&) = delete;

 private:
  bool saved_;
};

struct WeightStoreOptions {
  /// Prefixes removed from every key when *all* keys carry them (DataParallel's "module.").
  std::vector<std::string> strip_prefixes = {"module."};
  /// Strict: finish() fails on unexpected keys too, not only on missing or mis-shaped ones.
  bool strict = true;
  /// Low-memory mode: weight matrices stored as f16/bf16 stay in that form (borrowed from the
  /// mapped file) and are widened to float32 only while their layer runs (take_stored; nn::Linear
  /// and nn::MultiheadAttention use it). Other tensors are converted at load as usual.
  bool keep_half = detail::keep_half_default();
};

class WeightStore {
 public:
  class Scope;

  explicit WeightStore(std::shared_ptr<const WeightFile> file, WeightStoreOptions opts = {})
      : file_(std::move(file)), opts_(std::move(opts)) {
    for (const auto& r : file_->tensors) names_[r.name] = &r;
    for (const auto& p : opts_.strip_prefixes) {
      if (names_.empty()) break;
      const bool all = std::all_of(names_.begin(), names_.end(),
                                   [&](const auto& kv) { return kv.first.rfind(p, 0) == 0; });
      if (!all) continue;
      std::map<std::string, const TensorRecord*> stripped;
      for (const auto& [k, r] : names_) stripped[k.substr(p.size())] = r;
      names_ = std::move(stripped);
    }
  }
  explicit WeightStore(WeightFile file, WeightStoreOptions opts = {})
      : WeightStore(std::make_shared<const WeightFile>(std::move(file)), std::move(opts)) {}

  const WeightFile& file() const { return *file_; }
  const std::string& path() const { return file_->path; }

  Scope root();
  Scope scope(const std::string& prefix);

  bool contains(const std::string& full_name) const { return names_.count(full_name) != 0; }
  const TensorRecord* record(const std::string& full_name) const {
    auto it = names_.find(full_name);
    return it == names_.end() ? nullptr : it->second;
  }
  /// Every key (after prefix stripping), sorted.
  std::vector<std::string> keys() const {
    std::vector<std::string> k;
    for (const auto& kv : names_) k.push_back(kv.first);
    return k;
  }
  std::vector<std::string> keys_with_prefix(const std::string& prefix) const {
    std::vector<std::string> k;
    for (auto it = names_.lower_bound(prefix); it != names_.end() && it->first.rfind(prefix, 0) == 0; ++it)
      k.push_back(it->first);
    return k;
  }

  /// Fetches a tensor as float32 and marks it used. An empty `expected` shape accepts any shape.
  Tensor<float> take(const std::string& full_name, const std::optional<Shape>& expected) {
    const TensorRecord* r = record(full_name);
    if (!r) {
      missing_.push_back(expected ? cat(full_name, " ", expected->to_string()) : full_name);
      return placeholder(expected);
    }
    used_.insert(full_name);
    if (expected && r->shape != *expected) {
      mis_shaped_.push_back(full_name + ": file has " + r->shape.to_string() + ", expected " +
                            expected->to_string());
      return placeholder(expected);
    }
    // A small float32 tensor (a bias, a norm's scale) is read from the file, not viewed in its
    // mapping: read during a forward, a page of it would map its neighbours' pages back in, the
    // pages of weights that a packed layer gave back (release_file_pages).
    if (file_->mapped(*r) && r->dtype == DType::f32 && r->is_contiguous() &&
        static_cast<std::int64_t>(r->nbytes()) <= read_tensor_bytes) {
      Tensor<float> t(r->shape);
      file_->source->read_into(r->data, r->nbytes(), t.data());
      return t;
    }
    return file_->to_float(*r);
  }
  /// Float32 tensors of a mapped file up to this size are read at load (take); larger ones are views.
  static constexpr std::int64_t read_tensor_bytes = 256 * 1024;

  /// As take(), for a weight matrix a layer may keep in its stored 16-bit form: with
  /// WeightStoreOptions::keep_half, a contiguous f16/bf16 tensor is returned unconverted.
  StoredWeight take_stored(const std::string& full_name, const std::optional<Shape>& expected) {
    const TensorRecord* r = record(full_name);
    const bool half = r && opts_.keep_half && (r->dtype == DType::f16 || r->dtype == DType::bf16) &&
                      r->is_contiguous() && (!expected || r->shape == *expected);
    if (!half) {
      Tensor<float> t = take(full_name, expected);
      // Zero-copy when the record's own bytes are the tensor's (aligned contiguous float32).
      const bool borrowed = r && file_->mapped(*r) && t.defined() &&
                            static_cast<const void*>(t.data()) == static_cast<const void*>(r->data);
      return StoredWeight(std::move(t), borrowed);
    }
    used_.insert(full_name);
    return StoredWeight(r->data, r->dtype, r->shape, file_->keep_alive);
  }

  /// Marks keys as intentionally unread (buffers such as BatchNorm's num_batches_tracked).
  void ignore(const std::string& full_name) {
    if (contains(full_name)) used_.insert(full_name);
  }
  void ignore_prefix(const std::string& prefix) {
    for (const auto& k : keys_with_prefix(prefix)) used_.insert(k);
  }

  std::vector<std::string> unexpected() const {
    std::vector<std::string> out;
    for (const auto& kv : names_)
      if (!used_.count(kv.first)) out.push_back(kv.first);
    return out;
  }
  const std::vector<std::string>& missing() const { return missing_; }
  const std::vector<std::string>& mis_shaped() const { return mis_shaped_; }

  /// Ends loading: throws one error naming every missing, mis-shaped and (strict) unexpected key.
  void finish() const {
    const auto extra = opts_.strict ? unexpected() : std::vector<std::string>{};
    if (missing_.empty() && mis_shaped_.empty() && extra.empty()) return;
    std::string msg = file_->path + ": weights do not match the model.";
    auto list = [&msg](const char* title, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      msg += cat("\n  ", title, " (", keys.size(), "):");
      const std::size_t shown = std::min<std::size_t>(keys.size(), 40);
      for (std::size_t i = 0; i < shown; ++i) msg += "\n    " + keys[i];
      if (shown < keys.size()) msg += cat("\n    ... and ", keys.size() - shown, " more");
    };
    list("missing keys", missing_);
    list("keys with the wrong shape", mis_shaped_);
    list("unexpected keys", extra);
    throw Error(ErrorCode::key, msg);
  }

 private:
  static Tensor<float> placeholder(const std::optional<Shape>& expected) {
    return expected ? Tensor<float>::zeros(*expected) : Tensor<float>();
  }

  std::shared_ptr<const WeightFile> file_;
  WeightStoreOptions opts_;
  std::map<std::string, const TensorRecord*> names_;
  std::set<std::string> used_;
  std::vector<std::string> missing_;
  std::vector<std::string> mis_shaped_;
};

/// A prefix into a WeightStore: scope("blocks").scope("3").take("attn.qkv.weight", {..}).
class WeightStore::Scope {
 public:
  Scope(WeightStore& store, std::string prefix) : store_(&store), prefix_(std::move(prefix)) {}

  Scope scope(const std::string& name) const { return Scope(*store_, full_name(name) + "."); }
  Scope scope(int index) const { return scope(std::to_string(index)); }

  std::string full_name(const std::string& name) const { return prefix_ + name; }
  const std::string& prefix() const { return prefix_; }
  WeightStore& store() const { return *store_; }

  bool has(const std::string& name) const { return store_->contains(full_name(name)); }
  /// Whether any key lies under `name.` (an optional submodule is present).
  bool has_scope(const std::string& name) const {
    return !store_->keys_with_prefix(full_name(name) + ".").empty();
  }
  const TensorRecord* record(const std::string& name) const {
    return store_->record(full_name(name));
  }

  Tensor<float> take(const std::string& name, const Shape& expected) const {
    return store_->take(full_name(name), expected);
  }
  /// A weight matrix, kept 16-bit in the low-memory mode (WeightStore::take_stored).
  StoredWeight take_stored(const std::string& name, const Shape& expected) const {
    return store_->take_stored(full_name(name), expected);
  }
  /// Any shape (the caller derives dimensions from it).
  Tensor<float> take_any(const std::string& name) const {
    return store_->take(full_name(name), std::nullopt);
  }
  /// nullopt when absent (optional parameters such as a bias); shape-checked when present.
  std::optional<Tensor<float>> take_optional(const std::string& name, const Shape& expected) const {
    if (!has(name)) return std::nullopt;
    return take(name, expected);
  }
  void ignore(const std::string& name) const { store_->ignore(full_name(name)); }

 private:
  WeightStore* store_;
  std::string prefix_;
};

inline WeightStore::Scope WeightStore::root() { return Scope(*this, ""); }
inline WeightStore::Scope WeightStore::scope(const std::string& prefix) {
  return Scope(*this, prefix.empty() ? prefix : prefix + ".");
}

}  // namespace biqa::io
