// Heatmap result images: anomaly maps colorized with OpenCV's JET colormap, blended over the input image, with
// the ground-truth outline and optionally the predicted-defect outline.
//
// One PNG per test image, a row of panels separated by thin white bars:
//   [ input | level-1 map | level-2 map | level-3 map | combined map + outlines ]
// each S x S, where S is the size of the maps (the model's input size, 256 by default). Map panels are the
// colorized map blended 50/50 over the input.
//
// Colour range. A map value v becomes JET index floor(255 * clip((v - lo) / (hi - lo), 0, 1)) (NaN -> 0), the
// truncation the reference applies with np.uint8(255 * normalized). The reference normalizes every image by its
// own min and max, which makes each image's hottest spot red even on a defect-free image, so colours cannot be
// compared between images. Here the caller passes one range per panel kind, shared by all test images of a
// category: shared_heat_range() gives lo = 0 (a map value of 0 means teacher and student agree exactly, a natural
// "nothing" level, and STFPM maps are >= 0) and hi = the 99.9th percentile of all values of that kind over the
// test set (not the maximum, so one extreme pixel does not wash out every other image). Values above hi are
// clipped to red. Level maps and the combined map get separate ranges (the combined map is a product of the
// levels and lives on another scale).
//
// Colours: ground-truth outline magenta (255, 0, 255), predicted outline white (255, 255, 255); JET produces
// neither, so outlines stay visible on any heat colour.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/image_io.h"

namespace stfpm {

struct HeatRange {
  float lo = 0.0f, hi = 1.0f;
};

// [0, the `percentile`-th percentile of values] (linear interpolation between order statistics, as
// numpy.percentile; NaN values are ignored). When that percentile is <= 0 (e.g. all-zero maps) hi falls back to
// the maximum, and to 1 when the maximum is <= 0 too, so the range is never empty.
HeatRange shared_heat_range(const float* values, size_t n, double percentile = 99.9);
// The same range for values too many to hold: pass(visit) calls visit(values, n) over all of them, in pieces of
// any size, and is called twice (a histogram of the keys' high 16 bits, then of the low 16 bits in the one or two
// buckets that hold the percentile's order statistics). The result equals shared_heat_range's on the whole.
using ValuePieces = std::function<void(const std::function<void(const float* values, size_t n)>& visit)>;
HeatRange shared_heat_range_of(const ValuePieces& pass, double percentile = 99.9);

struct Rgb8 {
  uint8_t r, g, b;
  bool operator==(const Rgb8& o) const { return r == o.r && g == o.g && b == o.b; }
};
constexpr Rgb8 kGroundTruthColour{255, 0, 255};
constexpr Rgb8 kPredictionColour{255, 255, 255};

// cv2.COLORMAP_JET as cv2.applyColorMap applies it to an 8-bit index, in RGB order. The table is rebuilt the way
// OpenCV builds it (the piecewise-linear jet sampled at 256 points in float32, interpolated, scaled by 255 and
// rounded half to even), so it equals OpenCV's table bit for bit (checked against OpenCV 4.6).
const std::array<Rgb8, 256>& jet_colormap();
// The JET index of v for range r (see above). Throws std::invalid_argument when !(r.hi > r.lo).
int heat_index(float v, const HeatRange& r);
// (h, w) map -> RGB image.
Image8 colorize_map(const float* map, int width, int height, const HeatRange& r);
// Per channel round((a + b) / 2), halves rounded up; a and b must have the same size and channel count.
Image8 blend_half(const Image8& a, const Image8& b);
// Marks (1) the pixels of the region (mask != 0) that lie within `thickness` pixels (Chebyshev distance) of a
// pixel outside it; the image border counts as outside, so a region touching the border is closed there. The
// outline lies inside the region and never covers the pixels around it.
std::vector<uint8_t> region_outline(const uint8_t* mask, int width, int height, int thickness);
// Paints the outline of `mask` into an RGB image of the same size.
void draw_outline(Image8& rgb, const uint8_t* mask, int thickness, Rgb8 colour);

struct ResultImageInput {
  const Image8* image = nullptr;        // (S, S) RGB (gray is converted), the input before normalization
  std::vector<const float*> level_maps;  // (S, S) each: the per-level maps, upsampled to S
  const float* combined = nullptr;       // (S, S): the anomaly map (product of the levels)
  const uint8_t* mask = nullptr;         // (S, S) ground truth, nonzero = defect; null when there is none
};

struct ResultImageStyle {
  std::vector<HeatRange> level_ranges;  // one per level map
  HeatRange combined_range;
  float threshold = NAN;  // outline where combined >= threshold; NaN: no predicted outline
  int outline_px = 2;
  int separator_px = 2;
};

// The panel row described above. Throws std::invalid_argument for missing maps, a range count that does not
// match the level count, or an image that is not square.
Image8 compose_result_image(const ResultImageInput& in, const ResultImageStyle& style);
// compose_result_image written as PNG to `path` (the caller picks <results>/<category>/images/<defect>/<stem>.png),
// creating missing folders. Throws std::runtime_error naming the path when it cannot be written.
void write_result_image(const std::string& path, const ResultImageInput& in, const ResultImageStyle& style);

}  // namespace stfpm
