#pragma once
/// @file
/// read_pytorch: the tensors of a checkpoint written by torch.save (PyTorch >= 1.6), without
/// Python or libtorch. Such a file is a ZIP archive of stored entries:
///   `<archive>/data.pkl`      the pickled object (a state_dict, or a dict holding one)
///   `<archive>/data/<key>`    the raw little-endian bytes of each storage
///   `<archive>/version`, `<archive>/byteorder` (newer versions), ...
/// The pickle names each storage by a persistent id ('storage', torch.FloatStorage, key,
/// location, numel) and each tensor by _rebuild_tensor_v2(storage, offset, size, stride, ...), so a
/// tensor becomes a TensorRecord pointing into the mapped storage with its own offset and strides:
/// views and tensors sharing a storage need no copy.
///
/// Naming: nested dicts (and lists) are flattened with '.'. When the top level is a dict that
/// holds a state_dict under a well-known key ("state_dict", "model", ...), only that one is read
/// and metadata "biqa.source_key" says which; other entries (optimizer state, configs, epochs)
/// are skipped, as are Python objects anywhere. `torch.save(tensor)` gives one tensor "tensor".

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "biqa/core/dtype.hpp"
#include "biqa/core/error.hpp"
#include "biqa/core/shape.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/io/pickle.hpp"
#include "biqa/io/weight_file.hpp"
#include "biqa/io/zip.hpp"

namespace biqa::io {

struct PytorchReadOptions {
  /// CRC-32 of data.pkl (small, and the structure everything else hangs on).
  bool verify_pickle_crc = true;
  /// CRC-32 of every storage a tensor uses: reads the whole file up front.
  bool verify_data_crc = false;
  pickle::Limits limits{};
  int max_depth = 64;  ///< nesting of dicts and lists
};

/// Top-level keys under which checkpoints keep their state_dict, in order of preference.
inline constexpr std::array<std::string_view, 6> pytorch_state_dict_keys = {
    "state_dict", "model", "model_state_dict", "module", "net", "params"};

enum class PytorchFormat { none, zip, legacy_pickle };

/// What the first bytes say: a ZIP archive (torch.save since 1.6), a bare pickle (the legacy
/// format of older torch.save, or _use_new_zipfile_serialization=False), or neither.
inline PytorchFormat detect_pytorch_format(const MappedFile& f) {
  const auto* b = reinterpret_cast<const unsigned char*>(f.data());
  const std::size_t n = f.size();
  if (n >= 4 && b[0] == 'P' && b[1] == 'K' &&
      ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6)))
    return PytorchFormat::zip;
  // Legacy files start with the pickled magic number 0x1950a86a20f9469cfc6c (PROTO, LONG1).
  static constexpr unsigned char legacy[] = {0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  if (n >= 2 + sizeof(legacy) && b[0] == 0x80 && b[1] <= 5 &&
      std::memcmp(b + 2, legacy, sizeof(legacy)) == 0)
    return PytorchFormat::legacy_pickle;
  return PytorchFormat::none;
}

inline bool looks_like_pytorch(const MappedFile& f) {
  return detect_pytorch_format(f) != PytorchFormat::none;
}

namespace detail {

class PytorchReader {
 public:
  PytorchReader(std::shared_ptr<MappedFile> file, const PytorchReadOptions& opts)
      : file_(std::move(file)), opts_(opts), zip_(file_) {}

  WeightFile read() {
    find_archive();
    const ZipEntry& pkl = *zip_.find(archive_ + "/data.pkl");
    if (opts_.verify_pickle_crc) verify(pkl);
    doc_ = pickle::load(zip_.data(pkl), path() + ":" + pkl.name, opts_.limits);

    wf_.path = path();
    wf_.format = "pytorch";
    wf_.keep_alive = file_;
    wf_.source = file_;
    budget_ = 4 * (doc_.value_count() + doc_.container_count()) + 4096;
    on_path_.assign(doc_.container_count(), 0);

    const pickle::Value& root = doc_.root;
    if (root.kind == pickle::Kind::tensor) {
      emit("tensor", root);
      return std::move(wf_);
    }
    if (root.kind == pickle::Kind::dict) {
      for (std::string_view key : pytorch_state_dict_keys) {
        const pickle::Value* v = doc_.get(root, key);
        if (!v || v->kind != pickle::Kind::dict) continue;
        visit(*v, "", 1);
        if (!wf_.tensors.empty()) {
          wf_.metadata["biqa.source_key"] = std::string(key);
          return std::move(wf_);
        }
      }
    }
    visit(root, "", 0);
    if (wf_.tensors.empty() && !skipped_object_.empty())
      fail(ErrorCode::unsupported, path(), ": no tensors outside pickled Python objects (",
           skipped_object_, "); biqa reads state_dicts: save model.state_dict() instead of the "
           "model");
    return std::move(wf_);
  }

 private:
  const std::string& path() const { return file_->path(); }

  template <typename... A>
  [[noreturn]] void bad(const A&... what) const {
    fail(ErrorCode::format, path(), ": ", what...);
  }

  void verify(const ZipEntry& e) const {
    // torch can be told not to compute checksums; it then records 0.
    if (e.crc32 != 0 || e.uncompressed_size == 0) zip_.verify_crc(e);
  }

  /// The archive folder is named after the file torch.save first wrote to, so it varies.
  void find_archive() {
    std::vector<std::string> found;
    for (const auto& e : zip_.entries()) {
      const std::string_view n = e.name;
      constexpr std::string_view suffix = "/data.pkl";
      if (n.size() > suffix.size() && n.substr(n.size() - suffix.size()) == suffix &&
          n.substr(0, n.size() - suffix.size()).find('/') == std::string_view::npos)
        found.emplace_back(n.substr(0, n.size() - suffix.size()));
    }
    if (found.empty())
      bad("a zip archive without <archive>/data.pkl: not a torch.save checkpoint");
    if (found.size() > 1)
      bad("a zip archive with several data.pkl (", found[0], ", ", found[1], ")");
    archive_ = found[0];
    bool torchscript = zip_.find(archive_ + "/constants.pkl") != nullptr;
    for (const auto& e : zip_.entries())
      torchscript = torchscript || e.name.rfind(archive_ + "/code/", 0) == 0;
    if (torchscript)
      fail(ErrorCode::unsupported, path(), ": a TorchScript archive (torch.jit.save); biqa reads "
           "torch.save checkpoints: load it with torch.jit.load and torch.save its state_dict()");
    if (const ZipEntry* bo = zip_.find(archive_ + "/byteorder")) {
      const auto d = zip_.data(*bo);
      const std::string_view order(reinterpret_cast<const char*>(d.data()), d.size());
      if (order != "little")
        fail(ErrorCode::unsupported, path(), ": storages are in '", order.substr(0, 16),
             "' byte order; only little-endian checkpoints are read");
    }
  }

  static std::string join(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  }

  /// Walks dicts, lists and tuples, emitting every tensor under its dotted name.
  void visit(const pickle::Value& v, const std::string& name, int depth) {
    using pickle::Kind;
    if (budget_ == 0) bad("the pickled structure shares its parts too often to be flattened");
    --budget_;
    switch (v.kind) {
      case Kind::tensor: emit(name, v); return;
      case Kind::object: {
        const auto& o = doc_.object(v);
        if (o.tensor_like)
          fail(ErrorCode::unsupported, path(), ": tensor '", name, "' is rebuilt by ", o.type,
               " (a quantized, sparse or otherwise special tensor), which biqa does not read");
        if (skipped_object_.empty())
          skipped_object_ = o.type + (name.empty() ? std::string() : " under '" + name + "'");
        return;
      }
      case Kind::dict:
      case Kind::list:
      case Kind::tuple: break;
      default: return;
    }
    if (depth >= opts_.max_depth)
      bad("'", name, "' is nested more than ", opts_.max_depth, " levels deep");
    if (on_path_[v.ref]) bad("'", name, "' contains itself");
    on_path_[v.ref] = 1;
    const auto items = doc_.items(v);
    if (v.kind == Kind::dict) {
      for (std::size_t i = 0; i + 1 < items.size(); i += 2) {
        const pickle::Value& k = items[i];
        std::string key;
        if (k.kind == Kind::string) key = doc_.text(k);
        else if (k.kind == Kind::integer) key = std::to_string(k.i);
        else continue;  // keys that make no name (tuples, objects) hold no weights
        visit(items[i + 1], join(name, key), depth + 1);
      }
    } else {
      for (std::size_t i = 0; i < items.size(); ++i)
        visit(items[i], join(name, std::to_string(i)), depth + 1);
    }
    on_path_[v.ref] = 0;
  }

  /// The bytes of a storage, checked against the size its persistent id declares.
  std::span<const std::byte> storage_bytes(const pickle::Storage& s, const std::string& tensor) {
    const std::string entry = archive_ + "/data/" + s.key;
    auto it = storages_.find(s.key);
    if (it == storages_.end()) {
      const ZipEntry* e = zip_.find(entry);
      if (!e)
        bad("storage '", s.key, "' of tensor '", tensor, "' is missing (no entry '", entry, "')");
      const auto bytes = zip_.data(*e);
      if (opts_.verify_data_crc) verify(*e);
      it = storages_.emplace(s.key, bytes).first;
    }
    const auto bytes = it->second;
    const std::uint64_t es = dtype_size(s.dtype);
    if (s.numel < 0 || std::uint64_t(s.numel) > bytes.size() / es ||
        std::uint64_t(s.numel) * es != bytes.size())
      bad("storage '", s.key, "' of tensor '", tensor, "' declares ", s.numel, " elements of ",
          s.type, " but entry '", entry, "' holds ", bytes.size(), " bytes");
    return bytes;
  }

  void emit(const std::string& name, const pickle::Value& v) {
    const pickle::TensorInfo& t = doc_.tensor(v);
    const pickle::Storage& s = doc_.storage(t.storage);
    if (!s.dtype_known)
      fail(ErrorCode::unsupported, path(), ": tensor '", name, "' is stored as ", s.type,
           ", an element type biqa does not read");
    if (t.size.size() > std::size_t(Shape::max_rank))
      fail(ErrorCode::unsupported, path(), ": tensor '", name, "' has rank ", t.size.size(),
           " (at most ", Shape::max_rank, ")");
    if (!names_.insert(name).second) bad("two tensors are named '", name, "'");
    const auto bytes = storage_bytes(s, name);
    const std::int64_t storage_numel = s.numel;

    // Bounds: every element offset + sum(i_k * stride_k) must lie inside the storage.
    if (t.offset < 0) bad("tensor '", name, "' has negative storage offset ", t.offset);
    std::int64_t numel = 1;
    std::int64_t last = t.offset;
    bool empty = false;
    for (std::size_t d = 0; d < t.size.size(); ++d) {
      if (t.size[d] < 0 || t.stride[d] < 0)
        bad("tensor '", name, "' has a negative size or stride in dimension ", d);
      if (t.size[d] == 0) empty = true;
    }
    for (std::size_t d = 0; d < t.size.size() && !empty; ++d) {
      std::int64_t reach = 0;
      if (__builtin_mul_overflow(t.size[d] - 1, t.stride[d], &reach) ||
          __builtin_add_overflow(last, reach, &last) ||
          __builtin_mul_overflow(numel, t.size[d], &numel))
        bad("tensor '", name, "' is too large");
    }
    if (!empty && numel > std::numeric_limits<std::int64_t>::max() / std::int64_t(dtype_size(s.dtype)))
      bad("tensor '", name, "' is too large");
    if (empty ? t.offset > storage_numel : last >= storage_numel)
      bad("tensor '", name, "' (offset ", t.offset, ", size ", list(t.size), ", stride ",
          list(t.stride), ") reaches element ", last, " of storage '", s.key, "' which has ",
          storage_numel);

    TensorRecord r;
    r.name = name;
    r.dtype = s.dtype;
    for (std::size_t d = 0; d < t.size.size(); ++d) {
      r.shape.push_back(t.size[d]);
      r.strides[d] = t.stride[d];
    }
    r.data = bytes.data() + t.offset * std::int64_t(dtype_size(s.dtype));
    wf_.tensors.push_back(std::move(r));
  }

  static std::string list(const std::vector<std::int64_t>& v) {
    std::string s = "(";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + ")";
  }

  std::shared_ptr<MappedFile> file_;
  PytorchReadOptions opts_;
  ZipArchive zip_;
  std::string archive_;
  pickle::Document doc_;
  WeightFile wf_;
  std::unordered_map<std::string, std::span<const std::byte>> storages_;
  std::unordered_set<std::string> names_;
  std::vector<char> on_path_;
  std::size_t budget_ = 0;
  std::string skipped_object_;
};

}  // namespace detail

inline WeightFile read_pytorch(std::shared_ptr<MappedFile> file, const PytorchReadOptions& opts = {}) {
  switch (detect_pytorch_format(*file)) {
    case PytorchFormat::legacy_pickle:
      fail(ErrorCode::unsupported, file->path(), ": legacy (pre-1.6) torch.save format; re-save it "
           "with torch>=1.6 (torch.save(torch.load(f), g)) or convert it to safetensors");
    case PytorchFormat::none:
      if (file->size() > 0 && std::to_integer<unsigned>(file->data()[0]) == 0x80)
        fail(ErrorCode::unsupported, file->path(), ": a bare pickle, not a torch.save zip "
             "archive; re-save it with torch>=1.6");
      fail(ErrorCode::format, file->path(), ": not a PyTorch checkpoint (no zip signature)");
    case PytorchFormat::zip: break;
  }
  return detail::PytorchReader(std::move(file), opts).read();
}

inline WeightFile read_pytorch(const std::string& path, const PytorchReadOptions& opts = {}) {
  return read_pytorch(MappedFile::open(path), opts);
}

}  // namespace biqa::io
