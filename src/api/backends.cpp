#include "api/backends.h"

#include <stdexcept>

#include "cpu/cpu_backend.h"
#ifdef STFPM_WITH_CUDA
#include "cuda_backend.h"
#endif

namespace stfpm {

bool cuda_available() {
#ifdef STFPM_WITH_CUDA
  return cuda_device_count() > 0;
#else
  return false;
#endif
}

DeviceKind default_device() { return cuda_available() ? DeviceKind::cuda : DeviceKind::cpu; }

std::unique_ptr<Backend> make_backend(DeviceKind kind, const BackendOptions& options) {
  if (kind == DeviceKind::cpu) return std::make_unique<CpuBackend>(options);
#ifdef STFPM_WITH_CUDA
  return make_cuda_backend(options);
#else
  throw std::runtime_error("--device cuda: this build has no CUDA backend (configure with nvcc and cuDNN present)");
#endif
}

}  // namespace stfpm
