// The error checks behind CUDA_CHECK, CUDNN_CHECK and CUBLAS_CHECK.
#include "check.h"

#include <stdexcept>

namespace stfpm::gpu {
namespace {

[[noreturn]] void fail(const std::string& what, const char* statement, const char* file, int line) {
  throw std::runtime_error(what + " in `" + statement + "` at " + file + ":" + std::to_string(line));
}

}  // namespace

std::string cuda_error_text(cudaError_t status) {
  return std::string("CUDA error ") + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")";
}

void check_cuda(cudaError_t status, const char* statement, const char* file, int line) {
  if (status == cudaSuccess) return;
  // Clears the runtime's last-error slot so a non-sticky error does not resurface at the next unrelated check.
  cudaGetLastError();
  fail(cuda_error_text(status), statement, file, line);
}

void check_cudnn(cudnnStatus_t status, const char* statement, const char* file, int line) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  // cuDNN 9 keeps a more specific message than the status name (which parameter was bad, and why).
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string what = std::string("cuDNN error ") + cudnnGetErrorString(status);
  if (detail[0]) what += std::string(" (") + detail + ")";
  fail(what, statement, file, line);
}

void check_cublas(cublasStatus_t status, const char* statement, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail(std::string("cuBLAS error ") + cublasGetStatusName(status) + " (" + cublasGetStatusString(status) + ")",
       statement, file, line);
}

}  // namespace stfpm::gpu
