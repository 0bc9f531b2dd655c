// biqa train-head: the linear-probing protocol (DSMix, ExIQA): fit a ridge or small MLP head
// from features to MOS on repeated train/test splits, report the median test metrics, save a head.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "biqa/core/dtype.hpp"
#include "biqa/data/csv.hpp"
#include "biqa/data/split.hpp"
#include "biqa/io/json.hpp"
#include "biqa/io/npy.hpp"
#include "biqa/metrics/correlation.hpp"
#include "biqa/probe/head_file.hpp"
#include "biqa/probe/mlp_head.hpp"
#include "biqa/probe/ridge.hpp"
#include "cli.hpp"

namespace {

using biqa::ErrorCode;
using biqa::fail;
using biqa::probe::MatrixXd;

const char* usage =
    "Usage: biqa train-head --features FEATURES.npy --mos FILE [options]\n"
    "\n"
    "Fits a head from features (an N x D .npy, any float or integer dtype) to N scores on\n"
    "--splits random train/test splits, reports each test metric's median over the splits,\n"
    "and with --save writes the head fitted on all N rows as safetensors (tensor names:\n"
    "docs/metrics.md; nn::Linear / nn::Mlp load them).\n"
    "  --mos FILE            one score per line, or a CSV column with --mos-col NAME\n"
    "  --head ridge|mlp      default ridge (closed form on standardised features)\n"
    "  --lambda L            ridge penalty on standardised features (default 1)\n"
    "  --hidden H            mlp hidden width (default 128)\n"
    "  --epochs E            mlp epochs (default 100)\n"
    "  --batch-size B        mlp batch size (default 32)\n"
    "  --lr LR               AdamW peak learning rate, cosine-decayed to 0 (default 1e-3)\n"
    "  --weight-decay WD     AdamW decoupled weight decay on weights (default 1e-2)\n"
    "  --loss mse|smoothl1   mlp loss (default mse)\n"
    "  --splits N            number of splits (default 10), seeds S, S+1, ...\n"
    "  --train-fraction F    default 0.8\n"
    "  --seed S              first split seed, also the mlp seed (default 0)\n"
    "  --groups FILE         content id per row (one per line, or --groups-col NAME of a\n"
    "                        CSV): splits keep each content on one side\n"
    "  --save FILE           write the head (fitted on all rows) as safetensors\n"
    "  --json                one JSON object: head, n, features, splits, srcc, plcc, krcc,\n"
    "                        rmse (medians) and per_split arrays\n";

double number_option(biqa::cli::Args& args, const std::string& name, double fallback) {
  const auto v = args.option(name);
  if (!v) return fallback;
  const auto x = biqa::data::parse_number(*v);
  if (!x || !std::isfinite(*x)) fail(ErrorCode::invalid_argument, "train-head: ", name, " expects a number, got '", *v, "'");
  return *x;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

MatrixXd read_features(const std::string& path) {
  const auto a = biqa::io::read_npy(path);
  if (a.shape.rank() != 2)
    fail(ErrorCode::format, path, ": features must be a 2-D N x D array, got shape ", a.shape.to_string());
  MatrixXd x(a.shape[0], a.shape[1]);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = biqa::load_as_double(a.bytes.data(), a.dtype, std::size_t(i));
  return x;
}

MatrixXd rows_of(const MatrixXd& x, const std::vector<std::size_t>& idx) {
  MatrixXd out(Eigen::Index(idx.size()), x.cols());
  for (std::size_t i = 0; i < idx.size(); ++i) out.row(Eigen::Index(i)) = x.row(Eigen::Index(idx[i]));
  return out;
}

int run(biqa::cli::Args& args) {
  const auto features_path = args.option("--features");
  const auto mos_path = args.option("--mos");
  const auto mos_col = args.option("--mos-col");
  const std::string head_kind = args.option_or("--head", "ridge");
  const double lambda = number_option(args, "--lambda", 1.0);
  biqa::probe::MlpOptions mo;
  mo.hidden = args.int_option("--hidden", mo.hidden);
  mo.epochs = args.int_option("--epochs", mo.epochs);
  mo.batch_size = args.int_option("--batch-size", mo.batch_size);
  mo.lr = number_option(args, "--lr", mo.lr);
  mo.weight_decay = number_option(args, "--weight-decay", mo.weight_decay);
  const std::string loss = args.option_or("--loss", "mse");
  const int splits = args.int_option("--splits", 10);
  const double fraction = number_option(args, "--train-fraction", 0.8);
  const double seed = number_option(args, "--seed", 0);
  const auto groups_path = args.option("--groups");
  const auto groups_col = args.option("--groups-col");
  const auto save = args.option("--save");
  const bool as_json = args.flag("--json");
  const auto rest = args.positionals();
  if (!rest.empty()) fail(ErrorCode::invalid_argument, "train-head: unexpected argument '", rest[0], "'");
  if (!features_path || !mos_path) fail(ErrorCode::invalid_argument, "train-head: --features FILE and --mos FILE are required");
  if (head_kind != "ridge" && head_kind != "mlp")
    fail(ErrorCode::invalid_argument, "train-head: --head expects ridge or mlp, got '", head_kind, "'");
  if (loss == "mse") mo.loss = biqa::probe::Loss::mse;
  else if (loss == "smoothl1" || loss == "smooth_l1") mo.loss = biqa::probe::Loss::smooth_l1;
  else fail(ErrorCode::invalid_argument, "train-head: --loss expects mse or smoothl1, got '", loss, "'");
  if (splits < 1) fail(ErrorCode::invalid_argument, "train-head: --splits must be at least 1");
  if (seed < 0 || seed != std::floor(seed)) fail(ErrorCode::invalid_argument, "train-head: --seed expects a non-negative integer");
  mo.seed = std::uint64_t(seed);

  const MatrixXd x = read_features(*features_path);
  const auto y = biqa::data::read_number_column(*mos_path, mos_col);
  if (std::size_t(x.rows()) != y.size())
    fail(ErrorCode::invalid_argument, "train-head: ", *features_path, " has ", x.rows(), " rows but ", *mos_path, " has ",
         y.size(), " scores");
  std::vector<std::string> groups;
  if (groups_path) {
    if (groups_col) {
      const auto t = biqa::data::read_csv(*groups_path);
      const auto c = t.column(*groups_col, "group");
      for (std::size_t r = 0; r < t.rows.size(); ++r) groups.push_back(t.field(r, c));
    } else {
      for (const auto& line : biqa::data::read_lines(*groups_path)) groups.push_back(line.text);
    }
    if (groups.size() != y.size())
      fail(ErrorCode::invalid_argument, "train-head: ", *groups_path, " has ", groups.size(), " ids but there are ", y.size(),
           " scores");
  }

  auto fit = [&](const MatrixXd& xt, const std::vector<double>& yt) -> biqa::probe::Head {
    if (head_kind == "ridge") return biqa::probe::fit_ridge(xt, yt, lambda);
    return biqa::probe::fit_mlp(xt, yt, mo);
  };

  const char* names[] = {"srcc", "plcc", "krcc", "rmse"};
  std::vector<std::vector<double>> per(4);
  for (int s = 0; s < splits; ++s) {
    const std::uint64_t split_seed = mo.seed + std::uint64_t(s);
    const auto sp = groups.empty() ? biqa::data::random_split(y.size(), fraction, split_seed)
                                   : biqa::data::group_split(groups, fraction, split_seed);
    std::vector<double> ytr, yte;
    for (auto i : sp.train) ytr.push_back(y[i]);
    for (auto i : sp.test) yte.push_back(y[i]);
    const auto head = fit(rows_of(x, sp.train), ytr);
    const Eigen::VectorXd p = biqa::probe::predict(head, rows_of(x, sp.test));
    const std::vector<double> pred(p.data(), p.data() + p.size());
    per[0].push_back(biqa::metrics::srcc(pred, yte));
    per[1].push_back(biqa::metrics::plcc(pred, yte));
    per[2].push_back(biqa::metrics::krcc(pred, yte));
    per[3].push_back(biqa::metrics::rmse(pred, yte));
  }
  if (save) biqa::probe::save_head(*save, fit(x, y));

  if (as_json) {
    biqa::json::Value out = biqa::json::Object{};
    out.set("head", head_kind);
    out.set("n", y.size());
    out.set("features", std::int64_t(x.cols()));
    out.set("splits", splits);
    for (int m = 0; m < 4; ++m) out.set(names[m], median(per[m]));
    biqa::json::Value ps = biqa::json::Object{};
    for (int m = 0; m < 4; ++m) {
      biqa::json::Value a = biqa::json::Array{};
      for (double v : per[m]) a.push_back(v);
      ps.set(names[m], a);
    }
    out.set("per_split", ps);
    if (save) out.set("saved", *save);
    std::cout << out.dump() << "\n";
    return biqa::cli::ok;
  }
  std::cout << head_kind << " head on " << x.rows() << " x " << x.cols() << " features, median over " << splits
            << " splits (" << (groups.empty() ? "random" : "content-disjoint") << ", train fraction " << fraction << ")\n";
  const char* labels[] = {"SRCC", "PLCC", "KRCC", "RMSE"};
  for (int m = 0; m < 4; ++m) {
    const auto [lo, hi] = std::minmax_element(per[m].begin(), per[m].end());
    char line[160];
    std::snprintf(line, sizeof line, "%-5s %9.4f   (min %.4f, max %.4f)\n", labels[m], median(per[m]), *lo, *hi);
    std::cout << line;
  }
  if (save) std::cout << "head saved to " << *save << " (fitted on all " << y.size() << " rows)\n";
  return biqa::cli::ok;
}

biqa::cli::Register reg{{"train-head", "fit a ridge or MLP head from features to MOS (linear probing)", usage, run}};

}  // namespace
