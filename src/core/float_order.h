// Floats as 32-bit keys whose unsigned order is the float order: radix sorts and histograms of scores (the
// evaluator, the heatmap ranges) work on these, and equal scores have equal keys.
#pragma once

#include <cstdint>
#include <cstring>

namespace stfpm {

// -0 maps like +0. NaN has no place in the order: callers reject or skip it first.
inline uint32_t float_key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if (u == 0x80000000u) u = 0;  // -0 == +0 as scores
  // Negative floats order backwards as unsigned integers: flip all their bits; set the sign bit of the others.
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

inline float key_float(uint32_t key) {
  uint32_t u = (key & 0x80000000u) ? (key & 0x7fffffffu) : ~key;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace stfpm
