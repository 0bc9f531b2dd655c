// Weight loading: opening a safetensors file of DeiT-III-S size and viewing every tensor as
// float32 (zero-copy for F32), and converting F16/BF16 storage to float32.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "biqa/io/safetensors.hpp"
#include "biqa/io/weight_store.hpp"

namespace {

// A file with the tensor layout of a ViT-S/16 (12 blocks of 384 wide, ~22M parameters).
std::string make_vit_s_file(biqa::DType dtype) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            (std::string("biqa-bench-vits-") + biqa::dtype_name(dtype) + ".safetensors"))
                               .string();
  if (std::filesystem::exists(path)) return path;
  std::vector<biqa::io::TensorBlob> blobs;
  auto add = [&](const std::string& name, biqa::Shape s) {
    blobs.push_back({name, dtype, s,
                     std::vector<std::byte>(std::size_t(s.numel()) * biqa::dtype_size(dtype), std::byte{0x3c})});
  };
  add("patch_embed.proj.weight", {384, 3, 16, 16});
  add("pos_embed", {1, 577, 384});
  for (int b = 0; b < 12; ++b) {
    const std::string p = "blocks." + std::to_string(b) + ".";
    add(p + "norm1.weight", {384});
    add(p + "attn.qkv.weight", {1152, 384});
    add(p + "attn.qkv.bias", {1152});
    add(p + "attn.proj.weight", {384, 384});
    add(p + "mlp.fc1.weight", {1536, 384});
    add(p + "mlp.fc2.weight", {384, 1536});
  }
  biqa::io::write_safetensors(path, blobs);
  return path;
}

void BM_LoadSafetensorsViTS(benchmark::State& state) {
  const auto dtype = static_cast<biqa::DType>(state.range(0));
  const std::string path = make_vit_s_file(dtype);
  std::int64_t params = 0;
  for (auto _ : state) {
    biqa::io::WeightStore store(biqa::io::read_safetensors(path));
    params = 0;
    for (const auto& key : store.keys()) {
      auto t = store.take(key, std::nullopt);
      params += t.numel();
      benchmark::DoNotOptimize(t.data());
    }
    store.finish();
  }
  state.counters["params"] = static_cast<double>(params);
  state.SetLabel(biqa::dtype_name(dtype));
}
BENCHMARK(BM_LoadSafetensorsViTS)
    ->Arg(static_cast<int>(biqa::DType::f32))
    ->Arg(static_cast<int>(biqa::DType::f16))
    ->Arg(static_cast<int>(biqa::DType::bf16))
    ->Unit(benchmark::kMillisecond);

}  // namespace
