#pragma once
// `biqa eval --task distortion-id`: ExIQA's distortion identification on multi-distortion images
// made from pristine ones (distortions::sample_multi_distortion, the recipe of ExIQA's training
// set): for each image, --repeats times, K in [1, --max-distortions] distinct KADID types at
// random levels, applied in order; the model's 25 distortion probabilities against the true
// strengths (level/5, 0 when absent): accuracy by the paper's interval rule and RMSE
// (metrics::distortion_id_scores). One Rng seeded with --seed draws every recipe and distortion
// in image order, so a run is reproducible.

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "biqa/distortions/multi_distortion.hpp"
#include "biqa/distortions/registry.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/metrics/distortion_id.hpp"
#include "biqa/models/exiqa_scorer.hpp"
#include "biqa/models/registry.hpp"
#include "cli.hpp"

namespace biqa::cli {

inline int run_distortion_id(Args& args) {
  const std::string model_name = args.option_or("--model", "exiqa", "-m");
  const auto weights = args.option("--weights");
  const bool as_json = args.flag("--json");
  const int repeats = args.int_option("--repeats", 1);
  const int max_k = args.int_option("--max-distortions", 25);
  const std::uint64_t seed = args.uint64_option("--seed", 0);
  const int threads = args.int_option("--threads", 1);
  const auto settings = model_settings(args, "eval");
  const auto files = args.positionals();
  BIQA_CHECK(!files.empty(), ErrorCode::invalid_argument, "eval --task distortion-id: give pristine IMAGE files");
  BIQA_CHECK(repeats >= 1, ErrorCode::invalid_argument, "eval: --repeats must be >= 1");
  LoadOptions o;
  o.threads = threads;
  if (weights) o.weights = *weights;
  o.settings = settings;
  const auto model = load_model(model_name, o);
  const auto* exiqa = dynamic_cast<const models::ExiqaScorer*>(model.get());
  BIQA_CHECK(exiqa != nullptr, ErrorCode::invalid_argument, "eval --task distortion-id: model ", model_name,
             " does not predict distortion probabilities (use exiqa)");
  const auto names = distortions::distortion_names();
  BIQA_CHECK(exiqa->net().attributes().distortions == names, ErrorCode::invalid_argument,
             "eval --task distortion-id: the model's attribute list does not name the 25 KADID-10k types in order");
  distortions::Rng rng(seed);
  Context ctx(threads);
  const std::int64_t n = static_cast<std::int64_t>(files.size()) * repeats;
  Tensor<float> predicted({n, 25}), truth({n, 25});
  std::int64_t row = 0;
  for (const auto& f : files) {
    const Tensor<float> pristine = io::read_image(f);
    for (int r = 0; r < repeats; ++r, ++row) {
      const auto recipe = distortions::sample_multi_distortion(rng, max_k);
      const auto out = exiqa->run(distortions::apply_multi_distortion(recipe, pristine, rng), ctx);
      const auto s = recipe.strengths();
      for (std::int64_t d = 0; d < 25; ++d) {
        predicted.data()[row * 25 + d] = out.distortion_probs.data()[d];
        truth.data()[row * 25 + d] = s[static_cast<std::size_t>(d)];
      }
    }
  }
  const auto scores = metrics::distortion_id_scores(predicted, truth, 5);
  if (as_json) {
    json::Value j;
    j.set("task", "distortion-id");
    j.set("model", model_name);
    j.set("images", n);
    j.set("pairs", scores.pairs);
    j.set("accuracy", scores.accuracy);
    j.set("rmse", scores.rmse);
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("distortion identification on %lld multi-distortion images (%lld pairs)\n",
                static_cast<long long>(n), static_cast<long long>(scores.pairs));
    std::printf("accuracy  %.4f   (prediction within +-0.1 of the true strength)\nrmse      %.4f\n",
                scores.accuracy, scores.rmse);
  }
  return ok;
}

}  // namespace biqa::cli
