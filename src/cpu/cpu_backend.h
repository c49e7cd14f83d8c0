// The CPU backend: loops parallelized with OpenMP; convolutions by Winograd F(4x4,3x3) (the 3x3 stride-1 ones,
// cpu/winograd.h) or im2col, both over our packed sgemm (cpu/gemm.h). It is the oracle the CUDA backend is tested
// against; accumulations that span many values (BatchNorm statistics, the loss) use double.
//
// Parallelism: one level at a time. Winograd convolutions split channels and tile positions across the threads
// (the same split whatever the batch); im2col convolutions split the batch, or an image's output rows when the
// batch is smaller than the team. Other ops split channels or rows.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/backend.h"
#include "cpu/winograd.h"
#include "cpu/worker_thread.h"

namespace stfpm {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& options = {});

  DeviceKind kind() const override { return DeviceKind::cpu; }
  std::string describe() const override;
  int threads() const { return threads_; }
  // Bytes of transformed Winograd filters kept for unchanged weights (WinogradFilterCache), the halves' included.
  size_t cached_filter_bytes();

  float* allocate(size_t count) override;
  void release(float* p) override;
  void upload(float* dst, const float* host_src, size_t count) override;
  void download(float* host_dst, const float* src, size_t count) override;
  void copy(float* dst, const float* src, size_t count) override;
  void fill(float* dst, float value, size_t count) override;
  void synchronize() override {}
  size_t free_memory() const override;  // the host's available memory

  // Side by side on two half-size backends, each with half the threads: within one op, all the threads wait for
  // each other at every phase of it, and the smaller the batch the more of the time that is (measured on 2
  // cores: inference 1.14x faster at batch 1, 1.05-1.2x at 32, the same at 8; training 1.05x at batch 32, 16%
  // slower at 1). The numbers are those of a whole-size backend: no op's arithmetic depends on its thread count.
  // set_side_by_side(false) runs them one after the other (tests compare the two). Not with OpenBLAS.
  void run_side_by_side(const std::function<void(Backend&)>& first,
                        const std::function<void(Backend&)>& second) override;
  void set_side_by_side(bool on) { side_by_side_ = on; }

  void prepare_conv(const ConvGeometry& g) override;
  void conv_forward(float* y, const float* x, const float* w, const ConvGeometry& g) override;
  void conv_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g) override;
  void conv_backward_filter(float* dw, const float* dy, const float* x, const ConvGeometry& g) override;
  void conv_bn_forward_eval(float* y, const float* x, const float* w, const ConvGeometry& g, const BatchNormEval& bn,
                            bool relu) override;

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
  // Per-thread scratch for convolutions: one lowered-column matrix and one private filter-gradient
  // accumulator each, sized by prepare_conv() for the largest geometry (grown there, never in an op).
  struct ConvScratch {
    std::vector<float> columns;
    std::vector<float> filter_grad;
  };
  ConvScratch& scratch(int thread, const ConvGeometry& g);

  // OpenMP's thread count is a per-thread setting: every op sets it to threads_ for the thread that calls it
  // (whichever that is: a Detector may be used from any thread) and restores the caller's own on return, so a
  // parallel region never has more threads than there are scratch slots.
  struct TeamSize {
    explicit TeamSize(int threads);
    ~TeamSize();
    TeamSize(const TeamSize&) = delete;
    TeamSize& operator=(const TeamSize&) = delete;
    int saved;
  };

  // A backend for one of the side-by-side halves: leaves OpenBLAS's process-wide thread count alone.
  struct Half {};
  CpuBackend(int threads, Half);

  int threads_;
  bool side_by_side_ = true;
  // run_side_by_side's halves (with at least 2 threads) and the thread that runs the second one (on first use).
  std::unique_ptr<CpuBackend> halves_[2];
  std::unique_ptr<WorkerThread> worker_;
  std::mutex allocations_mutex_;
  std::unordered_map<float*, size_t> allocations_;  // the floats of each live allocation, for release()
  std::vector<ConvScratch> scratch_;
  WinogradConv winograd_;         // the 3x3 stride-1 convolutions' scratch
  PackedMatrix forward_weights_;  // the other convolutions' weights, packed once per forward call
  std::vector<float> bn_scale_, bn_shift_;  // conv_bn_forward_eval's BatchNorm as an affine map per channel
  void forward(float* y, const float* x, const float* w, const ConvGeometry& g, const ConvEpilogue* epilogue);
};

}  // namespace stfpm
