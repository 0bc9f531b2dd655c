// libFuzzer target: the JSON parser (configs, safetensors headers) and writer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "biqa/io/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto v = biqa::json::parse(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    const auto again = biqa::json::parse(v.dump(), "dump");
    if (again.dump() != v.dump()) __builtin_trap();  // writing must round-trip
  } catch (const biqa::Error&) {
  }
  return 0;
}
