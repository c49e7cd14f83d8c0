// CPU backend: max pooling. Windows that hang over the border ignore the padding (it acts as -inf).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/vector_clones.h"

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

// The larger of the maximum so far and a later value: ties keep the earlier one, and a NaN, once met, stays.
inline float later_max(float best, float v) { return v > best || v != v ? v : best; }

// out[j] = the maximum of input row `row` over output column j's window, for every output column: two passes
// (rows, then columns) instead of nine clipped loads per output. The columns whose window lies inside the row
// run without bounds checks, which the compiler vectorizes for the stem's stride 2.
STFPM_VECTOR_CLONES void row_maxima(float* out, const float* row, const PoolGeometry& g, int ow) {
  // Columns [inner0, inner1) have their whole window inside [0, w).
  const int inner0 = std::min(ow, (g.pad + g.stride - 1) / g.stride);
  const int last = g.w - g.kernel + g.pad;  // the last column j with j * stride <= last has its window inside
  const int inner1 = last < 0 ? inner0 : std::max(inner0, std::min(ow, last / g.stride + 1));
  for (int j = 0; j < ow; ++j) {
    if (j == inner0) j = inner1;  // the inner columns come after this loop
    if (j >= ow) break;
    const Window win = window_of(g, 0, j);
    float best = -std::numeric_limits<float>::infinity();
    for (int w = win.w0; w < win.w1; ++w) best = later_max(best, row[w]);
    out[j] = best;
  }
  const float* first = row - g.pad;  // first[j * stride + q] is column j's q-th input
  if (g.stride == 2) {
    for (int j = inner0; j < inner1; ++j) out[j] = first[2 * j];
    for (int q = 1; q < g.kernel; ++q)
      for (int j = inner0; j < inner1; ++j) out[j] = later_max(out[j], first[2 * j + q]);
  } else {
    for (int j = inner0; j < inner1; ++j) out[j] = first[j * g.stride];
    for (int q = 1; q < g.kernel; ++q)
      for (int j = inner0; j < inner1; ++j) out[j] = later_max(out[j], first[j * g.stride + q]);
  }
}

// Each output row: the maxima down each input column over the window's rows (whole rows, vectorized), then
// row_maxima across them. The same maxima as a row-major scan of each window (a NaN wins either way); only which
// of two equal zeros of opposite sign is kept may differ.
STFPM_VECTOR_CLONES void maxpool(float* y, const float* x, const PoolGeometry& g) {
  const int oh = g.out_h(), ow = g.out_w();
#pragma omp parallel
  {
    std::vector<float> down(static_cast<size_t>(g.w));  // the maxima down each column
#pragma omp for schedule(static)
    for (int nc = 0; nc < g.n * g.c; ++nc) {
      const float* plane = x + size_t(nc) * g.h * g.w;
      float* out = y + size_t(nc) * oh * ow;
      for (int i = 0; i < oh; ++i) {
        const Window win = window_of(g, i, 0);
        float* d = down.data();
        const float* first = plane + size_t(win.h0) * g.w;
        for (int q = 0; q < g.w; ++q) d[q] = first[q];
        for (int h = win.h0 + 1; h < win.h1; ++h) {
          const float* row = plane + size_t(h) * g.w;
          for (int q = 0; q < g.w; ++q) d[q] = later_max(d[q], row[q]);
        }
        row_maxima(out + size_t(i) * ow, d, g, ow);
      }
    }
  }
}

}  // namespace

// The maximum of each window, the first one in row-major order on ties; a NaN in the window wins, as in PyTorch,
// so it propagates.
void CpuBackend::maxpool_forward(float* y, const float* x, const PoolGeometry& g) {
  const TeamSize team(threads_);
  maxpool(y, x, g);
}

namespace {

// The offset from `corner` of the first position, in row-major order, of a rows x cols window (rows `w` apart)
// that holds m, a NaN matching a NaN; -1 if none does.
long first_max_at(const float* corner, int w, int rows, int cols, float m) {
  const bool nan = m != m;
  for (int h = 0; h < rows; ++h)
    for (int c = 0; c < cols; ++c) {
      const float v = corner[long(h) * w + c];
      if (v == m || (nan && v != v)) return long(h) * w + c;
    }
  return -1;
}

// at[j] = first_max_at for the unclipped 3x3 stride-2 windows j in [j0, j1) of one output row, whose windows
// start at row0 (three input rows, `w` apart): the nine candidates are tested backwards without branches, so
// the earliest match is the one left, and the compiler vectorizes across j.
STFPM_VECTOR_CLONES void first_maxima_3x3s2(int* at, const float* row0, int w, const float* maxima, int j0, int j1) {
  for (int j = j0; j < j1; ++j) {
    const float m = maxima[j];
    const bool nan = m != m;
    const float* p = row0 + 2 * j;
    int found = -1;
    for (int k = 8; k >= 0; --k) {
      const int offset = (k / 3) * w + k % 3;
      const float v = p[offset];
      found = ((v == m) | (nan & (v != v))) ? offset : found;
    }
    at[j] = found;
  }
}

}  // namespace

// Each dy goes to the first position of its window (row-major) that holds the window's maximum y, i.e. the first
// maximum, as PyTorch's CPU kernel picks it.
void CpuBackend::maxpool_backward(float* dx, const float* dy, const float* y, const float* x,
                                  const PoolGeometry& g) {
  const TeamSize team(threads_);
  const int oh = g.out_h(), ow = g.out_w();
  const bool stem_window = g.kernel == 3 && g.stride == 2;
#pragma omp parallel
  {
    std::vector<int> at(static_cast<size_t>(ow));  // each output's first maximum, from its window's corner
#pragma omp for schedule(static)
    for (int nc = 0; nc < g.n * g.c; ++nc) {
      const float* plane = x + size_t(nc) * g.h * g.w;
      const float* maxima = y + size_t(nc) * oh * ow;
      const float* grad = dy + size_t(nc) * oh * ow;
      float* out = dx + size_t(nc) * g.h * g.w;
      std::fill(out, out + size_t(g.h) * g.w, 0.0f);
      for (int i = 0; i < oh; ++i) {
        const int top = i * g.stride - g.pad;
        // Columns [j0, j1) of this row have whole windows (none when the row's window is clipped).
        int j0 = 0, j1 = 0;
        if (stem_window && top >= 0 && top + 3 <= g.h) {
          j0 = std::min(ow, (g.pad + 1) / 2);
          const int last = g.w - 3 + g.pad;  // as in row_maxima
          j1 = last < 0 ? j0 : std::max(j0, std::min(ow, last / 2 + 1));
          first_maxima_3x3s2(at.data(), plane + size_t(top) * g.w - g.pad, g.w, maxima + size_t(i) * ow, j0, j1);
        }
        for (int j = 0; j < ow; ++j) {
          const Window win = window_of(g, i, j);
          const long corner = long(win.h0) * g.w + win.w0;
          const long offset = j >= j0 && j < j1 ? at[size_t(j)]
                                                : first_max_at(plane + corner, g.w, win.h1 - win.h0, win.w1 - win.w0,
                                                               maxima[size_t(i) * ow + j]);
          if (offset >= 0) out[corner + offset] += grad[size_t(i) * ow + j];
        }
      }
    }
  }
}

}  // namespace stfpm
