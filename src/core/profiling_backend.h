// A Backend that times every call of another one (`stfpm profile`): the model runs on it unchanged, and each op
// call is recorded under its op and, where a pointer argument names it, its layer (a convolution by its weight or
// weight gradient, a BatchNorm by its gamma), with the work it did (FLOPs of a convolution, bytes an elementwise op
// or a copy moves). Calls made while recording is off (planning, loading weights) are passed through untimed.
//
// Timing: the inner backend's device timer around the call where it has one (CUDA events: each op's device time,
// waited for before the next op is queued, so the times do not overlap); otherwise a steady clock around the
// call, followed by synchronize() on a backend that runs asynchronously.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/backend.h"

namespace stfpm {

class ProfilingBackend : public Backend {
 public:
  // One op of one layer: every timed call's seconds, and the work of one call.
  struct Record {
    std::string op, layer;  // "conv forward", "teacher.layer1.0.conv1"; layer empty for unnamed ops
    std::vector<double> seconds;
    double flops = 0, bytes = 0;  // the work of all calls together
  };

  explicit ProfilingBackend(Backend& inner) : inner_(inner), timer_(inner.make_timer()) {}

  // Names the layer whose weight (or gradient, or gamma) lives at `p`.
  void name(const float* p, const std::string& layer) { names_[p] = layer; }
  void set_recording(bool on) { recording_ = on; }
  // Recording: one sequence after the other on this backend, so that each op is timed alone and the rows add up
  // to the step. Not recording: the inner backend's own way (side by side on the CPU), the step a run gets.
  void run_side_by_side(const std::function<void(Backend&)>& first,
                        const std::function<void(Backend&)>& second) override {
    if (!recording_) return inner_.run_side_by_side(first, second);
    Backend::run_side_by_side(first, second);
  }
  // The records in order of first call.
  const std::vector<Record>& records() const { return records_; }
  void clear() { records_.clear(), index_.clear(); }

  DeviceKind kind() const override { return inner_.kind(); }
  std::string describe() const override { return inner_.describe(); }
  float* allocate(size_t count) override { return inner_.allocate(count); }
  void release(float* p) override { inner_.release(p); }
  void upload(float* dst, const float* host_src, size_t count) override;
  void download(float* host_dst, const float* src, size_t count) override;
  void copy(float* dst, const float* src, size_t count) override;
  void fill(float* dst, float value, size_t count) override;
  void synchronize() override { inner_.synchronize(); }
  size_t free_memory() const override { return inner_.free_memory(); }
  std::unique_ptr<DeviceTimer> make_timer() override { return inner_.make_timer(); }
  void prepare_conv(const ConvGeometry& g) override { inner_.prepare_conv(g); }

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
  void maxpool_backward(float* dx, const float* dy, const float* y, const float* x, const PoolGeometry& g) override;
  void pyramid_loss(float* loss, float* grad_s, const FeaturePair& f, float alpha) override;
  void anomaly_map(float* map, float* level_maps, const std::vector<FeaturePair>& levels, int out_h,
                   int out_w) override;
  void sgd_step(float* params, float* momentum_buf, const float* grads, size_t count, float lr, float momentum,
                float weight_decay, bool first_step) override;

 private:
  // Runs `call` timed (when recording) and adds it to the record of (op, the layer named by `key`).
  template <typename Call>
  void timed(const char* op, const float* key, double flops, double bytes, Call&& call);

  Backend& inner_;
  std::unique_ptr<DeviceTimer> timer_;  // null: the host clock
  bool recording_ = false;
  std::unordered_map<const float*, std::string> names_;
  std::vector<Record> records_;
  std::map<std::pair<std::string, std::string>, size_t> index_;
};

}  // namespace stfpm
