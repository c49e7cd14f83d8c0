// The SGD update with PyTorch's semantics (weight decay added to the gradient, momentum buffer initialized with
// the first gradient): g = grad + wd * p; buf = first ? g : momentum * buf + g; p -= lr * buf.
#include <cstdint>

#include "check.h"
#include "device_utils.cuh"
#include "kernels.h"

namespace stfpm::gpu {
namespace {

struct SgdArgs {
  float lr, momentum, weight_decay;
  bool first_step;
};

__device__ __forceinline__ void sgd_one(float& p, float& buf, float grad, const SgdArgs& a) {
  const float g = grad + a.weight_decay * p;
  buf = a.first_step ? g : a.momentum * buf + g;
  p -= a.lr * buf;
}

// Version 1: one float per iteration of a grid-stride loop.
__global__ void sgd_v1(float* params, float* momentum_buf, const float* grads, size_t count, SgdArgs a) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += size_t(gridDim.x) * blockDim.x) {
    float p = params[i], buf = momentum_buf[i];
    sgd_one(p, buf, grads[i], a);
    params[i] = p;
    momentum_buf[i] = buf;
  }
}

// Version 2: 16-byte loads and stores (fewer, wider memory transactions); the last count % 4 values are handled
// one by one. Requires all three pointers to be 16-byte aligned.
__global__ void sgd_v2(float* params, float* momentum_buf, const float* grads, size_t count, SgdArgs a) {
  const size_t quads = count / 4, stride = size_t(gridDim.x) * blockDim.x;
  float4* p4 = reinterpret_cast<float4*>(params);
  float4* b4 = reinterpret_cast<float4*>(momentum_buf);
  const float4* g4 = reinterpret_cast<const float4*>(grads);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < quads; i += stride) {
    float4 p = p4[i], b = b4[i];
    const float4 g = g4[i];
    sgd_one(p.x, b.x, g.x, a);
    sgd_one(p.y, b.y, g.y, a);
    sgd_one(p.z, b.z, g.z, a);
    sgd_one(p.w, b.w, g.w, a);
    p4[i] = p;
    b4[i] = b;
  }
  for (size_t i = quads * 4 + blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < count; i += stride) {
    float p = params[i], buf = momentum_buf[i];
    sgd_one(p, buf, grads[i], a);
    params[i] = p;
    momentum_buf[i] = buf;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void launch_sgd(int version, float* params, float* momentum_buf, const float* grads, size_t count, float lr,
                float momentum, float weight_decay, bool first_step, cudaStream_t stream) {
  if (!count) return;
  const SgdArgs a{lr, momentum, weight_decay, first_step};
  if (version >= 2 && aligned16(params) && aligned16(momentum_buf) && aligned16(grads)) {
    sgd_v2<<<blocks_for((count + 3) / 4), kThreads, 0, stream>>>(params, momentum_buf, grads, count, a);
  } else {
    sgd_v1<<<blocks_for(count), kThreads, 0, stream>>>(params, momentum_buf, grads, count, a);
  }
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace stfpm::gpu
