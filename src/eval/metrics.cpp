// Mask binarization, ROC-AUC, best-F1 thresholds, and the evaluation of a whole category.
#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "eval/metrics_internal.h"

namespace stfpm {

const char* mask_rule_name(MaskRule rule) { return rule == MaskRule::strict ? "strict255" : "ge128"; }

MaskRule parse_mask_rule(const std::string& name) {
  if (name == "strict255") return MaskRule::strict;
  if (name == "ge128") return MaskRule::half;
  throw std::invalid_argument("unknown mask rule '" + name + "' (expected strict255 or ge128)");
}

void binarize_mask(uint8_t* out01, const uint8_t* gray, size_t n, MaskRule rule) {
  const uint8_t lowest_defect = rule == MaskRule::strict ? 255 : 128;
  for (size_t i = 0; i < n; ++i) out01[i] = gray[i] >= lowest_defect ? 1 : 0;
}

double roc_auc(const float* scores, const uint8_t* labels, size_t n) {
  return detail::class_sweep(detail::split_scores(scores, labels, n, "roc_auc")).auc;
}

RocCurve roc_curve(const float* scores, const uint8_t* labels, size_t n) {
  const detail::SortedSplit split = detail::split_scores(scores, labels, n, "roc_curve");  // checks labels, NaN
  RocCurve c;
  const size_t positives = split.pos_keys.size(), negatives = split.neg_keys.size();
  if (!positives || !negatives) return c;
  std::vector<std::pair<float, uint8_t>> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = {scores[i] == 0.0f ? 0.0f : scores[i], labels[i]};  // -0 is +0
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  c.fpr.push_back(0);
  c.tpr.push_back(0);
  size_t tp = 0, fp = 0;
  for (size_t i = 0; i < n; ++i) {
    (order[i].second ? tp : fp) += 1;
    if (i + 1 < n && order[i + 1].first == order[i].first) continue;  // equal scores are one step
    c.fpr.push_back(double(fp) / double(negatives));
    c.tpr.push_back(double(tp) / double(positives));
  }
  return c;
}

F1Threshold best_f1_threshold(const float* scores, const uint8_t* labels, size_t n) {
  return detail::class_sweep(detail::split_scores(scores, labels, n, "best_f1_threshold")).f1;
}

namespace {

Evaluation with_images(const PixelMetrics& pixels, const float* image_scores, const uint8_t* image_labels,
                       int n_images, MaskRule rule) {
  Evaluation e;
  e.rule = rule;
  e.n_images = n_images;
  e.pixel_auroc = pixels.auroc;
  e.pixel_f1 = pixels.f1;
  e.pro = pixels.pro;
  e.pixel_aupro = aupro(e.pro, 0.3);
  e.n_pixels = pixels.n_pixels;
  e.n_defect_pixels = pixels.n_defect_pixels;
  e.n_components = pixels.n_components;
  const detail::SweepResult im = detail::class_sweep(
      detail::split_scores(image_scores, image_labels, size_t(n_images), "evaluate (image scores)"));
  e.image_auroc = im.auc;
  e.image_f1 = im.f1;
  for (int k = 0; k < n_images; ++k) e.n_anomalous_images += image_labels[k];
  return e;
}

}  // namespace

Evaluation evaluate(const float* maps, const uint8_t* masks01, int n_images, int height, int width,
                    const float* image_scores, const uint8_t* image_labels, MaskRule rule) {
  return with_images(detail::evaluate_pixel_arrays(maps, masks01, n_images, height, width, "evaluate"),
                     image_scores, image_labels, n_images, rule);
}

Evaluation evaluate(PixelEvaluator& pixels, const float* image_scores, const uint8_t* image_labels, MaskRule rule) {
  const int n_images = pixels.images();
  return with_images(pixels.finish(), image_scores, image_labels, n_images, rule);
}

Evaluation evaluate_images(const float* image_scores, const uint8_t* image_labels, int n_images, MaskRule rule) {
  Evaluation e;
  e.rule = rule;
  e.n_images = n_images;
  e.pixel_auroc = e.pixel_aupro = NAN;
  e.pixel_f1.threshold = e.pixel_f1.f1 = e.pixel_f1.precision = e.pixel_f1.recall = NAN;
  const detail::SweepResult im = detail::class_sweep(
      detail::split_scores(image_scores, image_labels, size_t(n_images), "evaluate_images (image scores)"));
  e.image_auroc = im.auc;
  e.image_f1 = im.f1;
  for (int k = 0; k < n_images; ++k) e.n_anomalous_images += image_labels[k];
  return e;
}

}  // namespace stfpm
