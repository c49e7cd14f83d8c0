// Max pooling with implicit -inf padding. The backward pass routes each output gradient to the first maximum of
// its window in row-major order (NaN wins, as in the CPU backend) and gathers instead of scattering: each input
// element sums the gradients of the windows whose argmax it is, in the same window order as the CPU backend, so
// there are no atomics and the result is reproducible.
#include <cmath>

#include "check.h"
#include "device_utils.cuh"
#include "kernels.h"

namespace stfpm::gpu {
namespace {

struct PoolShape {
  int h, w, oh, ow, kernel, stride, pad;
};

// Index within the plane of the first maximum of output (i, j)'s window.
__device__ int window_argmax(const float* plane, const PoolShape& g, int i, int j) {
  const int h0 = i * g.stride - g.pad, w0 = j * g.stride - g.pad;
  const int h_begin = max(h0, 0), h_end = min(h0 + g.kernel, g.h);
  const int w_begin = max(w0, 0), w_end = min(w0 + g.kernel, g.w);
  int best = h_begin * g.w + w_begin;
  float best_value = plane[best];
  if (isnan(best_value)) return best;
  for (int h = h_begin; h < h_end; ++h) {
    for (int w = w_begin; w < w_end; ++w) {
      const float v = plane[h * g.w + w];
      if (v > best_value || isnan(v)) {
        best = h * g.w + w;
        best_value = v;
        if (isnan(v)) return best;
      }
    }
  }
  return best;
}

__global__ void maxpool_forward_kernel(float* y, const float* x, PoolShape g, size_t count) {
  const size_t out_plane = size_t(g.oh) * g.ow, in_plane = size_t(g.h) * g.w;
  for (size_t idx = blockIdx.x * size_t(blockDim.x) + threadIdx.x; idx < count;
       idx += size_t(gridDim.x) * blockDim.x) {
    const size_t nc = index_div(idx, unsigned(out_plane));
    const int o = int(idx - nc * out_plane), i = o / g.ow, j = o - i * g.ow;
    const float* plane = x + nc * in_plane;
    y[idx] = plane[window_argmax(plane, g, i, j)];
  }
}

__global__ void maxpool_backward_kernel(float* dx, const float* dy, const float* x, PoolShape g, size_t count) {
  const size_t out_plane = size_t(g.oh) * g.ow, in_plane = size_t(g.h) * g.w;
  for (size_t idx = blockIdx.x * size_t(blockDim.x) + threadIdx.x; idx < count;
       idx += size_t(gridDim.x) * blockDim.x) {
    const size_t nc = index_div(idx, unsigned(in_plane));
    const int p = int(idx - nc * in_plane), h = p / g.w, w = p - h * g.w;
    // Output rows i whose window [i*stride - pad, i*stride - pad + kernel) contains h, likewise columns.
    const int lo_h = h + g.pad - g.kernel + 1, lo_w = w + g.pad - g.kernel + 1;
    const int i_begin = lo_h <= 0 ? 0 : (lo_h + g.stride - 1) / g.stride;
    const int j_begin = lo_w <= 0 ? 0 : (lo_w + g.stride - 1) / g.stride;
    const int i_end = min((h + g.pad) / g.stride + 1, g.oh), j_end = min((w + g.pad) / g.stride + 1, g.ow);
    const float* plane = x + nc * in_plane;
    const float* grad = dy + nc * out_plane;
    float sum = 0.0f;
    for (int i = i_begin; i < i_end; ++i)
      for (int j = j_begin; j < j_end; ++j)
        if (window_argmax(plane, g, i, j) == p) sum += grad[i * g.ow + j];
    dx[idx] = sum;
  }
}

PoolShape shape_of(const PoolGeometry& g) { return {g.h, g.w, g.out_h(), g.out_w(), g.kernel, g.stride, g.pad}; }

}  // namespace

void launch_maxpool_forward(float* y, const float* x, const PoolGeometry& g, cudaStream_t stream) {
  const size_t count = size_t(g.n) * g.c * g.out_h() * g.out_w();
  if (!count) return;
  maxpool_forward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(y, x, shape_of(g), count);
  CUDA_CHECK(cudaGetLastError());
}

void launch_maxpool_backward(float* dx, const float* dy, const float* x, const PoolGeometry& g, cudaStream_t stream) {
  const size_t count = size_t(g.n) * g.c * g.h * g.w;
  if (!count) return;
  maxpool_backward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(dx, dy, x, shape_of(g), count);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace stfpm::gpu
