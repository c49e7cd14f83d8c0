// `stfpm predict`: a trained student on new images without ground truth. For each image: the anomaly map, the
// image score, and the decision score >= threshold (--threshold, or the F1-optimal image threshold `test` saved),
// printed and written to <results>/<category>/predict/predictions.csv, with heatmap result images (predicted
// regions outlined at the saved pixel threshold) and, with --save_maps, float TIFF maps at the original size.
#include <cmath>
#include <cstdio>
#include <map>

#include "model/checkpoint.h"
#include "io/report.h"
#include "api/run_common.h"
#include "api/stfpm.h"
#include "api/test_reports.h"
#include "io/tiff_io.h"

namespace stfpm {

void run_predict(const RunConfig& given) {
  if (given.images.empty() || given.category.empty())
    throw std::invalid_argument("predict needs --images and --category (the trained model's)");
  const RunConfig config = adopt_checkpoint_config(given);
  const std::string out_dir = config.category_results_dir() + "/predict";
  ensure_writable_dir(out_dir);
  const int levels = int(config.layers.size());
  Calibration cal;
  if (std::isnan(config.threshold)) {
    cal = load_calibration(config.calibration_path(), levels);
  } else {
    try {  // the heatmap ranges and pixel threshold are welcome but optional with --threshold
      cal = load_calibration(config.calibration_path(), levels);
    } catch (const std::exception&) {
      cal = Calibration{};
    }
    cal.image_threshold = config.threshold;
  }

  const std::vector<ImageRecord> records = scan_images(config.images);
  const ImageSet images = load_with_progress("images", records, preprocess_of(config), false);
  std::unique_ptr<Backend> backend = backend_of(config);
  StfpmModel model(*backend, model_options_of(config));
  load_teacher(model, config);
  load_checkpoint(config.checkpoint_path(), model, false);
  model.plan_inference(std::min<int>(config.batch_size, int(images.count())), images.size, images.size);
  const AnomalyMaps maps = compute_anomaly_maps(model, images, config.batch_size);

  // Output files are named by the image's stem; stems that occur more than once get the image's position too.
  std::map<std::string, int> stem_count;
  for (const ImageRecord& r : images.records) ++stem_count[r.stem];
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> image_paths;
  size_t flagged = 0;
  for (size_t i = 0; i < images.count(); ++i) {
    const ImageRecord& r = images.records[i];
    const std::string name = stem_count[r.stem] > 1 ? r.stem + "_" + std::to_string(i) : r.stem;
    const bool anomalous = double(maps.scores[i]) >= cal.image_threshold;
    flagged += anomalous;
    std::printf("%s\t%.6g\t%s\n", r.path.c_str(), double(maps.scores[i]), anomalous ? "anomalous" : "normal");
    rows.push_back({r.path, csv_float(maps.scores[i]), anomalous ? "1" : "0"});
    image_paths.push_back(out_dir + "/images/" + name + ".png");
    if (config.save_maps)
      write_anomaly_map_tiff(out_dir + "/maps/" + name + ".tiff", maps.map(i), maps.size, maps.size, r.width,
                             r.height);
  }
  write_csv(out_dir + "/predictions.csv", {"path", "score", "predicted"}, rows);
  if (config.save_images) {
    // Without a calibration file (only --threshold) colour ranges come from these images themselves.
    const HeatRanges ranges = cal.ranges.levels.empty() ? heat_ranges_of(maps) : cal.ranges;
    write_result_images(images, maps, ranges, cal.pixel_threshold, image_paths);
  }
  std::fprintf(stderr, "%zu of %zu images anomalous at threshold %.6g; reports: %s\n", flagged, images.count(),
               cal.image_threshold, out_dir.c_str());
}

}  // namespace stfpm
