#include "data/resize.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

// Bit-exactness with Pillow needs the double-precision coefficient arithmetic rounded exactly as Pillow's C code
// rounds it: this file is compiled with -ffp-contract=off (see CMakeLists.txt) so that no a*b+c becomes a fused
// multiply-add, which would round once instead of twice.

namespace stfpm {

namespace {

// Pillow's fixed point for 8-bit images: 32 bits minus 8 for the value minus 2 of headroom.
constexpr int kPrecisionBits = 22;

// The taps of one axis: output i reads `count[i]` inputs from `first[i]` with weights
// `weight[i * ksize .. i * ksize + count[i])`, fixed point with kPrecisionBits fractional bits.
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weight;
};

double triangle(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

Taps compute_taps(int in_size, int out_size) {
  // When shrinking, the filter is stretched by the scale factor so that every input pixel contributes.
  const double scale = double(in_size) / double(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the triangle's support is 1
  const double inv_filter_scale = 1.0 / filter_scale;

  Taps taps;
  taps.ksize = int(std::ceil(support)) * 2 + 1;
  taps.first.resize(size_t(out_size));
  taps.count.resize(size_t(out_size));
  taps.weight.assign(size_t(out_size) * size_t(taps.ksize), 0);
  std::vector<double> w(size_t(taps.ksize));
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // The (int) casts truncate toward zero, as Pillow's do; the bounds are then clamped to the image.
    const int lo = std::max(int(center - support + 0.5), 0);
    const int hi = std::min(int(center + support + 0.5), in_size);
    const int n = hi - lo;
    double sum = 0.0;
    for (int k = 0; k < n; ++k) {
      w[size_t(k)] = triangle((double(k + lo) - center + 0.5) * inv_filter_scale);
      sum += w[size_t(k)];
    }
    int32_t* out = &taps.weight[size_t(i) * size_t(taps.ksize)];
    for (int k = 0; k < n; ++k) {
      const double v = sum != 0.0 ? w[size_t(k)] / sum : w[size_t(k)];
      // Round half away from zero (the triangle is never negative, the branch mirrors Pillow for clarity).
      out[k] = v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits)) : int32_t(0.5 + v * (1 << kPrecisionBits));
    }
    taps.first[size_t(i)] = lo;
    taps.count[size_t(i)] = n;
  }
  return taps;
}

// Sums start at one half (rounding) and the result is clipped to 0..255.
inline uint8_t to_byte(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Rows [row0, row0 + out.height) of src, resampled along x into out.
void horizontal_pass(const Image8& src, int row0, const Taps& taps, Image8& out) {
  const int c = src.channels;
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* in = src.row(row0 + y);
    uint8_t* o = out.row(y);
    for (int x = 0; x < out.width; ++x) {
      const int32_t* w = &taps.weight[size_t(x) * size_t(taps.ksize)];
      const uint8_t* p = in + size_t(taps.first[size_t(x)]) * size_t(c);
      const int n = taps.count[size_t(x)];
      for (int ch = 0; ch < c; ++ch) {
        int32_t acc = 1 << (kPrecisionBits - 1);
        for (int k = 0; k < n; ++k) acc += int32_t(p[size_t(k) * size_t(c) + size_t(ch)]) * w[k];
        o[size_t(x) * size_t(c) + size_t(ch)] = to_byte(acc);
      }
    }
  }
}

// Resampled along y; row r of src is input row r + row0 of the taps' numbering.
void vertical_pass(const Image8& src, int row0, const Taps& taps, Image8& out) {
  const size_t row_len = size_t(src.width) * size_t(src.channels);
  std::vector<int32_t> acc(row_len);
  for (int y = 0; y < out.height; ++y) {
    const int32_t* w = &taps.weight[size_t(y) * size_t(taps.ksize)];
    const int first = taps.first[size_t(y)] - row0;
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int k = 0; k < taps.count[size_t(y)]; ++k) {
      const uint8_t* in = src.row(first + k);
      for (size_t i = 0; i < row_len; ++i) acc[i] += int32_t(in[i]) * w[k];
    }
    uint8_t* o = out.row(y);
    for (size_t i = 0; i < row_len; ++i) o[i] = to_byte(acc[i]);
  }
}

}  // namespace

Image8 resize_bilinear(const Image8& src, int width, int height) {
  if (width <= 0 || height <= 0)
    throw std::invalid_argument("resize_bilinear: target size " + std::to_string(width) + "x" +
                                std::to_string(height) + " is empty");
  if (src.width <= 0 || src.height <= 0 || src.channels <= 0 ||
      src.data.size() != src.pixels() * size_t(src.channels))
    throw std::invalid_argument("resize_bilinear: source image is empty or its data does not match " +
                                std::to_string(src.width) + "x" + std::to_string(src.height) + "x" +
                                std::to_string(src.channels));
  if (width == src.width && height == src.height) return src;

  const Taps vtaps = compute_taps(src.height, height);
  // Only the rows the vertical pass reads go through the horizontal pass (as in Pillow; the result is the same).
  const int row0 = vtaps.first.front();
  const int row1 = vtaps.first.back() + vtaps.count.back();

  Image8 tmp;
  const Image8* rows = &src;
  int rows_offset = 0;
  if (width != src.width) {
    tmp = Image8(width, row1 - row0, src.channels);
    horizontal_pass(src, row0, compute_taps(src.width, width), tmp);
    rows = &tmp;
    rows_offset = row0;
  }
  if (height == src.height) return tmp;  // the horizontal pass covered every row
  Image8 out(width, height, src.channels);
  vertical_pass(*rows, rows_offset, vtaps, out);
  return out;
}

}  // namespace stfpm
