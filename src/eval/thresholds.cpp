// Decision thresholds from defect-free validation scores (metrics.h: quantile_threshold, max_fpr_threshold).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "eval/metrics.h"

namespace stfpm {
namespace {

void check_scores(const std::vector<float>& scores) {
  if (scores.empty()) throw std::invalid_argument("no validation scores to choose a threshold from");
  for (size_t i = 0; i < scores.size(); ++i)
    if (std::isnan(scores[i])) throw std::invalid_argument("validation score " + std::to_string(i) + " is NaN");
}

}  // namespace

double quantile_threshold(std::vector<float> scores, double q) {
  check_scores(scores);
  if (!(q >= 0.0 && q <= 1.0)) throw std::invalid_argument("quantile must be in [0, 1], got " + std::to_string(q));
  const double h = q * double(scores.size() - 1);
  const size_t lo = size_t(std::floor(h));
  std::nth_element(scores.begin(), scores.begin() + long(lo), scores.end());
  const double below = scores[lo];
  if (lo + 1 >= scores.size()) return below;
  // The next order statistic is the smallest of those after position lo.
  const double above = *std::min_element(scores.begin() + long(lo) + 1, scores.end());
  return below + (h - double(lo)) * (above - below);
}

double max_fpr_threshold(std::vector<float> scores, double max_fpr) {
  check_scores(scores);
  if (!(max_fpr >= 0.0 && max_fpr < 1.0))
    throw std::invalid_argument("max_fpr must be in [0, 1), got " + std::to_string(max_fpr));
  // floor(max_fpr * n), robust to the product's rounding (0.29 * 100 is 28.999999999999996 in double).
  const size_t allowed = size_t(std::floor(max_fpr * double(scores.size()) * (1 + 1e-12)));
  // The (allowed + 1)-th highest score must stay below the threshold; those above it may be flagged (ties with
  // it are not, since they are not above it).
  std::nth_element(scores.begin(), scores.begin() + long(allowed), scores.end(), std::greater<float>());
  return double(std::nextafter(scores[allowed], INFINITY));
}

}  // namespace stfpm
