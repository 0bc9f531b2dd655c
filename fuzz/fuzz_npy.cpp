// libFuzzer target: the .npy reader.
#include <cstddef>
#include <cstdint>

#include "biqa/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto a = biqa::io::decode_npy(data, size, "fuzz");
    if (a.shape.numel() <= (1 << 16)) (void)a.to_float();
  } catch (const biqa::Error&) {
  }
  return 0;
}
