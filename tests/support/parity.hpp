#pragma once
// Parity fixtures written by tools/reference/make_op_fixtures.py, and the comparison used by the
// op and layer tests: max|out − ref| / max|ref| (a NaN on one side only counts as infinite).
// Set BIQA_PARITY_REPORT=1 to print every measured error.

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "biqa/core/tensor.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "support/helpers.hpp"

namespace biqa::test {

inline std::string fixture_path(const std::string& rel) { return data_path(rel); }

inline double parity_error(const Tensor<float>& out, const Tensor<float>& ref) { return relative_error(out, ref); }

// Requires out ≈ ref within `tolerance` (relative to max|ref|).
inline void check_parity(const std::string& label, const Tensor<float>& out, const Tensor<float>& ref,
                         double tolerance = 1e-4) {
  const double err = parity_error(out, ref);
  if (std::getenv("BIQA_PARITY_REPORT")) std::printf("parity %-48s %.3g\n", label.c_str(), err);
  INFO(label << ": output " << out.shape().to_string() << ", reference " << ref.shape().to_string()
             << ", max relative error " << err);
  REQUIRE(out.shape() == ref.shape());
  REQUIRE(err <= tolerance);
}

// An op fixture: tensors "<case>.<name>" and the case list in the "cases" metadata entry.
class OpFixture {
 public:
  explicit OpFixture(const std::string& name)
      : file_(std::make_shared<io::WeightFile>(io::load_weights(fixture_path("ops/" + name + ".safetensors")))) {
    cases_ = json::parse(file_->metadata.at("cases"), name);
  }
  const json::Array& cases() const { return cases_.as_array(); }
  bool has(const json::Value& c, const std::string& name) const {
    return file_->find(c["name"].as_string() + "." + name) != nullptr;
  }
  Tensor<float> get(const json::Value& c, const std::string& name) const {
    return file_->to_float(file_->at(c["name"].as_string() + "." + name));
  }
  // The tensor when present, else an undefined one (optional bias, weights).
  Tensor<float> optional(const json::Value& c, const std::string& name) const {
    return has(c, name) ? get(c, name) : Tensor<float>();
  }

 private:
  std::shared_ptr<io::WeightFile> file_;
  json::Value cases_;
};

// A layer fixture: the module's state_dict, "io.*" tensors and the "config" metadata entry.
class LayerFixture {
 public:
  // `drop_key`: a tensor to leave out, to test how a layer reports a missing weight.
  explicit LayerFixture(const std::string& name, const std::string& drop_key = "")
      : name_(name), store_(open(name, drop_key)) {
    config_ = json::parse(store_.file().metadata.at("config"), name);
  }
  const std::string& name() const { return name_; }
  const json::Value& config() const { return config_; }
  io::WeightStore& store() { return store_; }
  io::WeightStore::Scope root() { return store_.root(); }
  // An input or output tensor ("io.<name>"); marks it used, so finish() sees only the weights.
  Tensor<float> io(const std::string& name) { return store_.take("io." + name, std::nullopt); }
  bool has_io(const std::string& name) const { return store_.contains("io." + name); }

 private:
  static io::WeightStore open(const std::string& name, const std::string& drop_key) {
    io::WeightFile file = io::load_weights(fixture_path("nn/" + name + ".safetensors"));
    if (!drop_key.empty()) {
      const auto before = file.tensors.size();
      std::erase_if(file.tensors, [&](const io::TensorRecord& r) { return r.name == drop_key; });
      REQUIRE(file.tensors.size() + 1 == before);
    }
    return io::WeightStore(std::move(file));
  }

  std::string name_;
  io::WeightStore store_;
  json::Value config_;
};

inline std::array<std::int64_t, 2> pair_of(const json::Value& v) {
  return {v.as_array().at(0).as_int(), v.as_array().at(1).as_int()};
}

}  // namespace biqa::test
