#include "core/backend.h"

#include <stdexcept>

namespace stfpm {

const char* device_name(DeviceKind kind) { return kind == DeviceKind::cuda ? "cuda" : "cpu"; }

DeviceKind parse_device(const std::string& s) {
  if (s == "cpu") return DeviceKind::cpu;
  if (s == "cuda" || s == "gpu") return DeviceKind::cuda;
  throw std::invalid_argument("unknown device '" + s + "' (expected cpu or cuda)");
}

}  // namespace stfpm
