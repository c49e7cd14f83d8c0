// The `stfpm` command: parses the command line and runs the subcommand. Errors end the run with one line on
// stderr and a non-zero status: 2 for command-line mistakes, 1 for everything else.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/config.h"
#include "api/stfpm.h"

int main(int argc, char** argv) {
  using namespace stfpm;
  RunConfig config;
  try {
    std::string help;
    config = parse_command_line(argc, argv, &help);
    if (!help.empty()) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "stfpm: %s\n(`stfpm --help` lists the commands, `stfpm <command> --help` the options)\n",
                 e.what());
    return 2;
  }
  try {
    if (config.command == "train") {
      const TrainSummary summary = run_train(config);
      run_test(config, &summary);  // train then test, as the reference does
    } else if (config.command == "test") {
      run_test(config);
    } else if (config.command == "predict") {
      run_predict(config);
    } else if (config.command == "evaluate") {
      run_evaluate_maps(config);
    } else {
      run_synth(config);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nstfpm %s: error: %s\n", config.command.c_str(), e.what());
    return 1;
  }
  return 0;
}
