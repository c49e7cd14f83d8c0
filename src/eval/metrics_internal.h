// Internals of the evaluator shared by metrics.cpp, aupro.cpp and score_sort.cpp; not part of the API.
// Scores are sorted as 32-bit keys whose unsigned order is the float order, so a radix sort replaces a comparison
// sort (about ten times faster on millions of pixels) and equal scores have equal keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/metrics.h"

namespace stfpm::detail {

// Order-preserving float <-> key map; -0 maps like +0. The caller rejects NaN first.
uint32_t float_key(float f);
float key_float(uint32_t key);

// Scores split by class, each sorted ascending by key. pos_tags, when present, travels with pos_keys (the
// ground-truth component of each defect pixel).
struct SortedSplit {
  std::vector<uint32_t> neg_keys;
  std::vector<uint32_t> pos_keys;
  std::vector<uint32_t> pos_tags;
};

// One step down the thresholds of a SortedSplit. A step is either one score that both classes hold, or a run of
// consecutive scores held by one class only, down to the next score of the other class: within such a run the
// ROC and PRO curves move along a straight (horizontal or vertical) line and F1 changes monotonically, so its
// last point stands for all of it. That makes a sweep O(positives * log) instead of O(pixels).
struct Step {
  uint32_t key;               // the lowest score admitted by this step
  size_t n_neg;               // negatives admitted
  size_t pos_begin, pos_end;  // positives admitted: pos_keys[pos_begin, pos_end)
};
class StepWalker {
 public:
  explicit StepWalker(const SortedSplit& s);
  bool next(Step& step);  // false when every score has been admitted

 private:
  const SortedSplit& s_;
  size_t neg_left_, pos_left_;  // scores not admitted yet: neg_keys[0, neg_left_), pos_keys[0, pos_left_)
};

// Sorts keys ascending, stably; tags (same length, or null) are permuted alongside.
void radix_sort(std::vector<uint32_t>& keys, std::vector<uint32_t>* tags);

// Splits (scores, labels) by label and sorts both sides. `what` names the input in error messages.
SortedSplit split_scores(const float* scores, const uint8_t* labels, size_t n, const std::string& what);

// Splits the pixels of all maps into defect-free and defect pixels and sorts both; each defect pixel is tagged with
// its ground-truth component id (8-connectivity within an image, numbered over all images from 0).
// component_sizes receives each component's pixel count. Checks the arguments; `what` names the caller.
SortedSplit split_pixels(const float* maps, const uint8_t* masks01, int n_images, int height, int width,
                         std::vector<uint32_t>* component_sizes, const char* what);

// The PRO curve (see metrics.h) from sorted pixels whose pos_tags are component ids.
ProCurve pro_sweep(const SortedSplit& s, const std::vector<uint32_t>& component_sizes);

}  // namespace stfpm::detail
