#pragma once
/// @file
/// load_weights(path): opens a safetensors file or a PyTorch checkpoint, chosen by content.

#include <memory>
#include <string>

#include "biqa/io/mapped_file.hpp"
#include "biqa/io/pytorch.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_file.hpp"
#include "biqa/io/weight_store.hpp"

namespace biqa::io {

inline WeightFile load_weights(std::shared_ptr<MappedFile> file) {
  if (looks_like_pytorch(*file)) return read_pytorch(std::move(file));
  return read_safetensors(std::move(file));
}

inline WeightFile load_weights(const std::string& path) { return load_weights(MappedFile::open(path)); }

inline WeightStore open_weights(const std::string& path, WeightStoreOptions opts = {}) {
  return WeightStore(load_weights(path), std::move(opts));
}

}  // namespace biqa::io
