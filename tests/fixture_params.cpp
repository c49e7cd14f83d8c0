#include "fixture_params.h"

#include <cmath>
#include <stdexcept>

namespace stfpm::test {

namespace {

constexpr uint64_t kFnvOffset = 0xCBF29CE484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001B3ull;

enum class Kind { conv_weight, bn_weight, bn_bias, running_mean, running_var, input };

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Kind kind_of(const std::string& name, const Shape& shape) {
  if (name == "input") return Kind::input;
  if (ends_with(name, ".running_mean")) return Kind::running_mean;
  if (ends_with(name, ".running_var")) return Kind::running_var;
  if (ends_with(name, ".weight") && shape.rank() == 4) return Kind::conv_weight;
  if (ends_with(name, ".weight") && shape.rank() == 1) return Kind::bn_weight;
  if (ends_with(name, ".bias") && shape.rank() == 1) return Kind::bn_bias;
  throw std::invalid_argument("fixture_values: no value rule for tensor '" + name + "' of shape " + shape.str());
}

uint64_t stream_base(const std::string& name, uint64_t seed) { return (fnv1a64(name) ^ seed) * kFnvPrime; }

// 24 random bits scaled by 2^-24: exact in float32.
float to_unit(uint64_t bits) { return float(splitmix64(bits) >> 40) * (1.0f / 16777216.0f); }

}  // namespace

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a64(const std::string& bytes) {
  uint64_t h = kFnvOffset;
  for (unsigned char b : bytes) h = (h ^ b) * kFnvPrime;
  return h;
}

float fixture_uniform(const std::string& name, uint64_t seed, uint64_t index) {
  return to_unit(stream_base(name, seed) + index);
}

std::vector<float> fixture_values(const std::string& name, const Shape& shape, uint64_t seed) {
  const Kind kind = kind_of(name, shape);
  const uint64_t base = stream_base(name, seed);
  // Division and square root in double, rounded to float once, as tools/fixture_params.py does.
  float scale = 0.0f;
  if (kind == Kind::conv_weight) scale = float(std::sqrt(6.0 / double(shape[0] * shape[2] * shape[3])));
  // Each value below is one float operation on exact operands (2u - 1 is exact), so no contraction into a fused
  // multiply-add can change the result.
  std::vector<float> v(size_t(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    const float u = to_unit(base + i);
    switch (kind) {
      case Kind::conv_weight: v[i] = (2.0f * u - 1.0f) * scale; break;
      case Kind::bn_weight:
      case Kind::running_var: v[i] = 0.5f + u; break;
      case Kind::bn_bias: v[i] = 0.2f * (2.0f * u - 1.0f); break;
      case Kind::running_mean: v[i] = 0.1f * (2.0f * u - 1.0f); break;
      case Kind::input: v[i] = 2.0f * (2.0f * u - 1.0f); break;
    }
  }
  return v;
}

}  // namespace stfpm::test
