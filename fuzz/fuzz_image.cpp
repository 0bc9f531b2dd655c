// libFuzzer target: image decoding. stb_image's implementation is compiled into this target
// (from the system's stb headers) so that the fuzzer's instrumentation covers the decoders too.
#include <cstddef>
#include <cstdint>

#include "biqa/io/image.hpp"

// After biqa's include of the declarations: only the implementation part is compiled here.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)biqa::io::decode_image(data, size, "fuzz");
  } catch (const biqa::Error&) {
  }
  return 0;
}
