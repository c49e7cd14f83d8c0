// BatchNorm2d with our own kernels (cuDNN 9 deprecates its legacy batchnorm calls; ours also follow the CPU
// backend exactly: two-pass variance, statistics summed in double, PyTorch's running-statistics update with the
// unbiased variance).
//
// Each per-channel reduction is a grid of (splits, C) blocks; block (s, c) sums one contiguous chunk of channel c's
// m = N*H*W values into partials[c * splits + s]; a one-thread-per-channel kernel then combines the partials in
// order and derives the per-channel coefficients; a last elementwise kernel applies them.
#include <algorithm>

#include "check.h"
#include "device_utils.cuh"
#include "kernels.h"

namespace stfpm::gpu {
namespace {

struct ChannelLayout {
  int channels, hw;
  long long m;      // values per channel: N * H * W
  long long chunk;  // values per block
};

__device__ __forceinline__ size_t offset_of(const ChannelLayout& L, int c, long long j) {
  const long long n = (long long)index_div(size_t(j), unsigned(L.hw)), i = j - n * L.hw;
  return (size_t(n) * L.channels + c) * L.hw + i;
}

// What a reduction sums per element: one or two values.
struct SumX {  // sum of x
  const float* x;
  __device__ void operator()(size_t off, int, double& a, double&) const { a += x[off]; }
};
struct SumSquaredDeviation {  // sum of (x - mean)^2, mean rounded to float as the CPU backend does
  const float* x;
  const double* mean;
  __device__ void operator()(size_t off, int c, double& a, double&) const {
    const float d = x[off] - float(mean[c]);
    a += d * d;
  }
};
struct SumBackward {  // sum of dy and of dy * (x - mean)
  const float* dy;
  const float* x;
  const float* mean;
  __device__ void operator()(size_t off, int c, double& a, double& b) const {
    const float g = dy[off];
    a += g;
    b += g * (x[off] - mean[c]);
  }
};

template <class Op>
__global__ void channel_partials(double* out_a, double* out_b, Op op, ChannelLayout L) {
  const int c = blockIdx.y, split = blockIdx.x;
  const long long begin = split * L.chunk, end = min(L.m, begin + L.chunk);
  double a = 0.0, b = 0.0;
  for (long long j = begin + threadIdx.x; j < end; j += blockDim.x) op(offset_of(L, c, j), c, a, b);
  a = block_sum(a);
  if (out_b) b = block_sum(b);
  if (threadIdx.x == 0) {
    out_a[size_t(c) * gridDim.x + split] = a;
    if (out_b) out_b[size_t(c) * gridDim.x + split] = b;
  }
}

__device__ double combine(const double* partials, int c, int splits) {
  double sum = 0.0;
  for (int s = 0; s < splits; ++s) sum += partials[size_t(c) * splits + s];
  return sum;
}

__global__ void finalize_mean(double* mean, const double* partials, int channels, int splits, double m) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < channels) mean[c] = combine(partials, c, splits) / m;
}

// Saves mean and invstd, updates the running statistics, and leaves y = x * scale + shift coefficients.
__global__ void finalize_train(float* scale, float* shift, float* save_mean, float* save_invstd,
                               float* running_mean, float* running_var, const double* mean, const double* partials,
                               const float* gamma, const float* beta, int channels, int splits, double m,
                               float momentum, float eps) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const double var = combine(partials, c, splits) / m;  // biased: used to normalize
  const float invstd = float(1.0 / sqrt(var + eps));
  save_mean[c] = float(mean[c]);
  save_invstd[c] = invstd;
  const double unbiased = m > 1 ? var * m / (m - 1) : var;
  running_mean[c] = float((1.0 - momentum) * running_mean[c] + momentum * mean[c]);
  running_var[c] = float((1.0 - momentum) * running_var[c] + momentum * unbiased);
  scale[c] = gamma[c] * invstd;
  shift[c] = beta[c] - float(mean[c]) * scale[c];
}

__global__ void eval_coefficients(float* scale, float* shift, const float* gamma, const float* beta,
                                  const float* running_mean, const float* running_var, int channels, float eps) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  scale[c] = float(gamma[c] / sqrt(double(running_var[c]) + eps));
  shift[c] = beta[c] - running_mean[c] * scale[c];
}

__global__ void apply_affine(float* y, const float* x, const float* scale, const float* shift, int channels, int hw,
                             size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const int c = channel_of(i, unsigned(hw), unsigned(channels));
    y[i] = x[i] * scale[c] + shift[c];
  }
}

// Accumulates dgamma and dbeta and leaves the coefficients of dx = k * (m * dy - sum_dy - xhat * sum_dy_xhat).
__global__ void finalize_backward(float* coef, float* dgamma, float* dbeta, const double* partial_dy,
                                  const double* partial_dyx, const float* save_invstd, const float* gamma,
                                  int channels, int splits, double m) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= channels) return;
  const float invstd = save_invstd[c];
  const double sum_dy = combine(partial_dy, c, splits);
  const double sum_dy_xhat = combine(partial_dyx, c, splits) * invstd;
  dbeta[c] += float(sum_dy);
  dgamma[c] += float(sum_dy_xhat);
  coef[c] = float(gamma[c] * invstd / m);
  coef[channels + c] = float(sum_dy);
  coef[2 * channels + c] = float(sum_dy_xhat);
}

__global__ void apply_backward(float* dx, const float* dy, const float* x, const float* mean, const float* invstd,
                               const float* coef, int channels, int hw, float fm, size_t count) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    const int c = channel_of(i, unsigned(hw), unsigned(channels));
    const float xhat = (x[i] - mean[c]) * invstd[c];
    dx[i] = coef[c] * (fm * dy[i] - coef[channels + c] - xhat * coef[2 * channels + c]);
  }
}

// Scratch layout: [partials a: C*splits doubles][partials b: C*splits doubles][mean: C doubles][3*C floats].
struct BnScratch {
  double *a, *b, *mean;
  float* coef;
};
BnScratch carve(void* scratch, const Dims& d, int splits) {
  double* base = static_cast<double*>(scratch);
  const size_t partials = size_t(d.c) * splits;
  return {base, base + partials, base + 2 * partials, reinterpret_cast<float*>(base + 2 * partials + d.c)};
}

ChannelLayout layout_of(const Dims& d, int splits) {
  const long long m = (long long)d.n * d.h * d.w;
  return {d.c, d.h * d.w, m, (m + splits - 1) / splits};
}

unsigned channel_blocks(int channels) { return unsigned((channels + kThreads - 1) / kThreads); }

}  // namespace

int bn_splits(const Dims& d, int sm_count) {
  // Enough blocks in total to keep every SM busy (about 4 per SM), but at least 2048 values per block so that
  // small layers are not split into slivers.
  const long long m = (long long)d.n * d.h * d.w;
  const long long by_size = std::max(1LL, m / 2048);
  const long long by_occupancy = std::max(1LL, (4LL * sm_count + d.c - 1) / d.c);
  return int(std::min({by_size, by_occupancy, 65535LL}));
}

size_t bn_scratch_bytes(const Dims& d, int splits) {
  return (2 * size_t(d.c) * splits + d.c) * sizeof(double) + 3 * size_t(d.c) * sizeof(float);
}

void launch_bn_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, const Dims& d, float momentum,
                             float eps, int splits, void* scratch, cudaStream_t stream) {
  if (!d.count()) return;
  const BnScratch s = carve(scratch, d, splits);
  const ChannelLayout L = layout_of(d, splits);
  const double m = double(L.m);
  const dim3 grid(unsigned(splits), unsigned(d.c));
  // Two passes (mean, then squared deviations) avoid the cancellation of sum(x^2) - m * mean^2.
  channel_partials<<<grid, kThreads, 0, stream>>>(s.a, static_cast<double*>(nullptr), SumX{x}, L);
  CUDA_CHECK(cudaGetLastError());
  finalize_mean<<<channel_blocks(d.c), kThreads, 0, stream>>>(s.mean, s.a, d.c, splits, m);
  CUDA_CHECK(cudaGetLastError());
  channel_partials<<<grid, kThreads, 0, stream>>>(s.a, static_cast<double*>(nullptr),
                                                  SumSquaredDeviation{x, s.mean}, L);
  CUDA_CHECK(cudaGetLastError());
  float* scale = s.coef;
  float* shift = s.coef + d.c;
  finalize_train<<<channel_blocks(d.c), kThreads, 0, stream>>>(scale, shift, save_mean, save_invstd, running_mean,
                                                               running_var, s.mean, s.a, gamma, beta, d.c, splits,
                                                               m, momentum, eps);
  CUDA_CHECK(cudaGetLastError());
  apply_affine<<<blocks_for(d.count()), kThreads, 0, stream>>>(y, x, scale, shift, d.c, int(d.plane()), d.count());
  CUDA_CHECK(cudaGetLastError());
}

void launch_bn_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, const Dims& d, float eps, void* scratch, cudaStream_t stream) {
  if (!d.count()) return;
  float* scale = static_cast<float*>(scratch);
  float* shift = scale + d.c;
  eval_coefficients<<<channel_blocks(d.c), kThreads, 0, stream>>>(scale, shift, gamma, beta, running_mean,
                                                                  running_var, d.c, eps);
  CUDA_CHECK(cudaGetLastError());
  apply_affine<<<blocks_for(d.count()), kThreads, 0, stream>>>(y, x, scale, shift, d.c, int(d.plane()), d.count());
  CUDA_CHECK(cudaGetLastError());
}

void launch_bn_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* save_mean, const float* save_invstd, const float* gamma, const Dims& d,
                        int splits, void* scratch, cudaStream_t stream) {
  if (!d.count()) return;
  const BnScratch s = carve(scratch, d, splits);
  const ChannelLayout L = layout_of(d, splits);
  const dim3 grid(unsigned(splits), unsigned(d.c));
  channel_partials<<<grid, kThreads, 0, stream>>>(s.a, s.b, SumBackward{dy, x, save_mean}, L);
  CUDA_CHECK(cudaGetLastError());
  finalize_backward<<<channel_blocks(d.c), kThreads, 0, stream>>>(s.coef, dgamma, dbeta, s.a, s.b, save_invstd,
                                                                  gamma, d.c, splits, double(L.m));
  CUDA_CHECK(cudaGetLastError());
  apply_backward<<<blocks_for(d.count()), kThreads, 0, stream>>>(dx, dy, x, save_mean, save_invstd, s.coef, d.c,
                                                                 int(d.plane()), float(L.m), d.count());
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace stfpm::gpu
