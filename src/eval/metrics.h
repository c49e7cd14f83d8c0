// The CPU evaluator: ROC-AUC, AUPRO (MVTec AD definition), best-F1 thresholds and mask binarization.
// Independent of the network: it takes anomaly maps, binary masks, image scores and image labels as plain arrays.
//
// Conventions shared by every function here:
// - A pixel or image is predicted anomalous at threshold t when its score >= t. Equal scores are one step: a
//   threshold admits all of them at once, so every result is exact in the presence of ties (no binning).
// - Scores are float; -0 and +0 are the same score. +-Inf are ordinary (extreme) scores. A NaN score has no
//   place in an ordering and throws std::invalid_argument naming its index.
// - Labels and masks are 0/1 bytes; any other value throws std::invalid_argument (a 0/255 mask passed by mistake
//   would otherwise count as defect-free). Use binarize_mask on 8-bit gray masks first.
// - Undefined metrics are NaN, never an exception: ROC-AUC without both classes (or with no data), AUPRO without
//   a defect component or without a defect-free pixel, F1 without positives. JSON writers print NaN as null.
// - Counting is exact (64-bit integers) and the results are computed in double.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace stfpm {

// How an 8-bit gray ground-truth mask becomes defect (1) / defect-free (0).
// strict: only 255 is a defect. This is the reference implementation's rule: its masks are resized bilinearly to
//         256x256 and only pixels that stay exactly 255 count, so defect borders (and thin defects) shrink. Default.
// half:   value >= 128 is a defect, the usual threshold.
enum class MaskRule { strict, half };
const char* mask_rule_name(MaskRule rule);         // "strict255" / "ge128"
MaskRule parse_mask_rule(const std::string& name);  // the inverse; anything else throws std::invalid_argument
// out01[i] = 1 when gray[i] is a defect under `rule`, else 0. out01 may alias gray.
void binarize_mask(uint8_t* out01, const uint8_t* gray, size_t n, MaskRule rule = MaskRule::strict);

// Area under the ROC curve of (scores[i], labels[i]), labels 0/1, label 1 = anomalous. Exact Mann-Whitney
// statistic with ties counted one half, equal to scikit-learn's roc_auc_score. NaN when n == 0 or only one class
// is present.
double roc_auc(const float* scores, const uint8_t* labels, size_t n);

// The ROC curve of (scores[i], labels[i]) for plotting: one point per distinct score, in order of decreasing
// threshold, from (0, 0) to (1, 1); fpr and tpr are fractions of the negatives and positives. Empty without both
// classes.
struct RocCurve {
  std::vector<double> fpr, tpr;
};
RocCurve roc_curve(const float* scores, const uint8_t* labels, size_t n);

// The threshold (one of the scores) that maximizes F1 = 2 TP / (2 TP + FP + FN) for "score >= threshold is
// anomalous", with precision and recall there. Among thresholds with the same F1 the highest one wins (fewest
// pixels predicted). All fields are NaN when there is no positive label.
struct F1Threshold {
  double threshold, f1, precision, recall;
};
F1Threshold best_f1_threshold(const float* scores, const uint8_t* labels, size_t n);

// The per-region-overlap curve: point k is reached by predicting every pixel with score >= threshold[k]
// anomalous; fpr[k] is the fraction of all defect-free pixels (mask 0, all images, good images included) above
// the threshold, pro[k] the mean over all ground-truth connected components (8-connected, within each image) of
// the fraction of the component's pixels above it. The curve starts at (0, 0) with threshold +Inf and ends at
// (1, 1) at the lowest score. Points are in order of decreasing threshold, one per distinct score, except that a
// run of steps admitting only defect-free pixels (a horizontal run) or only defect pixels (a vertical run) keeps
// just its last point: the piecewise-linear curve, and any integral over it, is unchanged, while the number of
// points drops from millions to what a plot or a JSON file can hold. Empty when there is no component or no
// defect-free pixel.
struct ProCurve {
  std::vector<double> fpr, pro, threshold;
};
ProCurve pro_curve(const float* maps,       // (n_images, height, width)
                   const uint8_t* masks01,  // (n_images, height, width), 0/1
                   int n_images, int height, int width);
// Area under the PRO curve from FPR 0 to max_fpr (trapezoid rule; the point at exactly max_fpr is interpolated
// linearly between its neighbours), divided by max_fpr, so 1 is perfect. max_fpr must be in (0, 1]. NaN for an
// empty curve.
double aupro(const ProCurve& curve, double max_fpr = 0.3);

// The pixel metrics of maps given one image at a time, in bounded memory: for test sets too large to hold.
// Pixels are kept as a sorted run of at most max_sorted_pixels (plus one image); each run that fills up is
// written to a scratch file in scratch_folder (4 bytes per defect-free pixel, 8 per defect pixel; the file has no
// name, so nothing is left behind), and finish() merges the runs on disk with the last one. The sweep visits
// pixels in the same order whatever the run length, so the results are the same to the last bit with one run or
// many.
// Memory: about 16 bytes per pixel of a run while it is sorted (130 MB at the default; up to twice the keys while
// the run's arrays grow, unless reserve() sized them), read buffers of up to 192 KB per run on disk while
// merging, and 12 bytes per ground-truth component.
struct PixelMetrics {
  double auroc = 0;
  F1Threshold f1{};
  ProCurve pro;
  size_t n_pixels = 0, n_defect_pixels = 0, n_components = 0;
};
class PixelEvaluator {
 public:
  static constexpr size_t kDefaultRunPixels = size_t(1) << 23;  // 128 maps of 256 x 256
  // scratch_folder "" is the system's temporary folder; `what` names the caller in error messages.
  PixelEvaluator(int height, int width, const std::string& scratch_folder = "",
                 size_t max_sorted_pixels = kDefaultRunPixels, const std::string& what = "evaluate");
  ~PixelEvaluator();
  PixelEvaluator(const PixelEvaluator&) = delete;
  PixelEvaluator& operator=(const PixelEvaluator&) = delete;
  // One image's map (height x width) and 0/1 mask. Throws std::invalid_argument naming the image and the pixel
  // for a mask value other than 0 and 1 or a NaN score (the image is then not counted).
  void add(const float* map, const uint8_t* mask01);
  // Optional: room for this many more defect-free and defect pixels in the run (the caller that holds all maps
  // knows the counts; growing by doubling could take twice the room).
  void reserve(size_t defect_free, size_t defect);
  int images() const;
  size_t runs_on_disk() const;  // sorted runs written to the scratch file so far (0 while everything fits)
  // The metrics of every image added. Call once, last.
  PixelMetrics finish();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Everything the test mode reports for one category.
struct Evaluation {
  double pixel_auroc = 0, image_auroc = 0, pixel_aupro = 0;  // aupro up to FPR 0.3
  F1Threshold pixel_f1{}, image_f1{};
  MaskRule rule = MaskRule::strict;  // the rule the masks were binarized with (recorded, not applied)
  ProCurve pro;
  int n_images = 0, n_anomalous_images = 0;
  size_t n_pixels = 0, n_defect_pixels = 0, n_components = 0;
};
// maps and masks01 as for pro_curve (masks already binarized with `rule`); image_scores and image_labels hold
// one value per image (the recipe's image score is the maximum of the map; labels come from the dataset folder,
// since a defect image's mask may be empty after strict binarization). The pixel scores are sorted once for the
// pixel AUC, the pixel F1 threshold and the PRO curve.
Evaluation evaluate(const float* maps, const uint8_t* masks01, int n_images, int height, int width,
                    const float* image_scores, const uint8_t* image_labels, MaskRule rule);
// The same from maps given to a PixelEvaluator, which is finished here (`test`, which streams its images).
Evaluation evaluate(PixelEvaluator& pixels, const float* image_scores, const uint8_t* image_labels, MaskRule rule);
// The image-level part only, for test sets without masks: the pixel metrics and the pixel threshold are NaN.
Evaluation evaluate_images(const float* image_scores, const uint8_t* image_labels, int n_images, MaskRule rule);

// Thresholds from defect-free scores alone (validation images held out of training), no labels needed:
// quantile_threshold: the q-quantile of the scores with linear interpolation between order statistics, as
//   numpy.quantile(scores, q) (its default method): sorted s[0..n), position h = q (n - 1), the value
//   s[floor h] + (h - floor h) (s[floor h + 1] - s[floor h]). q in [0, 1].
// max_fpr_threshold: the lowest threshold that flags at most floor(max_fpr * n) of the scores (score >= threshold
//   is anomalous): the next float above the (floor(max_fpr * n) + 1)-th highest score. max_fpr in [0, 1).
// Both throw std::invalid_argument for no scores, a NaN score or a parameter out of range.
double quantile_threshold(std::vector<float> scores, double q);
double max_fpr_threshold(std::vector<float> scores, double max_fpr);

}  // namespace stfpm
