// Internals of the evaluator shared by metrics.cpp, pixel_evaluator.cpp and score_sort.cpp; not part of the API.
// Scores are sorted as 32-bit keys whose unsigned order is the float order (core/float_order.h), so a radix sort
// replaces a comparison sort (about ten times faster on millions of pixels) and equal scores have equal keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/float_order.h"
#include "eval/metrics.h"

namespace stfpm::detail {

// Scores split by class, each sorted ascending by key. pos_tags, when present, travels with pos_keys (the
// ground-truth component of each defect pixel).
struct SortedSplit {
  std::vector<uint32_t> neg_keys;
  std::vector<uint32_t> pos_keys;
  std::vector<uint32_t> pos_tags;
};

// Sorts keys ascending, stably; tags (same length, or null) are permuted alongside.
void radix_sort(std::vector<uint32_t>& keys, std::vector<uint32_t>* tags);

// Splits (scores, labels) by label and sorts both sides. `what` names the input in error messages.
SortedSplit split_scores(const float* scores, const uint8_t* labels, size_t n, const std::string& what);

// A sweep reads each class as a cursor over its keys in descending order, the order in which thresholds coming
// down from +Inf admit them: done(), key(), tag() (the component of a defect pixel) and next(). This one reads
// arrays sorted ascending from their end, so equal keys come later index first. The pixel evaluator's merge of
// sorted runs on disk (pixel_evaluator.cpp) is the other.
struct DescendingKeys {
  const uint32_t* keys;
  const uint32_t* tags;  // may be null when tag() is never called
  size_t left;
  bool done() const { return left == 0; }
  uint32_t key() const { return keys[left - 1]; }
  uint32_t tag() const { return tags[left - 1]; }
  void next() { --left; }
};

struct SweepResult {
  double auc = std::numeric_limits<double>::quiet_NaN();
  F1Threshold f1{std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(),
                 std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  ProCurve pro;  // only when the sweep is given component weights
};

// One sweep from the highest score down gives the Mann-Whitney statistic, the best F1 and the PRO curve. It goes
// one step at a time: a step is one score that both classes hold, or a run of consecutive scores held by one
// class only, down to the next score of the other class. Within such a run the ROC and PRO curves move along a
// straight (horizontal or vertical) line and F1 changes monotonically (it grows along a run of positives, and
// along a run of negatives it falls below the step before), so its last point stands for all of it. F1 is
// evaluated once per step; strictly greater wins, so the highest threshold wins ties.
// weights[c] = 1 / (pixels of component c); null or empty: no PRO curve. Positives are visited in the cursors'
// order, which fixes the order of the PRO curve's floating-point sums.
template <class Neg, class Pos>
SweepResult sweep(Neg& neg, Pos& pos, uint64_t n_neg, uint64_t n_pos, const std::vector<double>* weights) {
  SweepResult r;
  if (n_pos == 0) return r;
  const bool curve = weights && !weights->empty() && n_neg > 0;
  if (curve) {
    r.pro.fpr.push_back(0.0);
    r.pro.pro.push_back(0.0);
    r.pro.threshold.push_back(std::numeric_limits<double>::infinity());
  }
  const double n_comp = curve ? double(weights->size()) : 1.0;
  uint64_t fp = 0, tp = 0;
  // Twice the Mann-Whitney U: each (positive, negative) pair counts 2 when the positive scores higher, 1 on a tie.
  // At most 2 * n_pos * n_neg: 128 bits, since a streamed test set can have billions of pixels of each class.
  unsigned __int128 u2 = 0;
  double best_f1 = -1.0, overlap_sum = 0.0;
  auto admit_positive = [&] {
    if (curve) overlap_sum += (*weights)[pos.tag()];
    pos.next();
  };
  while (!neg.done() || !pos.done()) {
    uint64_t step_neg = 0, step_pos = 0;
    uint32_t key;
    if (pos.done() || (!neg.done() && neg.key() > pos.key())) {  // negatives down to the next positive's score
      do {
        key = neg.key();
        ++step_neg;
        neg.next();
      } while (!neg.done() && (pos.done() || neg.key() > pos.key()));
    } else if (neg.done() || pos.key() > neg.key()) {  // positives down to the next negative's score
      do {
        key = pos.key();
        ++step_pos;
        admit_positive();
      } while (!pos.done() && (neg.done() || pos.key() > neg.key()));
    } else {  // one score held by both classes
      key = neg.key();
      for (; !neg.done() && neg.key() == key; neg.next()) ++step_neg;
      for (; !pos.done() && pos.key() == key; ++step_pos) admit_positive();
    }
    fp += step_neg;
    u2 += static_cast<unsigned __int128>(step_pos) * (2 * (n_neg - fp) + step_neg);  // lower: n_neg - fp; ties
    tp += step_pos;
    // F1 = 2TP / (2TP + FP + FN) with FN = n_pos - TP.
    const double f1 = 2.0 * double(tp) / double(tp + fp + n_pos);
    if (f1 > best_f1) {
      best_f1 = f1;
      r.f1 = {key_float(key), f1, double(tp) / double(tp + fp), double(tp) / double(n_pos)};
    }
    if (curve) {
      r.pro.fpr.push_back(double(fp) / double(n_neg));
      r.pro.pro.push_back(overlap_sum / n_comp);
      r.pro.threshold.push_back(key_float(key));
    }
  }
  if (n_neg > 0) r.auc = double(u2) / (2.0 * double(n_pos) * double(n_neg));
  return r;
}

// The pixel metrics of maps in memory, (n_images, height, width) each; checks the shape. `what` names the caller.
PixelMetrics evaluate_pixel_arrays(const float* maps, const uint8_t* masks01, int n_images, int height, int width,
                                   const char* what);

// The sweep of image scores (no PRO curve).
inline SweepResult class_sweep(const SortedSplit& s) {
  DescendingKeys neg{s.neg_keys.data(), nullptr, s.neg_keys.size()};
  DescendingKeys pos{s.pos_keys.data(), nullptr, s.pos_keys.size()};
  return sweep(neg, pos, s.neg_keys.size(), s.pos_keys.size(), nullptr);
}

}  // namespace stfpm::detail
