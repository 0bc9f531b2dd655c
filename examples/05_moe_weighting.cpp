// Lesson 5: DR.Experts' dynamic distortion weighting (DDWM), the mixture-of-experts gate, on a toy input.
//
//   05_moe_weighting [SAVE.safetensors]
//
// DR.Experts has one "expert" per distortion type. For a token, expert i offers a feature r_i and the
// backbone a semantic feature f; a small PReLU network scores each pair, w_i = fc([r_i, f, r_i − f]),
// and the model keeps T = Σ_i w_i · f. A typical mixture-of-experts gate would softmax the w_i so they
// sum to 1 and compete. The authors' code does not (specs/dr_experts.md §2.7, §8.8): each w_i is used
// raw and depends only on its own expert. This program shows both readings side by side, then
// changes one expert's input to show what moves. Weights and inputs are random (seeded); SAVE, when
// given, receives them ("ddwm.*", "toy.f", "toy.r", "toy.r_changed") so the numbers can be reproduced.

#include <biqa/core/python_random.hpp>
#include <biqa/io/safetensors.hpp>
#include <biqa/io/weight_store.hpp>
#include <biqa/models/dr_experts/distortion_weighting.hpp>
#include <biqa/ops/cpu/shape_ops.hpp>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <vector>

namespace {
constexpr std::int64_t kDim = 8, kExperts = 4;
const std::vector<std::int64_t> kHidden{16, 8};  // the published model: 384, 32, 16 for E = 384

biqa::Tensor<float> uniform(biqa::PythonRandom& rng, const biqa::Shape& shape, double bound) {
  biqa::Tensor<float> t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>((2 * rng.random() - 1) * bound);
  return t;
}

void print_row(const char* label, const std::vector<double>& v) {
  std::cout << std::left << std::setw(18) << label << std::right;
  for (double x : v) std::cout << " " << std::setw(12) << x;
  std::cout << "\n";
}

std::vector<double> softmax(const std::vector<double>& w) {
  double m = w[0], sum = 0;
  for (double x : w) m = std::max(m, x);
  std::vector<double> p;
  for (double x : w) p.push_back(std::exp(x - m)), sum += p.back();
  for (double& x : p) x /= sum;
  return p;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: " << argv[0] << " [SAVE.safetensors]\n";
    return 1;
  }
  try {
    biqa::Context ctx;
    biqa::PythonRandom rng(5);
    // The gate's parameters under nn.Sequential's keys, as the authors' `fc`: Linear "0", PReLU slope "1", Linear "2", …
    // Linears as PyTorch initialises them (uniform ±1/√fan_in); every PReLU slope at its 0.25.
    std::vector<biqa::io::TensorBlob> blobs;
    std::int64_t in = 3 * kDim, k = 0;
    for (std::int64_t out : {kHidden[0], kHidden[1], std::int64_t(1)}) {
      const double bound = 1.0 / std::sqrt(double(in));
      blobs.push_back(biqa::io::make_blob("ddwm." + std::to_string(k) + ".weight", uniform(rng, {out, in}, bound)));
      blobs.push_back(biqa::io::make_blob("ddwm." + std::to_string(k) + ".bias", uniform(rng, {out}, bound)));
      if (out != 1)
        blobs.push_back(biqa::io::make_blob("ddwm." + std::to_string(k + 1) + ".weight", biqa::Tensor<float>::full({1}, 0.25f)));
      in = out, k += 2;
    }
    // The toy token: one semantic feature f, repeated for every expert, and one feature per expert.
    const biqa::Tensor<float> f = uniform(rng, {kDim}, 1.0);
    const biqa::Tensor<float> f_rows = biqa::ops::broadcast_to(f.unsqueeze(0), {kExperts, kDim}).contiguous();
    const biqa::Tensor<float> r = uniform(rng, {kExperts, kDim}, 1.0);
    // The change: expert 2 now says exactly what the backbone says (r_2 = f, so r_2 − f = 0).
    biqa::Tensor<float> r_changed = r.clone();
    r_changed.select(0, 2).assign(f);
    for (auto [name, t] : {std::pair{"toy.f", f}, {"toy.r", r}, {"toy.r_changed", r_changed}})
      blobs.push_back(biqa::io::make_blob(name, t));

    // Load the gate the way the model does: through a WeightStore, strictly.
    const auto bytes = biqa::io::encode_safetensors(blobs);
    biqa::io::WeightStore store(biqa::io::read_safetensors(biqa::io::MappedFile::from_bytes(bytes.data(), bytes.size(), "toy")));
    for (const char* name : {"toy.f", "toy.r", "toy.r_changed"}) store.ignore(name);
    biqa::models::dr_experts::DistortionWeighting gate(kDim, kHidden);
    gate.load(store.scope("ddwm"));
    store.finish();

    auto weights = [&](const biqa::Tensor<float>& experts) {
      const biqa::Tensor<float> w = gate.forward(experts, f_rows, ctx);  // [experts]
      return std::vector<double>(w.data(), w.data() + w.numel());
    };
    auto sum = [](const std::vector<double>& v) { double s = 0; for (double x : v) s += x; return s; };
    const std::vector<double> w = weights(r), w2 = weights(r_changed);

    std::cout << std::setprecision(7) << kExperts << " experts, width " << kDim << ", gate 3*" << kDim << " -> "
              << kHidden[0] << " -> " << kHidden[1] << " -> 1\n";
    print_row("weights", w);
    std::cout << "sum of weights " << sum(w) << "   (raw, as DR.Experts uses them: no reason to be 1)\n";
    print_row("softmax", softmax(w));
    std::cout << "sum of softmax " << sum(softmax(w)) << "   (what a softmax gate would use)\n";
    // T = Σ w_i f = (Σ w_i) f: the experts decide how much of f passes, not a direction.
    std::cout << "|T| / |f| " << std::abs(sum(w)) << "\n";
    std::cout << "\nexpert 2's feature replaced by f:\n";
    print_row("weights", w2);
    print_row("softmax", softmax(w2));
    std::vector<double> dw, ds;
    for (std::int64_t i = 0; i < kExperts; ++i) dw.push_back(w2[i] - w[i]), ds.push_back(softmax(w2)[i] - softmax(w)[i]);
    print_row("change (weights)", dw);
    print_row("change (softmax)", ds);
    std::cout << "Raw weights: only expert 2 moved. Softmax: every weight moves, because they compete.\n";
    if (argc == 2) {
      biqa::io::write_safetensors(argv[1], blobs);
      std::cout << "saved weights and inputs to " << argv[1] << "\n";
    }
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
