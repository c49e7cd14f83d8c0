// The CUDA backend's ops that run our own kernels (kernels.h): BatchNorm, elementwise, max pooling, the STFPM
// loss and anomaly map, SGD. Each checks what the kernels rely on, takes its temporaries from the context's
// scratch arena and launches on the context's stream.
#include <stdexcept>
#include <string>

#include "cuda_backend_impl.h"
#include "kernels.h"

namespace stfpm::gpu {

void CudaBackend::fill(float* dst, float value, size_t count) {
  NvtxRange range("fill");
  launch_fill(dst, value, count, context_.stream());
}

void CudaBackend::batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                                          float* running_var, const float* x, const float* gamma, const float* beta,
                                          const Dims& d, float momentum, float eps) {
  NvtxRange range("batchnorm_forward_train");
  const int splits = bn_splits(d, context_.sm_count());
  launch_bn_forward_train(y, save_mean, save_invstd, running_mean, running_var, x, gamma, beta, d, momentum, eps,
                          splits, context_.scratch(bn_scratch_bytes(d, splits)), context_.stream());
}

void CudaBackend::batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                                         const float* running_mean, const float* running_var, const Dims& d,
                                         float eps) {
  NvtxRange range("batchnorm_forward_eval");
  launch_bn_forward_eval(y, x, gamma, beta, running_mean, running_var, d, eps,
                         context_.scratch(2 * size_t(d.c) * sizeof(float)), context_.stream());
}

void CudaBackend::batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                                     const float* save_mean, const float* save_invstd, const float* gamma,
                                     const Dims& d) {
  NvtxRange range("batchnorm_backward");
  const int splits = bn_splits(d, context_.sm_count());
  launch_bn_backward(dx, dgamma, dbeta, dy, x, save_mean, save_invstd, gamma, d, splits,
                     context_.scratch(bn_scratch_bytes(d, splits)), context_.stream());
}

void CudaBackend::relu_forward(float* y, const float* x, size_t count) {
  NvtxRange range("relu_forward");
  launch_relu_forward(y, x, count, context_.stream());
}

void CudaBackend::relu_backward(float* dx, const float* dy, const float* y, size_t count) {
  NvtxRange range("relu_backward");
  launch_relu_backward(dx, dy, y, count, context_.stream());
}

void CudaBackend::add(float* y, const float* a, const float* b, size_t count) {
  NvtxRange range("add");
  launch_add(y, a, b, count, context_.stream());
}

namespace {
// The kernels assume every window overlaps the input, which PyTorch guarantees by requiring pad <= kernel / 2.
void validate_pool(const PoolGeometry& g) {
  if (g.kernel < 1 || g.stride < 1 || g.pad < 0 || 2 * g.pad > g.kernel || g.out_h() < 1 || g.out_w() < 1)
    throw std::invalid_argument("maxpool: invalid geometry (kernel " + std::to_string(g.kernel) + ", stride " +
                                std::to_string(g.stride) + ", pad " + std::to_string(g.pad) + " on " +
                                std::to_string(g.h) + "x" + std::to_string(g.w) + "): pad must be at most kernel/2");
}
}  // namespace

void CudaBackend::maxpool_forward(float* y, const float* x, const PoolGeometry& g) {
  NvtxRange range("maxpool_forward");
  validate_pool(g);
  launch_maxpool_forward(y, x, g, context_.stream());
}

void CudaBackend::maxpool_backward(float* dx, const float* dy, const float* /*y*/, const float* x,
                                   const PoolGeometry& g) {
  NvtxRange range("maxpool_backward");
  validate_pool(g);
  launch_maxpool_backward(dx, dy, x, g, context_.stream());
}

void CudaBackend::pyramid_loss(float* loss, float* grad_s, const FeaturePair& f, float alpha) {
  NvtxRange range("pyramid_loss");
  const size_t optin = context_.properties().sharedMemPerBlockOptin;
  void* scratch = context_.scratch(pyramid_loss_scratch_bytes(kPyramidDefault, f.dims, optin));
  launch_pyramid_loss(kPyramidDefault, loss, grad_s, f, alpha, scratch, optin, context_.stream());
}

void CudaBackend::anomaly_map(float* map, float* level_maps, const std::vector<FeaturePair>& levels, int out_h,
                              int out_w) {
  NvtxRange range("anomaly_map");
  void* scratch = context_.scratch(anomaly_map_scratch_bytes(levels));
  launch_anomaly_map(kPyramidDefault, map, level_maps, levels, out_h, out_w, scratch,
                     context_.properties().sharedMemPerBlockOptin, context_.stream());
}

void CudaBackend::sgd_step(float* params, float* momentum_buf, const float* grads, size_t count, float lr,
                           float momentum, float weight_decay, bool first_step) {
  NvtxRange range("sgd_step");
  launch_sgd(kSgdDefault, params, momentum_buf, grads, count, lr, momentum, weight_decay, first_step,
             context_.stream());
}

}  // namespace stfpm::gpu
