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

Json metrics_json(const TestConfig& config, const std::string& checkpoint, const Evaluation& ev,
                  const CheckpointInfo& info, const AnomalyMaps& maps, double load_seconds, double eval_seconds,
                  const TrainSummary* train, const std::string& device, const ValidationCalibration& validation,
                  const Json& decision) {
  Json timings = {{"load_images_s", load_seconds},
                  {"anomaly_maps_s", maps.seconds},
                  {"ms_per_image", 1000.0 * maps.seconds / std::max(1, maps.count)},
                  {"metrics_s", eval_seconds}};
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
            {"size", maps.size},
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

  const auto load_start = Clock::now();
  const ImageSet images = load_with_progress("test images", records, preprocess_of(recipe), with_masks, report);
  const double load_seconds = seconds_since(load_start);

  std::unique_ptr<Backend> backend = make_backend(config.runtime, report);
  StfpmModel model(*backend, recipe);
  load_teacher(model, teacher, report);
  load_checkpoint(checkpoint, model, false);
  const CheckpointInfo info = read_checkpoint_info(checkpoint);
  report.message("student: " + checkpoint + " (" + std::to_string(info.epoch) + " epochs)");
  const int batch = std::max(1, std::min<int>(config.batch_size, int(images.count())));
  model.plan_inference(batch, images.size, images.size);
  const AnomalyMaps maps = compute_anomaly_maps(model, images, batch, report);

  const auto metrics_start = Clock::now();
  std::vector<uint8_t> masks(images.masks.size()), labels(images.count());
  binarize_mask(masks.data(), images.masks.data(), masks.size(), rule);
  for (size_t i = 0; i < images.count(); ++i) labels[i] = images.records[i].anomalous ? 1 : 0;
  const Evaluation ev = with_masks ? evaluate(maps.combined.data(), masks.data(), maps.count, maps.size, maps.size,
                                              maps.scores.data(), labels.data(), rule)
                                   : evaluate_images(maps.scores.data(), labels.data(), maps.count, rule);
  if (!with_masks) report.message("no masks: image-level metrics only (pixel ROC-AUC and AUPRO need --mask_dir)");
  const double eval_seconds = seconds_since(metrics_start);

  // The decision threshold: the validation one when training made it for these weights (chosen without test
  // labels), else the F1-optimal one, which is fitted on these very images.
  const ValidationCalibration validation =
      load_validation(model_folder + "/validation.h5", int(recipe.layers.size()), info.steps);
  const bool validated = !std::isnan(validation.threshold);
  const double decision = validated ? validation.threshold : ev.image_f1.threshold;
  const std::string source = validated ? "validation: " + validation.describe() : "test set, F1-optimal";
  write_json_file(out_dir + "/metrics.json",
                  metrics_json(config, checkpoint, ev, info, maps, load_seconds, eval_seconds, train,
                               device_name(backend->kind()), validation,
                               decision_json(decision, source, maps.scores, labels)));
  const HeatRanges ranges = heat_ranges_of(maps);
  HeatRanges shown = ranges;  // the saved ranges stay the shared ones; --normalized_colors changes only the images
  if (config.normalized_colors) {
    const auto [lo, hi] = std::minmax_element(maps.scores.begin(), maps.scores.end());
    shown.combined = normalized_heat_range(decision, *lo, *hi, ranges.combined);
  }
  write_test_reports({config.results_dir, config.category, config.save_images, config.save_maps}, images, maps, ev,
                     decision, validated ? validation.threshold : ev.pixel_f1.threshold, shown, report);
  write_html_test_report({config.results_dir, config.category, config.save_images, config.save_maps}, images, maps,
                         ev, {config.category, source, backend->describe(), checkpoint, info.epoch, decision});
  save_calibration(model_folder + "/thresholds.h5", ev, maps.scores, ranges, info.epoch, info.steps);

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
