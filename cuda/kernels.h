// Launchers of our own CUDA kernels. Each kernel lives in a small .cu file with a file-local kernel; its launcher
// computes the grid, launches on the given stream and checks cudaGetLastError(). The backend calls the default
// versions; bench/gpu/ times every numbered version (1 = the straightforward kernel, 2.. = improvements).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "core/backend.h"

namespace stfpm::gpu {

// ---- elementwise (elementwise.cu) ------------------------------------------------------------------------
void launch_fill(float* dst, float value, size_t count, cudaStream_t stream);
void launch_relu_forward(float* y, const float* x, size_t count, cudaStream_t stream);
void launch_relu_backward(float* dx, const float* dy, const float* y, size_t count, cudaStream_t stream);
void launch_add(float* y, const float* a, const float* b, size_t count, cudaStream_t stream);

// ---- SGD (sgd.cu): 1 = scalar grid-stride loop, 2 = float4 loads when all pointers are 16-byte aligned ----
constexpr int kSgdVersions = 2, kSgdDefault = 2;
void launch_sgd(int version, float* params, float* momentum_buf, const float* grads, size_t count, float lr,
                float momentum, float weight_decay, bool first_step, cudaStream_t stream);

// ---- max pooling (pool.cu) -------------------------------------------------------------------------------
void launch_maxpool_forward(float* y, const float* x, const PoolGeometry& g, cudaStream_t stream);
void launch_maxpool_backward(float* dx, const float* dy, const float* x, const PoolGeometry& g, cudaStream_t stream);

// ---- BatchNorm (batchnorm.cu) ----------------------------------------------------------------------------
// Per-channel reductions run as a grid of (splits, C) blocks writing one partial sum each, combined in a fixed
// order, so results are reproducible. bn_splits() chooses the split count; the scratch holds the partials.
int bn_splits(const Dims& d, int sm_count);
size_t bn_scratch_bytes(const Dims& d, int splits);
void launch_bn_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                             const float* x, const float* gamma, const float* beta, const Dims& d, float momentum,
                             float eps, int splits, void* scratch, cudaStream_t stream);
void launch_bn_forward_eval(float* y, const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, const Dims& d, float eps, void* scratch, cudaStream_t stream);
void launch_bn_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* save_mean, const float* save_invstd, const float* gamma, const Dims& d,
                        int splits, void* scratch, cudaStream_t stream);

// ---- pyramid loss (pyramid_loss.cu): 1 = one thread per pixel, three passes over C in global memory;
//      2 = a block per 32 pixels with all C channels staged once in shared memory (falls back to 1 when C is too
//      large for shared memory) ------------------------------------------------------------------------------
constexpr int kPyramidVersions = 2, kPyramidDefault = 2;
// The version that actually runs for `version` at this channel count and device.
int pyramid_effective_version(int version, int channels, size_t shared_mem_optin);
// Bytes of scratch (per-block partial sums of the loss) the loss needs.
size_t pyramid_loss_scratch_bytes(int version, const Dims& d, size_t shared_mem_optin);
// Per pixel (n, h, w) of one level: dist = 0.5 * ||t^ - s^||^2 over C. Writes dist (N*H*W floats) when not null,
// one partial sum of dist per block into partials when not null, and when grad_s is not null the gradient of
// k * sum(dist) with respect to s. The launch uses pyramid_loss_scratch_bytes()/8 partials at most.
void launch_pixel_distances(int version, float* dist, double* partials, float* grad_s, const float* teacher,
                            const float* student, const Dims& d, float k, size_t shared_mem_optin,
                            cudaStream_t stream);
// *loss += alpha / (H*W) * sum(dist), and grad_s as above (see Backend::pyramid_loss).
void launch_pyramid_loss(int version, float* loss, float* grad_s, const FeaturePair& f, float alpha, void* scratch,
                         size_t shared_mem_optin, cudaStream_t stream);

// ---- anomaly map (anomaly_map.cu): per-level distances with the pyramid kernel of `version`, then one pass that
//      upsamples every level and multiplies them ----------------------------------------------------------------
size_t anomaly_map_scratch_bytes(const std::vector<FeaturePair>& levels);
void launch_anomaly_map(int version, float* map, float* level_maps, const std::vector<FeaturePair>& levels,
                        int out_h, int out_w, void* scratch, size_t shared_mem_optin, cudaStream_t stream);

}  // namespace stfpm::gpu
