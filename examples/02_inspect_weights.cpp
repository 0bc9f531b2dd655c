// Lesson 2: open a weights file, list its tensors, and load parameters the way a layer does.
//
//   02_inspect_weights FILE.safetensors|FILE.pth
//
// A WeightStore hands out tensors by scoped name and checks their shapes; finish() then reports
// every key the model did not use, so a wrong checkpoint is caught at load time, not as a bad score.

#include <biqa/core/dtype.hpp>
#include <biqa/io/weights.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " WEIGHTS\n";
    return 1;
  }
  try {
    biqa::io::WeightStore store = biqa::io::open_weights(argv[1]);
    std::cout << store.file().format << " file with " << store.keys().size() << " tensors\n";
    for (const auto& key : store.keys()) {
      const auto* r = store.record(key);
      std::cout << "  " << key << " " << biqa::dtype_name(r->dtype) << " " << r->shape.to_string() << "\n";
    }
    // Take every tensor as float32 (zero-copy for F32, converted for F16/BF16).
    double sum = 0;
    for (const auto& key : store.keys()) {
      const biqa::Tensor<float> t = store.take(key, std::nullopt);
      for (float v : t.to_vector()) sum += v;
    }
    store.finish();  // nothing left unread: passes
    std::cout << "sum of all values: " << sum << "\n";
  } catch (const biqa::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
