// The backend factory: the one place that knows the concrete backends (the CPU backend always, the CUDA backend when
// this build has it), so core/ holds only the interface.
#pragma once

#include <memory>

#include "core/backend.h"

namespace stfpm {

// Whether this build has the CUDA backend and the machine a usable GPU (also declared in <stfpm/stfpm.h>).
bool cuda_available();
// The default device: cuda when available, else cpu.
DeviceKind default_device();
// Creates a backend; throws std::runtime_error with the reason when the device is unusable.
std::unique_ptr<Backend> make_backend(DeviceKind kind, const BackendOptions& options = {});

}  // namespace stfpm
