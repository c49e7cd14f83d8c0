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

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct ClassMetrics {
  double auc = kNaN;
  F1Threshold f1{kNaN, kNaN, kNaN, kNaN};
};

// One sweep from the highest score down gives both the Mann-Whitney statistic and the best F1. F1 is evaluated
// once per step: within a run of positives it grows, so the run's end is its best point; within a run of negatives
// it falls below the step before, so such a run never holds the best threshold.
ClassMetrics class_sweep(const detail::SortedSplit& s) {
  ClassMetrics m;
  const uint64_t n_neg = s.neg_keys.size(), n_pos = s.pos_keys.size();
  if (n_pos == 0) return m;
  uint64_t fp = 0, tp = 0;
  // Twice the Mann-Whitney U: each (positive, negative) pair counts 2 when the positive scores higher, 1 on a tie.
  // At most 2 * n_pos * n_neg, exact in 64 bits up to billions of scores.
  uint64_t u2 = 0;
  double best_f1 = -1.0;
  detail::StepWalker walker(s);
  detail::Step step;
  while (walker.next(step)) {
    const uint64_t pos_here = step.pos_end - step.pos_begin;
    fp += step.n_neg;
    u2 += pos_here * (2 * (n_neg - fp) + step.n_neg);  // n_neg - fp negatives score lower, n_neg here tie
    tp += pos_here;
    // F1 = 2TP / (2TP + FP + FN) with FN = n_pos - TP. Strictly greater: the highest threshold wins ties.
    const double f1 = 2.0 * double(tp) / double(tp + fp + n_pos);
    if (f1 > best_f1) {
      best_f1 = f1;
      m.f1 = {detail::key_float(step.key), f1, double(tp) / double(tp + fp), double(tp) / double(n_pos)};
    }
  }
  if (n_neg > 0) m.auc = double(u2) / (2.0 * double(n_pos) * double(n_neg));
  return m;
}

}  // namespace

double roc_auc(const float* scores, const uint8_t* labels, size_t n) {
  return class_sweep(detail::split_scores(scores, labels, n, "roc_auc")).auc;
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
  return class_sweep(detail::split_scores(scores, labels, n, "best_f1_threshold")).f1;
}

Evaluation evaluate(const float* maps, const uint8_t* masks01, int n_images, int height, int width,
                    const float* image_scores, const uint8_t* image_labels, MaskRule rule) {
  Evaluation e;
  e.rule = rule;
  e.n_images = n_images;
  std::vector<uint32_t> sizes;
  {
    // The sorted pixels are the largest allocation here: release them before returning.
    detail::SortedSplit pixels = detail::split_pixels(maps, masks01, n_images, height, width, &sizes, "evaluate");
    ClassMetrics pm = class_sweep(pixels);
    e.pixel_auroc = pm.auc;
    e.pixel_f1 = pm.f1;
    e.pro = detail::pro_sweep(pixels, sizes);
    e.n_pixels = pixels.neg_keys.size() + pixels.pos_keys.size();
    e.n_defect_pixels = pixels.pos_keys.size();
  }
  e.pixel_aupro = aupro(e.pro, 0.3);
  e.n_components = sizes.size();
  ClassMetrics im =
      class_sweep(detail::split_scores(image_scores, image_labels, size_t(n_images), "evaluate (image scores)"));
  e.image_auroc = im.auc;
  e.image_f1 = im.f1;
  for (int k = 0; k < n_images; ++k) e.n_anomalous_images += image_labels[k];
  return e;
}

Evaluation evaluate_images(const float* image_scores, const uint8_t* image_labels, int n_images, MaskRule rule) {
  Evaluation e;
  e.rule = rule;
  e.n_images = n_images;
  e.pixel_auroc = e.pixel_aupro = NAN;
  e.pixel_f1.threshold = e.pixel_f1.f1 = e.pixel_f1.precision = e.pixel_f1.recall = NAN;
  ClassMetrics im = class_sweep(
      detail::split_scores(image_scores, image_labels, size_t(n_images), "evaluate_images (image scores)"));
  e.image_auroc = im.auc;
  e.image_f1 = im.f1;
  for (int k = 0; k < n_images; ++k) e.n_anomalous_images += image_labels[k];
  return e;
}

}  // namespace stfpm
