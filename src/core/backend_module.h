// A backend built as a separate shared object, loaded only when a run asks for it. The CUDA backend is one
// (cuda/module.cpp builds libstfpm_cuda.so; api/backends.cpp loads it): a program that never touches the GPU then
// needs neither the CUDA libraries installed nor the ~200 MB of memory cuBLAS and cuDNN occupy once loaded.
#pragma once

#include <memory>

#include "core/backend.h"

namespace stfpm {

// What the module exports, through one C function named kCudaModuleEntry returning a pointer to it.
struct BackendModule {
  // The build's STFPM_BACKEND_ABI (a hash of the backend interface's headers, set by CMake): a module built from
  // other headers would lay out Backend differently, so the loader refuses it.
  const char* abi;
  int (*device_count)();  // usable devices, 0 when there is no driver or device; never throws
  // Throws std::runtime_error naming the reason when the device cannot start.
  std::unique_ptr<Backend> (*make_backend)(const BackendOptions& options);
};
using BackendModuleEntry = const BackendModule* (*)();
constexpr const char* kCudaModuleEntry = "stfpm_cuda_module";

// Programs that link the CUDA backend's code themselves (the tests and GPU benchmarks call its kernels directly)
// register it before main, and make_backend uses that copy instead of loading the module: one CUDA runtime per
// process. nullptr when nothing registered.
void set_linked_cuda_module(const BackendModule* module);
const BackendModule* linked_cuda_module();

}  // namespace stfpm
