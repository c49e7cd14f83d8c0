// Helpers of the GPU-vs-CPU tests: a CPU and a CUDA backend side by side, the same values on both, and the
// ggml-style normalized error sum((a - b)^2) / sum(b^2) between the GPU result and the CPU oracle.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/backends.h"
#include "core/backend.h"
#include "core/tensor.h"

namespace stfpm::test {

// sum((actual - expected)^2) / sum(expected^2); the plain sum of squares when expected is all zeros. Elements
// that are NaN (or the same infinity) on both sides match; NaN or infinity on one side only gives +infinity.
double normalized_error(const std::vector<float>& actual, const std::vector<float>& expected);

// Prints "name: normalized error E (tolerance T)" and, when E is not within T, the worst element. NaN-safe.
bool nmse_close(const std::string& name, const std::vector<float>& actual, const std::vector<float>& expected,
                double tolerance);

struct BackendPair {
  BackendPair();  // the CPU backend and the CUDA backend on device 0
  std::unique_ptr<Backend> cpu, gpu;
};

// One tensor on both backends, with the same initial values.
struct Twin {
  Twin(BackendPair& b, const std::vector<float>& values);
  Twin(BackendPair& b, size_t count);  // zeros
  // Downloads both and compares the GPU copy with the CPU copy.
  bool close(const std::string& name, double tolerance) const;
  Buffer cpu, gpu;
};

}  // namespace stfpm::test
