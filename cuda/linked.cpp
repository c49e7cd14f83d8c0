// Linked into the programs that call the CUDA backend's code directly (the tests and GPU benchmarks, through
// stfpm_internal): registers that code before main, so make_backend uses it instead of loading libstfpm_cuda.so,
// and the backends those programs get are the very CudaBackend type they cast to.
#include "core/backend_module.h"
#include "cuda_backend.h"

namespace {

struct RegisterLinkedCuda {
  RegisterLinkedCuda() { stfpm::set_linked_cuda_module(stfpm::cuda_backend_module()); }
} register_linked_cuda;

}  // namespace
