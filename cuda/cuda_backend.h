// Entry points of the CUDA backend, callable from host-only C++ (no CUDA headers here).
#pragma once

#include <memory>

#include "core/backend.h"

namespace stfpm {

// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int cuda_device_count();
// The CUDA backend on options.device_index; throws std::runtime_error naming the reason when it cannot start.
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);

}  // namespace stfpm
