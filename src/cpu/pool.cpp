// CPU backend: max pooling. Windows that hang over the border ignore the padding (it acts as -inf).
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/cpu_backend.h"

namespace stfpm {
namespace {

// Index (within the plane) of the first maximum of output (i, j)'s window, scanning rows then columns.
// NaN wins, as in PyTorch, so it propagates.
size_t window_argmax(const float* plane, const PoolGeometry& g, int i, int j) {
  const int h0 = i * g.stride - g.pad, w0 = j * g.stride - g.pad;
  size_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  bool found = false;
  for (int h = std::max(h0, 0); h < std::min(h0 + g.kernel, g.h); ++h) {
    for (int w = std::max(w0, 0); w < std::min(w0 + g.kernel, g.w); ++w) {
      const float v = plane[size_t(h) * g.w + w];
      if (!found || v > best_value || std::isnan(v)) {
        best = size_t(h) * g.w + w;
        best_value = v;
        found = true;
        if (std::isnan(v)) return best;
      }
    }
  }
  return best;
}

}  // namespace

void CpuBackend::maxpool_forward(float* y, const float* x, const PoolGeometry& g) {
  const int oh = g.out_h(), ow = g.out_w();
#pragma omp parallel for schedule(static)
  for (int nc = 0; nc < g.n * g.c; ++nc) {
    const float* plane = x + size_t(nc) * g.h * g.w;
    float* out = y + size_t(nc) * oh * ow;
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) out[i * ow + j] = plane[window_argmax(plane, g, i, j)];
  }
}

void CpuBackend::maxpool_backward(float* dx, const float* dy, const float* /*y*/, const float* x,
                                  const PoolGeometry& g) {
  // The window's argmax is recomputed from x (cheaper than storing indices for a 3x3 window).
  const int oh = g.out_h(), ow = g.out_w();
#pragma omp parallel for schedule(static)
  for (int nc = 0; nc < g.n * g.c; ++nc) {
    const float* plane = x + size_t(nc) * g.h * g.w;
    const float* grad = dy + size_t(nc) * oh * ow;
    float* out = dx + size_t(nc) * g.h * g.w;
    std::fill(out, out + size_t(g.h) * g.w, 0.0f);
    for (int i = 0; i < oh; ++i)
      for (int j = 0; j < ow; ++j) out[window_argmax(plane, g, i, j)] += grad[i * ow + j];
  }
}

}  // namespace stfpm
