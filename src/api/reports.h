// Writing what `test` and `predict` produce from computed maps: CSV tables, result images, TIFF maps, and the
// calibration file (thresholds and heatmap ranges) that `test` leaves beside the checkpoint for `predict`.
#pragma once

#include <string>
#include <vector>

#include "api/anomaly_maps.h"
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

// The readable score (anomalib's min-max normalization around the threshold):
//   normalized = clamp((score - threshold) / (max - min) + 0.5, 0, 1)
// where min and max are the lowest and highest image scores of the test run that chose the threshold. 0.5 is the
// decision threshold, above it anomalous. NaN when the threshold or the range is unknown (a thresholds.h5 from
// before the range was saved: run `stfpm test` again).
double normalized_score(double score, double threshold, double min, double max);

struct Calibration {
  double image_threshold = NAN, pixel_threshold = NAN;
  double image_score_min = NAN, image_score_max = NAN;  // over the test images
  HeatRanges ranges;
  std::string mask_rule;
  int epoch = 0;
};
void save_calibration(const std::string& path, const Evaluation& ev, const std::vector<float>& image_scores,
                      const HeatRanges& ranges, int epoch);
// Throws naming the file when missing, with a hint to run `stfpm test` first.
Calibration load_calibration(const std::string& path, int levels);

// What a test run writes besides metrics.json, under <results_dir>/<category>/.
struct TestReportOptions {
  std::string results_dir, category;
  bool save_images = true;  // images/<defect>/<stem>.png
  bool save_maps = false;   // maps/<category>/test/<defect>/<stem>.tiff, MVTec's layout
};
// scores.csv, pro_curve.csv, and the result images and TIFF maps the options ask for.
void write_test_reports(const TestReportOptions& options, const ImageSet& images, const AnomalyMaps& maps,
                        const Evaluation& ev, const HeatRanges& ranges, const Reporter& report);

// Result images of one set of maps (mask outlines where the set has masks, predicted outlines at pixel_threshold
// when it is a number): image i goes to paths[i].
void write_result_images(const ImageSet& images, const AnomalyMaps& maps, const HeatRanges& ranges,
                         double pixel_threshold, const std::vector<std::string>& paths, const Reporter& report);

}  // namespace stfpm
