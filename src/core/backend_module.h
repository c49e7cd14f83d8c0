// A backend built as a separate shared object, loaded only when a run asks for it. The CUDA backend is one
// (cuda/module.cpp builds libstfpm_cuda.so; api/backends.cpp loads it): a program that never touches the GPU then
// needs neither the CUDA libraries installed nor the ~200 MB of memory cuBLAS and cuDNN occupy once loaded.
#pragma once

#include <memory>

#include "core/backend.h"

namespace stfpm {

// What the module exports, through one C function named kCudaModuleEntry returning a pointer to it.
struct BackendModule {
  // The build's STFPM_BACKEND_FINGERPRINT (below): a module built from other headers or by another compiler would
  // lay out Backend differently, so the loader refuses it.
  const char* abi;
  int (*device_count)();  // usable devices, 0 when there is no driver or device; never throws
  // Throws std::runtime_error naming the reason when the device cannot start.
  std::unique_ptr<Backend> (*make_backend)(const BackendOptions& options);
};
using BackendModuleEntry = const BackendModule* (*)();

// What BackendModule::abi holds: CMake's hash of the interface headers (STFPM_BACKEND_ABI, defined where this is
// used), the compiler and the C++ library ABI (std::string, std::vector and std::function cross the boundary).
#define STFPM_MODULE_STRINGIZE2(x) #x
#define STFPM_MODULE_STRINGIZE(x) STFPM_MODULE_STRINGIZE2(x)
#define STFPM_BACKEND_FINGERPRINT \
  STFPM_BACKEND_ABI " " __VERSION__ " cxx11abi=" STFPM_MODULE_STRINGIZE(_GLIBCXX_USE_CXX11_ABI)
constexpr const char* kCudaModuleEntry = "stfpm_cuda_module";

// Programs that link the CUDA backend's code themselves (the tests and GPU benchmarks call its kernels directly)
// register it before main, and make_backend uses that copy instead of loading the module: one CUDA runtime per
// process. nullptr when nothing registered.
void set_linked_cuda_module(const BackendModule* module);
const BackendModule* linked_cuda_module();

}  // namespace stfpm
