// `stfpm predict`: a trained student on new images without ground truth, streamed in chunks (bounded memory for
// any number of images). For each image: the anomaly map, the image score, and the decision score >= threshold
// (--threshold, or the model's: load_model_calibration), printed and written to
// <results>/<category>/predict/predictions.csv, with heatmap result images (predicted regions outlined at the saved
// pixel threshold) and, with --save_maps, float TIFF maps at the original size.
#include <algorithm>
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
  std::unique_ptr<Backend> backend = make_backend(config.runtime, report);
  StfpmModel model(*backend, recipe);
  load_teacher(model, teacher, report);
  load_checkpoint(checkpoint, model, false);
  const int batch = std::max(1, std::min<int>(config.batch_size, int(records.size())));
  model.plan_inference(batch, recipe.size, recipe.size);

  // Output files are named by the image's stem; stems that occur more than once get the image's position too.
  std::map<std::string, int> stem_count;
  for (const ImageRecord& r : records) ++stem_count[r.stem];
  PredictReport out;
  out.threshold = cal.image_threshold;
  out.threshold_source = cal.source;
  out.folder = out_dir;
  // Images stream through in chunks (decode, maps, result images, maps on disk), so memory stays bounded however
  // many there are; only each image's decision is kept, in room reserved here. The rows of the table and the
  // report are made at the end: strings that live on, allocated between a chunk's large buffers, keep glibc from
  // reusing and giving back the memory those free (peak RSS grew by 0.2 MB an image that way). A chunk is one
  // batch, or 8 images for the parallel decode.
  struct Decision {
    float score, normalized;
    bool anomalous;
  };
  std::vector<Decision> decisions;
  decisions.reserve(records.size());
  const size_t chunk = std::max<size_t>(size_t(batch), 8);
  const Reporter quiet(nullptr);
  HeatRanges ranges = cal.ranges;
  report.update("predicting", 0, records.size());
  for (size_t first = 0; first < records.size(); first += chunk) {
    const std::vector<ImageRecord> part(records.begin() + long(first),
                                        records.begin() + long(std::min(records.size(), first + chunk)));
    const ImageSet images = load_images(part, preprocess_of(recipe), false);
    const AnomalyMaps maps = compute_anomaly_maps(model, images, batch, quiet);
    std::vector<std::string> image_paths;
    for (size_t i = 0; i < images.count(); ++i) {
      const ImageRecord& r = images.records[i];
      const size_t index = first + i;
      const std::string name = stem_count[r.stem] > 1 ? r.stem + "_" + std::to_string(index) : r.stem;
      const bool anomalous = double(maps.scores[i]) >= cal.image_threshold;
      const float normalized =
          float(normalized_score(maps.scores[i], cal.image_threshold, cal.image_score_min, cal.image_score_max));
      decisions.push_back(Decision{maps.scores[i], normalized, anomalous});
      image_paths.push_back(out_dir + "/images/" + name + ".png");
      if (config.save_maps)
        write_anomaly_map_tiff(out_dir + "/maps/" + name + ".tiff", maps.map(i), maps.size, maps.size, r.width,
                               r.height);
    }
    if (config.save_images) {
      // Without a calibration file (only --threshold) the colour ranges come from the first chunk's images.
      if (ranges.levels.empty()) ranges = heat_ranges_of(maps);
      HeatRanges shown = ranges;
      if (config.normalized_colors)
        shown.combined =
            normalized_heat_range(cal.image_threshold, cal.image_score_min, cal.image_score_max, ranges.combined);
      write_result_images(images, maps, shown, cal.pixel_threshold, image_paths, quiet);
    }
    report.update("predicting", first + images.count(), records.size());
  }
  report.finished("predicting", records.size());
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < records.size(); ++i) {
    const Decision& d = decisions[i];
    out.images.push_back(PredictedImage{records[i].path, d.score, d.anomalous, d.normalized});
    rows.push_back({records[i].path, csv_float(d.score), d.anomalous ? "1" : "0", csv_float(d.normalized)});
  }
  write_csv(out_dir + "/predictions.csv", {"path", "score", "predicted", "normalized_score"}, rows);
  return out;
} catch (...) {
  rethrow_as_error();
}

}  // namespace stfpm
