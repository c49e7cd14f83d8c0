// `stfpm test`: anomaly maps of every test image, the metrics, and the reports:
//   <results>/<category>/metrics.json    pixel/image ROC-AUC, AUPRO, F1-optimal thresholds, mask rule, timings
//   <results>/<category>/scores.csv      one row per test image
//   <results>/<category>/pro_curve.csv   the PRO curve (fpr, pro, threshold)
//   <results>/<category>/images/...      heatmap result images (unless --no_images)
//   <results>/<category>/maps/<category>/test/<defect>/<stem>.tiff   with --save_maps (MVTec's evaluation layout)
// and <model_dir>/<category>/thresholds.h5, the thresholds and heatmap ranges `predict` reuses.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "model/checkpoint.h"
#include "io/json_writer.h"
#include "eval/metrics.h"
#include "api/run_common.h"
#include "api/stfpm.h"
#include "api/test_reports.h"

namespace stfpm {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Json f1_json(const F1Threshold& t) {
  return Json::object().set("threshold", t.threshold).set("f1", t.f1).set("precision", t.precision).set("recall", t.recall);
}

Json metrics_json(const RunConfig& config, const Evaluation& ev, const CheckpointInfo& info, const AnomalyMaps& maps,
                  double load_seconds, double eval_seconds, const TrainSummary* train, const std::string& device) {
  Json timings = Json::object()
                     .set("load_images_s", load_seconds)
                     .set("anomaly_maps_s", maps.seconds)
                     .set("ms_per_image", 1000.0 * maps.seconds / std::max(1, maps.count))
                     .set("metrics_s", eval_seconds);
  if (train && train->trained)
    timings.set("train_s", train->seconds).set("s_per_epoch", train->seconds_per_epoch);
  Json j = Json::object()
               .set("category", config.category)
               .set("pixel_auroc", ev.pixel_auroc)
               .set("image_auroc", ev.image_auroc)
               .set("pixel_aupro", ev.pixel_aupro)
               .set("aupro_max_fpr", 0.3)
               .set("thresholds", Json::object().set("pixel_f1", f1_json(ev.pixel_f1)).set("image_f1", f1_json(ev.image_f1)))
               .set("mask_rule", mask_rule_name(ev.rule))
               .set("epochs", info.epoch)
               .set("size", maps.size)
               .set("layers", info.layers)
               .set("n_images", ev.n_images)
               .set("n_anomalous_images", ev.n_anomalous_images)
               .set("n_defect_pixels", ev.n_defect_pixels)
               .set("n_components", ev.n_components)
               .set("device", device)
               .set("checkpoint", config.checkpoint_path())
               .set("timings", timings);
  if (train && train->trained) j.set("final_train_loss_per_image", train->final_loss);
  return j;
}

}  // namespace

void run_test(const RunConfig& given, const TrainSummary* train) {
  if (given.data_dir.empty() || given.category.empty())
    throw std::invalid_argument("test needs --data_dir and --category");
  const std::vector<ImageRecord> records = scan_split(given.data_dir, given.category, Split::test);
  const RunConfig config = adopt_checkpoint_config(given);
  const MaskRule rule = parse_mask_rule(config.mask_rule);
  const std::string out_dir = config.category_results_dir();
  ensure_writable_dir(out_dir);

  const Preprocess preprocess = preprocess_of(config);
  const auto load_start = Clock::now();
  const ImageSet images = load_with_progress("test images", records, preprocess, true);
  const double load_seconds = seconds_since(load_start);

  std::unique_ptr<Backend> backend = backend_of(config);
  StfpmModel model(*backend, model_options_of(config));
  load_teacher(model, config);
  load_checkpoint(config.checkpoint_path(), model, false);
  const CheckpointInfo info = read_checkpoint_info(config.checkpoint_path());
  std::fprintf(stderr, "student: %s (%d epochs)\n", config.checkpoint_path().c_str(), info.epoch);
  model.plan_inference(std::min<int>(config.batch_size, int(images.count())), images.size, images.size);
  const AnomalyMaps maps = compute_anomaly_maps(model, images, config.batch_size);

  const auto metrics_start = Clock::now();
  std::vector<uint8_t> masks(images.masks.size()), labels(images.count());
  binarize_mask(masks.data(), images.masks.data(), masks.size(), rule);
  for (size_t i = 0; i < images.count(); ++i) labels[i] = images.records[i].anomalous ? 1 : 0;
  const Evaluation ev = evaluate(maps.combined.data(), masks.data(), maps.count, maps.size, maps.size,
                                 maps.scores.data(), labels.data(), rule);
  const double eval_seconds = seconds_since(metrics_start);

  write_json_file(out_dir + "/metrics.json",
                  metrics_json(config, ev, info, maps, load_seconds, eval_seconds, train, device_name(backend->kind())));
  const HeatRanges ranges = heat_ranges_of(maps);
  write_test_reports(config, images, maps, ev, ranges);
  save_calibration(config.calibration_path(), ev, ranges, info.epoch);

  std::printf("%s: pixel ROC-AUC %.4f  image ROC-AUC %.4f  pixel AUPRO %.4f  (mask rule %s, %d epochs)\n",
              config.category.c_str(), ev.pixel_auroc, ev.image_auroc, ev.pixel_aupro, mask_rule_name(rule),
              info.epoch);
  std::printf("F1-optimal thresholds: pixel %.6g (F1 %.3f), image %.6g (F1 %.3f)\n", ev.pixel_f1.threshold,
              ev.pixel_f1.f1, ev.image_f1.threshold, ev.image_f1.f1);
  std::printf("reports: %s\n", out_dir.c_str());
}

}  // namespace stfpm
