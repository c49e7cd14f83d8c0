// The CUDA backend: cuDNN convolutions, our own kernels for everything else, all on one stream of one device.
// Semantics are the CPU backend's (src/cpu/), which the [gpu] tests check op by op. Every op is wrapped in an NVTX
// range named after it, so Nsight Systems shows a training step by name.
#pragma once

#include <memory>

#include "core/backend.h"
#include "context.h"
#include "conv_plans.h"

namespace stfpm::gpu {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& options);
  ~CudaBackend() override;

  DeviceKind kind() const override { return DeviceKind::cuda; }
  std::string describe() const override;
  Context& context() { return context_; }

  float* allocate(size_t count) override;
  void release(float* p) override;
  void upload(float* dst, const float* host_src, size_t count) override;
  void download(float* host_dst, const float* src, size_t count) override;
  void copy(float* dst, const float* src, size_t count) override;
  void fill(float* dst, float value, size_t count) override;
  void synchronize() override;
  size_t free_memory() const override;
  std::unique_ptr<DeviceTimer> make_timer() override;  // CUDA events on the stream

  void prepare_conv(const ConvGeometry& g) override;
  void conv_forward(float* y, const float* x, const float* w, const ConvGeometry& g) override;
  void conv_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g) override;
  void conv_backward_filter(float* dw, const float* dy, const float* x, const ConvGeometry& g) override;

  void batchnorm_forward_train(float* y, float* save_mean, float* save_invstd, float* running_mean,
                               float* running_var, const float* x, const float* gamma, const float* beta,
                               const Dims& d, float momentum, float eps) override;
  void batchnorm_forward_eval(float* y, const float* x, const float* gamma, const float* beta,
                              const float* running_mean, const float* running_var, const Dims& d,
                              float eps) override;
  void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                          const float* save_mean, const float* save_invstd, const float* gamma,
                          const Dims& d) override;

  void relu_forward(float* y, const float* x, size_t count) override;
  void relu_backward(float* dx, const float* dy, const float* y, size_t count) override;
  void add(float* y, const float* a, const float* b, size_t count) override;

  void maxpool_forward(float* y, const float* x, const PoolGeometry& g) override;
  void maxpool_backward(float* dx, const float* dy, const float* y, const float* x,
                        const PoolGeometry& g) override;

  void pyramid_loss(float* loss, float* grad_s, const FeaturePair& f, float alpha) override;
  void anomaly_map(float* map, float* level_maps, const std::vector<FeaturePair>& levels, int out_h,
                   int out_w) override;

  void sgd_step(float* params, float* momentum_buf, const float* grads, size_t count, float lr, float momentum,
                float weight_decay, bool first_step) override;

 private:
  Context context_;
  ConvPlans plans_;
};

// An NVTX range for the lifetime of the object (push in the constructor, pop in the destructor).
class NvtxRange {
 public:
  explicit NvtxRange(const char* name);
  ~NvtxRange();
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace stfpm::gpu
