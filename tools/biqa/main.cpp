// biqa: blind image quality assessment from the command line. See `biqa --help`.

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "biqa/version.hpp"
#include "cli.hpp"

namespace {

void print_help() {
  std::cout << "biqa " BIQA_VERSION_STRING " - blind image quality assessment\n\n"
               "Usage: biqa COMMAND [OPTIONS] [ARGS]\n\nCommands:\n";
  for (const auto& [name, cmd] : biqa::cli::registry())
    std::cout << "  " << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ')
              << cmd.summary << "\n";
  std::cout << "\nRun 'biqa COMMAND --help' for a command's options.\n"
               "Exit status: 0 success, 1 usage error, 2 unreadable or malformed input, "
               "3 internal error.\n";
}

int exit_code_for(biqa::ErrorCode code) {
  switch (code) {
    case biqa::ErrorCode::invalid_argument: return biqa::cli::usage_error;
    case biqa::ErrorCode::internal: return biqa::cli::internal_error;
    default: return biqa::cli::input_error;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_help();
    return args.empty() ? biqa::cli::usage_error : biqa::cli::ok;
  }
  if (args[0] == "--version") {
    std::cout << "biqa " BIQA_VERSION_STRING "\n";
    return 0;
  }
  const auto& reg = biqa::cli::registry();
  auto it = reg.find(args[0]);
  if (it == reg.end()) {
    std::cerr << "biqa: unknown command '" << args[0] << "' (see biqa --help)\n";
    return biqa::cli::usage_error;
  }
  biqa::cli::Args rest(std::vector<std::string>(args.begin() + 1, args.end()), args[0]);
  if (rest.help_requested()) {
    std::cout << it->second.usage;
    return 0;
  }
  try {
    return it->second.run(rest);
  } catch (const biqa::Error& e) {
    std::string msg = e.what();
    // Library code names the command itself ("score: ..."); the prefix below already does.
    if (msg.rfind(args[0] + ": ", 0) == 0) msg.erase(0, args[0].size() + 2);
    std::cerr << "biqa " << args[0] << ": " << msg << "\n";
    return exit_code_for(e.code());
  } catch (const std::bad_alloc&) {
    std::cerr << "biqa " << args[0] << ": out of memory\n";
    return biqa::cli::internal_error;
  } catch (const std::exception& e) {
    std::cerr << "biqa " << args[0] << ": internal error: " << e.what() << "\n";
    return biqa::cli::internal_error;
  }
}
