// The decision threshold without defect labels (`train --val_split`): the trained student's image scores on the
// normal images held out of training, and a quantile of them (or a false-positive rate), saved as validation.h5.
#pragma once

#include <string>
#include <vector>

#include <stfpm/stfpm.h>

#include "api/reports.h"
#include "api/runtime.h"

namespace stfpm {

// "the 99.5th percentile" for q = 0.995, "max FPR 0.01" for a false-positive rate.
std::string threshold_rule(double quantile, double max_fpr);

// Scores the held-out `records` with the checkpoint config's training left in <model_dir>/<category>, chooses the
// threshold by config.val_quantile or config.max_fpr, and saves it beside the checkpoint (validation.h5).
ValidationCalibration fit_validation_threshold(const TrainConfig& config, const std::vector<ImageRecord>& records,
                                               Backend& backend, const std::string& teacher, const Reporter& report);

}  // namespace stfpm
