// The CUDA context: device, stream, library handles, workspace and scratch memory.
#include "context.h"

#include <cstdio>
#include <stdexcept>

#include "check.h"

namespace stfpm::gpu {
namespace {

std::string mib(size_t bytes) { return std::to_string((bytes + (size_t(1) << 19)) >> 20) + " MiB"; }

}  // namespace

std::string format_cudnn_version(size_t v) {
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

std::string format_cublas_version(int v) {
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

std::string format_cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

std::string out_of_memory_message(size_t requested, size_t free_bytes, size_t total_bytes, const std::string& device) {
  return "CUDA out of memory on " + device + ": requested " + mib(requested) + ", " + mib(free_bytes) +
         " free of " + mib(total_bytes) + " (try a smaller --batch_size)";
}

Context::Context(const BackendOptions& options) : device_(options.device_index), allow_tf32_(options.allow_tf32) {
  CUDA_CHECK(cudaSetDevice(device_));
  CUDA_CHECK(cudaGetDeviceProperties(&props_, device_));
  // The legacy API we use is in every cuDNN 9; a cuDNN 8 found first on the library path would fail obscurely.
  if (cudnnGetVersion() / 10000 != CUDNN_MAJOR)
    throw std::runtime_error("cuDNN " + format_cudnn_version(cudnnGetVersion()) + " was loaded, but this build needs cuDNN " +
                             std::to_string(CUDNN_MAJOR) + ".x (check LD_LIBRARY_PATH)");
  try {
    // Non-blocking: our stream does not serialize against the legacy default stream other code may use.
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUDNN_CHECK(cudnnCreate(&cudnn_));
    CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
    CUBLAS_CHECK(cublasCreate(&cublas_));
    CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    // Strict FP32 unless TF32 was asked for; convolutions choose their math type per algorithm (conv.cpp).
    CUBLAS_CHECK(cublasSetMathMode(cublas_, allow_tf32_ ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH));
    scratch_ = allocate_bytes(kInitialScratch);
    scratch_bytes_ = kInitialScratch;
  } catch (...) {
    release();  // whatever was created before the failure
    throw;
  }
}

Context::~Context() { release(); }

void Context::release() noexcept {
  if (stream_) cudaStreamSynchronize(stream_);
  if (workspace_) cudaFree(workspace_);
  if (scratch_) cudaFree(scratch_);
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (stream_) cudaStreamDestroy(stream_);
  workspace_ = scratch_ = nullptr;
  cublas_ = nullptr;
  cudnn_ = nullptr;
  stream_ = nullptr;
}

std::string Context::describe() const {
  int runtime = 0, driver = 0, cublas = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  cublasGetVersion(cublas_, &cublas);
  return "cuda:" + std::to_string(device_) + " " + props_.name + " (sm_" + std::to_string(props_.major) +
         std::to_string(props_.minor) + ", " + std::to_string(props_.multiProcessorCount) + " SMs, " +
         mib(props_.totalGlobalMem) + "), CUDA runtime " + format_cuda_version(runtime) + ", driver " +
         format_cuda_version(driver) + ", cuDNN " + format_cudnn_version(cudnnGetVersion()) + ", cuBLAS " +
         format_cublas_version(cublas) + ", " + (allow_tf32_ ? "TF32 allowed" : "strict FP32");
}

void* Context::allocate_bytes(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return p;
  const cudaError_t status = cudaMalloc(&p, bytes);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky: clear it so later checks do not report it again
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    throw std::runtime_error(
        out_of_memory_message(bytes, free_bytes, total, "cuda:" + std::to_string(device_) + " " + props_.name));
  }
  CUDA_CHECK(status);
  return p;
}

void Context::free_bytes(void* p) noexcept {
  if (!p) return;
  cudaError_t status = cudaStreamSynchronize(stream_);
  if (status == cudaSuccess) status = cudaFree(p);
  if (status != cudaSuccess) std::fprintf(stderr, "warning: freeing GPU memory: %s\n", cuda_error_text(status).c_str());
}

size_t Context::free_memory() const {
  size_t free_bytes = 0, total = 0;
  return cudaMemGetInfo(&free_bytes, &total) == cudaSuccess ? free_bytes : 0;
}

void Context::synchronize() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

// The larger block is allocated before the old one is freed: when it does not fit, allocate_bytes throws and the
// old workspace (which the cuDNN plans were sized for) is still in place.
void Context::grow_workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return;
  void* grown = allocate_bytes(bytes);
  free_bytes(workspace_);
  workspace_ = grown;
  workspace_bytes_ = bytes;
}

void* Context::scratch(size_t bytes) {
  if (bytes > scratch_bytes_) {
    const size_t size = bytes + bytes / 2;  // headroom so that slowly growing needs do not reallocate each time
    void* grown = allocate_bytes(size);     // before freeing the old block, as in grow_workspace
    free_bytes(scratch_);
    scratch_ = grown;
    scratch_bytes_ = size;
  }
  return scratch_;
}

}  // namespace stfpm::gpu
