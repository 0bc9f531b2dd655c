// libFuzzer target: the safetensors reader (header JSON, offsets, dtypes) and conversion to float.
#include <cstddef>
#include <cstdint>

#include "biqa/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto wf = biqa::io::read_safetensors(biqa::io::MappedFile::from_bytes(data, size, "fuzz"));
    for (const auto& r : wf.tensors) {
      if (r.shape.numel() > (1 << 16)) continue;
      (void)wf.to_float(r);
    }
  } catch (const biqa::Error&) {
  }
  return 0;
}
