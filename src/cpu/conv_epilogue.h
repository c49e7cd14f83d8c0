// A fused eval-mode BatchNorm (and ReLU) applied as a convolution writes its output (conv_bn_forward_eval):
// output channel k's values become v * scale[k] + shift[k], then v < 0 ? 0 : v with ReLU (NaN passes), the
// very arithmetic of batchnorm_forward_eval and relu_forward, so fused and separate ops give the same numbers.
#pragma once

#include <cstddef>

namespace stfpm {

struct ConvEpilogue {
  const float* scale = nullptr;  // (K)
  const float* shift = nullptr;  // (K)
  bool relu = false;

  float operator()(int k, float v) const {
    v = v * scale[k] + shift[k];
    return relu && v < 0.0f ? 0.0f : v;
  }
  // count values of channel k, in place.
  void apply(int k, float* v, size_t count) const {
    const float a = scale[k], b = shift[k];
    if (relu) {
      for (size_t i = 0; i < count; ++i) {
        const float u = v[i] * a + b;
        v[i] = u < 0.0f ? 0.0f : u;
      }
    } else {
      for (size_t i = 0; i < count; ++i) v[i] = v[i] * a + b;
    }
  }
};

}  // namespace stfpm
