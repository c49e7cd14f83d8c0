// The `stfpm` subcommands: training, evaluation on the test split, prediction on new images, evaluation of saved
// maps, and the synthetic dataset. Each returns normally or throws with a one-line message naming what is wrong.
#pragma once

#include "cli/config.h"

namespace stfpm {

struct TrainSummary {
  int epochs_run = 0, epochs_total = 0;
  double seconds = 0, seconds_per_epoch = 0, final_loss = 0;  // loss per image of the last epoch
  bool trained = false;
};

TrainSummary run_train(const RunConfig& config);
// Writes <results>/<category>/metrics.json, scores.csv, pro_curve.csv, images/ (and TIFF maps); saves the
// F1-optimal thresholds beside the checkpoint for predict. `train` (when given) is recorded in metrics.json.
void run_test(const RunConfig& config, const TrainSummary* train = nullptr);
void run_predict(const RunConfig& config);
void run_evaluate_maps(const RunConfig& config);
void run_synth(const RunConfig& config);

}  // namespace stfpm
