// Deterministic parameters for the PyTorch parity fixture, bit-identical to tools/fixture_params.py (which
// documents the generator and the value rules). tests/data/resnet18_reference.h5 stores no parameters: the parity
// test regenerates every teacher (seed 1) and student (seed 2) tensor and the input (seed 3) with fixture_values().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace stfpm::test {

uint64_t splitmix64(uint64_t x);
uint64_t fnv1a64(const std::string& bytes);
// u(name, seed, i) in [0, 1), a multiple of 2^-24.
float fixture_uniform(const std::string& name, uint64_t seed, uint64_t index);
// Every value of tensor `name`, row-major. The rule comes from the name's suffix and the rank: conv weight (rank 4
// "*.weight"), BN weight (rank 1 "*.weight"), BN bias, running_mean, running_var, or "input". Throws
// std::invalid_argument for any other name or shape.
std::vector<float> fixture_values(const std::string& name, const Shape& shape, uint64_t seed);

}  // namespace stfpm::test
