// biqa eval: score a dataset with a model and report SRCC/PLCC/KRCC/RMSE with bootstrap
// confidence intervals; scores are cached in a CSV so that runs resume and can be sharded.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "biqa/data/readers.hpp"
#include "biqa/data/score_file.hpp"
#include "biqa/data/split.hpp"
#include "biqa/io/image.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/metrics/bootstrap.hpp"
#include "biqa/metrics/evaluation.hpp"
#include "biqa/metrics/scatter_plot.hpp"
#include "biqa/models/registry.hpp"
#include "cli.hpp"
#include "eval_distortion_id.hpp"
#include "progress.hpp"

namespace {

using biqa::ErrorCode;
using biqa::fail;
namespace fs = std::filesystem;

const char* usage =
    "Usage: biqa eval -m|--model NAME [--weights FILE] --dataset KIND --root DIR [options]\n"
    "       biqa eval --merge SCOREFILE... [--json] [--plot out.svg] [--bootstrap N]\n"
    "       biqa eval --task distortion-id [--model exiqa] --weights FILE [--set K=V]... [--repeats R]\n"
    "                 [--max-distortions K] [--seed S] [--json] PRISTINE_IMAGE...\n"
    "         (ExIQA: accuracy by the +-0.1 interval rule and RMSE of the 25 distortion\n"
    "          strengths on multi-distortion copies of the images; docs/models.md)\n"
    "\n"
    "Scores every image of a dataset with a model, then prints SRCC, PLCC, KRCC and RMSE\n"
    "(and PLCC/RMSE after the 5-parameter logistic mapping) with percentile bootstrap\n"
    "confidence intervals. KIND: koniq10k, clive, spaq, kadid10k, tid2013, csiq, live, flive,\n"
    "pipal or csv (files and columns: docs/datasets.md).\n"
    "\n"
    "Dataset:\n"
    "  --csv FILE            the score file (default: the dataset's usual file under --root)\n"
    "  --image-col NAME      image column (required for --dataset csv)\n"
    "  --score-col NAME      score column (required for --dataset csv)\n"
    "  --ref-col NAME        reference/content column (csv: makes reference-disjoint splits possible)\n"
    "  --std-col NAME        score standard deviation column\n"
    "  --image-dir DIR       images' folder relative to --root (default: the dataset's layout)\n"
    "  --lower-is-better     csv: the score is a DMOS\n"
    "Split:\n"
    "  --split all|train|test      which images to evaluate (default all)\n"
    "  --split-seed S              split seed (default 0)\n"
    "  --train-fraction F          default 0.8; synthetic datasets split by reference image\n"
    "  --split-by auto|image|reference\n"
    "Scoring:\n"
    "  --scores FILE         score cache, CSV image,score,mos, appended as images are scored; a\n"
    "                        rerun skips images already in it (default biqa-eval-MODEL-KIND.csv,\n"
    "                        with .shardKofN before .csv for shards)\n"
    "  --shard K/N           score only images i with i % N == K (K from 0 to N-1) of the list\n"
    "  -j, --threads N       images scored in parallel (default 1; 0 = one per core)\n"
    "  --set KEY=VALUE       a model setting (biqa info MODEL lists them), repeatable;\n"
    "                        --depth-weights F and --crops K are short for dgiqa's\n"
    "  --quiet               no progress bar\n"
    "Report:\n"
    "  --json                one JSON object (keys srcc, plcc, krcc, rmse, plcc_logistic,\n"
    "                        rmse_logistic, n, ci, failed, ...)\n"
    "  --plot FILE.svg       scatter plot of prediction vs score with the fitted logistic\n"
    "  --bootstrap N         bootstrap resamples for the intervals (default 1000; 0 = none)\n"
    "  --confidence C        interval level (default 0.95)\n"
    "  --seed S              bootstrap seed (default 0)\n"
    "  --logistic 5|4|none   logistic form (default 5)\n"
    "\n"
    "Images that cannot be read or scored are listed on stderr (and under \"failed\" in the\n"
    "JSON) and left out; they never stop the run. Correlations are signed: a lower-is-better\n"
    "model (BRISQUE, NIQE) or a DMOS dataset gives negative SRCC when it agrees.\n";

struct Shard {
  std::size_t k = 0, n = 1;
};

Shard parse_shard(const std::string& spec) {
  const auto slash = spec.find('/');
  auto bad = [&] {
    fail(ErrorCode::invalid_argument, "eval: --shard expects K/N with 0 <= K < N (e.g. 0/4), got '", spec, "'");
  };
  if (slash == std::string::npos) bad();
  const auto k = biqa::data::parse_number(spec.substr(0, slash));
  const auto n = biqa::data::parse_number(spec.substr(slash + 1));
  if (!k || !n || *k != std::floor(*k) || *n != std::floor(*n) || *n < 1 || *k < 0 || *k >= *n) bad();
  return {std::size_t(*k), std::size_t(*n)};
}

std::string fixed(double v, int digits = 4) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

struct Failure {
  std::string image, error;
};

struct Report {
  std::vector<std::string> images;
  std::vector<double> pred, mos;
  std::vector<Failure> failed;

  void add(const std::string& image, double p, double m) {
    images.push_back(image);
    pred.push_back(p);
    mos.push_back(m);
  }
  // Pairs in image-path order, so that a run and a merge of its shards see the same sequence
  // (same bootstrap resamples, same floating-point sums).
  void sort_by_image() {
    std::vector<std::size_t> idx(images.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return images[a] < images[b]; });
    Report sorted;
    for (std::size_t i : idx) sorted.add(images[i], pred[i], mos[i]);
    images = std::move(sorted.images);
    pred = std::move(sorted.pred);
    mos = std::move(sorted.mos);
  }
};

// Metrics, intervals, plot and output: shared by a normal run and --merge.
int report(Report r, biqa::cli::Args& args, biqa::json::Value info, const std::string& title, bool as_json,
           const std::optional<std::string>& plot) {
  const int resamples = args.int_option("--bootstrap", 1000);
  const std::string seed_text = args.option_or("--seed", "0");
  const auto seed = biqa::data::parse_number(seed_text);
  if (!seed || *seed < 0 || *seed != std::floor(*seed)) fail(ErrorCode::invalid_argument, "eval: --seed expects a non-negative integer");
  const auto confidence = biqa::data::parse_number(args.option_or("--confidence", "0.95"));
  if (!confidence || *confidence <= 0 || *confidence >= 1) fail(ErrorCode::invalid_argument, "eval: --confidence must lie in (0, 1)");
  const std::string form = args.option_or("--logistic", "5");
  biqa::metrics::EvaluationOptions eo;
  if (form == "5") eo.fit.form = biqa::metrics::LogisticForm::five_parameter;
  else if (form == "4") eo.fit.form = biqa::metrics::LogisticForm::four_parameter;
  else if (form == "none") eo.logistic = false;
  else fail(ErrorCode::invalid_argument, "eval: --logistic expects 5, 4 or none, got '", form, "'");
  if (resamples < 0 || resamples == 1) fail(ErrorCode::invalid_argument, "eval: --bootstrap expects 0 or at least 2");

  r.sort_by_image();
  if (r.pred.size() < biqa::metrics::min_pairs)
    fail(ErrorCode::invalid_argument, "eval: only ", r.pred.size(), " images were scored (", r.failed.size(),
         " failed); at least ", biqa::metrics::min_pairs, " are needed for the metrics");
  const auto e = biqa::metrics::evaluate(r.pred, r.mos, eo);

  std::vector<biqa::metrics::Metric> which = {biqa::metrics::Metric::srcc, biqa::metrics::Metric::plcc,
                                              biqa::metrics::Metric::krcc, biqa::metrics::Metric::rmse};
  if (e.logistic) {
    which.push_back(biqa::metrics::Metric::plcc_logistic);
    which.push_back(biqa::metrics::Metric::rmse_logistic);
  }
  std::vector<biqa::metrics::ConfidenceInterval> cis;
  std::string ci_note;
  if (resamples > 0) {
    biqa::metrics::BootstrapOptions bo;
    bo.resamples = std::size_t(resamples);
    bo.confidence = *confidence;
    bo.seed = std::uint64_t(*seed);
    bo.fit = eo.fit;
    try {
      cis = biqa::metrics::bootstrap(r.pred, r.mos, which, bo);
    } catch (const biqa::Error& err) {
      ci_note = err.what();
    }
  }

  if (plot) {
    biqa::metrics::ScatterPlotOptions po;
    po.title = title;
    const auto* higher = info.find("mos_higher_is_better");
    po.y_label = !higher || higher->as_bool() ? "MOS" : "DMOS";
    const std::string svg = biqa::metrics::scatter_plot_svg(r.pred, r.mos, e.logistic, po);
    biqa::io::write_file_bytes(*plot, svg.data(), svg.size());
  }

  if (as_json) {
    biqa::json::Value out = biqa::metrics::to_json(e);
    for (const auto& [k, v] : info.as_object()) out.set(k, v);
    biqa::json::Value ci = biqa::json::Object{};
    for (std::size_t i = 0; i < cis.size(); ++i)
      ci.set(biqa::metrics::to_string(which[i]), biqa::json::Array{cis[i].lower, cis[i].upper});
    out.set("ci", ci);
    out.set("confidence", *confidence);
    out.set("bootstrap", resamples);
    out.set("bootstrap_seed", std::uint64_t(*seed) <= (1ull << 53) ? biqa::json::Value(*seed) : biqa::json::Value(seed_text));
    if (!ci_note.empty()) out.set("ci_note", ci_note);
    biqa::json::Value failed = biqa::json::Array{};
    for (const auto& f : r.failed) {
      biqa::json::Value o = biqa::json::Object{};
      o.set("image", f.image);
      o.set("error", f.error);
      failed.push_back(o);
    }
    out.set("failed", failed);
    if (plot) out.set("plot", *plot);
    std::cout << out.dump() << "\n";
    return biqa::cli::ok;
  }
  std::cout << title << "\n"
            << "n = " << e.n << " images" << (r.failed.empty() ? "" : ", " + std::to_string(r.failed.size()) + " failed")
            << "\n\n";
  char pct[16];
  std::snprintf(pct, sizeof pct, "%g%%", *confidence * 100);
  std::cout << "metric            value     " << (cis.empty() ? "" : std::string(pct) + " CI") << "\n";
  const char* labels[] = {"SRCC", "PLCC", "KRCC", "RMSE", "PLCC (logistic)", "RMSE (logistic)"};
  for (std::size_t i = 0; i < which.size(); ++i) {
    char line[160];
    std::snprintf(line, sizeof line, "%-16s %9s", labels[i], fixed(e.value(which[i])).c_str());
    std::cout << line;
    if (!cis.empty()) std::cout << "   [" << fixed(cis[i].lower) << ", " << fixed(cis[i].upper) << "]";
    std::cout << "\n";
  }
  if (!e.logistic && eo.logistic) std::cout << "logistic: n/a (" << e.logistic_note << ")\n";
  if (!ci_note.empty()) std::cout << "intervals: n/a (" << ci_note << ")\n";
  if (resamples > 0 && ci_note.empty())
    std::cout << "(" << resamples << " bootstrap resamples, seed " << seed_text << ")\n";
  if (plot) std::cout << "plot: " << *plot << "\n";
  return biqa::cli::ok;
}

int run_merge(biqa::cli::Args& args) {
  const bool as_json = args.flag("--json");
  const auto plot = args.option("--plot");
  // The remaining options are read by report(); positionals are the files.
  std::vector<std::string> files;
  biqa::json::Value info = biqa::json::Object{};
  // report() consumes its options first so that positionals() sees only files.
  const auto bootstrap_opt = args.option("--bootstrap");
  const auto seed_opt = args.option("--seed");
  const auto conf_opt = args.option("--confidence");
  const auto logistic_opt = args.option("--logistic");
  files = args.positionals();
  if (files.empty()) fail(ErrorCode::invalid_argument, "eval --merge: give the shard score files to merge");
  std::vector<std::string> rebuilt;
  if (bootstrap_opt) rebuilt.insert(rebuilt.end(), {"--bootstrap", *bootstrap_opt});
  if (seed_opt) rebuilt.insert(rebuilt.end(), {"--seed", *seed_opt});
  if (conf_opt) rebuilt.insert(rebuilt.end(), {"--confidence", *conf_opt});
  if (logistic_opt) rebuilt.insert(rebuilt.end(), {"--logistic", *logistic_opt});
  biqa::cli::Args opts(rebuilt, "eval");

  // Later files win for an image listed twice; an image is failed when no file has its score.
  std::vector<std::string> order;
  std::map<std::string, biqa::data::ScoreEntry> by_image;
  for (const auto& f : files) {
    for (auto& e : biqa::data::read_score_file(f)) {
      auto it = by_image.find(e.image);
      if (it == by_image.end()) {
        order.push_back(e.image);
        by_image.emplace(e.image, e);
      } else if (e.score || !it->second.score) {
        it->second = e;
      }
    }
  }
  Report r;
  for (const auto& image : order) {
    const auto& e = by_image.at(image);
    if (e.score) {
      r.add(image, *e.score, e.mos);
    } else {
      r.failed.push_back({image, "could not be scored (see the shard's log)"});
    }
  }
  info.set("merged", files.size());
  return report(r, opts, info, "merged " + std::to_string(files.size()) + " score files", as_json, plot);
}

int run(biqa::cli::Args& args) {
  if (args.flag("--merge")) return run_merge(args);
  if (const auto task = args.option("--task"); task && *task != "quality") {
    if (*task == "distortion-id") return biqa::cli::run_distortion_id(args);
    biqa::fail(biqa::ErrorCode::invalid_argument, "eval: unknown --task '", *task, "' (quality or distortion-id)");
  }
  const bool as_json = args.flag("--json");
  const bool quiet = args.flag("--quiet");
  const auto plot = args.option("--plot");
  const auto model_name = args.option("--model", "-m");
  const auto weights = args.option("--weights");
  const auto kind = args.option("--dataset");
  biqa::data::ReadOptions ro;
  ro.root = args.option_or("--root", "");
  ro.csv = args.option_or("--csv", "");
  ro.image_col = args.option_or("--image-col", "");
  ro.score_col = args.option_or("--score-col", "");
  ro.ref_col = args.option_or("--ref-col", "");
  ro.std_col = args.option_or("--std-col", "");
  ro.image_dir = args.option_or("--image-dir", "");
  ro.lower_is_better = args.flag("--lower-is-better");
  const std::string split_name = args.option_or("--split", "all");
  const std::string split_by = args.option_or("--split-by", "auto");
  const auto split_seed = biqa::data::parse_number(args.option_or("--split-seed", "0"));
  const auto fraction = biqa::data::parse_number(args.option_or("--train-fraction", "0.8"));
  const auto shard_spec = args.option("--shard");
  auto scores_path = args.option("--scores");
  int threads = args.int_option("--threads", 1, "-j");
  const auto settings = biqa::cli::model_settings(args, "eval");
  // Options report() reads are consumed there; peek at them now so that unknown ones are caught.
  biqa::cli::Args report_args = args;
  (void)args.option("--bootstrap");
  (void)args.option("--seed");
  (void)args.option("--confidence");
  (void)args.option("--logistic");
  const auto rest = args.positionals();
  if (!rest.empty()) fail(ErrorCode::invalid_argument, "eval: unexpected argument '", rest[0], "'");

  if (!model_name) fail(ErrorCode::invalid_argument, "eval: --model NAME is required (see biqa list)");
  if (!kind) fail(ErrorCode::invalid_argument, "eval: --dataset KIND is required (see biqa eval --help)");
  if (split_name != "all" && split_name != "train" && split_name != "test")
    fail(ErrorCode::invalid_argument, "eval: --split expects all, train or test, got '", split_name, "'");
  if (!split_seed || *split_seed < 0 || *split_seed != std::floor(*split_seed))
    fail(ErrorCode::invalid_argument, "eval: --split-seed expects a non-negative integer");
  if (!fraction) fail(ErrorCode::invalid_argument, "eval: --train-fraction expects a number");
  biqa::data::SplitOptions so;
  so.train_fraction = *fraction;
  so.seed = std::uint64_t(*split_seed);
  if (split_by == "auto") so.by = biqa::data::SplitBy::automatic;
  else if (split_by == "image") so.by = biqa::data::SplitBy::image;
  else if (split_by == "reference") so.by = biqa::data::SplitBy::reference;
  else fail(ErrorCode::invalid_argument, "eval: --split-by expects auto, image or reference, got '", split_by, "'");
  const Shard shard = shard_spec ? parse_shard(*shard_spec) : Shard{};
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));

  biqa::LoadOptions lo;
  lo.threads = 0;  // loading happens before any image: all cores
  if (weights) lo.weights = *weights;
  lo.settings = settings;
  // Cores not used by parallel images go to each image's network ops.
  const int op_threads = std::max(1, int(std::max(1u, std::thread::hardware_concurrency())) / threads);
  const auto model = biqa::load_model(*model_name, lo);  // before the dataset: a bad name fails fast
  const auto dataset = biqa::data::read_dataset(*kind, ro);
  if (dataset.samples.empty()) fail(ErrorCode::format, "eval: dataset ", dataset.kind, " lists no images");

  // The images to evaluate: the split, then the shard.
  std::vector<std::size_t> list;
  if (split_name == "all") {
    for (std::size_t i = 0; i < dataset.size(); ++i) list.push_back(i);
  } else {
    const auto s = biqa::data::make_split(dataset, so);
    list = split_name == "train" ? s.train : s.test;
  }
  std::vector<std::size_t> mine;
  for (std::size_t j = 0; j < list.size(); ++j)
    if (j % shard.n == shard.k) mine.push_back(list[j]);

  if (!scores_path) {
    std::string name = "biqa-eval-" + *model_name + "-" + dataset.kind;
    if (shard.n > 1) name += ".shard" + std::to_string(shard.k) + "of" + std::to_string(shard.n);
    scores_path = name + ".csv";
  }
  std::map<std::string, biqa::data::ScoreEntry> cached;
  if (fs::exists(*scores_path))
    for (auto& e : biqa::data::read_score_file(*scores_path)) cached[e.image] = e;

  std::vector<std::size_t> todo;
  std::size_t from_cache = 0;
  for (std::size_t i : mine) {
    auto it = cached.find(dataset.samples[i].image);
    if (it != cached.end() && it->second.score) ++from_cache;
    else todo.push_back(i);
  }

  // Score what is missing, appending each result as soon as it is known.
  std::map<std::size_t, double> fresh;
  std::map<std::size_t, std::string> errors;
  {
    biqa::data::ScoreWriter writer(*scores_path);
    biqa::cli::ProgressBar bar(todo.size(), !quiet && !todo.empty() && isatty(STDERR_FILENO));
    std::atomic<std::size_t> next{0};
    std::mutex results;
    auto worker = [&] {
      biqa::Context ctx(op_threads);
      for (std::size_t t; (t = next++) < todo.size();) {
        const auto& s = dataset.samples[todo[t]];
        biqa::data::ScoreEntry entry{s.image, std::nullopt, s.mos};
        std::string error;
        try {
          const auto image = biqa::io::read_image(dataset.path_of(s));
          const double v = model->score(image, ctx);
          if (!std::isfinite(v)) throw biqa::Error(ErrorCode::numeric, "the model returned a non-finite score");
          entry.score = v;
        } catch (const std::exception& ex) {
          error = ex.what();
        }
        writer.append(entry);
        {
          std::lock_guard<std::mutex> lock(results);
          if (entry.score) fresh[todo[t]] = *entry.score;
          else errors[todo[t]] = error;
        }
        bar.tick();
      }
    };
    const int n_threads = std::max(1, std::min<int>(threads, int(todo.size())));
    std::vector<std::thread> pool;
    for (int t = 1; t < n_threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }

  Report r;
  for (std::size_t i : mine) {
    const auto& s = dataset.samples[i];
    if (auto f = fresh.find(i); f != fresh.end()) {
      r.add(s.image, f->second, s.mos);
    } else if (auto c = cached.find(s.image); c != cached.end() && c->second.score && !errors.count(i)) {
      r.add(s.image, *c->second.score, s.mos);
    } else {
      r.failed.push_back({s.image, errors.count(i) ? errors[i] : "not scored"});
    }
  }
  for (const auto& f : r.failed) std::cerr << "biqa eval: skipped " << f.image << ": " << f.error << "\n";

  biqa::json::Value info = biqa::json::Object{};
  info.set("model", *model_name);
  info.set("model_lower_is_better", model->info().lower_is_better);
  info.set("dataset", dataset.kind);
  info.set("root", dataset.root);
  info.set("mos_higher_is_better", dataset.higher_is_better);
  info.set("split", split_name);
  if (split_name != "all") {
    info.set("split_seed", *split_seed);
    info.set("train_fraction", *fraction);
    info.set("split_by_reference", biqa::data::splits_by_reference(dataset, so.by));
  }
  info.set("images", mine.size());
  info.set("scored", fresh.size());
  info.set("cached", from_cache);
  info.set("score_file", *scores_path);
  if (shard.n > 1) {
    // A shard only scores; the metrics come from --merge over all shards.
    info.set("shard", std::to_string(shard.k) + "/" + std::to_string(shard.n));
    biqa::json::Value failed = biqa::json::Array{};
    for (const auto& f : r.failed) {
      biqa::json::Value o = biqa::json::Object{};
      o.set("image", f.image);
      o.set("error", f.error);
      failed.push_back(o);
    }
    info.set("failed", failed);
    if (as_json) std::cout << info.dump() << "\n";
    else
      std::cout << "shard " << shard.k << "/" << shard.n << ": " << mine.size() << " images (" << fresh.size()
                << " scored now, " << from_cache << " cached, " << r.failed.size() << " failed) in " << *scores_path
                << "\nmerge the shards with: biqa eval --merge FILES...\n";
    return biqa::cli::ok;
  }
  std::string title = *model_name + " on " + dataset.kind + " (" + split_name + ")";
  if (!as_json)
    std::cerr << "biqa eval: " << fresh.size() << " scored now, " << from_cache << " from " << *scores_path << "\n";
  return report(r, report_args, info, title, as_json, plot);
}

biqa::cli::Register reg{{"eval", "score a dataset and report SRCC/PLCC/KRCC/RMSE with confidence intervals", usage, run}};

}  // namespace
