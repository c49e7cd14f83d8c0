// Writing what `test` and `predict` produce from computed maps: CSV tables, result images, TIFF maps, and the
// calibration file (thresholds and heatmap ranges) that `test` leaves beside the checkpoint for `predict`.
#pragma once

#include <string>
#include <vector>

#include "api/anomaly_maps.h"
#include "api/map_spill.h"
#include "api/runtime.h"
#include "data/dataset.h"
#include "eval/metrics.h"
#include "io/heatmap.h"

namespace stfpm {

// One colour range per level map and one for the combined map, shared by all images of a category.
struct HeatRanges {
  std::vector<HeatRange> levels;
  HeatRange combined;
};
HeatRanges heat_ranges_of(const AnomalyMaps& maps);
HeatRanges heat_ranges_of(const MapSpill& spill);  // the same ranges, two passes over the spill

// The readable score (anomalib's min-max normalization around the threshold):
//   normalized = clamp((score - threshold) / (max - min) + 0.5, 0, 1)
// where min and max are the lowest and highest image scores of the test run that chose the threshold. 0.5 is the
// decision threshold, above it anomalous. NaN when the threshold or the range is unknown (a thresholds.h5 from
// before the range was saved: run `stfpm test` again).
double normalized_score(double score, double threshold, double min, double max);

// What `stfpm test` leaves beside the checkpoint (thresholds.h5): the F1-optimal thresholds on the test set, the
// range of its image scores and its heatmap colour ranges. A validation threshold (below) overrides the
// thresholds in load_model_calibration.
// The colour range of a combined map coloured by the normalized score: the threshold mid-scale, the score range
// (max - min) across the scale, so a pixel's colour is what normalized_score would say of it. `fallback` when the
// threshold or the range is unknown.
HeatRange normalized_heat_range(double threshold, double min, double max, const HeatRange& fallback);

struct Calibration {
  double image_threshold = NAN, pixel_threshold = NAN;  // the decision thresholds
  std::string source;                                   // where they come from, one phrase for messages
  double image_score_min = NAN, image_score_max = NAN;  // over the test images
  HeatRanges ranges;
  std::string mask_rule;
  int epoch = 0;
  long steps = -1;  // of the weights it was made for (-1: a file from before stfpm recorded them)
};
void save_calibration(const std::string& path, const Evaluation& ev, const std::vector<float>& image_scores,
                      const HeatRanges& ranges, int epoch, long steps);
// Throws naming the file when missing, with a hint to run `stfpm test` first.
Calibration load_calibration(const std::string& path, int levels);

// What `stfpm train --val_split` leaves beside the checkpoint (validation.h5): the decision threshold chosen on
// normal images held out of training, valid for the weights after `steps` SGD steps. The one threshold is both
// the image and the pixel threshold, so an image is anomalous exactly when it has a predicted region.
struct ValidationCalibration {
  double threshold = NAN;
  std::string rule;  // "99.5th percentile" or "max FPR 0.01"
  int images = 0;    // held-out normal images the threshold was chosen on
  double score_min = NAN, score_max = NAN;
  HeatRanges ranges;
  long steps = 0;
  std::string describe() const;  // "99.5th percentile of 8 held-out normal images"
};
void save_validation(const std::string& path, const ValidationCalibration& v);
// The validation threshold of the weights after `steps` steps: threshold NaN when the file is absent or was made
// for other weights.
ValidationCalibration load_validation(const std::string& path, int levels, long steps);

// A model folder's decision thresholds, as test, predict and the Detector apply them: the validation threshold
// when `train --val_split` made one for these weights, else the F1-optimal thresholds of the last `stfpm test`.
// Score range and colour ranges come from the test run when there was one, else from the validation images.
// Files made for other weights (their SGD steps differ from `steps`) are not applied. Without a usable file:
// throws when `required` (naming what to run and any file that was stale), else returns NaN thresholds.
Calibration load_model_calibration(const std::string& model_folder, int levels, long steps, bool required);

// What a test run writes besides metrics.json, under <results_dir>/<category>/.
struct TestReportOptions {
  std::string results_dir, category;
  bool save_images = true;  // images/<defect>/<stem>.png
  bool save_maps = false;   // maps/<category>/test/<defect>/<stem>.tiff, MVTec's layout
};
// scores.csv (`predicted` and the normalized score at image_threshold), pro_curve.csv, and the result images
// (predicted regions at pixel_threshold) and TIFF maps the options ask for, of the images in the spill.
void write_test_reports(const TestReportOptions& options, const MapSpill& spill, const Evaluation& ev,
                        double image_threshold, double pixel_threshold, const HeatRanges& ranges,
                        const Reporter& report);

// What report.html shows of a test run (io/html_report.h), written to <results_dir>/<category>/report.html.
struct TestReportSummary {
  std::string category, threshold_source, device, checkpoint;
  int epochs = 0;
  double image_threshold = NAN;  // the decision threshold
};
void write_html_test_report(const TestReportOptions& options, const std::vector<ImageRecord>& records,
                            const std::vector<float>& scores, const Evaluation& ev, const TestReportSummary& summary);

// Result images of one set of maps (mask outlines where the set has masks, predicted outlines at pixel_threshold
// when it is a number): image i goes to paths[i].
void write_result_images(const ImageSet& images, const AnomalyMaps& maps, const HeatRanges& ranges,
                         double pixel_threshold, const std::vector<std::string>& paths, const Reporter& report);

}  // namespace stfpm
