#pragma once
/// @file
/// biqa::Error: the one exception type of the library. It says what failed, where, and what was
/// expected, so a user can act on the message without reading the source.

#include <cstdio>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <string_view>
#include <utility>

namespace biqa {

enum class ErrorCode {
  invalid_argument,  // the caller passed something unusable (bad option, wrong shape)
  io,                // a file could not be opened, read or written
  format,            // a file was read but its content is malformed or truncated
  key,               // a weight key is missing, unexpected or has the wrong shape
  unsupported,       // valid input that this build does not handle (dtype, opcode, compression)
  numeric,           // NaN/Inf or a numerical failure
  internal,          // a broken invariant: a bug in biqa
};

inline const char* to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::invalid_argument: return "invalid argument";
    case ErrorCode::io: return "I/O error";
    case ErrorCode::format: return "format error";
    case ErrorCode::key: return "key error";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::numeric: return "numeric error";
    case ErrorCode::internal: return "internal error";
  }
  return "error";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  explicit Error(const std::string& message) : Error(ErrorCode::invalid_argument, message) {}

  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

namespace detail {
inline void append_all(std::string&) {}
template <typename A, typename... Rest>
void append_all(std::string& out, const A& a, const Rest&... rest) {
  if constexpr (std::is_convertible_v<const A&, std::string_view>) {
    out += std::string_view(a);
  } else if constexpr (std::is_same_v<A, char>) {
    out += a;
  } else if constexpr (std::is_floating_point_v<A>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(a));
    out += buf;
  } else {
    out += std::to_string(a);
  }
  append_all(out, rest...);
}
}  // namespace detail

/// Builds a message from pieces: strings, string views and numbers.
template <typename... Args>
std::string cat(const Args&... args) {
  std::string out;
  detail::append_all(out, args...);
  return out;
}

template <typename... Args>
[[noreturn]] void fail(ErrorCode code, const Args&... args) {
  throw Error(code, cat(args...));
}

// A cheap check that throws biqa::Error with the given code and message when `cond` is false.
#define BIQA_CHECK(cond, code, ...)                    \
  do {                                                 \
    if (!(cond)) ::biqa::fail((code), __VA_ARGS__);    \
  } while (0)

}  // namespace biqa
