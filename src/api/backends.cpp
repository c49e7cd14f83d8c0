#include "api/backends.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/backend_module.h"
#include "core/files.h"
#include "cpu/cpu_backend.h"

namespace stfpm {
namespace {

#ifdef STFPM_WITH_CUDA
bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Where libstfpm_cuda.so may be, in order: $STFPM_CUDA_MODULE alone when set; beside the binary holding this code
// or the running program, and in the library folder relative to a program folder (an installed prefix, moved or
// not); then the configured install folder and this build tree.
std::vector<std::string> module_candidates() {
  if (const char* explicit_path = std::getenv("STFPM_CUDA_MODULE")) {
    const std::string path = explicit_path;
    return {path.find('/') == std::string::npos ? "./" + path : path};  // a file, never a library search
  }
  std::vector<std::string> paths;
  for (const std::string& folder : binary_folders()) {
    paths.push_back(folder + "/" STFPM_CUDA_MODULE_NAME);
    paths.push_back(folder + "/" STFPM_BIN_TO_LIB "/" STFPM_CUDA_MODULE_NAME);
  }
  paths.push_back(STFPM_CUDA_MODULE_INSTALLED);
  paths.push_back(STFPM_CUDA_MODULE_BUILT);
  return paths;
}

// Whether the machine has an NVIDIA driver at all (its control device, or WSL's GPU device): without one there is
// no GPU to find, and loading the module would only map cuBLAS and cuDNN (about 200 MB) for nothing.
bool has_gpu_driver() { return ::access("/dev/nvidiactl", F_OK) == 0 || ::access("/dev/dxg", F_OK) == 0; }
#endif

// The CUDA backend's entry points, or why there are none.
struct CudaModule {
  const BackendModule* module = nullptr;
  std::string error;
  bool found = false;  // a module file was there (so the error is worth telling even when cuda was not asked for)
};

// Loads the first candidate that loads and matches this build; when none does, the error is the first found
// file's (a module that exists but cannot load, for want of cuDNN say, is the likely answer), else "not found".
// Never unloaded: backends it made may live until exit.
CudaModule load_cuda_module() {
  if (const BackendModule* linked = linked_cuda_module()) return {linked, "", true};
#ifdef STFPM_WITH_CUDA
  const std::vector<std::string> candidates = module_candidates();
  std::string first_error;
  for (const std::string& path : candidates) {
    if (!is_file(path)) continue;
    std::string error;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      error = "the CUDA backend " + path + " could not be loaded: " + dlerror();
    } else {
      auto entry = reinterpret_cast<BackendModuleEntry>(dlsym(handle, kCudaModuleEntry));
      const BackendModule* module = entry ? entry() : nullptr;
      if (!module) {
        error = path + " is not an stfpm CUDA backend (no " + kCudaModuleEntry + ")";
      } else if (std::string(module->abi) != STFPM_BACKEND_FINGERPRINT) {
        error = path + " was built from another stfpm (backend interface " + module->abi + ", this one " +
                STFPM_BACKEND_FINGERPRINT + "): reinstall both from one build";
      } else {
        return {module, "", true};
      }
    }
    if (first_error.empty()) first_error = error;
  }
  if (!first_error.empty()) return {nullptr, first_error, true};
  std::string tried;
  for (const std::string& path : candidates) tried += (tried.empty() ? "" : ", ") + path;
  return {nullptr, "the CUDA backend " STFPM_CUDA_MODULE_NAME " was not found (looked for " + tried + ")", false};
#else
  return {nullptr, "this build has no CUDA backend (configure with nvcc and cuDNN present)", false};
#endif
}

const CudaModule& cuda_module() {
  static const CudaModule loaded = load_cuda_module();  // once, thread-safe
  return loaded;
}

}  // namespace

bool cuda_available() {
#ifdef STFPM_WITH_CUDA
  if (!linked_cuda_module() && !has_gpu_driver()) return false;
#endif
  const CudaModule& cuda = cuda_module();
  return cuda.module && cuda.module->device_count() > 0;
}

std::string cuda_unavailable_reason() {
#ifdef STFPM_WITH_CUDA
  if (!linked_cuda_module() && !has_gpu_driver()) return "";
#endif
  const CudaModule& cuda = cuda_module();
  return cuda.found && !cuda.module ? cuda.error : "";
}

DeviceKind default_device() { return cuda_available() ? DeviceKind::cuda : DeviceKind::cpu; }

std::unique_ptr<Backend> make_backend(DeviceKind kind, const BackendOptions& options) {
  if (kind == DeviceKind::cpu) return std::make_unique<CpuBackend>(options);
  const CudaModule& cuda = cuda_module();
  if (!cuda.module) throw std::runtime_error("--device cuda: " + cuda.error);
  return cuda.module->make_backend(options);
}

}  // namespace stfpm
