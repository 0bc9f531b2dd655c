#pragma once
// The biqa tool's command registry and argument parsing. A subcommand is one file:
//   static biqa::cli::Register reg{{"name", "one-line summary", "usage text", run}};

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "biqa/core/context.hpp"
#include "biqa/core/error.hpp"

namespace biqa::cli {

// Exit statuses: 0 success, 1 usage or invalid argument, 2 unreadable or malformed input,
// 3 internal error.
enum ExitCode : int { ok = 0, usage_error = 1, input_error = 2, internal_error = 3 };

class Args;

struct Command {
  std::string name;
  std::string summary;
  std::string usage;  // shown by `biqa NAME --help`
  std::function<int(Args&)> run;
};

inline std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> commands;
  return commands;
}

struct Register {
  explicit Register(Command c) { registry()[c.name] = std::move(c); }
};

// Command-line arguments after the subcommand name. Options are "--name value", "--name=value"
// or a bare flag; everything else is positional. Unknown options are an error at finish().
class Args {
 public:
  Args(std::vector<std::string> argv, std::string command)
      : argv_(std::move(argv)), command_(std::move(command)), used_(argv_.size(), false) {}

  bool help_requested() const {
    for (const auto& a : argv_)
      if (a == "--help" || a == "-h") return true;
    return false;
  }

  // A boolean flag, e.g. --json.
  bool flag(const std::string& name) {
    bool found = false;
    for (std::size_t i = 0; i < argv_.size(); ++i) {
      if (!used_[i] && argv_[i] == name) {
        used_[i] = true;
        found = true;
      }
    }
    return found;
  }

  // The value of --name (last one wins); aliases like "-m" may be given.
  std::optional<std::string> option(const std::string& name, const std::string& alias = "") {
    const auto all = options(name, alias);
    if (all.empty()) return std::nullopt;
    return all.back();
  }
  std::string option_or(const std::string& name, const std::string& fallback,
                        const std::string& alias = "") {
    return option(name, alias).value_or(fallback);
  }
  // Every value of a repeatable option.
  std::vector<std::string> options(const std::string& name, const std::string& alias = "") {
    std::vector<std::string> values;
    for (std::size_t i = 0; i < argv_.size(); ++i) {
      if (used_[i]) continue;
      const std::string& a = argv_[i];
      const bool match = a == name || (!alias.empty() && a == alias);
      if (match) {
        if (i + 1 >= argv_.size())
          fail(ErrorCode::invalid_argument, command_, ": ", name, " needs a value");
        used_[i] = used_[i + 1] = true;
        values.push_back(argv_[i + 1]);
        ++i;
      } else if (a.rfind(name + "=", 0) == 0) {
        used_[i] = true;
        values.push_back(a.substr(name.size() + 1));
      }
    }
    return values;
  }
  int int_option(const std::string& name, int fallback, const std::string& alias = "") {
    const auto v = option(name, alias);
    if (!v) return fallback;
    char* end = nullptr;
    errno = 0;
    const long x = std::strtol(v->c_str(), &end, 10);
    if (end == v->c_str() || *end != '\0' || errno == ERANGE || x < std::numeric_limits<int>::min() ||
        x > std::numeric_limits<int>::max())
      fail(ErrorCode::invalid_argument, command_, ": ", name, " expects an integer, got '", *v, "'");
    return static_cast<int>(x);
  }

  // A non-negative integer that fits 64 bits (a seed); anything else is an invalid_argument error.
  std::uint64_t uint64_option(const std::string& name, std::uint64_t fallback, const std::string& alias = "") {
    const auto v = option(name, alias);
    if (!v) return fallback;
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(v->c_str(), &end, 10);
    if (v->empty() || (*v)[0] == '-' || end == v->c_str() || *end != '\0' || errno == ERANGE)
      fail(ErrorCode::invalid_argument, command_, ": ", name, " expects a non-negative integer, got '", *v, "'");
    return x;
  }

  // A finite number option ("0.75", "1e-3"); anything else is an invalid_argument error.
  double double_option(const std::string& name, double fallback, const std::string& alias = "") {
    const auto v = option(name, alias);
    if (!v) return fallback;
    char* end = nullptr;
    const double x = std::strtod(v->c_str(), &end);
    if (end == v->c_str() || *end != '\0' || !std::isfinite(x))
      fail(ErrorCode::invalid_argument, command_, ": ", name, " expects a number, got '", *v, "'");
    return x;
  }

  // The remaining arguments, after all options were read. Any leftover "--x" is an error.
  std::vector<std::string> positionals() {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < argv_.size(); ++i) {
      if (used_[i]) continue;
      const std::string& a = argv_[i];
      if (a.size() > 1 && a[0] == '-' && a != "-")
        fail(ErrorCode::invalid_argument, command_, ": unknown option '", a, "' (see biqa ",
             command_, " --help)");
      used_[i] = true;
      out.push_back(a);
    }
    return out;
  }

  const std::string& command() const { return command_; }

 private:
  std::vector<std::string> argv_;
  std::string command_;
  std::vector<bool> used_;
};

// Model settings from the command line (LoadOptions::settings): each --set KEY=VALUE, plus the
// shorthands --depth-weights F (depth_weights) and --crops K (crops). `command` names the caller
// in errors.
inline std::map<std::string, std::string> model_settings(Args& args, const std::string& command) {
  std::map<std::string, std::string> settings;
  for (const auto& kv : args.options("--set")) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      fail(ErrorCode::invalid_argument, command, ": --set expects KEY=VALUE, got '", kv, "'");
    settings[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (const auto d = args.option("--depth-weights")) settings["depth_weights"] = *d;
  if (const auto c = args.option("--crops")) settings["crops"] = *c;
  if (const auto e = args.option("--encoder")) settings["encoder"] = *e;
  return settings;
}

// --weight-packing auto|always|never (Context::weight_packing); --pack-weights is short for always.
inline WeightPacking weight_packing(Args& args, const std::string& command) {
  const bool always = args.flag("--pack-weights");
  const std::optional<std::string> named = args.option("--weight-packing");
  if (!named) return always ? WeightPacking::always : WeightPacking::automatic;
  const WeightPacking p = parse_weight_packing(*named);
  BIQA_CHECK(!always || p == WeightPacking::always, ErrorCode::invalid_argument, command,
             ": --pack-weights contradicts --weight-packing ", *named);
  return p;
}

// --precision fp32|tf32|fp16|bf16 (Context::matmul_precision); --tf32 is short for tf32. Only the
// CUDA device rounds its products' inputs: another precision on the CPU is an error, not ignored.
inline MatmulPrecision matmul_precision(Args& args, const std::string& command, DeviceType device) {
  const bool tf32 = args.flag("--tf32");
  const std::optional<std::string> named = args.option("--precision");
  const MatmulPrecision p = named ? parse_matmul_precision(*named) : tf32 ? MatmulPrecision::tf32 : MatmulPrecision::fp32;
  BIQA_CHECK(!tf32 || p == MatmulPrecision::tf32, ErrorCode::invalid_argument, command, ": --tf32 contradicts --precision ",
             *named);
  BIQA_CHECK(p == MatmulPrecision::fp32 || device == DeviceType::cuda, ErrorCode::invalid_argument, command,
             ": --precision ", matmul_precision_name(p), " needs --device cuda (the CPU computes in float32)");
  return p;
}

}  // namespace biqa::cli
