// AUPRO as defined for MVTec AD: ground-truth connected components, an exact sweep over the sorted pixel scores,
// and the normalized area under the PRO curve up to a false positive rate limit.
#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "eval/metrics_internal.h"

namespace stfpm {
namespace detail {

namespace {

std::string pixel_name(size_t index, int height, int width) {
  size_t plane = size_t(height) * size_t(width);
  size_t in_plane = index % plane;
  return "image " + std::to_string(index / plane) + " at (y " + std::to_string(in_plane / size_t(width)) +
         ", x " + std::to_string(in_plane % size_t(width)) + ")";
}

// Labels the 8-connected components of one 0/1 mask by flood fill: label[p] = the component's id, numbered on
// from sizes.size() in row-major order of first pixels, untouched (UINT32_MAX) for defect-free pixels. Appends
// each component's size to sizes.
void label_image(uint32_t* label, const uint8_t* mask, int height, int width, std::vector<uint32_t>& sizes,
                 std::vector<int>& stack) {
  const int plane = height * width;
  for (int start = 0; start < plane; ++start) {
    if (!mask[start] || label[start] != UINT32_MAX) continue;
    const uint32_t id = uint32_t(sizes.size());
    uint32_t size = 0;
    label[start] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int p = stack.back();
      stack.pop_back();
      ++size;
      const int y = p / width, x = p % width;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= height || nx < 0 || nx >= width) continue;
          const int q = ny * width + nx;
          if (mask[q] && label[q] == UINT32_MAX) {
            label[q] = id;
            stack.push_back(q);
          }
        }
      }
    }
    sizes.push_back(size);
  }
}

}  // namespace

SortedSplit split_pixels(const float* maps, const uint8_t* masks01, int n_images, int height, int width,
                         std::vector<uint32_t>* component_sizes, const char* what) {
  const std::string name(what);
  if (n_images < 0 || height <= 0 || width <= 0 || int64_t(height) * width > INT_MAX)
    throw std::invalid_argument(name + ": bad map shape (" + std::to_string(n_images) + ", " +
                                std::to_string(height) + ", " + std::to_string(width) + ")");
  const size_t plane = size_t(height) * size_t(width), n = size_t(n_images) * plane;
  if (n > 0 && (!maps || !masks01)) throw std::invalid_argument(name + ": null maps or masks");
  size_t n_pos = 0;
  for (size_t i = 0; i < n; ++i) {
    if (masks01[i] > 1)
      throw std::invalid_argument(name + ": mask value " + std::to_string(masks01[i]) + " in " +
                                  pixel_name(i, height, width) +
                                  " is not 0 or 1 (binarize 8-bit masks with binarize_mask first)");
    n_pos += masks01[i];
  }
  SortedSplit s;
  // As in split_scores: every pixel is written to both sides and only the matching side advances.
  s.neg_keys.resize(n - n_pos + 1);
  s.pos_keys.resize(n_pos + 1);
  s.pos_tags.resize(n_pos + 1);
  component_sizes->clear();
  uint32_t* neg = s.neg_keys.data();
  uint32_t* pos = s.pos_keys.data();
  uint32_t* pos_tag = s.pos_tags.data();
  std::vector<uint32_t> label(plane);
  std::vector<int> stack;
  size_t in = 0, ip = 0;
  bool nan = false;
  for (int img = 0; img < n_images; ++img) {
    const float* map = maps + size_t(img) * plane;
    const uint8_t* mask = masks01 + size_t(img) * plane;
    std::fill(label.begin(), label.end(), UINT32_MAX);
    label_image(label.data(), mask, height, width, *component_sizes, stack);
    for (size_t p = 0; p < plane; ++p) {
      nan |= std::isnan(map[p]);
      const uint32_t k = float_key(map[p]);
      neg[in] = k;
      pos[ip] = k;
      pos_tag[ip] = label[p];
      in += 1u - mask[p];
      ip += mask[p];
    }
  }
  if (nan) {
    size_t i = 0;
    while (!std::isnan(maps[i])) ++i;
    throw std::invalid_argument(name + ": NaN score in " + pixel_name(i, height, width));
  }
  s.neg_keys.pop_back();
  s.pos_keys.pop_back();
  s.pos_tags.pop_back();
  radix_sort(s.neg_keys, nullptr);
  radix_sort(s.pos_keys, &s.pos_tags);
  return s;
}

ProCurve pro_sweep(const SortedSplit& s, const std::vector<uint32_t>& component_sizes) {
  ProCurve c;
  const size_t n_neg = s.neg_keys.size(), n_comp = component_sizes.size();
  if (n_neg == 0 || n_comp == 0) return c;
  std::vector<double> weight(n_comp);  // a component's pixel adds 1/size to the sum of overlaps
  for (size_t k = 0; k < n_comp; ++k) weight[k] = 1.0 / component_sizes[k];

  c.fpr.push_back(0.0);
  c.pro.push_back(0.0);
  c.threshold.push_back(std::numeric_limits<double>::infinity());
  const uint32_t* tag = s.pos_tags.data();
  size_t fp = 0;
  double overlap_sum = 0.0;
  // One point per step: a run of scores of one class moves along a straight line, and its end is the point that
  // keeps the curve (see metrics.h).
  StepWalker walker(s);
  Step step;
  while (walker.next(step)) {
    for (size_t k = step.pos_begin; k < step.pos_end; ++k) overlap_sum += weight[tag[k]];
    fp += step.n_neg;
    c.fpr.push_back(double(fp) / double(n_neg));
    c.pro.push_back(overlap_sum / double(n_comp));
    c.threshold.push_back(key_float(step.key));
  }
  return c;
}

}  // namespace detail

ProCurve pro_curve(const float* maps, const uint8_t* masks01, int n_images, int height, int width) {
  std::vector<uint32_t> sizes;
  detail::SortedSplit s = detail::split_pixels(maps, masks01, n_images, height, width, &sizes, "pro_curve");
  return detail::pro_sweep(s, sizes);
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
