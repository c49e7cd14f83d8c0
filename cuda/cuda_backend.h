// Entry points of the CUDA backend, callable from host-only C++ (no CUDA headers here).
#pragma once

#include <memory>

#include "core/backend.h"
#include "core/backend_module.h"

namespace stfpm {

// Number of usable CUDA devices; 0 when there is no driver or no GPU (never throws).
int cuda_device_count();
// The CUDA backend on options.device_index; throws std::runtime_error naming the reason when it cannot start.
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);
// Both, as the module exports them (module.cpp) or a program linking this code registers them (linked.cpp).
const BackendModule* cuda_backend_module();

}  // namespace stfpm
