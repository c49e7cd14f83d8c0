#include "api/backends.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/backend_module.h"
#include "cpu/cpu_backend.h"

namespace stfpm {
namespace {

#ifdef STFPM_WITH_CUDA
bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Where libstfpm_cuda.so may be, in order: $STFPM_CUDA_MODULE alone when set; beside the binary holding this code
// (the program with a static libstfpm, or libstfpm.so), and the library folder relative to a program folder (an
// installed prefix, moved or not); then the configured install folder and this build tree.
std::vector<std::string> module_candidates() {
  if (const char* explicit_path = std::getenv("STFPM_CUDA_MODULE")) return {explicit_path};
  std::vector<std::string> paths;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&module_candidates), &info) && info.dli_fname) {
    std::string dir = info.dli_fname;
    const size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "." : dir.substr(0, slash);
    paths.push_back(dir + "/" STFPM_CUDA_MODULE_NAME);
    paths.push_back(dir + "/" STFPM_BIN_TO_LIB "/" STFPM_CUDA_MODULE_NAME);
  }
  paths.push_back(STFPM_CUDA_MODULE_INSTALLED);
  paths.push_back(STFPM_CUDA_MODULE_BUILT);
  return paths;
}
#endif

// The CUDA backend's entry points, or why there are none.
struct CudaModule {
  const BackendModule* module = nullptr;
  std::string error;
};

// Loads the first candidate that exists (a module that exists but cannot load, for want of cuDNN say, is the
// answer: its error is reported rather than hidden behind an older copy elsewhere). Never unloaded: backends it
// made may live until exit.
CudaModule load_cuda_module() {
  if (const BackendModule* linked = linked_cuda_module()) return {linked, ""};
#ifdef STFPM_WITH_CUDA
  const std::vector<std::string> candidates = module_candidates();
  for (const std::string& path : candidates) {
    if (!is_file(path)) continue;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return {nullptr, "the CUDA backend " + path + " could not be loaded: " + dlerror()};
    auto entry = reinterpret_cast<BackendModuleEntry>(dlsym(handle, kCudaModuleEntry));
    const BackendModule* module = entry ? entry() : nullptr;
    if (!module) return {nullptr, path + " is not an stfpm CUDA backend (no " + kCudaModuleEntry + ")"};
    if (std::string(module->abi) != STFPM_BACKEND_ABI)
      return {nullptr, path + " was built from another stfpm (backend interface " + module->abi + ", this one " +
                           STFPM_BACKEND_ABI + "): reinstall both from one build"};
    return {module, ""};
  }
  std::string tried;
  for (const std::string& path : candidates) tried += (tried.empty() ? "" : ", ") + path;
  return {nullptr, "the CUDA backend " STFPM_CUDA_MODULE_NAME " was not found (looked for " + tried + ")"};
#else
  return {nullptr, "this build has no CUDA backend (configure with nvcc and cuDNN present)"};
#endif
}

const CudaModule& cuda_module() {
  static const CudaModule loaded = load_cuda_module();  // once, thread-safe
  return loaded;
}

}  // namespace

bool cuda_available() {
  const CudaModule& cuda = cuda_module();
  return cuda.module && cuda.module->device_count() > 0;
}

DeviceKind default_device() { return cuda_available() ? DeviceKind::cuda : DeviceKind::cpu; }

std::unique_ptr<Backend> make_backend(DeviceKind kind, const BackendOptions& options) {
  if (kind == DeviceKind::cpu) return std::make_unique<CpuBackend>(options);
  const CudaModule& cuda = cuda_module();
  if (!cuda.module) throw std::runtime_error("--device cuda: " + cuda.error);
  return cuda.module->make_backend(options);
}

}  // namespace stfpm
