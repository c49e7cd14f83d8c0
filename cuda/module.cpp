// The entry point of libstfpm_cuda.so, the CUDA backend as a module: libstfpm looks it up by this name
// (kCudaModuleEntry) after loading the module, only when a run asks for the GPU. Everything else in the module is
// hidden (see CMakeLists.txt), so its copies of our core code never meet the program's.
#include "core/backend_module.h"
#include "cuda_backend.h"

extern "C" __attribute__((visibility("default"))) const stfpm::BackendModule* stfpm_cuda_module() {
  return stfpm::cuda_backend_module();
}
