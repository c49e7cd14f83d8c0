#include "core/backend.h"

#include <stdexcept>

#include "core/backend_module.h"

namespace stfpm {

void Backend::conv_bn_forward_eval(float* y, const float* x, const float* w, const ConvGeometry& g,
                                   const BatchNormEval& bn, bool relu) {
  conv_forward(y, x, w, g);
  batchnorm_forward_eval(y, y, bn.gamma, bn.beta, bn.running_mean, bn.running_var, g.out_dims(), bn.eps);
  if (relu) relu_forward(y, y, g.out_dims().count());
}

void Backend::run_side_by_side(const std::function<void(Backend&)>& first,
                               const std::function<void(Backend&)>& second) {
  first(*this);
  second(*this);
}

namespace {
const BackendModule* linked_cuda = nullptr;  // set by static initializers, before main
}  // namespace

void set_linked_cuda_module(const BackendModule* module) { linked_cuda = module; }
const BackendModule* linked_cuda_module() { return linked_cuda; }

const char* device_name(DeviceKind kind) { return kind == DeviceKind::cuda ? "cuda" : "cpu"; }

DeviceKind parse_device(const std::string& s) {
  if (s == "cpu") return DeviceKind::cpu;
  if (s == "cuda" || s == "gpu") return DeviceKind::cuda;
  throw std::invalid_argument("unknown device '" + s + "' (expected cpu or cuda)");
}

}  // namespace stfpm
