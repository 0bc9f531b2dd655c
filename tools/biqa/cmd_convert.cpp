// biqa convert [--dtype f16|bf16|f32] IN OUT.safetensors: rewrite any readable weights file as
// safetensors, optionally with its floating-point tensors in another precision.

#include <cctype>
#include <cstring>
#include <string>
#include <iostream>

#include "biqa/core/dtype.hpp"
#include "biqa/io/safetensors.hpp"
#include "biqa/io/weights.hpp"
#include "cli.hpp"

namespace {

bool is_float(biqa::DType d) { return d == biqa::DType::f32 || d == biqa::DType::f16 || d == biqa::DType::bf16 || d == biqa::DType::f64; }

// The tensor's values rounded to `to` (round to nearest even), row-major.
std::vector<std::byte> convert_bytes(const biqa::io::WeightFile& wf, const biqa::io::TensorRecord& r, biqa::DType to) {
  const biqa::Tensor<float> t = wf.to_float(r).contiguous();
  const std::size_t n = static_cast<std::size_t>(t.numel());
  std::vector<std::byte> out(n * biqa::dtype_size(to));
  for (std::size_t i = 0; i < n; ++i) {
    const float v = t.data()[i];
    if (to == biqa::DType::f32) {
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {
      const std::uint16_t b = to == biqa::DType::f16 ? biqa::half::from_float(v) : biqa::bfloat16::from_float(v);
      std::memcpy(out.data() + 2 * i, &b, 2);
    }
  }
  return out;
}

int run(biqa::cli::Args& args) {
  const auto dtype_text = args.option("--dtype");
  biqa::DType to = biqa::DType::f32;
  std::string upper = dtype_text.value_or("");
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (dtype_text && (!biqa::parse_dtype_name(upper, to) ||
                     (to != biqa::DType::f32 && to != biqa::DType::f16 && to != biqa::DType::bf16)))
    biqa::fail(biqa::ErrorCode::invalid_argument, "--dtype expects f32, f16 or bf16, got '", *dtype_text, "'");
  const auto files = args.positionals();
  if (files.size() != 2) biqa::fail(biqa::ErrorCode::invalid_argument, "expected IN and OUT");
  const auto wf = biqa::io::load_weights(files[0]);
  std::vector<biqa::io::TensorBlob> blobs;
  blobs.reserve(wf.tensors.size());
  for (const auto& r : wf.tensors) {
    if (dtype_text && is_float(r.dtype) && r.dtype != to)
      blobs.push_back({r.name, to, r.shape, convert_bytes(wf, r, to)});
    else
      blobs.push_back({r.name, r.dtype, r.shape, wf.contiguous_bytes(r)});
  }
  auto metadata = wf.metadata;
  metadata.emplace("biqa.converted_from", wf.format);
  biqa::io::write_safetensors(files[1], blobs, metadata);
  std::cerr << "wrote " << blobs.size() << " tensors to " << files[1] << "\n";
  return 0;
}

biqa::cli::Register reg{{"convert", "convert a PyTorch checkpoint to safetensors",
                         "Usage: biqa convert [--dtype f16|bf16|f32] IN.pth OUT.safetensors\n\n"
                         "Writes every tensor of IN, views as contiguous tensors. Without --dtype the\n"
                         "values and dtypes are unchanged; with it, every floating-point tensor is\n"
                         "rounded to that type (f16/bf16 halve the file; biqa's low-memory mode keeps\n"
                         "such weights 16-bit in memory too).\n",
                         run}};

}  // namespace
