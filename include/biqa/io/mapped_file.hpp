#pragma once
/// @file
/// A read-only view of a whole file, memory-mapped (copy-on-write, so views handed out as
/// tensors may be modified without touching the file); release_file_pages gives a range's resident
/// pages back once a layer holds its own copy of the values.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
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
      f->fd_ = fd;  // kept for read_into
      return f;
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
    if (fd_ >= 0) ::close(fd_);
  }

  const std::byte* data() const { return data_; }
  std::byte* mutable_data() { return data_; }
  /// True when the bytes are a mapping of the file (open()), false for bytes held in memory.
  bool is_mapped() const { return mapped_; }

  /// True when [begin, begin + n) lies inside data().
  bool contains(const std::byte* begin, std::size_t n) const {
    return begin >= data_ && n <= size_ && static_cast<std::size_t>(begin - data_) <= size_ - n;
  }

  /// Copies bytes [begin, begin + n) of data() into `dst`. For a mapping it reads the file instead
  /// of touching the mapping, so no page of it becomes resident (nor, by the kernel's fault-around,
  /// its neighbours).
  void read_into(const std::byte* begin, std::size_t n, void* dst) const {
    BIQA_CHECK(contains(begin, n), ErrorCode::invalid_argument, path_, ": read outside the file");
    auto* out = static_cast<std::byte*>(dst);
    std::size_t done = 0;
    while (fd_ >= 0 && done < n) {
      const ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(begin - data_ + done));
      if (got <= 0) break;  // the mapping below still has the bytes
      done += static_cast<std::size_t>(got);
    }
    if (done < n) std::memcpy(out + done, begin + done, n - done);
  }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  std::string path_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::vector<std::byte> owned_;
  bool mapped_ = false;  ///< data_ comes from mmap (else from owned_)
  int fd_ = -1;          ///< the mapped file, open for read_into
};

namespace detail {

/// For each whole page of [data, data + bytes): whether it is resident and still the file's own page
/// (not a private copy made by a write), from /proc/self/pagemap. Empty when that cannot be read.
inline std::vector<bool> file_pages_resident(const void* data, std::size_t bytes, std::uintptr_t& first_page) {
  std::vector<bool> out;
#if defined(__linux__)
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) / page * page;
  first_page = begin;
  if (end <= begin) return out;
  const std::size_t pages = (end - begin) / page;
  std::vector<std::uint64_t> entries(pages);
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  const auto want = static_cast<ssize_t>(pages * sizeof(std::uint64_t));
  const ssize_t got = ::pread(fd, entries.data(), static_cast<std::size_t>(want),
                              static_cast<off_t>(begin / page * sizeof(std::uint64_t)));
  ::close(fd);
  if (got != want) return out;
  out.resize(pages);
  constexpr std::uint64_t present = std::uint64_t(1) << 63, file_page = std::uint64_t(1) << 61;
  for (std::size_t i = 0; i < pages; ++i) out[i] = (entries[i] & present) && (entries[i] & file_page);
#else
  (void)data, (void)bytes, (void)first_page;
#endif
  return out;
}

}  // namespace detail

/// How many whole pages of [data, data + bytes), a range inside a MappedFile's mapping, are
/// resident as the file's own pages (0 where /proc/self/pagemap cannot be read).
inline std::size_t resident_file_pages(const void* data, std::size_t bytes) {
  std::uintptr_t first = 0;
  const std::vector<bool> r = detail::file_pages_resident(data, bytes, first);
  return static_cast<std::size_t>(std::count(r.begin(), r.end(), true));
}

/// Gives the resident pages of [data, data + bytes), a range inside a MappedFile's mapping, back to
/// the kernel: they leave this process's resident set and are read from the file again if touched.
/// Only whole pages that are still the file's own are dropped; a page written through the private
/// mapping holds the only copy of its values and stays. Returns the bytes given back (0 off Linux).
inline std::size_t release_file_pages(const void* data, std::size_t bytes) {
  std::size_t released = 0;
#if defined(__linux__)
  std::uintptr_t first = 0;
  const std::vector<bool> r = detail::file_pages_resident(data, bytes, first);
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (std::size_t i = 0; i < r.size();) {  // one madvise per run of droppable pages
    if (!r[i]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < r.size() && r[j]) ++j;
    if (::madvise(reinterpret_cast<void*>(first + i * page), (j - i) * page, MADV_DONTNEED) == 0)
      released += (j - i) * page;
    i = j;
  }
#else
  (void)data, (void)bytes;
#endif
  return released;
}

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
