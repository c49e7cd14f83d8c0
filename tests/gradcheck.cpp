#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace stfpm::test {

bool check_gradient(const std::string& name, std::vector<float>& input, const std::vector<float>& analytic,
                    const std::function<double()>& objective, const GradCheck& opts,
                    const std::function<bool(size_t)>& skip) {
  const size_t n = input.size();
  const size_t stride = std::max<size_t>(1, n / opts.max_points);
  size_t checked = 0, failed = 0;
  for (size_t i = 0; i < n; i += stride) {
    if (skip && skip(i)) continue;
    const float original = input[i];
    input[i] = original + opts.step;
    const double plus = objective();
    input[i] = original - opts.step;
    const double minus = objective();
    input[i] = original;
    const double numeric = (plus - minus) / (2.0 * double(opts.step));
    const double a = analytic[i];
    const double scale = std::max({std::fabs(a), std::fabs(numeric), 1.0});
    ++checked;
    if (!(std::fabs(a - numeric) <= opts.tolerance * scale)) {
      if (failed < 5)
        std::fprintf(stderr, "%s[%zu]: analytic %.6g, numeric %.6g\n", name.c_str(), i, a, numeric);
      ++failed;
    }
  }
  if (failed) std::fprintf(stderr, "%s: %zu of %zu checked gradients wrong\n", name.c_str(), failed, checked);
  if (checked == 0) std::fprintf(stderr, "%s: no point checked\n", name.c_str());
  return failed == 0 && checked > 0;
}

double weighted_sum(const std::vector<float>& values, const std::vector<float>& weights) {
  double s = 0.0;
  for (size_t i = 0; i < values.size(); ++i) s += double(values[i]) * double(weights[i]);
  return s;
}

}  // namespace stfpm::test
