#pragma once
/// @file
/// A read-only view of a whole file, memory-mapped (copy-on-write, so views handed out as
/// tensors may be modified without touching the file).

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "biqa/core/error.hpp"

namespace biqa::io {

class MappedFile {
 public:
  static std::shared_ptr<MappedFile> open(const std::string& path) {
    auto f = std::shared_ptr<MappedFile>(new MappedFile());
    f->path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(ErrorCode::io, path, ": cannot open: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(ErrorCode::io, path, ": not a regular file");
    }
    f->size_ = static_cast<std::size_t>(st.st_size);
    if (f->size_ > 0) {
      void* p = ::mmap(nullptr, f->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        fail(ErrorCode::io, path, ": mmap failed: ", std::strerror(errno));
      }
      f->data_ = static_cast<std::byte*>(p);
      f->mapped_ = true;
    }
    ::close(fd);
    return f;
  }

  /// Wraps bytes already in memory (fuzzers, tests, data received over other channels).
  static std::shared_ptr<MappedFile> from_bytes(std::vector<std::byte> bytes,
                                                std::string name = "<memory>") {
    auto f = std::shared_ptr<MappedFile>(new MappedFile());
    f->path_ = std::move(name);
    f->owned_ = std::move(bytes);
    f->size_ = f->owned_.size();
    f->data_ = f->owned_.data();
    return f;
  }
  static std::shared_ptr<MappedFile> from_bytes(const void* data, std::size_t n,
                                                std::string name = "<memory>") {
    const auto* b = static_cast<const std::byte*>(data);
    return from_bytes(std::vector<std::byte>(b, b + n), std::move(name));
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (mapped_) ::munmap(data_, size_);
  }

  const std::byte* data() const { return data_; }
  std::byte* mutable_data() { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::vector<std::byte> owned_;
  bool mapped_ = false;  ///< data_ comes from mmap (else from owned_)
};

inline std::vector<unsigned char> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::io, path, ": cannot open: ", std::strerror(errno));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file_bytes(const std::string& path, const void* data, std::size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(ErrorCode::io, path, ": cannot open for writing: ", std::strerror(errno));
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!out) fail(ErrorCode::io, path, ": write failed");
}

}  // namespace biqa::io
