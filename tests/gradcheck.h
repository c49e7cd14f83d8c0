// Finite-difference gradient checking for the CPU ops (Caffe's checker: central differences, tolerance scaled
// by max(|analytic|, |numeric|, 1), points near a kink skipped by the caller).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace stfpm::test {

struct GradCheck {
  float step = 1e-2f;          // perturbation of one input value
  double tolerance = 1e-2;     // |analytic - numeric| <= tolerance * max(|analytic|, |numeric|, 1)
  size_t max_points = 300;     // checked indices, spread evenly over the vector
};

// Perturbs each checked element of `input` by +-step, evaluates `objective` (which must read `input`), and
// compares (f(x+h) - f(x-h)) / 2h with analytic[i]. skip(i) true leaves index i out (kinks).
// Returns whether every checked point passed; prints the failures with `name`.
bool check_gradient(const std::string& name, std::vector<float>& input, const std::vector<float>& analytic,
                    const std::function<double()>& objective, const GradCheck& opts = {},
                    const std::function<bool(size_t)>& skip = nullptr);

// sum_i weights[i] * values[i], in double: the scalar objective whose gradient w.r.t. values is `weights`.
double weighted_sum(const std::vector<float>& values, const std::vector<float>& weights);

}  // namespace stfpm::test
