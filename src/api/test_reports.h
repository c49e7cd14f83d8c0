// Writing what `test` and `predict` produce from computed maps: CSV tables, result images, TIFF maps, and the
// calibration file (thresholds and heatmap ranges) that `test` leaves beside the checkpoint for `predict`.
#pragma once

#include <string>
#include <vector>

#include "cli/config.h"
#include "data/dataset.h"
#include "io/heatmap.h"
#include "eval/metrics.h"
#include "api/run_common.h"

namespace stfpm {

// One colour range per level map and one for the combined map, shared by all images of a category.
struct HeatRanges {
  std::vector<HeatRange> levels;
  HeatRange combined;
};
HeatRanges heat_ranges_of(const AnomalyMaps& maps);

struct Calibration {
  double image_threshold = NAN, pixel_threshold = NAN;
  HeatRanges ranges;
  std::string mask_rule;
  int epoch = 0;
};
void save_calibration(const std::string& path, const Evaluation& ev, const HeatRanges& ranges, int epoch);
// Throws naming the file when missing, with a hint to run `stfpm test` first.
Calibration load_calibration(const std::string& path, int levels);

// scores.csv, pro_curve.csv, images/<defect>/<stem>.png (unless --no_images) and, with --save_maps, the TIFF maps
// under <results>/<category>/maps/ in MVTec's layout.
void write_test_reports(const RunConfig& config, const ImageSet& images, const AnomalyMaps& maps,
                        const Evaluation& ev, const HeatRanges& ranges);

// Result images of one set of maps (mask outlines where the set has masks, predicted outlines at pixel_threshold
// when it is a number): image i goes to paths[i].
void write_result_images(const ImageSet& images, const AnomalyMaps& maps, const HeatRanges& ranges,
                         double pixel_threshold, const std::vector<std::string>& paths);

}  // namespace stfpm
