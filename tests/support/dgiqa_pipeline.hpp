#pragma once
// The DGIQA pipeline fixture (tools/reference/make_dgiqa_pipeline_fixtures.py): a small picture,
// shrunken random DGIQA and Depth Anything networks and the authors' script's results on it. Shared
// by the CPU scorer tests and the CUDA ones.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "biqa/io/json.hpp"
#include "biqa/io/weight_store.hpp"
#include "biqa/io/weights.hpp"
#include "biqa/models/dgiqa_scorer.hpp"
#include "support/parity.hpp"

namespace biqa::test {

struct Pipeline {
  io::WeightFile file;
  json::Value config;
  Tensor<std::uint8_t> image, depth_image;
};

inline Tensor<std::uint8_t> as_u8(const io::WeightFile& f, const std::string& name) {
  const Tensor<float> t = f.to_float(f.at(name));
  Tensor<std::uint8_t> out(t.shape());
  for (std::int64_t i = 0; i < t.numel(); ++i) out.data()[i] = static_cast<std::uint8_t>(t.data()[i]);
  return out;
}

inline const Pipeline& pipeline() {
  static const Pipeline p = [] {
    Pipeline q;
    q.file = io::load_weights(test::fixture_path("models/dgiqa/pipeline.safetensors"));
    q.config = json::parse(q.file.metadata.at("config"), "pipeline config");
    q.image = as_u8(q.file, "io.image");
    q.depth_image = as_u8(q.file, "io.depth_image");
    return q;
  }();
  return p;
}

// The two shrunken networks of the fixture, loaded strictly from their prefixes.
inline models::DgiqaScorer make_scorer(models::DgiqaOptions options) {
  const Pipeline& p = pipeline();
  auto store = std::make_shared<io::WeightStore>(p.file);
  const auto dgiqa_scope = store->scope("dgiqa");
  models::DGIQA net(models::DGIQA::Config::from_weights(dgiqa_scope, models::DGIQA::Config::from_json(p.config["dgiqa"])));
  net.load(dgiqa_scope);
  auto depth = std::make_shared<models::DepthAnything>(models::DepthAnything::Config::from_json(p.config["depth"]));
  depth->load(store->scope("depth"));
  store->ignore_prefix("io.");
  store->finish();
  options.short_side = p.config["short_side"].as_int();
  options.crops = static_cast<int>(p.config["crops"].as_int());
  return models::DgiqaScorer(std::move(net), std::move(depth), std::move(options));
}

}  // namespace biqa::test
