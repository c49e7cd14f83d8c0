// Fuzz target: the command-line parser. The input is split at newlines into arguments after "stfpm"; the parsed
// command is turned into its library configuration and the recipe validated, as `stfpm` does before it starts
// work. Usage errors and validation errors are exceptions; a crash, a sanitizer report or a hang is a bug.
#include <exception>
#include <string>
#include <vector>

#include "cli/options.h"
#include "fuzz_targets.h"

using namespace stfpm;

void stfpm_fuzz::run_cli(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"stfpm"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(current);
      current.clear();
    } else {
      current += char(data[i]);
    }
  }
  if (!current.empty()) args.push_back(current);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  try {
    std::string help;
    const CommandLine c = parse_command_line(int(args.size()), argv.data(), &help);
    if (!help.empty()) return;
    if (c.command == "train") validate(c.train_config().recipe);
    else if (c.command == "test") c.test_config();
    else if (c.command == "predict") c.predict_config();
    else if (c.command == "evaluate") c.evaluate_config();
    else if (c.command == "synth") c.synthetic_config();
    else if (c.command == "profile") c.profile_config();
    else __builtin_trap();  // the parser accepted an unknown command
  } catch (const std::exception&) {
  }
}

STFPM_FUZZ_ENTRY(run_cli)
