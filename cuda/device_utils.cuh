// Helpers shared by our kernel files. Device functions must be visible in every .cu that calls them (we build
// without relocatable device code), so these few live in this header, included only by .cu files.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace stfpm::gpu {

constexpr unsigned kThreads = 256;  // block size of every elementwise and reduction kernel here

// Blocks for a grid-stride loop over `count` items: enough to fill any current GPU, capped so that each thread
// handles several items on large inputs.
inline unsigned blocks_for(size_t count, unsigned threads = kThreads) {
  const size_t blocks = (count + threads - 1) / threads;
  return blocks < 1 ? 1u : (blocks > 4096 ? 4096u : unsigned(blocks));
}

// max(norm, eps) as the CPU's std::max(norm, eps) computes it: a NaN norm stays NaN (fmaxf would return eps and
// hide a diverging run), so both backends report the same non-finite loss.
__device__ __forceinline__ float clamp_below(float norm, float eps) { return norm < eps ? eps : norm; }

// idx / d, in 32-bit arithmetic whenever idx fits (every tensor of the recipe does): a 32-bit division is a few
// instructions, a 64-bit one a long emulated sequence per element. The branch is the same for a whole warp.
__device__ __forceinline__ size_t index_div(size_t idx, unsigned d) {
  return idx <= 0xffffffffu ? size_t(unsigned(idx) / d) : idx / d;
}
// The channel of element i of an (N, C, H, W) tensor with hw = H * W: (i / hw) % channels.
__device__ __forceinline__ int channel_of(size_t i, unsigned hw, unsigned channels) {
  return i <= 0xffffffffu ? int(unsigned(i) / hw % channels) : int(i / hw % channels);
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  return v;
}

// Sum of v over the block, returned to thread 0 (other threads get partial values). Every thread of the block
// must call it; blockDim.x must be a multiple of 32. The order of additions is fixed, so results are reproducible.
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double warp_sums[32];
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  __syncthreads();  // a previous call's readers are done with warp_sums
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < blockDim.x / 32 ? warp_sums[lane] : 0.0;
    v = warp_sum(v);
  }
  return v;
}

}  // namespace stfpm::gpu
