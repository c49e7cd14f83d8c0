// The CUDA backend's entry points, construction, memory and convolution ops. Our kernels' ops are in ops.cpp.
#include "cuda_backend.h"

#include <nvtx3/nvToolsExt.h>

#include <stdexcept>

#include "check.h"
#include "cuda_backend_impl.h"

namespace stfpm {

int cuda_device_count() {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    cudaGetLastError();  // no driver or no device is an answer here, not an error to report later
    return 0;
  }
  return n;
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  int n = 0;
  const cudaError_t status = cudaGetDeviceCount(&n);
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error("--device cuda: no usable CUDA device (" + gpu::cuda_error_text(status) + ")");
  }
  if (n == 0) throw std::runtime_error("--device cuda: no CUDA device found");
  if (options.device_index < 0 || options.device_index >= n)
    throw std::runtime_error("--device cuda: device index " + std::to_string(options.device_index) +
                             " does not exist (" + std::to_string(n) + " device" + (n == 1 ? "" : "s") + ")");
  return std::make_unique<gpu::CudaBackend>(options);
}

const BackendModule* cuda_backend_module() {
  static const BackendModule module{STFPM_BACKEND_FINGERPRINT, &cuda_device_count, &make_cuda_backend};
  return &module;
}

namespace gpu {

NvtxRange::NvtxRange(const char* name) { nvtxRangePushA(name); }
NvtxRange::~NvtxRange() { nvtxRangePop(); }

CudaBackend::CudaBackend(const BackendOptions& options) : context_(options), plans_(context_) {}
CudaBackend::~CudaBackend() = default;

std::string CudaBackend::describe() const { return context_.describe(); }

float* CudaBackend::allocate(size_t count) {
  float* p = static_cast<float*>(context_.allocate_bytes(count * sizeof(float)));
  // Ordered before any later op on the stream, so the zeros are there when the memory is first read.
  if (p) CUDA_CHECK(cudaMemsetAsync(p, 0, count * sizeof(float), context_.stream()));
  return p;
}

void CudaBackend::release(float* p) { context_.free_bytes(p); }

void CudaBackend::upload(float* dst, const float* host_src, size_t count) {
  NvtxRange range("upload");
  if (!count) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, host_src, count * sizeof(float), cudaMemcpyHostToDevice, context_.stream()));
  // The caller may free or reuse host_src as soon as we return.
  context_.synchronize();
}

void CudaBackend::download(float* host_dst, const float* src, size_t count) {
  NvtxRange range("download");
  if (!count) return;
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src, count * sizeof(float), cudaMemcpyDeviceToHost, context_.stream()));
  context_.synchronize();
}

void CudaBackend::copy(float* dst, const float* src, size_t count) {
  if (!count || dst == src) return;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, count * sizeof(float), cudaMemcpyDeviceToDevice, context_.stream()));
}

void CudaBackend::synchronize() { context_.synchronize(); }

size_t CudaBackend::free_memory() const { return context_.free_memory(); }

namespace {

// A pair of CUDA events recorded on the backend's stream around the timed work; their elapsed time is the
// device's own, without the host's launch overhead or a synchronize's latency.
class EventTimer final : public DeviceTimer {
 public:
  explicit EventTimer(cudaStream_t stream) : stream_(stream) {
    CUDA_CHECK(cudaEventCreate(&begin_));
    if (cudaEventCreate(&end_) != cudaSuccess) {
      cudaEventDestroy(begin_);
      CUDA_CHECK(cudaGetLastError());
    }
  }
  ~EventTimer() override {
    cudaEventDestroy(begin_);
    cudaEventDestroy(end_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  void start() override { CUDA_CHECK(cudaEventRecord(begin_, stream_)); }
  void stop() override { CUDA_CHECK(cudaEventRecord(end_, stream_)); }
  double seconds() override {
    CUDA_CHECK(cudaEventSynchronize(end_));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, begin_, end_));
    return ms / 1000.0;
  }

 private:
  cudaStream_t stream_;
  cudaEvent_t begin_ = nullptr, end_ = nullptr;
};

}  // namespace

std::unique_ptr<DeviceTimer> CudaBackend::make_timer() {
  CUDA_CHECK(cudaSetDevice(context_.device()));
  return std::make_unique<EventTimer>(context_.stream());
}

void CudaBackend::prepare_conv(const ConvGeometry& g) {
  NvtxRange range("prepare_conv");
  plans_.prepare(g);
}

void CudaBackend::conv_forward(float* y, const float* x, const float* w, const ConvGeometry& g) {
  NvtxRange range("conv_forward");
  const ConvPlan& p = plans_.get(g);
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(context_.cudnn(), &one, p.x.get(), x, p.w.get(), w, p.forward_desc.get(),
                                      p.forward_algo, context_.workspace(), context_.workspace_size(), &zero,
                                      p.y.get(), y));
}

void CudaBackend::conv_backward_data(float* dx, const float* dy, const float* w, const ConvGeometry& g) {
  NvtxRange range("conv_backward_data");
  const ConvPlan& p = plans_.get(g);
  const float one = 1.0f, zero = 0.0f;  // beta 0: input gradients are overwritten
  CUDNN_CHECK(cudnnConvolutionBackwardData(context_.cudnn(), &one, p.w.get(), w, p.y.get(), dy, p.data_desc.get(),
                                           p.data_algo, context_.workspace(), context_.workspace_size(), &zero,
                                           p.x.get(), dx));
}

void CudaBackend::conv_backward_filter(float* dw, const float* dy, const float* x, const ConvGeometry& g) {
  NvtxRange range("conv_backward_filter");
  const ConvPlan& p = plans_.get(g);
  const float one = 1.0f;  // beta 1: parameter gradients accumulate
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(context_.cudnn(), &one, p.x.get(), x, p.y.get(), dy,
                                             p.filter_desc.get(), p.filter_algo, context_.workspace(),
                                             context_.workspace_size(), &one, p.w.get(), dw));
}

}  // namespace gpu
}  // namespace stfpm
