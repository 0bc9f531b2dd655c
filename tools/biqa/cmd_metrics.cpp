// biqa metrics --pred FILE --target FILE [--col NAME_OR_INDEX] [--logistic 5|4] [--json]:
// agreement between predicted and subjective scores.

#include <cctype>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "biqa/io/json.hpp"
#include "biqa/io/mapped_file.hpp"
#include "biqa/metrics/bootstrap.hpp"
#include "biqa/metrics/evaluation.hpp"
#include "cli.hpp"

namespace {

using biqa::ErrorCode;
using biqa::fail;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Splits one CSV record: comma-separated, fields optionally in double quotes ("" is a quote).
std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// Scores from `path`: one number per line, or with `column` the CSV column named so in the
// header row (or at that 0-based index; then a first row that is not a number is a header).
std::vector<double> read_scores(const std::string& path, const std::optional<std::string>& column) {
  const auto bytes = biqa::io::read_file_bytes(path);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<double> values;
  std::optional<std::size_t> index;
  bool by_name = false;
  if (column) {
    std::size_t k = 0;
    const auto [end, ec] = std::from_chars(column->data(), column->data() + column->size(), k);
    if (ec == std::errc() && end == column->data() + column->size()) index = k;
    else by_name = true;
  }
  bool header_done = false;
  const auto lines = lines_of(text);
  for (std::size_t ln = 0; ln < lines.size(); ++ln) {
    const std::string_view line = trim(lines[ln]);
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(ln + 1);
    std::string field;
    if (!column) {
      field = std::string(line);
    } else {
      const auto fields = split_csv(line);
      if (!header_done) {
        header_done = true;
        if (by_name) {
          for (std::size_t i = 0; i < fields.size(); ++i)
            if (trim(fields[i]) == *column) index = i;
          if (!index) fail(ErrorCode::invalid_argument, where, ": no column named '", *column, "' in the header");
          continue;
        }
        if (*index < fields.size() && !parse_number(fields[*index])) continue;  // a header row
      }
      if (*index >= fields.size())
        fail(ErrorCode::invalid_argument, where, ": has ", fields.size(), " columns, no column ", *index);
      field = fields[*index];
    }
    const auto v = parse_number(field);
    if (!v)
      fail(ErrorCode::invalid_argument, where, ": cannot read '", std::string(trim(field)), "' as a number",
           (!column && field.find(',') != std::string::npos) ? " (a CSV file? use --col)" : "");
    if (!std::isfinite(*v)) fail(ErrorCode::invalid_argument, where, ": ", std::string(trim(field)), " is not a finite score");
    values.push_back(*v);
  }
  return values;
}

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

int run(biqa::cli::Args& args) {
  const bool as_json = args.flag("--json");
  const auto pred_path = args.option("--pred");
  const auto target_path = args.option("--target");
  const auto col = args.option("--col");
  const auto pred_col = args.option("--pred-col");
  const auto target_col = args.option("--target-col");
  const std::string form = args.option_or("--logistic", "5");
  const int resamples = args.int_option("--bootstrap", 0);
  const int seed = args.int_option("--seed", 0);
  const auto rest = args.positionals();
  if (!rest.empty()) fail(ErrorCode::invalid_argument, "unexpected argument '", rest[0], "'");
  if (!pred_path || !target_path) fail(ErrorCode::invalid_argument, "--pred FILE and --target FILE are required");

  biqa::metrics::EvaluationOptions options;
  if (form == "5") options.fit.form = biqa::metrics::LogisticForm::five_parameter;
  else if (form == "4") options.fit.form = biqa::metrics::LogisticForm::four_parameter;
  else if (form == "none") options.logistic = false;
  else fail(ErrorCode::invalid_argument, "--logistic expects 5, 4 or none, got '", form, "'");

  const auto pred = read_scores(*pred_path, pred_col ? pred_col : col);
  const auto target = read_scores(*target_path, target_col ? target_col : col);
  if (pred.size() != target.size())
    fail(ErrorCode::invalid_argument, *pred_path, " has ", pred.size(), " scores but ", *target_path, " has ",
         target.size());
  const auto e = biqa::metrics::evaluate(pred, target, options);
  if (resamples < 0 || resamples == 1) fail(ErrorCode::invalid_argument, "--bootstrap expects 0 or at least 2 resamples");
  if (seed < 0) fail(ErrorCode::invalid_argument, "--seed expects a non-negative integer");
  std::vector<biqa::metrics::Metric> which = {biqa::metrics::Metric::srcc, biqa::metrics::Metric::plcc,
                                              biqa::metrics::Metric::krcc, biqa::metrics::Metric::rmse};
  if (e.logistic) which.insert(which.end(), {biqa::metrics::Metric::plcc_logistic, biqa::metrics::Metric::rmse_logistic});
  std::vector<biqa::metrics::ConfidenceInterval> cis;
  if (resamples > 0) {
    biqa::metrics::BootstrapOptions bo;
    bo.resamples = std::size_t(resamples);
    bo.seed = std::uint64_t(seed);
    bo.fit = options.fit;
    cis = biqa::metrics::bootstrap(pred, target, which, bo);
  }

  if (as_json) {
    auto out = biqa::metrics::to_json(e);
    if (!cis.empty()) {
      biqa::json::Value ci = biqa::json::Object{};
      for (std::size_t i = 0; i < cis.size(); ++i)
        ci.set(biqa::metrics::to_string(which[i]), biqa::json::Array{cis[i].lower, cis[i].upper});
      out.set("ci", ci);
    }
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "n                " << e.n << "\n"
              << "SRCC             " << fixed(e.srcc) << "\n"
              << "PLCC             " << fixed(e.plcc) << "\n"
              << "KRCC             " << fixed(e.krcc) << "\n"
              << "RMSE             " << fixed(e.rmse) << "\n";
    if (e.logistic) {
      std::cout << "PLCC (logistic)  " << fixed(e.logistic->plcc) << "\n"
                << "RMSE (logistic)  " << fixed(e.logistic->rmse) << "\n"
                << "logistic         " << biqa::metrics::to_string(e.logistic->form) << ", b =";
      for (double b : e.logistic->params) std::cout << " " << b;
      std::cout << "\n";
    } else if (options.logistic) {
      std::cout << "PLCC (logistic)  n/a (" << e.logistic_note << ")\n"
                << "RMSE (logistic)  n/a\n";
    }
    for (std::size_t i = 0; i < cis.size(); ++i)
      std::cout << "95% CI " << biqa::metrics::to_string(which[i]) << std::string(15 - std::string(biqa::metrics::to_string(which[i])).size(), ' ')
                << "[" << fixed(cis[i].lower) << ", " << fixed(cis[i].upper) << "]\n";
  }
  if (e.logistic && !e.logistic->converged)
    std::cerr << "biqa metrics: warning: the logistic fit did not converge; its values are approximate\n";
  return 0;
}

biqa::cli::Register reg{
    {"metrics", "SRCC, PLCC, KRCC and RMSE between predicted and subjective scores",
     "Usage: biqa metrics --pred FILE --target FILE [--col NAME_OR_INDEX] [--logistic 5|4|none] [--json]\n"
     "                    [--bootstrap N [--seed S]]\n\n"
     "Each FILE holds one number per line (blank lines are skipped), or with --col a CSV\n"
     "column: NAME selects it by the header row, a 0-based INDEX by position (a first row\n"
     "that is not a number is then taken as a header). --pred-col / --target-col set the\n"
     "column for one file only.\n\n"
     "Prints SRCC, PLCC, KRCC and RMSE (scipy.stats definitions), then PLCC and RMSE after\n"
     "mapping the predictions with the fitted 5-parameter (default) or 4-parameter logistic\n"
     "(see docs/metrics.md). With --json prints one object with the keys srcc, plcc, krcc,\n"
     "rmse, plcc_logistic, rmse_logistic (null when there are fewer pairs than logistic\n"
     "parameters) and n.\n"
     "With --bootstrap N, also 95% percentile bootstrap intervals from N resamples drawn with\n"
     "--seed S (default 0); --json then adds \"ci\": {\"srcc\": [lower, upper], ...}.\n\n"
     "Errors (exit status 1): unequal lengths, NaN or infinite values, fewer than 3 pairs,\n"
     "constant scores, an unreadable number (the message names file and line).\n",
     run}};

}  // namespace
