// biqa inspect [--json] FILE: the tensors of a weights file.

#include <iostream>

#include "biqa/io/json.hpp"
#include "biqa/io/weights.hpp"
#include "cli.hpp"

namespace {

int run(biqa::cli::Args& args) {
  const bool as_json = args.flag("--json");
  const auto files = args.positionals();
  if (files.size() != 1) biqa::fail(biqa::ErrorCode::invalid_argument, "expected one FILE");
  const auto wf = biqa::io::load_weights(files[0]);

  if (as_json) {
    biqa::json::Value out = biqa::json::Object{};
    out.set("format", wf.format);
    biqa::json::Value md = biqa::json::Object{};
    for (const auto& [k, v] : wf.metadata) md.set(k, v);
    out.set("metadata", md);
    biqa::json::Value tensors = biqa::json::Array{};
    for (const auto& r : wf.tensors) {
      biqa::json::Value t = biqa::json::Object{};
      t.set("name", r.name);
      t.set("dtype", biqa::dtype_name(r.dtype));
      biqa::json::Value shape = biqa::json::Array{};
      for (auto d : r.shape) shape.push_back(d);
      t.set("shape", shape);
      tensors.push_back(t);
    }
    out.set("tensors", tensors);
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  std::int64_t total = 0;
  std::cout << files[0] << ": " << wf.format << ", " << wf.tensors.size() << " tensors\n";
  for (const auto& [k, v] : wf.metadata)
    std::cout << "  metadata " << k << " = " << (v.size() > 200 ? v.substr(0, 200) + "..." : v) << "\n";
  for (const auto& r : wf.tensors) {
    std::cout << "  " << r.name << "  " << biqa::dtype_name(r.dtype) << " " << r.shape.to_string()
              << "\n";
    total += r.shape.numel();
  }
  std::cout << "total parameters: " << total << "\n";
  return 0;
}

biqa::cli::Register reg{{"inspect", "list the tensors of a weights file (.safetensors, .pth)",
                         "Usage: biqa inspect [--json] FILE\n\n"
                         "Lists every tensor's name, dtype and shape. With --json prints\n"
                         "{\"format\", \"metadata\", \"tensors\": [{\"name\", \"dtype\", \"shape\"}]}.\n",
                         run}};

}  // namespace
