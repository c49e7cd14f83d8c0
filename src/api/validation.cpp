#include "api/validation.h"

#include <cmath>
#include <cstdio>

#include "api/anomaly_maps.h"
#include "eval/metrics.h"
#include "model/checkpoint.h"

namespace stfpm {

std::string threshold_rule(double quantile, double max_fpr) {
  char buf[64];
  if (!std::isnan(max_fpr)) {
    std::snprintf(buf, sizeof buf, "max FPR %g", max_fpr);
    return buf;
  }
  const double percent = quantile * 100;
  // English ordinals: 1st, 2nd, 3rd, 11th-13th, 21st, ...; a fractional percentile reads "99.5th".
  const char* suffix = "th";
  if (percent == std::floor(percent)) {
    const long p = long(percent);
    if (p % 100 < 11 || p % 100 > 13) suffix = p % 10 == 1 ? "st" : p % 10 == 2 ? "nd" : p % 10 == 3 ? "rd" : "th";
  }
  std::snprintf(buf, sizeof buf, "the %g%s percentile", percent, suffix);
  return buf;
}

ValidationCalibration fit_validation_threshold(const TrainConfig& config, const std::vector<ImageRecord>& records,
                                               Backend& backend, const std::string& teacher, const Reporter& report) {
  const std::string model_folder = config.model_dir + "/" + config.category;
  const std::string checkpoint = model_folder + "/student.h5";
  const CheckpointInfo info = read_checkpoint_info(checkpoint);
  const ImageSet images =
      load_with_progress("validation images", records, preprocess_of(info.recipe), false, report);
  StfpmModel model(backend, info.recipe);
  load_teacher(model, teacher, report);
  load_checkpoint(checkpoint, model, false);
  const int batch = std::max(1, std::min(info.recipe.batch_size, int(images.count())));
  model.plan_inference(batch, images.size, images.size);
  const AnomalyMaps maps = compute_anomaly_maps(model, images, batch, report);

  ValidationCalibration v;
  const double t = std::isnan(config.max_fpr) ? quantile_threshold(maps.scores, config.val_quantile)
                                              : max_fpr_threshold(maps.scores, config.max_fpr);
  // A float, rounded up: the pixel outlines compare float map values with it, the decision double(score) >= t,
  // and both must agree that an image is anomalous exactly when it has a predicted region.
  float rounded = float(t);
  if (double(rounded) < t) rounded = std::nextafter(rounded, INFINITY);
  v.threshold = rounded;
  v.rule = threshold_rule(config.val_quantile, config.max_fpr);
  v.images = maps.count;
  const auto [lo, hi] = std::minmax_element(maps.scores.begin(), maps.scores.end());
  v.score_min = *lo;
  v.score_max = *hi;
  v.ranges = heat_ranges_of(maps);
  v.steps = info.steps;
  const std::string path = model_folder + "/validation.h5";
  save_validation(path, v);
  char line[160];
  std::snprintf(line, sizeof line, "validation threshold %.6g: ", v.threshold);
  report.message(line + v.describe() + " (" + path + ")");
  return v;
}

}  // namespace stfpm
