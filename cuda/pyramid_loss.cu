// The STFPM pyramid loss, fused: per pixel, channel L2-normalization of teacher and student, the squared distance,
// its reduction into the loss, and the gradient with respect to the student features.
//
// With u = s^, d = u - t^ and k = alpha / (H*W), the level loss is k * sum(0.5 * ||d||^2) and per pixel
//   dL/ds = k / ||s|| * (d - u * (u . d))   when ||s|| > eps (the normalization's Jacobian projects out u),
//   dL/ds = k / eps * d                     when the norm is clamped to eps,
// exactly as the CPU backend computes it (src/cpu/stfpm_ops.cpp). Per pixel that takes the two norms first, then
// the distance and u . d, then the gradient: three passes over the C channels.
//
// The loss is reduced deterministically: each block writes one double partial sum, and one block adds the
// partials in a fixed order to the loss float.
#include "check.h"
#include "device_utils.cuh"
#include "kernels.h"

namespace stfpm::gpu {
namespace {

constexpr float kNormEps = 1e-12f;  // F.normalize's eps: t^ = t / max(||t||, eps)
constexpr int kTile = 32;           // version 2: pixels per block, one warp wide
constexpr int kWarps = int(kThreads) / kTile;

struct Level {
  const float* t;  // (N, C, H, W)
  const float* s;  // (N, C, H, W)
  int channels, hw;
  long long pixels;  // N * H * W
};

__device__ __forceinline__ size_t pixel_base(const Level& L, long long q) {
  const long long n = (long long)index_div(size_t(q), unsigned(L.hw));
  return size_t(n) * L.channels * L.hw + size_t(q - n * L.hw);
}

__device__ __forceinline__ float gradient(float u, float diff, float inv_s, float dot, float k) {
  const bool clamped = inv_s >= 1.0f / kNormEps;  // the norm was below eps
  return clamped ? k * inv_s * diff : k * inv_s * (diff - u * dot);
}

// Version 1: one thread per pixel (grid-stride), channels read from global memory in each of the three passes.
// Consecutive threads take consecutive pixels, so every read of one channel is coalesced.
template <bool kGrad>
__global__ void pixels_v1(float* dist, double* partials, float* grad_s, Level L, float k) {
  double block_total = 0.0;
  for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < L.pixels;
       q += (long long)gridDim.x * blockDim.x) {
    const size_t base = pixel_base(L, q);
    const float* t = L.t + base;
    const float* s = L.s + base;
    float tt = 0.0f, ss = 0.0f;
    for (int c = 0; c < L.channels; ++c) {
      const float tv = t[size_t(c) * L.hw], sv = s[size_t(c) * L.hw];
      tt += tv * tv;
      ss += sv * sv;
    }
    const float inv_t = 1.0f / clamp_below(sqrtf(tt), kNormEps);
    const float inv_s = 1.0f / clamp_below(sqrtf(ss), kNormEps);
    float d2 = 0.0f, dot = 0.0f;
    for (int c = 0; c < L.channels; ++c) {
      const float u = s[size_t(c) * L.hw] * inv_s;
      const float diff = u - t[size_t(c) * L.hw] * inv_t;
      d2 += diff * diff;
      dot += u * diff;
    }
    const float half = 0.5f * d2;
    if (dist) dist[q] = half;
    block_total += half;
    if (kGrad) {
      float* g = grad_s + base;
      for (int c = 0; c < L.channels; ++c) {
        const float u = s[size_t(c) * L.hw] * inv_s;
        const float diff = u - t[size_t(c) * L.hw] * inv_t;
        g[size_t(c) * L.hw] = gradient(u, diff, inv_s, dot, k);
      }
    }
  }
  if (partials) {
    block_total = block_sum(block_total);
    if (threadIdx.x == 0) partials[blockIdx.x] = block_total;
  }
}

// Version 2: one block per tile of kTile consecutive pixels. The block stages the tile's C x kTile values of t and
// s in shared memory with coalesced loads (one 128-byte row per channel), so global memory is read once and the
// gradient written once. Warp w sums channels w, w + kWarps, ... for lane = pixel; the kWarps partial sums per
// pixel are combined through shared memory.
template <bool kGrad>
__global__ void __launch_bounds__(kThreads) pixels_v2(float* dist, double* partials, float* grad_s, Level L, float k) {
  extern __shared__ float staged[];  // t (C, kTile), then s (C, kTile)
  float* ts = staged;
  float* ss = staged + size_t(L.channels) * kTile;
  __shared__ float red_a[kWarps][kTile], red_b[kWarps][kTile];
  __shared__ float inv_t[kTile], inv_s[kTile], dots[kTile];
  const long long first = (long long)blockIdx.x * kTile;
  const int lane = threadIdx.x % kTile, warp = threadIdx.x / kTile, values = L.channels * kTile;

  for (int i = threadIdx.x; i < values; i += blockDim.x) {
    const int c = i / kTile, p = i % kTile;
    const long long q = first + p;
    float tv = 0.0f, sv = 0.0f;  // pixels past the end are zeros: distance 0, no contribution
    if (q < L.pixels) {
      const size_t off = pixel_base(L, q) + size_t(c) * L.hw;
      tv = L.t[off];
      sv = L.s[off];
    }
    ts[i] = tv;
    ss[i] = sv;
  }
  __syncthreads();

  float a = 0.0f, b = 0.0f;
  for (int c = warp; c < L.channels; c += kWarps) {
    const float tv = ts[c * kTile + lane], sv = ss[c * kTile + lane];
    a += tv * tv;
    b += sv * sv;
  }
  red_a[warp][lane] = a;
  red_b[warp][lane] = b;
  __syncthreads();
  if (warp == 0) {
    float tt = 0.0f, s2 = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      tt += red_a[w][lane];
      s2 += red_b[w][lane];
    }
    inv_t[lane] = 1.0f / clamp_below(sqrtf(tt), kNormEps);
    inv_s[lane] = 1.0f / clamp_below(sqrtf(s2), kNormEps);
  }
  __syncthreads();

  const float it = inv_t[lane], is = inv_s[lane];
  float d2 = 0.0f, dot = 0.0f;
  for (int c = warp; c < L.channels; c += kWarps) {
    const float u = ss[c * kTile + lane] * is;
    const float diff = u - ts[c * kTile + lane] * it;
    d2 += diff * diff;
    dot += u * diff;
  }
  red_a[warp][lane] = d2;  // safe: warp 0 finished reading red_a before the barrier above
  red_b[warp][lane] = dot;
  __syncthreads();
  if (warp == 0) {
    float sd = 0.0f, su = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      sd += red_a[w][lane];
      su += red_b[w][lane];
    }
    dots[lane] = su;
    const long long q = first + lane;
    const float half = 0.5f * sd;
    if (dist && q < L.pixels) dist[q] = half;
    if (partials) {
      const double total = warp_sum(q < L.pixels ? double(half) : 0.0);
      if (lane == 0) partials[blockIdx.x] = total;
    }
  }
  if (!kGrad) return;
  __syncthreads();

  for (int i = threadIdx.x; i < values; i += blockDim.x) {
    const int c = i / kTile, p = i % kTile;
    const long long q = first + p;
    if (q >= L.pixels) continue;
    const float u = ss[i] * inv_s[p];
    const float diff = u - ts[i] * inv_t[p];
    grad_s[pixel_base(L, q) + size_t(c) * L.hw] = gradient(u, diff, inv_s[p], dots[p], k);
  }
}

__global__ void add_loss(float* loss, const double* partials, int count, double k) {
  double sum = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += partials[i];
  sum = block_sum(sum);
  if (threadIdx.x == 0) *loss += float(k * sum);
}

size_t v2_shared_bytes(int channels) { return 2 * size_t(channels) * kTile * sizeof(float); }

// Static shared memory of pixels_v2 (red_a, red_b, inv_t, inv_s, dots) counts against the same per-block limit.
constexpr size_t kV2StaticShared = (2 * kWarps * kTile + 3 * kTile) * sizeof(float);

Level level_of(const float* t, const float* s, const Dims& d) {
  return {t, s, d.c, int(d.plane()), (long long)d.count() / d.c};
}

unsigned v1_blocks(const Dims& d) { return blocks_for(d.count() / size_t(d.c)); }
unsigned v2_blocks(const Dims& d) { return unsigned((d.count() / size_t(d.c) + kTile - 1) / kTile); }

}  // namespace

int pyramid_effective_version(int version, int channels, size_t shared_mem_optin) {
  if (version >= 2 && v2_shared_bytes(channels) + kV2StaticShared <= shared_mem_optin) return 2;
  return 1;
}

size_t pyramid_loss_scratch_bytes(int version, const Dims& d, size_t shared_mem_optin) {
  const int v = pyramid_effective_version(version, d.c, shared_mem_optin);
  return size_t(v == 2 ? v2_blocks(d) : v1_blocks(d)) * sizeof(double);
}

void launch_pixel_distances(int version, float* dist, double* partials, float* grad_s, const float* teacher,
                            const float* student, const Dims& d, float k, size_t shared_mem_optin,
                            cudaStream_t stream) {
  if (!d.count()) return;
  const Level L = level_of(teacher, student, d);
  if (pyramid_effective_version(version, d.c, shared_mem_optin) == 2) {
    const size_t shared = v2_shared_bytes(d.c);
    auto kernel = grad_s ? pixels_v2<true> : pixels_v2<false>;
    // Above 48 KiB of dynamic shared memory a kernel must opt in.
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared)));
    kernel<<<v2_blocks(d), kThreads, shared, stream>>>(dist, partials, grad_s, L, k);
  } else {
    auto kernel = grad_s ? pixels_v1<true> : pixels_v1<false>;
    kernel<<<v1_blocks(d), kThreads, 0, stream>>>(dist, partials, grad_s, L, k);
  }
  CUDA_CHECK(cudaGetLastError());
}

void launch_pyramid_loss(int version, float* loss, float* grad_s, const FeaturePair& f, float alpha, void* scratch,
                         size_t shared_mem_optin, cudaStream_t stream) {
  const Dims& d = f.dims;
  if (!d.count()) return;
  const float k = alpha / float(d.plane());
  double* partials = static_cast<double*>(scratch);
  launch_pixel_distances(version, nullptr, partials, grad_s, f.teacher, f.student, d, k, shared_mem_optin, stream);
  const int count = int(pyramid_loss_scratch_bytes(version, d, shared_mem_optin) / sizeof(double));
  // Each partial sums 0.5 * ||d||^2, so the level loss alpha / (2HW) * sum ||d||^2 is k * sum(partials).
  add_loss<<<1, kThreads, 0, stream>>>(loss, partials, count, double(k));
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace stfpm::gpu
