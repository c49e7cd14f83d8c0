// AUPRO as defined for MVTec AD: the PRO curve of maps in memory (pixel_evaluator.cpp sweeps it) and the
// normalized area under it up to a false positive rate limit.
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "eval/metrics_internal.h"

namespace stfpm {

namespace detail {

PixelMetrics evaluate_pixel_arrays(const float* maps, const uint8_t* masks01, int n_images, int height, int width,
                                   const char* what) {
  const std::string name(what);
  if (n_images < 0 || height <= 0 || width <= 0 || int64_t(height) * width > INT_MAX)
    throw std::invalid_argument(name + ": bad map shape (" + std::to_string(n_images) + ", " +
                                std::to_string(height) + ", " + std::to_string(width) + ")");
  const size_t plane = size_t(height) * size_t(width);
  if (n_images > 0 && (!maps || !masks01)) throw std::invalid_argument(name + ": null maps or masks");
  // The maps are in memory already: one run of all of them, no scratch file, sized at once.
  const size_t n = size_t(n_images) * plane;
  PixelEvaluator pixels(height, width, "", std::max(PixelEvaluator::kDefaultRunPixels, n + 1), name);
  size_t defect = 0;
  for (size_t i = 0; i < n; ++i) defect += masks01[i] == 1;
  pixels.reserve(n - defect, defect);
  for (int i = 0; i < n_images; ++i) pixels.add(maps + size_t(i) * plane, masks01 + size_t(i) * plane);
  return pixels.finish();
}

}  // namespace detail

ProCurve pro_curve(const float* maps, const uint8_t* masks01, int n_images, int height, int width) {
  return detail::evaluate_pixel_arrays(maps, masks01, n_images, height, width, "pro_curve").pro;
}

double aupro(const ProCurve& curve, double max_fpr) {
  if (!(max_fpr > 0.0 && max_fpr <= 1.0))
    throw std::invalid_argument("aupro: max_fpr must be in (0, 1], got " + std::to_string(max_fpr));
  const size_t n = curve.fpr.size();
  if (curve.pro.size() != n) throw std::invalid_argument("aupro: fpr and pro differ in length");
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<double>& x = curve.fpr;
  const std::vector<double>& y = curve.pro;
  double area = 0.0;
  for (size_t k = 1; k < n; ++k) {
    if (x[k] <= max_fpr) {
      area += 0.5 * (y[k] + y[k - 1]) * (x[k] - x[k - 1]);
      continue;
    }
    if (x[k - 1] < max_fpr) {  // the segment crosses max_fpr: end at the interpolated point
      const double y_end = y[k - 1] + (y[k] - y[k - 1]) * (max_fpr - x[k - 1]) / (x[k] - x[k - 1]);
      area += 0.5 * (y_end + y[k - 1]) * (max_fpr - x[k - 1]);
    }
    break;
  }
  return area / max_fpr;
}

}  // namespace stfpm
