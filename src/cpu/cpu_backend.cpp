// CPU backend: memory, construction, and the SGD update. The layers live in the sibling files.
#include "cpu/cpu_backend.h"
#include "cpu/gemm.h"
#include "cpu/vector_clones.h"

#include <cblas.h>
#include <omp.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

namespace stfpm {

// OpenBLAS's own thread count (used by sgemm outside our parallel regions, i.e. for a batch of one) is a process-wide
// setting: the last CPU backend created sets it.
CpuBackend::CpuBackend(const BackendOptions& options)
    : threads_(options.threads > 0 ? options.threads : omp_get_num_procs()), scratch_(threads_) {
  const TeamSize keep_callers(omp_get_max_threads());  // OpenBLAS's OpenMP build also sets the caller's team size
  openblas_set_num_threads(threads_);
  if (threads_ >= 2) {  // here, so that prepare_conv reaches them and release() reads them without a lock
    halves_[0] = std::unique_ptr<CpuBackend>(new CpuBackend(threads_ / 2, Half{}));
    halves_[1] = std::unique_ptr<CpuBackend>(new CpuBackend(threads_ - threads_ / 2, Half{}));
  }
}

CpuBackend::CpuBackend(int threads, Half) : threads_(threads), scratch_(threads_) {}

void CpuBackend::run_side_by_side(const std::function<void(Backend&)>& first,
                                  const std::function<void(Backend&)>& second) {
  // OpenBLAS (CPUs without AVX2 + FMA) is not called from two threads at once: its buffers are shared.
  if (!halves_[0] || !side_by_side_ || gemm_kernel() == GemmKernel::blas)
    return Backend::run_side_by_side(first, second);
  if (!worker_) worker_ = std::make_unique<WorkerThread>();
  worker_->start([&] { second(*halves_[1]); });
  std::exception_ptr error;
  try {
    first(*halves_[0]);
  } catch (...) {
    error = std::current_exception();
  }
  try {
    worker_->wait();  // rethrows the second's exception
  } catch (...) {
    if (!error) error = std::current_exception();  // the first's, when both threw
  }
  if (error) std::rethrow_exception(error);
}

CpuBackend::TeamSize::TeamSize(int threads) : saved(omp_get_max_threads()) { omp_set_num_threads(threads); }
CpuBackend::TeamSize::~TeamSize() { omp_set_num_threads(saved); }

std::string CpuBackend::describe() const {
  const GemmKernel gemm = gemm_kernel();
  static const char* const algorithms[] = {"Winograd", "im2col"};
  return "cpu (" + std::to_string(threads_) + " threads, sgemm: " +
         (gemm == GemmKernel::blas ? "OpenBLAS " + std::string(openblas_get_config())
                                   : std::string("ours, ") + gemm_kernel_name(gemm)) +
         ", 3x3 convolutions: " + algorithms[gemm == GemmKernel::blas ? 1 : int(conv_algorithm())] + ")";
}

float* CpuBackend::allocate(size_t count) {
  // 64-byte alignment keeps every row start friendly to AVX loads.
  size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p)
    throw std::runtime_error("out of host memory allocating " + std::to_string(bytes >> 20) +
                             " MiB (try a smaller --batch_size)");
  std::memset(p, 0, bytes);
  const std::lock_guard<std::mutex> lock(allocations_mutex_);
  allocations_[static_cast<float*>(p)] = count;
  return static_cast<float*>(p);
}

void CpuBackend::release(float* p) {
  if (!p) return;
  size_t count = 0;
  {
    const std::lock_guard<std::mutex> lock(allocations_mutex_);
    const auto it = allocations_.find(p);
    if (it != allocations_.end()) {
      count = it->second;
      allocations_.erase(it);
    }
  }
  winograd_.forget(p, p + count);  // a later allocation here holds other weights
  for (const std::unique_ptr<CpuBackend>& half : halves_)
    if (half) half->winograd_.forget(p, p + count);
  std::free(p);
}

size_t CpuBackend::cached_filter_bytes() {
  size_t bytes = winograd_.cache().stored_bytes();
  for (const std::unique_ptr<CpuBackend>& half : halves_)
    if (half) bytes += half->cached_filter_bytes();
  return bytes;
}

size_t CpuBackend::free_memory() const {
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : 0;
}

void CpuBackend::upload(float* dst, const float* host_src, size_t count) {
  std::memcpy(dst, host_src, count * sizeof(float));
}

void CpuBackend::download(float* host_dst, const float* src, size_t count) {
  std::memcpy(host_dst, src, count * sizeof(float));
}

void CpuBackend::copy(float* dst, const float* src, size_t count) {
  if (dst != src) std::memcpy(dst, src, count * sizeof(float));
}

namespace {

STFPM_VECTOR_CLONES void sgd(float* params, float* momentum_buf, const float* grads, size_t count, float lr,
                             float momentum, float weight_decay, bool first_step) {
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < count; ++i) {
    float g = grads[i] + weight_decay * params[i];
    float buf = first_step ? g : momentum * momentum_buf[i] + g;
    momentum_buf[i] = buf;
    params[i] -= lr * buf;
  }
}

}  // namespace

void CpuBackend::sgd_step(float* params, float* momentum_buf, const float* grads, size_t count, float lr,
                          float momentum, float weight_decay, bool first_step) {
  const TeamSize team(threads_);
  sgd(params, momentum_buf, grads, count, lr, momentum, weight_decay, first_step);
}

}  // namespace stfpm
