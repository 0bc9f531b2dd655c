#include <biqa/biqa.hpp>

#include <iostream>

int main() {
  auto t = biqa::Tensor<float>::from_list({2, 2}, {1, 2, 3, 4});
  auto bytes = biqa::io::encode_safetensors({biqa::io::make_blob("w", t)});
  auto file = biqa::io::read_safetensors(biqa::io::MappedFile::from_bytes(bytes.data(), bytes.size()));
  const auto w = file.to_float(file.at("w"));
  if (w(1, 0) != 3.0f) return 1;
  std::cout << "consumer ok, biqa " << BIQA_VERSION_STRING << "\n";
  return 0;
}
