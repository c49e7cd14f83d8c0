// CPU backend: elementwise ops (fill, ReLU, residual add).
#include "cpu/cpu_backend.h"
#include "cpu/vector_clones.h"

namespace stfpm {
namespace {

STFPM_VECTOR_CLONES void fill_values(float* dst, float value, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) dst[i] = value;
}

// NaN passes through ReLU (forward and backward) as in PyTorch, so a diverging run ends in a NaN loss that the
// training loop catches instead of being silently zeroed.
STFPM_VECTOR_CLONES void relu(float* y, const float* x, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

STFPM_VECTOR_CLONES void relu_grad(float* dx, const float* dy, const float* y, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
}

STFPM_VECTOR_CLONES void add_values(float* y, const float* a, const float* b, size_t count) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
}

}  // namespace

void CpuBackend::fill(float* dst, float value, size_t count) {
  const TeamSize team(threads_);
  fill_values(dst, value, count);
}
void CpuBackend::relu_forward(float* y, const float* x, size_t count) {
  const TeamSize team(threads_);
  relu(y, x, count);
}
void CpuBackend::relu_backward(float* dx, const float* dy, const float* y, size_t count) {
  const TeamSize team(threads_);
  relu_grad(dx, dy, y, count);
}
void CpuBackend::add(float* y, const float* a, const float* b, size_t count) {
  const TeamSize team(threads_);
  add_values(y, a, b, count);
}

}  // namespace stfpm
