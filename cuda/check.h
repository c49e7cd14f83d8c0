// Error checks for every CUDA runtime, cuDNN and cuBLAS call. Each macro evaluates the statement once and, when it
// fails, throws std::runtime_error naming the statement, the file and line, and the library's own message, e.g.
//   cuDNN error CUDNN_STATUS_BAD_PARAM (...) in `cudnnSetTensor4dDescriptor(...)` at cuda/conv_plans.cpp:42
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

namespace stfpm::gpu {

void check_cuda(cudaError_t status, const char* statement, const char* file, int line);
void check_cudnn(cudnnStatus_t status, const char* statement, const char* file, int line);
void check_cublas(cublasStatus_t status, const char* statement, const char* file, int line);

// "CUDA error cudaErrorInvalidValue (invalid argument)": the name and text of a runtime error, for messages that
// are not about one statement (device discovery).
std::string cuda_error_text(cudaError_t status);

}  // namespace stfpm::gpu

#define CUDA_CHECK(stmt) ::stfpm::gpu::check_cuda((stmt), #stmt, __FILE__, __LINE__)
#define CUDNN_CHECK(stmt) ::stfpm::gpu::check_cudnn((stmt), #stmt, __FILE__, __LINE__)
#define CUBLAS_CHECK(stmt) ::stfpm::gpu::check_cublas((stmt), #stmt, __FILE__, __LINE__)
