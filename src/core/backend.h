// The op interface both backends implement: the CPU backend (src/cpu/, plain loops and OpenBLAS) and the CUDA
// backend (cuda/, cuDNN, cuBLAS and our kernels). The model (src/model/) is written once against this interface and
// never sees which backend runs it; api/backends.h creates the backend a run asks for.
//
// Conventions for every op:
//  - Pointers point into the backend's own memory (host memory for CPU, device memory for CUDA), float32, NCHW.
//  - Argument order: outputs, saved-for-backward, inputs, weights, then shapes and scalars.
//  - Input gradients (dx) are OVERWRITTEN; parameter gradients (dw, dgamma, dbeta) ACCUMULATE (+=), so a
//    training step zeroes the parameter gradients once and every op adds its contribution.
//  - An output may alias an input only where the comment says so.
//  - Ops may run asynchronously (CUDA stream order); download() and synchronize() wait.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace stfpm {

enum class DeviceKind { cpu, cuda };

const char* device_name(DeviceKind kind);     // "cpu" / "cuda"
DeviceKind parse_device(const std::string& s);  // throws std::invalid_argument on anything else

// A 2-D convolution without bias: x (N, C, H, W) * w (K, C, R, S) -> y (N, K, out_h, out_w).
struct ConvGeometry {
  int n = 1, c = 1, h = 1, w = 1;  // input
  int k = 1, r = 1, s = 1;         // filters
  int stride = 1, pad = 0;
  int out_h() const { return (h + 2 * pad - r) / stride + 1; }
  int out_w() const { return (w + 2 * pad - s) / stride + 1; }
  Dims in_dims() const { return {n, c, h, w}; }
  Dims out_dims() const { return {n, k, out_h(), out_w()}; }
  size_t weight_count() const { return size_t(k) * size_t(c) * size_t(r) * size_t(s); }
};

// Max pooling over square windows with implicit -inf padding (ResNet's stem: kernel 3, stride 2, pad 1).
struct PoolGeometry {
  int n = 1, c = 1, h = 1, w = 1;  // input
  int kernel = 3, stride = 2, pad = 1;
  int out_h() const { return (h + 2 * pad - kernel) / stride + 1; }
  int out_w() const { return (w + 2 * pad - kernel) / stride + 1; }
  Dims in_dims() const { return {n, c, h, w}; }
  Dims out_dims() const { return {n, c, out_h(), out_w()}; }
};

// An eval-mode BatchNorm2d: its parameters and running statistics, each (C), and eps.
struct BatchNormEval {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  const float* running_mean = nullptr;
  const float* running_var = nullptr;
  float eps = 1e-5f;
};

// One pyramid level of teacher and student features, both (N, C, H, W) in backend memory.
struct FeaturePair {
  const float* teacher = nullptr;
  const float* student = nullptr;
  Dims dims;
};

struct BackendOptions {
  int threads = 0;           // CPU: worker threads (0: all cores)
  int device_index = 0;      // CUDA: which GPU
  bool allow_tf32 = false;   // CUDA: TF32 tensor-core math in convolutions (default strict FP32)
};

// A device-side stopwatch for one op at a time (CUDA events on the backend's stream): start() and stop() mark
// the work queued between them; seconds() waits for the stop mark and returns the device time in between.
class DeviceTimer {
 public:
  virtual ~DeviceTimer() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual double seconds() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceKind kind() const = 0;
  virtual std::string describe() const = 0;  // one line for logs: device, library versions, threads

  // ---- memory -------------------------------------------------------------------------------------------
  virtual float* allocate(size_t count) = 0;  // zero-filled; throws (with the size) when memory runs out
  virtual void release(float* p) = 0;
  virtual void upload(float* dst, const float* host_src, size_t count) = 0;
  virtual void download(float* host_dst, const float* src, size_t count) = 0;
  virtual void copy(float* dst, const float* src, size_t count) = 0;
  virtual void fill(float* dst, float value, size_t count) = 0;
  virtual void synchronize() = 0;
  // Bytes the backend could still allocate, for "try a smaller batch" hints; 0 when unknown.
  virtual size_t free_memory() const { return 0; }

  // A device-side timer for `stfpm profile`, or nullptr where the host clock around a call is the op's time
  // (the CPU backend runs every op before returning).
  virtual std::unique_ptr<DeviceTimer> make_timer() { return nullptr; }

  // ---- concurrency --------------------------------------------------------------------------------------
  // Runs two independent sequences of ops (the teacher's and the student's forward pass), each issuing its ops on
  // the Backend it is handed, which shares this one's memory, and returns when both are done. This default runs
  // them one after the other on this backend; the CPU backend runs them side by side on two halves of its
  // threads (CpuBackend::run_side_by_side), with the same numbers.
  virtual void run_side_by_side(const std::function<void(Backend&)>& first,
                                const std::function<void(Backend&)>& second);

  // ---- planning -----------------------------------------------------------------------------------------
  // Called once for every convolution geometry (at the largest batch) before the first step, so the backend can
  // choose algorithms and size one workspace for the largest need; ops never allocate afterwards.
  virtual void prepare_conv(const ConvGeometry& g) = 0;

  // ---- convolution --------------------------------------------------------------------------------------
  virtual void conv_forward(float* y,        // (N, K, OH, OW)
                            const float* x,  // (N, C, H, W)
                            const float* w,  // (K, C, R, S)
                            const ConvGeometry& g) = 0;
  virtual void conv_backward_data(float* dx,        // (N, C, H, W), overwritten
                                  const float* dy,  // (N, K, OH, OW)
                                  const float* w,   // (K, C, R, S)
                                  const ConvGeometry& g) = 0;
  virtual void conv_backward_filter(float* dw,        // (K, C, R, S), accumulated
                                    const float* dy,  // (N, K, OH, OW)
                                    const float* x,   // (N, C, H, W)
                                    const ConvGeometry& g) = 0;

  // ---- BatchNorm2d --------------------------------------------------------------------------------------
  // Train mode: normalizes with the batch mean and biased variance, saves mean and 1/sqrt(var + eps) for the
  // backward pass, and updates the running statistics as PyTorch does:
  //   running_mean = (1 - momentum) * running_mean + momentum * mean
  //   running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)   (m = N*H*W, unbiased)
  virtual void batchnorm_forward_train(float* y,             // (N, C, H, W)
                                       float* save_mean,     // (C)
                                       float* save_invstd,   // (C)
                                       float* running_mean,  // (C), updated in place
                                       float* running_var,   // (C), updated in place
                                       const float* x,       // (N, C, H, W)
                                       const float* gamma,   // (C)
                                       const float* beta,    // (C)
                                       const Dims& d, float momentum, float eps) = 0;
  // Eval mode: normalizes with the running statistics. y may alias x.
  virtual void batchnorm_forward_eval(float* y,                   // (N, C, H, W)
                                      const float* x,             // (N, C, H, W)
                                      const float* gamma,         // (C)
                                      const float* beta,          // (C)
                                      const float* running_mean,  // (C)
                                      const float* running_var,   // (C)
                                      const Dims& d, float eps) = 0;
  // Backward of the train-mode forward.
  virtual void batchnorm_backward(float* dx,                 // (N, C, H, W), overwritten
                                  float* dgamma,             // (C), accumulated
                                  float* dbeta,              // (C), accumulated
                                  const float* dy,           // (N, C, H, W)
                                  const float* x,            // (N, C, H, W), the forward input
                                  const float* save_mean,    // (C)
                                  const float* save_invstd,  // (C)
                                  const float* gamma,        // (C)
                                  const Dims& d) = 0;

  // ---- fused eval-mode layers ---------------------------------------------------------------------------
  // conv_forward into y, then batchnorm_forward_eval in place, then (with relu) relu_forward: this default runs
  // exactly those; a backend may fuse them, so that the convolution's output is written once, with the same
  // values.
  virtual void conv_bn_forward_eval(float* y, const float* x, const float* w, const ConvGeometry& g,
                                    const BatchNormEval& bn, bool relu);

  // ---- elementwise --------------------------------------------------------------------------------------
  // y = x < 0 ? 0 : x (NaN passes, as in PyTorch). y may alias x.
  virtual void relu_forward(float* y, const float* x, size_t count) = 0;
  // dx = y <= 0 ? 0 : dy (NaN in y passes dy). dx may alias dy.
  virtual void relu_backward(float* dx, const float* dy, const float* y, size_t count) = 0;
  virtual void add(float* y, const float* a, const float* b, size_t count) = 0;  // y may alias a or b

  // ---- max pooling --------------------------------------------------------------------------------------
  virtual void maxpool_forward(float* y,        // (N, C, OH, OW)
                               const float* x,  // (N, C, H, W)
                               const PoolGeometry& g) = 0;
  // Routes each dy to the position of its window's maximum (the first one in row-major order on ties).
  virtual void maxpool_backward(float* dx,        // (N, C, H, W), overwritten
                                const float* dy,  // (N, C, OH, OW)
                                const float* y,   // (N, C, OH, OW), the forward output
                                const float* x,   // (N, C, H, W), the forward input
                                const PoolGeometry& g) = 0;

  // ---- STFPM --------------------------------------------------------------------------------------------
  // One pyramid level of the loss: *loss += alpha * sum_{n,c,h,w} (t^ - s^)^2 / (2 * H * W), where
  // t^ = t / max(||t||_2 over C, 1e-12) and the same for s. `loss` is one float in backend memory.
  // When grad_s is not null it receives d(alpha-weighted level loss)/d(s), overwritten.
  virtual void pyramid_loss(float* loss,            // (1), accumulated
                            float* grad_s,          // (N, C, H, W) or null
                            const FeaturePair& f,
                            float alpha) = 0;
  // Anomaly map: for each level, 0.5 * sum_c (t^ - s^)^2 at feature resolution, upsampled bilinearly
  // (align_corners = false) to (out_h, out_w); map is the product over levels. level_maps, when not null,
  // receives each upsampled level map, level-major.
  virtual void anomaly_map(float* map,         // (N, out_h, out_w)
                           float* level_maps,  // (L, N, out_h, out_w) or null
                           const std::vector<FeaturePair>& levels, int out_h, int out_w) = 0;

  // ---- optimizer ----------------------------------------------------------------------------------------
  // PyTorch SGD: g = grad + weight_decay * p; buf = first_step ? g : momentum * buf + g; p -= lr * buf.
  virtual void sgd_step(float* params,        // (count), updated
                        float* momentum_buf,  // (count), updated
                        const float* grads,   // (count)
                        size_t count, float lr, float momentum, float weight_decay, bool first_step) = 0;
};

}  // namespace stfpm
