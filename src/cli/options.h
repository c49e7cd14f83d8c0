// The `stfpm` command line: parsing argv into the library's configurations (<stfpm/stfpm.h>).
//
// Subcommands: train (then test, as the reference does), test, predict, evaluate (saved TIFF maps), synth (write
// the synthetic dataset), profile (time every op of a step). The reference implementation's style `stfpm --mode train|test ...` works too, with its
// flag names (--data_dir, --category, --model_dir, --epochs, --lr, --wd, --momentum, --batch_size, ...). Flags
// may be written with '_' or '-', as `--flag value` or `--flag=value`; lists as `1,2,3` or `1 2 3`.
// The recipe's flags come from the recipe's field table (stfpm::recipe_fields()), the rest from the table in
// options.cpp.
#pragma once

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

#include <stfpm/stfpm.h>

namespace stfpm {

struct CommandLine {
  std::string command;  // train | test | predict | evaluate | synth | profile

  std::string data_dir, category;
  FolderDataset folders;                // --normal_dir and the flags with it
  std::string model_dir = "models";     // checkpoints: <model_dir>/<category>/student.h5
  std::string results_dir = "results";  // reports: <results_dir>/<category>/...
  std::string images;                   // predict: a folder, an image, or a text file listing images
  std::string maps_dir;                 // evaluate: the folder holding <category>/test/<defect>/<stem>.tiff

  Recipe recipe;
  Runtime runtime;
  bool resume = false;
  int checkpoint_every = 1;
  bool teacher_cache = true;
  double val_split = 0, val_quantile = 0.995, max_fpr = NAN;  // train: the validation threshold
  std::string mask_rule = "strict255";
  bool save_maps = false;
  bool save_images = true;
  bool normalized_colors = false;
  double threshold = NAN;
  std::string pass = "infer", csv, json;  // profile
  int steps = 10, warmup = 2;
  bool by_op = false;

  std::set<std::string> given;  // canonical names of the options set on the command line
  bool was_given(const std::string& name) const { return given.count(name) > 0; }

  // The library configuration of each command.
  TrainConfig train_config() const;
  TestConfig test_config() const;
  PredictConfig predict_config() const;
  EvaluateConfig evaluate_config() const;
  SyntheticConfig synthetic_config() const;
  ProfileConfig profile_config() const;
};

// Thrown for command-line mistakes (unknown flag, missing value, bad number): main prints it with the usage hint
// and exits with status 2.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Parses argv. `--help` anywhere sets help_text to the relevant help and returns with command set.
CommandLine parse_command_line(int argc, char** argv, std::string* help_text);

}  // namespace stfpm
