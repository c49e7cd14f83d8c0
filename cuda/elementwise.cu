// Elementwise kernels: fill, ReLU forward/backward, residual add. Grid-stride loops; outputs may alias inputs
// because every thread reads its element before writing it.
#include "check.h"
#include "device_utils.cuh"
#include "kernels.h"

namespace stfpm::gpu {
namespace {

__global__ void fill_kernel(float* dst, float value, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dst[i] = value;
}

__global__ void relu_forward_kernel(float* y, const float* x, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const float v = x[i];
    y[i] = v < 0.0f ? 0.0f : v;  // NaN passes, as in PyTorch and the CPU backend
  }
}

__global__ void relu_backward_kernel(float* dx, const float* dy, const float* y, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
}

__global__ void add_kernel(float* y, const float* a, const float* b, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x)
    y[i] = a[i] + b[i];
}

}  // namespace

void launch_fill(float* dst, float value, size_t count, cudaStream_t stream) {
  if (!count) return;
  fill_kernel<<<blocks_for(count), kThreads, 0, stream>>>(dst, value, count);
  CUDA_CHECK(cudaGetLastError());
}

void launch_relu_forward(float* y, const float* x, size_t count, cudaStream_t stream) {
  if (!count) return;
  relu_forward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(y, x, count);
  CUDA_CHECK(cudaGetLastError());
}

void launch_relu_backward(float* dx, const float* dy, const float* y, size_t count, cudaStream_t stream) {
  if (!count) return;
  relu_backward_kernel<<<blocks_for(count), kThreads, 0, stream>>>(dx, dy, y, count);
  CUDA_CHECK(cudaGetLastError());
}

void launch_add(float* y, const float* a, const float* b, size_t count, cudaStream_t stream) {
  if (!count) return;
  add_kernel<<<blocks_for(count), kThreads, 0, stream>>>(y, a, b, count);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace stfpm::gpu
