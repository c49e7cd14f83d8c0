#include "test_gpu_util.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace stfpm::test {

double normalized_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], b = expected[i];
    if (!std::isfinite(a) || !std::isfinite(b)) {
      const bool same = (std::isnan(a) && std::isnan(b)) || a == b;
      if (!same) return std::numeric_limits<double>::infinity();
      continue;
    }
    diff += (a - b) * (a - b);
    norm += b * b;
  }
  return norm > 0.0 ? diff / norm : diff;
}

bool nmse_close(const std::string& name, const std::vector<float>& actual, const std::vector<float>& expected,
                double tolerance) {
  const double err = normalized_error(actual, expected);
  const bool ok = err <= tolerance;  // false for NaN
  std::printf("  %-48s normalized error %.3g (tolerance %.0e)%s\n", name.c_str(), err, tolerance,
              ok ? "" : "  FAILED");
  if (!ok && actual.size() == expected.size()) {
    size_t worst = 0;
    double worst_err = -1.0;
    for (size_t i = 0; i < actual.size(); ++i) {
      double e = std::fabs(double(actual[i]) - double(expected[i]));
      if (std::isnan(e)) e = INFINITY;
      if (e > worst_err) worst_err = e, worst = i;
    }
    std::printf("    worst [%zu]: got %.8g expected %.8g (of %zu values)\n", worst, actual[worst], expected[worst],
                actual.size());
  }
  std::fflush(stdout);
  return ok;
}

BackendPair::BackendPair() : cpu(make_backend(DeviceKind::cpu)), gpu(make_backend(DeviceKind::cuda)) {}

Twin::Twin(BackendPair& b, const std::vector<float>& values) : cpu(*b.cpu, values.size()), gpu(*b.gpu, values.size()) {
  cpu.upload(values);
  gpu.upload(values);
}

Twin::Twin(BackendPair& b, size_t count) : cpu(*b.cpu, count), gpu(*b.gpu, count) {}

bool Twin::close(const std::string& name, double tolerance) const {
  return nmse_close(name, gpu.download(), cpu.download(), tolerance);
}

}  // namespace stfpm::test
