// CPU backend: BatchNorm2d, train and eval forward and the backward pass. Channels run in parallel; each
// channel's statistics are summed in float lanes within a plane and in double over the planes.
#include <cmath>

#include "cpu/cpu_backend.h"
#include "cpu/vector_clones.h"

namespace stfpm {
namespace {

// The per-plane sums run in kLanes float chains, one per vector lane, added together in double at the end: the
// loops vectorize without reordering any chain (one float chain ran at one add per 4 cycles), and the order is
// the same whatever the thread count.
constexpr int kLanes = 16;

// sum over i < n of term(i).
template <class Term>
inline double lane_sum(size_t n, Term term) {
  float acc[kLanes] = {};
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += term(i + l);
  double sum = 0.0;
  for (; i < n; ++i) sum += term(i);
  for (int l = 0; l < kLanes; ++l) sum += acc[l];
  return sum;
}

STFPM_VECTOR_CLONES void forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                                       float* running_var, const float* x, const float* gamma, const float* beta,
                                       const Dims& d, float momentum, float eps) {
  const size_t plane = d.plane(), image = size_t(d.c) * plane;
  const double m = double(d.n) * double(plane);
#pragma omp parallel for schedule(dynamic)
  for (int c = 0; c < d.c; ++c) {
    // Two passes (mean, then squared deviations) avoid the cancellation of sum(x^2) - m*mean^2.
    double sum = 0.0;
    for (int n = 0; n < d.n; ++n) {
      const float* p = x + n * image + c * plane;
      sum += lane_sum(plane, [p](size_t i) { return p[i]; });
    }
    const double mean = sum / m;
    double sq = 0.0;
    for (int n = 0; n < d.n; ++n) {
      const float* p = x + n * image + c * plane;
      const float mf = float(mean);
      sq += lane_sum(plane, [p, mf](size_t i) { return (p[i] - mf) * (p[i] - mf); });
    }
    const double var = sq / m;  // biased: used to normalize
    const float invstd = float(1.0 / std::sqrt(var + eps));
    save_mean[c] = float(mean);
    save_invstd[c] = invstd;
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    running_mean[c] = float((1.0 - momentum) * running_mean[c] + momentum * mean);
    running_var[c] = float((1.0 - momentum) * running_var[c] + momentum * unbiased);
    const float scale = gamma[c] * invstd, shift = beta[c] - float(mean) * scale;
    for (int n = 0; n < d.n; ++n) {
      const float* p = x + n * image + c * plane;
      float* q = y + n * image + c * plane;
      for (size_t i = 0; i < plane; ++i) q[i] = p[i] * scale + shift;
    }
  }
}

STFPM_VECTOR_CLONES void forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                                      const float* running_mean, const float* running_var, const Dims& d,
                                      float eps) {
  const size_t plane = d.plane(), image = size_t(d.c) * plane;
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < d.n; ++n) {
    for (int c = 0; c < d.c; ++c) {
      const float scale = float(gamma[c] / std::sqrt(double(running_var[c]) + eps));
      const float shift = beta[c] - running_mean[c] * scale;
      const float* p = x + n * image + c * plane;
      float* q = y + n * image + c * plane;
      for (size_t i = 0; i < plane; ++i) q[i] = p[i] * scale + shift;
    }
  }
}

// With xhat = (x - mean) * invstd and m = N*H*W values per channel:
//   dbeta = sum(dy), dgamma = sum(dy * xhat), dx = gamma * invstd / m * (m * dy - dbeta - xhat * dgamma).
STFPM_VECTOR_CLONES void backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                  const float* save_mean, const float* save_invstd, const float* gamma,
                                  const Dims& d) {
  const size_t plane = d.plane(), image = size_t(d.c) * plane;
  const double m = double(d.n) * double(plane);
#pragma omp parallel for schedule(dynamic)
  for (int c = 0; c < d.c; ++c) {
    const float mean = save_mean[c], invstd = save_invstd[c];
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int n = 0; n < d.n; ++n) {
      const float* g = dy + n * image + c * plane;
      const float* p = x + n * image + c * plane;
      sum_dy += lane_sum(plane, [g](size_t i) { return g[i]; });
      sum_dy_xhat += lane_sum(plane, [g, p, mean](size_t i) { return g[i] * (p[i] - mean); });
    }
    sum_dy_xhat *= invstd;
    dbeta[c] += float(sum_dy);
    dgamma[c] += float(sum_dy_xhat);
    const float k = float(gamma[c] * invstd / m);
    const float fsum_dy = float(sum_dy), fsum_dy_xhat = float(sum_dy_xhat);
    const float fm = float(m);
    for (int n = 0; n < d.n; ++n) {
      const float* g = dy + n * image + c * plane;
      const float* p = x + n * image + c * plane;
      float* q = dx + n * image + c * plane;
      for (size_t i = 0; i < plane; ++i) {
        const float xhat = (p[i] - mean) * invstd;
        q[i] = k * (fm * g[i] - fsum_dy - xhat * fsum_dy_xhat);
      }
    }
  }
}

}  // namespace

void CpuBackend::batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                                         float* running_var, const float* x, const float* gamma,
                                         const float* beta, const Dims& d, float momentum, float eps) {
  const TeamSize team(threads_);
  forward_train(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta, d, momentum, eps);
}

void CpuBackend::batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                                        const float* running_mean, const float* running_var, const Dims& d,
                                        float eps) {
  const TeamSize team(threads_);
  forward_eval(y, x, gamma, beta, running_mean, running_var, d, eps);
}

void CpuBackend::batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                    const float* save_mean, const float* save_invstd, const float* gamma,
                                    const Dims& d) {
  const TeamSize team(threads_);
  backward(dx, dgamma, dbeta, dy, x, save_mean, save_invstd, gamma, d);
}

}  // namespace stfpm
