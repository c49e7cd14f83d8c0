#include "io/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "core/files.h"
#include "core/float_order.h"

namespace stfpm {

namespace {

// The jet breakpoint table OpenCV ships (colormap.cpp, class Jet): 256 float32 samples of the classic
// piecewise-linear jet at x = i/255, r = clip(min(4x - 1.5, 4.5 - 4x)), g = clip(min(4x - 0.5, 3.5 - 4x)),
// b = clip(min(4x + 0.5, 2.5 - 4x)), clipped to [0, 1]. Numerators are in units of 1/255, so 4x = 4i/255.
float jet_sample(int i, double offset, double top) {
  const double v = std::min(4.0 * i + offset * 255.0, top * 255.0 - 4.0 * i) / 255.0;
  return float(std::clamp(v, 0.0, 1.0));
}

// OpenCV turns the samples into its 8-bit table with linear_colormap: breakpoints X = linspace(0, 1, 256) in
// float, interp1 at the same points (which reproduces each sample only up to float rounding), then
// convertTo(CV_8U, 255) (a float multiply, rounded half to even). The float steps matter: index 159's blue is
// 1.5 before rounding in exact arithmetic but ends up just below it, so OpenCV stores 1, not 2.
std::array<uint8_t, 256> opencv_channel(double offset, double top) {
  std::array<float, 256> x{}, y{};
  const float step = (1.0f - 0.0f) / float(255);
  for (int i = 0; i < 256; ++i) {
    x[size_t(i)] = 0.0f + float(i) * step;
    y[size_t(i)] = jet_sample(i, offset, top);
  }
  std::array<uint8_t, 256> out{};
  for (int i = 0; i < 256; ++i) {
    float v = y[0];  // interp1 at x[0]: lower and upper breakpoints 0 and 1, zero weight on the upper one
    if (i > 0) {
      const size_t lo = size_t(i) - 1, hi = size_t(i);
      v = y[lo] + (x[hi] - x[lo]) * (y[hi] - y[lo]) / (x[hi] - x[lo]);
    }
    const float scaled = v * 255.0f;
    out[size_t(i)] = uint8_t(std::clamp(std::nearbyint(scaled), 0.0f, 255.0f));
  }
  return out;
}

std::array<Rgb8, 256> build_jet() {
  const auto r = opencv_channel(-1.5, 4.5), g = opencv_channel(-0.5, 3.5), b = opencv_channel(0.5, 2.5);
  std::array<Rgb8, 256> table{};
  for (size_t i = 0; i < 256; ++i) table[i] = {r[i], g[i], b[i]};
  return table;
}

// Separable erosion with a (2t+1) x (2t+1) square, pixels outside the image counting as background.
std::vector<uint8_t> erode(const std::vector<uint8_t>& in, int w, int h, int t) {
  std::vector<uint8_t> rows(in.size()), out(in.size());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      bool all = x - t >= 0 && x + t < w;
      for (int k = -t; all && k <= t; ++k) all = in[size_t(y) * size_t(w) + size_t(x + k)] != 0;
      rows[size_t(y) * size_t(w) + size_t(x)] = all;
    }
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      bool all = y - t >= 0 && y + t < h;
      for (int k = -t; all && k <= t; ++k) all = rows[size_t(y + k) * size_t(w) + size_t(x)] != 0;
      out[size_t(y) * size_t(w) + size_t(x)] = all;
    }
  return out;
}

void paste(Image8& canvas, const Image8& panel, int x0) {
  for (int y = 0; y < panel.height; ++y)
    std::copy(panel.row(y), panel.row(y) + size_t(panel.width) * 3, canvas.row(y) + size_t(x0) * 3);
}

}  // namespace

namespace {

void check_percentile(double percentile, const char* what) {
  if (!(percentile >= 0.0 && percentile <= 100.0))
    throw std::invalid_argument(std::string(what) + ": percentile " + std::to_string(percentile) +
                                " is outside [0, 100]");
}

// The range from the percentile's value p and the maximum, with shared_heat_range's fallbacks.
HeatRange range_up_to(double p, double max) {
  if (!(p > 0.0)) p = max;
  if (!(p > 0.0) || !std::isfinite(p)) p = 1.0;
  return HeatRange{0.0f, float(p)};
}

}  // namespace

HeatRange shared_heat_range(const float* values, size_t n, double percentile) {
  check_percentile(percentile, "shared_heat_range");
  std::vector<float> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (!std::isnan(values[i])) v.push_back(values[i]);
  HeatRange r{0.0f, 1.0f};
  if (v.empty()) return r;
  // numpy.percentile's default: position q/100 * (n - 1), linear between the two order statistics around it.
  const double pos = percentile / 100.0 * double(v.size() - 1);
  const size_t k = size_t(pos);
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
  double p = v[k];
  if (k + 1 < v.size()) {
    const float next = *std::min_element(v.begin() + std::ptrdiff_t(k) + 1, v.end());
    p += (pos - double(k)) * (double(next) - p);
  }
  return range_up_to(p, *std::max_element(v.begin(), v.end()));
}

HeatRange shared_heat_range_of(const ValuePieces& pass, double percentile) {
  check_percentile(percentile, "shared_heat_range_of");
  constexpr size_t kBins = size_t(1) << 16;
  std::vector<uint64_t> high(kBins, 0);
  uint64_t n = 0;
  uint32_t max_key = 0;
  pass([&](const float* v, size_t m) {
    for (size_t i = 0; i < m; ++i) {
      if (std::isnan(v[i])) continue;
      const uint32_t k = float_key(v[i]);
      ++high[k >> 16];
      max_key = std::max(max_key, k);
      ++n;
    }
  });
  if (n == 0) return HeatRange{0.0f, 1.0f};
  // numpy.percentile's default, as in shared_heat_range: order statistics k and k + 1 (when there is one).
  const double pos = percentile / 100.0 * double(n - 1);
  const uint64_t k = uint64_t(pos), k_next = std::min(k + 1, n - 1);
  auto bin_of = [&](uint64_t rank, uint64_t& rank_in_bin) {
    uint32_t b = 0;
    for (; b < kBins && rank >= high[b]; ++b) rank -= high[b];
    if (b == kBins) throw std::logic_error("shared_heat_range_of: the passes gave different values");
    rank_in_bin = rank;
    return b;
  };
  uint64_t in_bin[2];
  const uint32_t bins[2] = {bin_of(k, in_bin[0]), bin_of(k_next, in_bin[1])};
  std::vector<uint64_t> low[2] = {std::vector<uint64_t>(kBins, 0),
                                  std::vector<uint64_t>(bins[1] != bins[0] ? kBins : 0, 0)};
  pass([&](const float* v, size_t m) {
    for (size_t i = 0; i < m; ++i) {
      if (std::isnan(v[i])) continue;
      const uint32_t key = float_key(v[i]), b = key >> 16;
      if (b == bins[0])
        ++low[0][key & 0xffffu];
      else if (b == bins[1])
        ++low[1][key & 0xffffu];
    }
  });
  auto value_of = [&](int which) {
    const std::vector<uint64_t>& counts = low[bins[which] == bins[0] ? 0 : 1];
    uint64_t rank = in_bin[which];
    uint32_t l = 0;
    for (; l < kBins && rank >= counts[l]; ++l) rank -= counts[l];
    if (l == kBins) throw std::logic_error("shared_heat_range_of: the passes gave different values");
    return key_float((bins[which] << 16) | l);
  };
  double p = value_of(0);
  if (k + 1 < n) p += (pos - double(k)) * (double(value_of(1)) - p);
  return range_up_to(p, key_float(max_key));
}

const std::array<Rgb8, 256>& jet_colormap() {
  static const std::array<Rgb8, 256> table = build_jet();
  return table;
}

int heat_index(float v, const HeatRange& r) {
  if (!(r.hi > r.lo))
    throw std::invalid_argument("heat range [" + std::to_string(r.lo) + ", " + std::to_string(r.hi) +
                                "] is empty: hi must be greater than lo");
  double t = (double(v) - double(r.lo)) / (double(r.hi) - double(r.lo));
  if (!(t > 0.0)) t = 0.0;  // also NaN
  if (t > 1.0) t = 1.0;
  return int(255.0 * t);
}

Image8 colorize_map(const float* map, int width, int height, const HeatRange& r) {
  heat_index(0.0f, r);  // validates the range once, before any pixel
  const auto& jet = jet_colormap();
  Image8 out(width, height, 3);
  for (size_t i = 0; i < out.pixels(); ++i) {
    const Rgb8 c = jet[size_t(heat_index(map[i], r))];
    out.data[3 * i] = c.r;
    out.data[3 * i + 1] = c.g;
    out.data[3 * i + 2] = c.b;
  }
  return out;
}

Image8 blend_half(const Image8& a, const Image8& b) {
  if (a.width != b.width || a.height != b.height || a.channels != b.channels)
    throw std::invalid_argument("blend_half: images of different sizes (" + std::to_string(a.width) + "x" +
                                std::to_string(a.height) + "x" + std::to_string(a.channels) + " and " +
                                std::to_string(b.width) + "x" + std::to_string(b.height) + "x" +
                                std::to_string(b.channels) + ")");
  Image8 out(a.width, a.height, a.channels);
  for (size_t i = 0; i < a.data.size(); ++i) out.data[i] = uint8_t((unsigned(a.data[i]) + b.data[i] + 1) / 2);
  return out;
}

std::vector<uint8_t> region_outline(const uint8_t* mask, int width, int height, int thickness) {
  if (width <= 0 || height <= 0 || thickness < 1)
    throw std::invalid_argument("region_outline: bad size " + std::to_string(width) + "x" +
                                std::to_string(height) + " or thickness " + std::to_string(thickness));
  std::vector<uint8_t> region(size_t(width) * size_t(height));
  for (size_t i = 0; i < region.size(); ++i) region[i] = mask[i] != 0;
  const std::vector<uint8_t> inner = erode(region, width, height, thickness);
  for (size_t i = 0; i < region.size(); ++i) region[i] = region[i] && !inner[i];
  return region;
}

void draw_outline(Image8& rgb, const uint8_t* mask, int thickness, Rgb8 colour) {
  const std::vector<uint8_t> edge = region_outline(mask, rgb.width, rgb.height, thickness);
  for (size_t i = 0; i < edge.size(); ++i) {
    if (!edge[i]) continue;
    rgb.data[3 * i] = colour.r;
    rgb.data[3 * i + 1] = colour.g;
    rgb.data[3 * i + 2] = colour.b;
  }
}

Image8 compose_result_image(const ResultImageInput& in, const ResultImageStyle& style) {
  if (!in.image || !in.combined || in.image->width <= 0 || in.image->height <= 0)
    throw std::invalid_argument("compose_result_image: the input image and the combined map are required");
  if (style.level_ranges.size() != in.level_maps.size())
    throw std::invalid_argument("compose_result_image: " + std::to_string(in.level_maps.size()) +
                                " level maps but " + std::to_string(style.level_ranges.size()) + " level ranges");
  if (style.separator_px < 0)
    throw std::invalid_argument("compose_result_image: negative separator width");
  const Image8 rgb = in.image->channels == 3 ? *in.image : to_rgb(*in.image);
  const int w = rgb.width, h = rgb.height, sep = style.separator_px;
  const int panels = int(in.level_maps.size()) + 2;

  Image8 canvas(panels * w + (panels - 1) * sep, h, 3);
  std::fill(canvas.data.begin(), canvas.data.end(), uint8_t(255));  // the separators
  paste(canvas, rgb, 0);
  for (size_t l = 0; l < in.level_maps.size(); ++l) {
    if (!in.level_maps[l]) throw std::invalid_argument("compose_result_image: level map " + std::to_string(l + 1) +
                                                       " is missing");
    paste(canvas, blend_half(colorize_map(in.level_maps[l], w, h, style.level_ranges[l]), rgb),
          int(l + 1) * (w + sep));
  }
  Image8 combined = blend_half(colorize_map(in.combined, w, h, style.combined_range), rgb);
  if (!std::isnan(style.threshold)) {
    std::vector<uint8_t> predicted(size_t(w) * size_t(h));
    for (size_t i = 0; i < predicted.size(); ++i) predicted[i] = in.combined[i] >= style.threshold;
    draw_outline(combined, predicted.data(), style.outline_px, kPredictionColour);
  }
  // Ground truth last, so it stays visible where both outlines meet.
  if (in.mask) draw_outline(combined, in.mask, style.outline_px, kGroundTruthColour);
  paste(canvas, combined, (panels - 1) * (w + sep));
  return canvas;
}

void write_result_image(const std::string& path, const ResultImageInput& in, const ResultImageStyle& style) {
  const Image8 image = compose_result_image(in, style);
  create_parent_dirs(path);
  write_png(path, image);
}

}  // namespace stfpm
