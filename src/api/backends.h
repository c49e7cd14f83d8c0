// The backend factory: the one place that knows the concrete backends (the CPU backend always, the CUDA backend when
// this build has it), so core/ holds only the interface.
#pragma once

#include <memory>
#include <string>

#include "core/backend.h"

namespace stfpm {

// Whether this build has the CUDA backend and the machine a usable GPU (also declared in <stfpm/stfpm.h>).
bool cuda_available();
// The default device: cuda when available, else cpu.
DeviceKind default_device();
// Why a CUDA backend that is installed could not be used (it did not load, or came from another build), for a
// run that falls back to the CPU to say so; empty when there is none to tell (no module, no GPU driver).
std::string cuda_unavailable_reason();
// Creates a backend; throws std::runtime_error with the reason when the device is unusable.
std::unique_ptr<Backend> make_backend(DeviceKind kind, const BackendOptions& options = {});

}  // namespace stfpm
