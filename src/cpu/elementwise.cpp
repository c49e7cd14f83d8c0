// CPU backend: elementwise ops (fill, ReLU, residual add).
#include "cpu/cpu_backend.h"

namespace stfpm {

void CpuBackend::fill(float* dst, float value, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) dst[i] = value;
}

// NaN passes through ReLU (forward and backward) as in PyTorch, so a diverging run ends in a NaN loss that the
// training loop catches instead of being silently zeroed.
void CpuBackend::relu_forward(float* y, const float* x, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void CpuBackend::relu_backward(float* dx, const float* dy, const float* y, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
}

void CpuBackend::add(float* y, const float* a, const float* b, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
}

}  // namespace stfpm
