// biqa convert IN OUT.safetensors: rewrite any readable weights file as safetensors.

#include <iostream>

#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "cli.hpp"

namespace {

int run(biqa::cli::Args& args) {
  const auto files = args.positionals();
  if (files.size() != 2) biqa::fail(biqa::ErrorCode::invalid_argument, "expected IN and OUT");
  const auto wf = biqa::io::load_weights(files[0]);
  std::vector<biqa::io::TensorBlob> blobs;
  blobs.reserve(wf.tensors.size());
  for (const auto& r : wf.tensors)
    blobs.push_back({r.name, r.dtype, r.shape, wf.contiguous_bytes(r)});
  auto metadata = wf.metadata;
  metadata.emplace("biqa.converted_from", wf.format);
  biqa::io::write_safetensors(files[1], blobs, metadata);
  std::cerr << "wrote " << blobs.size() << " tensors to " << files[1] << "\n";
  return 0;
}

biqa::cli::Register reg{{"convert", "convert a PyTorch checkpoint to safetensors",
                         "Usage: biqa convert IN.pth OUT.safetensors\n\n"
                         "Writes every tensor of IN with its values and dtype unchanged.\n"
                         "Views are written as contiguous tensors.\n",
                         run}};

}  // namespace
