// `stfpm test`: anomaly maps of every test image, the metrics, and the reports:
//   <results>/<category>/metrics.json    pixel/image ROC-AUC, AUPRO, F1-optimal thresholds, mask rule, timings
//   <results>/<category>/scores.csv      one row per test image
//   <results>/<category>/pro_curve.csv   the PRO curve (fpr, pro, threshold)
//   <results>/<category>/report.html     a page to look at: metrics, curves, every image (io/html_report.h)
//   <results>/<category>/images/...      heatmap result images (unless --no_images)
//   <results>/<category>/maps/<category>/test/<defect>/<stem>.tiff   with --save_maps (MVTec's evaluation layout)
// and <model_dir>/<category>/thresholds.h5, the thresholds and heatmap ranges `predict` reuses.
#include <algorithm>
#include <chrono>
#include <cmath>

#include <stfpm/stfpm.h>

#include "api/anomaly_maps.h"
#include "api/errors.h"
#include "api/map_spill.h"
#include "api/reports.h"
#include "api/runtime.h"
#include "api/validation.h"
#include "core/files.h"
#include "eval/metrics.h"
#include "io/json.h"
#include "model/checkpoint.h"

namespace stfpm {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Json f1_json(const F1Threshold& t) {
  return Json{{"threshold", t.threshold}, {"f1", t.f1},      {"precision", t.precision},
              {"recall", t.recall},       {"fitted_on", "test set"}};
}

// How the decision threshold does on the test images: counts and rates of "score >= threshold".
Json decision_json(double threshold, const std::string& source, const std::vector<float>& scores,
                   const std::vector<uint8_t>& labels) {
  size_t tp = 0, fp = 0, positives = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool flagged = double(scores[i]) >= threshold;
    positives += labels[i];
    tp += flagged && labels[i];
    fp += flagged && !labels[i];
  }
  const size_t negatives = scores.size() - positives;
  auto ratio = [](size_t a, size_t b) { return b ? double(a) / double(b) : NAN; };
  return Json{{"image_threshold", threshold},
              {"source", source},
              {"test_false_positives", fp},
              {"test_false_positive_rate", ratio(fp, negatives)},
              {"test_recall", ratio(tp, positives)},
              {"test_precision", ratio(tp, tp + fp)}};
}

Threshold threshold_of(const F1Threshold& t) { return Threshold{t.threshold, t.f1, t.precision, t.recall}; }

std::string join_layers(const std::vector<int>& layers) {
  std::string out;
  for (int l : layers) out += (out.empty() ? "" : ",") + std::to_string(l);
  return out;
}

// Where a test run's time went, in seconds.
struct TestTimes {
  double load = 0, maps = 0, metrics = 0;
};

Json metrics_json(const TestConfig& config, const std::string& checkpoint, const Evaluation& ev,
                  const CheckpointInfo& info, int size, const TestTimes& times, const TrainSummary* train,
                  const std::string& device, const ValidationCalibration& validation, const Json& decision) {
  Json timings = {{"load_images_s", times.load},
                  {"anomaly_maps_s", times.maps},
                  {"ms_per_image", 1000.0 * times.maps / std::max(1, ev.n_images)},
                  {"metrics_s", times.metrics}};
  if (train && train->trained) {
    timings["train_s"] = train->seconds;
    timings["s_per_epoch"] = train->seconds_per_epoch;
  }
  Json j = {{"category", config.category},
            {"pixel_auroc", ev.pixel_auroc},
            {"image_auroc", ev.image_auroc},
            {"pixel_aupro", ev.pixel_aupro},
            {"aupro_max_fpr", 0.3},
            {"thresholds",
             {{"pixel_f1", f1_json(ev.pixel_f1)},
              {"image_f1", f1_json(ev.image_f1)},
              {"validation", std::isnan(validation.threshold)
                                 ? Json(nullptr)
                                 : Json{{"threshold", validation.threshold},
                                        {"rule", validation.rule},
                                        {"images", validation.images}}}}},
            {"decision", decision},
            {"mask_rule", mask_rule_name(ev.rule)},
            {"epochs", info.epoch},
            {"size", size},
            {"layers", join_layers(info.recipe.layers)},
            {"n_images", ev.n_images},
            {"n_anomalous_images", ev.n_anomalous_images},
            {"n_defect_pixels", ev.n_defect_pixels},
            {"n_components", ev.n_components},
            {"device", device},
            {"checkpoint", checkpoint},
            {"timings", timings}};
  if (train && train->trained) j["final_train_loss_per_image"] = train->final_loss;
  return j;
}

}  // namespace

TestResult test_model(const TestConfig& config, const ProgressCallback& progress, const TrainSummary* train) try {
  const Reporter report(progress);
  check_dataset("test", config.data_dir, config.category, config.folders);
  const std::string model_folder = config.model_dir + "/" + config.category;
  const std::string checkpoint = model_folder + "/student.h5";
  const Recipe recipe = checkpoint_recipe(checkpoint, config.require);
  // A folder dataset's test split is the one its training held out: the checkpoint's seed and fraction (given
  // again, the fraction must agree).
  FolderDataset folders = config.folders;
  if (!folders.normal_dir.empty() && folders.normal_test_dir.empty()) {
    const double trained = read_checkpoint_info(checkpoint).test_split;
    if (folders.test_split == 0) folders.test_split = trained;
    if (folders.test_split != trained)
      throw Error(checkpoint + ": checkpoint from another configuration: --test_split is " +
                  std::to_string(folders.test_split) + " here but " + std::to_string(trained) +
                  " in the checkpoint (its training held out other images)");
  }
  const std::vector<ImageRecord> records =
      scan_dataset("test", config.data_dir, config.category, folders, recipe.seed, Split::test);
  // Folder datasets may come without masks: then only the image-level metrics exist.
  const bool with_masks = std::any_of(records.begin(), records.end(), [](const ImageRecord& r) {
    return !r.mask_path.empty();
  });
  const MaskRule rule = parse_mask_rule(config.mask_rule);
  const std::string out_dir = config.results_dir + "/" + config.category;
  ensure_writable_dir(out_dir);
  const std::string teacher = find_teacher(config.runtime.teacher, model_folder);

  std::unique_ptr<Backend> backend = make_backend(config.runtime, report);
  StfpmModel model(*backend, recipe);
  load_teacher(model, teacher, report);
  load_checkpoint(checkpoint, model, false);
  const CheckpointInfo info = read_checkpoint_info(checkpoint);
  report.message("student: " + checkpoint + " (" + std::to_string(info.epoch) + " epochs)");
  const int batch = std::max(1, std::min<int>(config.batch_size, int(records.size())));
  model.plan_inference(batch, recipe.size, recipe.size);

  // Images stream through in chunks (decode, maps, the pixel metrics' sorted runs), and what the reports need
  // later goes to a scratch file in the results folder, so memory stays bounded however many there are. A chunk
  // is one batch, or 8 images for the parallel decode.
  TestTimes times;
  MapSpill spill(out_dir, records, recipe.size, int(recipe.layers.size()), with_masks);
  PixelEvaluator pixels(recipe.size, recipe.size, out_dir);
  const size_t chunk = std::max<size_t>(size_t(batch), 8);
  const Reporter quiet(nullptr);
  std::vector<uint8_t> mask01;
  report.update("anomaly maps", 0, records.size());
  for (size_t first = 0; first < records.size(); first += chunk) {
    const std::vector<ImageRecord> part(records.begin() + long(first),
                                        records.begin() + long(std::min(records.size(), first + chunk)));
    const auto load_start = Clock::now();
    const ImageSet images = load_images(part, preprocess_of(recipe), with_masks);
    times.load += seconds_since(load_start);
    const AnomalyMaps maps = compute_anomaly_maps(model, images, batch, quiet);
    times.maps += maps.seconds;
    if (with_masks) {
      const auto metrics_start = Clock::now();
      mask01.resize(images.plane());
      for (size_t i = 0; i < images.count(); ++i) {
        binarize_mask(mask01.data(), images.mask(i), mask01.size(), rule);
        pixels.add(maps.map(i), mask01.data());
      }
      times.metrics += seconds_since(metrics_start);
    }
    spill.append(images, maps);
    report.update("anomaly maps", first + images.count(), records.size());
  }
  report.finished("anomaly maps", records.size());

  const auto metrics_start = Clock::now();
  const std::vector<float>& scores = spill.scores();
  std::vector<uint8_t> labels(records.size());
  for (size_t i = 0; i < records.size(); ++i) labels[i] = records[i].anomalous ? 1 : 0;
  const Evaluation ev = with_masks ? evaluate(pixels, scores.data(), labels.data(), rule)
                                   : evaluate_images(scores.data(), labels.data(), int(records.size()), rule);
  if (!with_masks) report.message("no masks: image-level metrics only (pixel ROC-AUC and AUPRO need --mask_dir)");
  times.metrics += seconds_since(metrics_start);

  // The decision threshold: the validation one when training made it for these weights (chosen without test
  // labels), else the F1-optimal one, which is fitted on these very images.
  const ValidationCalibration validation =
      load_validation(model_folder + "/validation.h5", int(recipe.layers.size()), info.steps);
  const bool validated = !std::isnan(validation.threshold);
  const double decision = validated ? validation.threshold : ev.image_f1.threshold;
  const std::string source = validated ? "validation: " + validation.describe() : "test set, F1-optimal";
  write_json_file(out_dir + "/metrics.json",
                  metrics_json(config, checkpoint, ev, info, recipe.size, times, train, device_name(backend->kind()),
                               validation, decision_json(decision, source, scores, labels)));
  const HeatRanges ranges = heat_ranges_of(spill);
  HeatRanges shown = ranges;  // the saved ranges stay the shared ones; --normalized_colors changes only the images
  if (config.normalized_colors) {
    const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
    shown.combined = normalized_heat_range(decision, *lo, *hi, ranges.combined);
  }
  const TestReportOptions options{config.results_dir, config.category, config.save_images, config.save_maps};
  write_test_reports(options, spill, ev, decision, validated ? validation.threshold : ev.pixel_f1.threshold, shown,
                     report);
  write_html_test_report(options, records, scores, ev,
                         {config.category, source, backend->describe(), checkpoint, info.epoch, decision});
  save_calibration(model_folder + "/thresholds.h5", ev, scores, ranges, info.epoch, info.steps);

  TestResult result;
  result.pixel_auroc = ev.pixel_auroc;
  result.image_auroc = ev.image_auroc;
  result.pixel_aupro = ev.pixel_aupro;
  result.pixel_f1 = threshold_of(ev.pixel_f1);
  result.image_f1 = threshold_of(ev.image_f1);
  result.decision_threshold = decision;
  result.threshold_source = source;
  result.mask_rule = mask_rule_name(rule);
  result.epochs = info.epoch;
  result.results_folder = out_dir;
  return result;
} catch (...) {
  rethrow_as_error();
}

}  // namespace stfpm
