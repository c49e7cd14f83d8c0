// CPU backend: max pooling. Windows that hang over the border ignore the padding (it acts as -inf).
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/cpu_backend.h"

namespace stfpm {
namespace {

// The input rows [h0, h1) and columns [w0, w1) of output (i, j)'s window, clipped to the plane.
struct Window {
  int h0, h1, w0, w1;
};
Window window_of(const PoolGeometry& g, int i, int j) {
  const int h = i * g.stride - g.pad, w = j * g.stride - g.pad;
  return {std::max(h, 0), std::min(h + g.kernel, g.h), std::max(w, 0), std::min(w + g.kernel, g.w)};
}

}  // namespace

// The maximum of each window; a NaN in the window wins, as in PyTorch, so it propagates.
void CpuBackend::maxpool_forward(float* y, const float* x, const PoolGeometry& g) {
  const TeamSize team(threads_);
  const int oh = g.out_h(), ow = g.out_w();
#pragma omp parallel for schedule(static)
  for (int nc = 0; nc < g.n * g.c; ++nc) {
    const float* plane = x + size_t(nc) * g.h * g.w;
    float* out = y + size_t(nc) * oh * ow;
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        const Window win = window_of(g, i, j);
        float best = -std::numeric_limits<float>::infinity();
        bool nan = false;
        for (int h = win.h0; h < win.h1; ++h) {
          const float* row = plane + size_t(h) * g.w;
          for (int w = win.w0; w < win.w1; ++w) {
            best = row[w] > best ? row[w] : best;
            nan |= std::isnan(row[w]);
          }
        }
        out[i * ow + j] = nan ? std::numeric_limits<float>::quiet_NaN() : best;
      }
    }
  }
}

// Each dy goes to the first position of its window (row-major) that holds the window's maximum y, i.e. the first
// maximum, as PyTorch's CPU kernel picks it.
void CpuBackend::maxpool_backward(float* dx, const float* dy, const float* y, const float* x,
                                  const PoolGeometry& g) {
  const TeamSize team(threads_);
  const int oh = g.out_h(), ow = g.out_w();
#pragma omp parallel for schedule(static)
  for (int nc = 0; nc < g.n * g.c; ++nc) {
    const float* plane = x + size_t(nc) * g.h * g.w;
    const float* maxima = y + size_t(nc) * oh * ow;
    const float* grad = dy + size_t(nc) * oh * ow;
    float* out = dx + size_t(nc) * g.h * g.w;
    std::fill(out, out + size_t(g.h) * g.w, 0.0f);
    for (int i = 0; i < oh; ++i) {
      for (int j = 0; j < ow; ++j) {
        const Window win = window_of(g, i, j);
        const float m = maxima[i * ow + j];
        const bool nan = std::isnan(m);
        bool done = false;
        for (int h = win.h0; h < win.h1 && !done; ++h) {
          for (int w = win.w0; w < win.w1; ++w) {
            const float v = plane[size_t(h) * g.w + w];
            if (v == m || (nan && std::isnan(v))) {
              out[size_t(h) * g.w + w] += grad[i * ow + j];
              done = true;
              break;
            }
          }
        }
      }
    }
  }
}

}  // namespace stfpm
