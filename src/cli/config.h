// The configuration of one run of the `stfpm` command and its parsing from the command line.
//
// Subcommands: train (then test, as the reference does), test, predict, evaluate (saved TIFF maps), synth (write
// the synthetic dataset). The reference implementation's style `stfpm --mode train|test ...` works too, with its
// flag names (--data_dir, --category, --model_dir, --epochs, --lr, --wd, --momentum, --batch_size, ...).
#pragma once

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace stfpm {

struct RunConfig {
  std::string command;  // train | test | predict | evaluate | synth

  // data and files
  std::string data_dir, category;
  std::string model_dir = "models";      // checkpoints: <model_dir>/<category>/student.h5
  std::string results_dir = "results";   // reports: <results_dir>/<category>/...
  std::string teacher;                   // HDF5 teacher; empty: search the usual places (see teacher_path())
  std::string images;                    // predict: a folder, an image, or a text file listing images
  std::string maps_dir;                  // evaluate: the folder holding <category>/test/<defect>/<stem>.tiff

  // the recipe (the reference's defaults)
  int epochs = 100, batch_size = 32, size = 256;
  float lr = 0.4f, momentum = 0.9f, weight_decay = 1e-4f;
  std::vector<int> layers{1, 2, 3};
  std::vector<float> alphas{1.0f, 1.0f, 1.0f};
  float mean[3] = {0.485f, 0.456f, 0.406f};
  float std[3] = {0.229f, 0.224f, 0.225f};
  unsigned long long seed = 0;

  // running
  std::string device;        // cpu | cuda; empty: cuda when available
  int threads = 0;           // CPU threads (0: all cores)
  bool tf32 = false;         // CUDA: allow TF32 convolutions
  bool resume = false;       // train: continue from <model_dir>/<category>/student.h5
  int checkpoint_every = 1;  // train: epochs between checkpoints (the last epoch is always saved)
  bool teacher_cache = true; // train: compute the teacher's features of the training images once
  std::string mask_rule = "strict255";
  bool save_maps = false;    // test/predict: float TIFF maps at the original image size
  bool save_images = true;   // test/predict: heatmap result images
  float threshold = NAN;     // predict: image-score threshold; NaN: the F1-optimal one saved by `test`
  int synth_size = 128;      // synth: image size

  std::set<std::string> given;  // canonical names of the options set on the command line
  bool was_given(const std::string& name) const { return given.count(name) > 0; }

  std::string category_model_dir() const;    // <model_dir>/<category>
  std::string checkpoint_path() const;       // <model_dir>/<category>/student.h5
  std::string calibration_path() const;      // <model_dir>/<category>/thresholds.h5
  std::string category_results_dir() const;  // <results_dir>/<category>
};

// Thrown for command-line mistakes (unknown flag, missing value, bad number): main prints it with the usage hint
// and exits with status 2.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Parses argv. `--help` anywhere sets help_text to the relevant help and returns with command set.
RunConfig parse_command_line(int argc, char** argv, std::string* help_text);

// The teacher file: --teacher, else $STFPM_TEACHER, else the first of weights/resnet18_imagenet.h5 and
// ../shared/weights/resnet18_imagenet.h5 under the source tree and the current folder. Throws naming the places
// tried and how to produce the file.
std::string teacher_path(const RunConfig& config);

}  // namespace stfpm
