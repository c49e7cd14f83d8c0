// Shared parts of the GPU kernel benchmarks: the CPU and CUDA backends side by side, CUDA-event timing (median of
// several runs), the device-to-device copy bandwidth as the ceiling, and the result table.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/backends.h"
#include "core/backend.h"
#include "cuda_backend_impl.h"

namespace stfpm::bench {

class GpuBench {
 public:
  GpuBench();
  ~GpuBench();

  Backend& cpu() { return *cpu_; }
  Backend& gpu() { return *gpu_; }
  cudaStream_t stream() { return cuda_->context().stream(); }
  size_t shared_mem_optin() { return cuda_->context().properties().sharedMemPerBlockOptin; }

  // Median milliseconds of fn (which launches on stream()) over `reps` runs after `warmup` runs.
  double time_ms(const std::function<void()>& fn, int warmup = 3, int reps = 20);
  // Median milliseconds of a device-to-device cudaMemcpy of `bytes` bytes (it moves 2 * bytes).
  double copy_ms(size_t bytes);
  double copy_gbps() const { return copy_gbps_; }  // of a 1 GiB copy, counting bytes read and written

  // One table row: `bytes` is the minimum traffic of the operation (each input read once, each output written
  // once); GB/s and the fraction of the copy bandwidth follow from it.
  void row(const std::string& kernel, const std::string& version, const std::string& shape, double ms,
           double bytes);
  void header(const std::string& title);
  // Records a correctness check against the CPU backend; a failure makes the benchmark exit non-zero.
  void check(const std::string& what, bool ok);
  // Records whether the default version reached `fraction` of the copy bandwidth (reported, not fatal).
  void target(const std::string& what, double ms, double bytes, double fraction);
  int failures() const { return failures_; }
  void summary() const;

 private:
  std::unique_ptr<Backend> cpu_, gpu_;
  gpu::CudaBackend* cuda_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  double copy_gbps_ = 0.0;
  int failures_ = 0, checks_ = 0, targets_met_ = 0, targets_ = 0;
};

std::string dims_str(const Dims& d);
std::vector<float> random_values(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);
// ggml-style normalized error sum((a - b)^2) / sum(b^2); infinity on NaN or a size mismatch.
double normalized_error(const std::vector<float>& actual, const std::vector<float>& expected);

}  // namespace stfpm::bench
