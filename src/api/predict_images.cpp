// `stfpm predict`: a trained student on new images without ground truth. For each image: the anomaly map, the
// image score, and the decision score >= threshold (--threshold, or the model's: load_model_calibration),
// printed and written to <results>/<category>/predict/predictions.csv, with heatmap result images (predicted
// regions outlined at the saved pixel threshold) and, with --save_maps, float TIFF maps at the original size.
#include <cmath>
#include <map>

#include <stfpm/stfpm.h>

#include "api/anomaly_maps.h"
#include "api/errors.h"
#include "api/reports.h"
#include "api/runtime.h"
#include "core/files.h"
#include "io/report.h"
#include "io/tiff_io.h"
#include "model/checkpoint.h"

namespace stfpm {

PredictReport predict_images(const PredictConfig& config, const ProgressCallback& progress) try {
  const Reporter report(progress);
  if (config.images.empty() || config.category.empty())
    throw Error("predict needs --images and --category (the trained model's)");
  const std::string model_folder = config.model_dir + "/" + config.category;
  const std::string checkpoint = model_folder + "/student.h5";
  const Recipe recipe = checkpoint_recipe(checkpoint, config.require);
  const std::string out_dir = config.results_dir + "/" + config.category + "/predict";
  ensure_writable_dir(out_dir);
  const int levels = int(recipe.layers.size());
  // The model's decision thresholds; with --threshold they are optional (the heatmap ranges and the pixel
  // threshold are welcome), and the image threshold is the given one.
  Calibration cal = load_model_calibration(model_folder, levels, read_checkpoint_info(checkpoint).steps,
                                           std::isnan(config.threshold));
  if (!std::isnan(config.threshold)) {
    cal.image_threshold = config.threshold;
    cal.source = "--threshold";
  }
  const std::string teacher = find_teacher(config.runtime.teacher, model_folder);

  const std::vector<ImageRecord> records = scan_images(config.images);
  const ImageSet images = load_with_progress("images", records, preprocess_of(recipe), false, report);
  std::unique_ptr<Backend> backend = make_backend(config.runtime, report);
  StfpmModel model(*backend, recipe);
  load_teacher(model, teacher, report);
  load_checkpoint(checkpoint, model, false);
  const int batch = std::max(1, std::min<int>(config.batch_size, int(images.count())));
  model.plan_inference(batch, images.size, images.size);
  const AnomalyMaps maps = compute_anomaly_maps(model, images, batch, report);

  // Output files are named by the image's stem; stems that occur more than once get the image's position too.
  std::map<std::string, int> stem_count;
  for (const ImageRecord& r : images.records) ++stem_count[r.stem];
  PredictReport out;
  out.threshold = cal.image_threshold;
  out.threshold_source = cal.source;
  out.folder = out_dir;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> image_paths;
  for (size_t i = 0; i < images.count(); ++i) {
    const ImageRecord& r = images.records[i];
    const std::string name = stem_count[r.stem] > 1 ? r.stem + "_" + std::to_string(i) : r.stem;
    const bool anomalous = double(maps.scores[i]) >= cal.image_threshold;
    const float normalized =
        float(normalized_score(maps.scores[i], cal.image_threshold, cal.image_score_min, cal.image_score_max));
    out.images.push_back(PredictedImage{r.path, maps.scores[i], anomalous, normalized});
    rows.push_back({r.path, csv_float(maps.scores[i]), anomalous ? "1" : "0", csv_float(normalized)});
    image_paths.push_back(out_dir + "/images/" + name + ".png");
    if (config.save_maps)
      write_anomaly_map_tiff(out_dir + "/maps/" + name + ".tiff", maps.map(i), maps.size, maps.size, r.width,
                             r.height);
  }
  write_csv(out_dir + "/predictions.csv", {"path", "score", "predicted", "normalized_score"}, rows);
  if (config.save_images) {
    // Without a calibration file (only --threshold) colour ranges come from these images themselves.
    HeatRanges ranges = cal.ranges.levels.empty() ? heat_ranges_of(maps) : cal.ranges;
    if (config.normalized_colors)
      ranges.combined =
          normalized_heat_range(cal.image_threshold, cal.image_score_min, cal.image_score_max, ranges.combined);
    write_result_images(images, maps, ranges, cal.pixel_threshold, image_paths, report);
  }
  return out;
} catch (...) {
  rethrow_as_error();
}

}  // namespace stfpm
