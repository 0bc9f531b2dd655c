// libFuzzer target for the PyTorch checkpoint reader: the input is read as a whole .pth file
// (zip archive, pickle, storages), as a bare pickle program, and as a zip archive whose entries
// are all checksummed. Only biqa::Error may come out; anything else (a crash, a sanitizer report,
// another exception) is a bug.
//
// Build: clang++ -g -O1 -std=c++20 -fsanitize=fuzzer,address,undefined -Iinclude \
//            fuzz/fuzz_pytorch.cpp -o fuzz_pytorch
// Run:   ./fuzz_pytorch -dict=fuzz/pytorch.dict CORPUS tests/data/io/pytorch tests/data/io/pickle

#include <cstddef>
#include <cstdint>
#include <span>

#include "biqa/core/error.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/io/pickle.hpp"
#include "biqa/io/pytorch.hpp"
#include "biqa/io/zip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  try {
    // Without the data.pkl checksum, mutated pickles inside an archive reach the VM.
    biqa::io::PytorchReadOptions opts;
    opts.verify_pickle_crc = false;
    const auto wf = biqa::io::read_pytorch(biqa::io::MappedFile::from_bytes(data, size, "fuzz.pth"), opts);
    // Touch every element of every record: an out-of-bounds record shows up under ASan. Expanded
    // (stride 0) views may legitimately describe far more elements than the file holds; skip
    // the large ones rather than allocate for them.
    for (const auto& r : wf.tensors) {
      if (r.shape.numel() > (1 << 16)) continue;
      volatile std::size_t sink = wf.contiguous_bytes(r).size();
      (void)sink;
      volatile float first = r.shape.numel() > 0 ? wf.to_float(r).to_vector()[0] : 0.0f;
      (void)first;
    }
  } catch (const biqa::Error&) {
  }

  try {
    const auto doc = biqa::io::pickle::load(bytes, "fuzz.pkl");
    volatile std::size_t sink = doc.container_count();
    (void)sink;
  } catch (const biqa::Error&) {
  }

  try {
    const biqa::io::ZipArchive zip(biqa::io::MappedFile::from_bytes(data, size, "fuzz.zip"));
    for (const auto& e : zip.entries())
      if (e.is_stored() && !(e.flags & 1u)) zip.verify_crc(e);
  } catch (const biqa::Error&) {
  }
  return 0;
}
