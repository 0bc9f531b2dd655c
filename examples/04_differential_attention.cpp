// Lesson 4: DR.Experts' differential attention on a toy input, drawn as heat maps.
//
//   04_differential_attention OUT_DIR [SCALE=8]
//
// The layer computes two softmax attention maps over the same L tokens and subtracts them:
//   A1 = softmax(Q1 K1ᵀ/√E): a distortion prior d asks which tokens look like that distortion. d is
//        one vector, so every row of A1 is the same row.
//   A2 = softmax(Q2 K2ᵀ/√E): ordinary self-attention of the semantic tokens f.
//   out = (A1 − α·A2) V   (the published code; specs/dr_experts.md §2.6)
// Each row of A1 and of A2 sums to 1, so each row of the difference sums to 1 − α: attention that both
// maps give a token alike (common mode) shrinks to (1 − α) of it, while tokens only one map favours
// stand out, with either sign. The program writes the three L×L maps as PNG heat maps (each cell
// SCALE×SCALE pixels; bright = high) and OUT_DIR/toy.safetensors with the weights and inputs used.

#include <biqa/core/python_random.hpp>
#include <biqa/io/heatmap.hpp>
#include <biqa/io/image.hpp>
#include <biqa/io/safetensors.hpp>
#include <biqa/io/weight_store.hpp>
#include <biqa/models/dr_experts/differential_attention.hpp>
#include <biqa/ops/cpu/shape_ops.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>

namespace {
constexpr std::int64_t kDim = 16, kTokens = 1 + 4 * 4;  // a class token and a 4×4 patch grid

biqa::Tensor<float> uniform(biqa::PythonRandom& rng, const biqa::Shape& shape, double bound) {
  biqa::Tensor<float> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>((2 * rng.random() - 1) * bound);
  return t;
}

// An [L, L] map as a heat map, every cell blown up to scale×scale pixels so it can be seen.
void write_map(const std::string& path, const biqa::Tensor<float>& map, std::int64_t scale) {
  const biqa::Tensor<std::uint8_t> small = biqa::io::heatmap_rgb(map);
  biqa::Tensor<std::uint8_t> big({map.size(0) * scale, map.size(1) * scale, 3});
  for (std::int64_t y = 0; y < big.size(0); ++y)
    for (std::int64_t x = 0; x < big.size(1); ++x)
      for (std::int64_t c = 0; c < 3; ++c) big(y, x, c) = small(y / scale, x / scale, c);
  biqa::io::write_image(path, big);
  std::cout << "wrote " << path << " (" << big.size(1) << "x" << big.size(0) << ")\n";
}

// "min X max Y" of each row's sum.
void print_row_sums(const char* label, const biqa::Tensor<float>& map) {
  double lo = INFINITY, hi = -INFINITY;
  for (std::int64_t r = 0; r < map.size(0); ++r) {
    double s = 0;
    for (std::int64_t c = 0; c < map.size(1); ++c) s += map(r, c);
    lo = std::min(lo, s), hi = std::max(hi, s);
  }
  std::cout << label << " row sums min " << lo << " max " << hi << "\n";
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: " << argv[0] << " OUT_DIR [SCALE=8]\n";
    return 1;
  }
  try {
    const std::filesystem::path dir = argv[1];
    const std::int64_t scale = argc > 2 ? std::stoll(argv[2]) : 8;
    if (scale < 1 || scale > 64) throw std::invalid_argument("SCALE must be 1 to 64");
    std::filesystem::create_directories(dir);
    biqa::Context ctx;
    biqa::PythonRandom rng(4);
    // Weights as PyTorch initialises a Linear (uniform ±1/√fan_in), α at its initial 0.5.
    std::vector<biqa::io::TensorBlob> blobs;
    for (const char* name : {"W_q1", "W_q2", "W_k1", "W_k2", "W_v"}) {
      const std::int64_t in = std::string(name) == "W_v" ? 2 * kDim : kDim;  // W_v reads [prior ‖ token]
      blobs.push_back(biqa::io::make_blob(std::string("attn.") + name + ".weight", uniform(rng, {kDim, in}, 1 / std::sqrt(double(in)))));
      blobs.push_back(biqa::io::make_blob(std::string("attn.") + name + ".bias", uniform(rng, {kDim}, 1 / std::sqrt(double(in)))));
    }
    blobs.push_back(biqa::io::make_blob("attn.alpha", biqa::Tensor<float>::full(biqa::Shape{}, 0.5f)));
    // The toy input, one image: the prior d, the semantic tokens f and the bridging keys s. Larger
    // than unit values make the softmaxes peakier, so the maps have something to show.
    const biqa::Tensor<float> d = uniform(rng, {1, kDim}, 3.0), f = uniform(rng, {1, kTokens, kDim}, 3.0),
                              s = uniform(rng, {1, kTokens, kDim}, 3.0);
    for (auto [name, t] : {std::pair{"toy.d", d}, {"toy.f", f}, {"toy.s", s}}) blobs.push_back(biqa::io::make_blob(name, t));
    biqa::io::write_safetensors((dir / "toy.safetensors").string(), blobs);

    biqa::io::WeightStore store(biqa::io::read_safetensors((dir / "toy.safetensors").string()));
    for (const char* name : {"toy.d", "toy.f", "toy.s"}) store.ignore(name);
    biqa::models::dr_experts::DifferentialAttention attn(kDim);
    attn.load(store.scope("attn"));
    store.finish();

    // All rows (cls_only false), and the two maps the layer combines.
    biqa::models::dr_experts::DifferentialAttention::Maps maps;
    const auto res = attn.forward(d, f, s, biqa::models::dr_experts::Sign::current, false, ctx, &maps);
    const float alpha = attn.alpha();
    const biqa::Tensor<float> a1 = biqa::ops::broadcast_to(maps.a1, {1, kTokens, kTokens}).select(0, 0).contiguous();
    const biqa::Tensor<float> a2 = maps.a2.select(0, 0).contiguous();
    biqa::Tensor<float> diff({kTokens, kTokens});
    for (std::int64_t i = 0; i < diff.numel(); ++i) diff.data()[i] = a1.data()[i] - alpha * a2.data()[i];

    std::cout << std::setprecision(7) << "tokens " << kTokens << ", width " << kDim << ", alpha " << alpha << "\n";
    print_row_sums("A1", a1);
    print_row_sums("A2", a2);
    print_row_sums("A1 - alpha*A2", diff);
    const auto [lo, hi] = std::minmax_element(diff.data(), diff.data() + diff.numel());
    std::cout << "difference min " << *lo << " max " << *hi << "\n";
    std::cout << "negative entries " << std::count_if(diff.data(), diff.data() + diff.numel(), [](float v) { return v < 0; })
              << " of " << diff.numel() << "   (where α·A2 outweighs A1)\n";
    // What the layer itself returns: row 0 of the combined map, and (A1 − α·A2) V.
    double cls_gap = 0, out_sum = 0;
    for (std::int64_t j = 0; j < kTokens; ++j) cls_gap = std::max(cls_gap, double(std::fabs(res.cls_weights.data()[j] - diff(0, j))));
    for (std::int64_t i = 0; i < res.out.numel(); ++i) out_sum += res.out.data()[i];
    std::cout << "max |cls_weights - difference row 0| " << cls_gap << "\n";
    std::cout << "output sum " << out_sum << "\n";
    write_map((dir / "a1.png").string(), a1, scale);
    write_map((dir / "a2.png").string(), a2, scale);
    write_map((dir / "difference.png").string(), diff, scale);
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::logic_error& e) {  // a bad SCALE (std::stoll or the range check)
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // e.g. a directory that cannot be made
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
