// A stand-in for libstfpm_cuda.so built from other headers: it exports the entry point with a backend interface
// fingerprint that is not this build's, which the loader must refuse (test_cli.cpp).
#include "core/backend_module.h"

namespace {
const stfpm::BackendModule fake{"not-this-build", nullptr, nullptr};
}  // namespace

extern "C" __attribute__((visibility("default"))) const stfpm::BackendModule* stfpm_cuda_module() { return &fake; }
