// The CUDA context of one backend: the device, one stream that every op runs on, the cuDNN and cuBLAS handles
// bound to that stream with an explicit math mode, the convolution workspace, and a scratch arena for the small
// temporaries of our own kernels (reduction partials, per-channel coefficients, per-level distance maps).
//
// Memory rules: the convolution workspace is sized for the largest need and grows only through grow_workspace(),
// which prepare_conv() calls; ops never grow it. The scratch arena starts at kInitialScratch (enough for every op
// of the STFPM model at batch 32 and well beyond) and grows only when an op needs more than that, synchronizing
// first, so a steady-state training or evaluation loop never allocates.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "core/backend.h"

namespace stfpm::gpu {

class Context {
 public:
  static constexpr size_t kInitialScratch = size_t(4) << 20;

  explicit Context(const BackendOptions& options);  // throws std::runtime_error naming what failed
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device() const { return device_; }
  const cudaDeviceProp& properties() const { return props_; }
  int sm_count() const { return props_.multiProcessorCount; }
  bool allow_tf32() const { return allow_tf32_; }
  cudaStream_t stream() const { return stream_; }
  cudnnHandle_t cudnn() const { return cudnn_; }
  cublasHandle_t cublas() const { return cublas_; }
  std::string describe() const;

  // cudaMalloc; out of memory becomes an error saying how much was requested and how much is free.
  void* allocate_bytes(size_t bytes);
  // Waits for the stream (the memory may still be in use by queued work), then frees. Never throws: it runs from
  // destructors; a failure is reported on stderr.
  void free_bytes(void* p) noexcept;
  size_t free_memory() const;
  void synchronize();

  void* workspace() const { return workspace_; }
  size_t workspace_size() const { return workspace_bytes_; }
  void grow_workspace(size_t bytes);  // no-op when already that large
  void* scratch(size_t bytes);        // valid until the next call; contents undefined

 private:
  void release() noexcept;

  int device_ = 0;
  cudaDeviceProp props_{};
  bool allow_tf32_ = false;
  cudaStream_t stream_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
};

// Version numbers as the libraries encode them (cuDNN 9: 91900, cuBLAS: 130100, CUDA: 13000) -> "9.19.0" etc.
std::string format_cudnn_version(size_t version);
std::string format_cublas_version(int version);
std::string format_cuda_version(int version);
// The out-of-memory message, separate so that it can be tested without a GPU.
std::string out_of_memory_message(size_t requested, size_t free_bytes, size_t total_bytes, const std::string& device);

}  // namespace stfpm::gpu
