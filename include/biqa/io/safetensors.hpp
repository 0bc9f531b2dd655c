#pragma once
/// @file
/// safetensors: 8-byte little-endian header length, a JSON header, then the raw tensor bytes.
/// Read zero-copy from a memory map and validated as strictly as the reference implementation:
/// every offset inside the buffer, byte counts equal to shape × dtype, tensors neither overlapping
/// nor leaving holes, element-aligned.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/io/weight_file.hpp"

namespace biqa::io {

inline constexpr std::uint64_t safetensors_max_header = 100u << 20;  ///< as the reference reader

inline WeightFile read_safetensors(std::shared_ptr<MappedFile> file) {
  const std::string& path = file->path();
  auto bad = [&](const auto&... what) -> void { fail(ErrorCode::format, path, ": ", what...); };

  if (file->size() < 8) bad("truncated: ", file->size(), " bytes, a safetensors file has at least 8");
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = header_len << 8 | std::to_integer<std::uint64_t>(file->data()[i]);
  if (header_len > safetensors_max_header) bad("header length ", header_len, " is implausibly large");
  if (header_len > file->size() - 8)
    bad("header length ", header_len, " runs past the end of the file (", file->size(), " bytes)");

  const std::string_view header(reinterpret_cast<const char*>(file->data() + 8), header_len);
  json::Value root;
  try {
    root = json::parse(header, path + " header");
  } catch (const Error& e) {
    throw Error(ErrorCode::format, e.what());
  }
  if (!root.is_object()) bad("header is not a JSON object");

  const std::byte* data = file->data() + 8 + header_len;
  const std::uint64_t data_size = file->size() - 8 - header_len;

  WeightFile wf;
  wf.path = path;
  wf.format = "safetensors";
  wf.keep_alive = file;
  wf.source = file;

  struct Span {
    std::uint64_t begin, end;
    std::size_t index;
  };
  std::vector<Span> spans;

  for (const auto& [name, desc] : root.as_object()) {
    if (name == "__metadata__") {
      if (!desc.is_object()) bad("__metadata__ is not an object");
      for (const auto& [k, v] : desc.as_object()) {
        if (!v.is_string()) bad("__metadata__ value for '", k, "' is not a string");
        wf.metadata[k] = v.as_string();
      }
      continue;
    }
    if (!desc.is_object()) bad("entry '", name, "' is not an object");
    const json::Value* dt = desc.find("dtype");
    const json::Value* sh = desc.find("shape");
    const json::Value* off = desc.find("data_offsets");
    if (!dt || !dt->is_string()) bad("tensor '", name, "' has no dtype string");
    if (!sh || !sh->is_array()) bad("tensor '", name, "' has no shape array");
    if (!off || !off->is_array() || off->as_array().size() != 2)
      bad("tensor '", name, "' has no [begin, end] data_offsets");

    TensorRecord r;
    r.name = name;
    if (!parse_dtype_name(dt->as_string(), r.dtype))
      fail(ErrorCode::unsupported, path, ": tensor '", name, "' has unknown dtype '",
           dt->as_string(), "'");
    if (sh->as_array().size() > static_cast<std::size_t>(Shape::max_rank))
      bad("tensor '", name, "' has rank ", sh->as_array().size(), " (at most 8 supported)");
    std::uint64_t numel = 1;
    for (const auto& d : sh->as_array()) {
      if (!d.is_number() || d.as_number() < 0 || std::floor(d.as_number()) != d.as_number())
        bad("tensor '", name, "' has a shape entry that is not a non-negative integer");
      const auto e = static_cast<std::uint64_t>(d.as_int());
      if (e != 0 && numel > (std::uint64_t(1) << 62) / e) bad("tensor '", name, "' is too large");
      numel *= e;
      r.shape.push_back(static_cast<std::int64_t>(e));
    }
    r.strides = r.shape.contiguous_strides();
    const auto& o = off->as_array();
    if (!o[0].is_number() || !o[1].is_number() || o[0].as_number() < 0 || o[1].as_number() < 0)
      bad("tensor '", name, "' has non-numeric or negative data_offsets");
    const auto begin = static_cast<std::uint64_t>(o[0].as_int());
    const auto end = static_cast<std::uint64_t>(o[1].as_int());
    if (begin > end) bad("tensor '", name, "' has data_offsets [", begin, ", ", end, "] reversed");
    if (end > data_size)
      bad("tensor '", name, "' data_offsets end ", end, " lies outside the data (", data_size,
          " bytes)");
    const std::uint64_t expected = numel * dtype_size(r.dtype);
    if (end - begin != expected)
      bad("tensor '", name, "' has ", end - begin, " bytes but shape ", r.shape.to_string(),
          " of ", dtype_name(r.dtype), " needs ", expected);
    if ((8 + header_len + begin) % dtype_size(r.dtype) != 0)
      bad("tensor '", name, "' is misaligned: file offset ", 8 + header_len + begin,
          " is not a multiple of ", dtype_size(r.dtype));
    r.data = data + begin;
    spans.push_back({begin, end, wf.tensors.size()});
    wf.tensors.push_back(std::move(r));
  }

  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  std::uint64_t cursor = 0;
  for (const auto& s : spans) {
    if (s.begin < cursor)
      bad("tensor '", wf.tensors[s.index].name, "' overlaps the tensor before it");
    if (s.begin > cursor)
      bad("a hole of ", s.begin - cursor, " bytes before tensor '", wf.tensors[s.index].name, "'");
    cursor = s.end;
  }
  if (cursor != data_size)
    bad(data_size - cursor, " bytes after the last tensor belong to no tensor");
  return wf;
}

inline WeightFile read_safetensors(const std::string& path) {
  return read_safetensors(MappedFile::open(path));
}

/// One tensor to write: a name, a dtype, a shape and the row-major bytes.
struct TensorBlob {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::vector<std::byte> bytes;
};

inline TensorBlob make_blob(const std::string& name, const Tensor<float>& t) {
  TensorBlob b{name, DType::f32, t.shape(), std::vector<std::byte>(std::size_t(t.numel()) * 4)};
  const Tensor<float> c = t.contiguous();
  if (!b.bytes.empty()) std::memcpy(b.bytes.data(), c.data(), b.bytes.size());
  return b;
}

/// Serialises tensors (in the given order) and string metadata to the safetensors format.
inline std::vector<std::byte> encode_safetensors(const std::vector<TensorBlob>& tensors,
                                                 const std::map<std::string, std::string>& metadata = {}) {
  json::Value header = json::Object{};
  if (!metadata.empty()) {
    json::Value md = json::Object{};
    for (const auto& [k, v] : metadata) md.set(k, v);
    header.set("__metadata__", md);
  }
  // The data of wider elements goes first, so that every tensor is aligned to its element size
  // (the header keeps the given order; the reader requires alignment).
  std::vector<std::size_t> layout(tensors.size());
  std::iota(layout.begin(), layout.end(), std::size_t{0});
  std::stable_sort(layout.begin(), layout.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(tensors[a].dtype) > dtype_size(tensors[b].dtype);
  });
  std::vector<std::uint64_t> offsets(tensors.size());
  std::uint64_t offset = 0;
  for (std::size_t i : layout) {
    offsets[i] = offset;
    offset += tensors[i].bytes.size();
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const std::uint64_t n = static_cast<std::uint64_t>(t.shape.numel()) * dtype_size(t.dtype);
    BIQA_CHECK(n == t.bytes.size(), ErrorCode::invalid_argument, "tensor '", t.name, "' has ",
               t.bytes.size(), " bytes, shape needs ", n);
    BIQA_CHECK(header.find(t.name) == nullptr, ErrorCode::invalid_argument, "duplicate tensor '",
               t.name, "'");
    json::Value shape = json::Array{};
    for (auto d : t.shape) shape.push_back(d);
    json::Value desc = json::Object{};
    desc.set("dtype", dtype_name(t.dtype));
    desc.set("shape", shape);
    desc.set("data_offsets", json::Array{json::Value(offsets[i]), json::Value(offsets[i] + n)});
    header.set(t.name, desc);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keeps every tensor 8-byte aligned in the file
  std::vector<std::byte> out(8 + h.size() + offset);
  const std::uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = std::byte((len >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, h.data(), h.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    if (!t.bytes.empty()) std::memcpy(out.data() + 8 + h.size() + offsets[i], t.bytes.data(), t.bytes.size());
  }
  return out;
}

inline void write_safetensors(const std::string& path, const std::vector<TensorBlob>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  const auto bytes = encode_safetensors(tensors, metadata);
  write_file_bytes(path, bytes.data(), bytes.size());
}

}  // namespace biqa::io
