// Placeholder until the CUDA backend lands: reports the devices, refuses to start.
#include <cuda_runtime.h>

#include <stdexcept>

#include "cuda_backend.h"

namespace stfpm {

int cuda_device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions&) {
  throw std::runtime_error("the CUDA backend is not implemented yet");
}

}  // namespace stfpm
