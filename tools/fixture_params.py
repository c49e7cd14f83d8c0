"""Deterministic parameters for the PyTorch parity fixture, bit-identical to tests/fixture_params.cpp.

ResNet-18's trunk has 2.8M parameters (11 MB), too much to commit, so tests/data/resnet18_reference.h5 stores only
probe values and both sides regenerate every tensor from a counter-based generator:

  splitmix64(x):  z = x + 0x9E3779B97F4A7C15
                  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
                  z = (z ^ (z >> 27)) * 0x94D049BB133111EB
                  return z ^ (z >> 31)                               (all arithmetic mod 2^64)
  stream(name, seed) = fnv1a64(UTF-8 bytes of name) ^ seed
  u(name, seed, i)   = float32(splitmix64(stream * 0x100000001B3 + i) >> 40) * 2^-24     in [0, 1), exact

i is the flat row-major index. Values, all float32, one rounding per written operation, no fused multiply-add:

  conv weight (rank 4, K x C x R x S):  (2u - 1) * scale,  scale = float32(sqrt(6.0 / (K*R*S)))  (sqrt and
                                        division in double, rounded to float32 once: sqrt(3) * sqrt(2 / fan_out),
                                        the uniform distribution with kaiming fan_out's standard deviation)
  bn weight (rank 1, "*.weight"):       0.5 + u
  bn bias ("*.bias"):                   float32(0.2) * (2u - 1)
  running_mean:                         float32(0.1) * (2u - 1)
  running_var:                          0.5 + u
  input (name "input"):                 2 * (2u - 1)

2u - 1 is exact in float32 (u has 24 significant bits), so each value is a single correctly rounded float32
operation on exact operands, and numpy and C++ agree bit for bit.
"""

import math

import numpy as np

_MASK = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


def fnv1a64(name):
    h = _FNV_OFFSET
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return h


def splitmix64(x):
    """Vectorized over a numpy uint64 array (array arithmetic wraps mod 2^64 without warnings)."""
    z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform(name, seed, indices):
    """u(name, seed, i) for every i in `indices` (an integer array), as float32."""
    base = ((fnv1a64(name) ^ (seed & _MASK)) * _FNV_PRIME) & _MASK
    counters = np.uint64(base) + np.asarray(indices, dtype=np.uint64)
    bits = splitmix64(counters) >> np.uint64(40)
    return bits.astype(np.float32) * np.float32(2.0 ** -24)


def kind_of(name, shape):
    """The value kind of a tensor: from the name's suffix and the rank, "input" being special."""
    if name == "input":
        return "input"
    if name.endswith(".running_mean"):
        return "running_mean"
    if name.endswith(".running_var"):
        return "running_var"
    if name.endswith(".weight") and len(shape) == 4:
        return "conv_weight"
    if name.endswith(".weight") and len(shape) == 1:
        return "bn_weight"
    if name.endswith(".bias") and len(shape) == 1:
        return "bn_bias"
    raise ValueError(f"fixture_params: no value rule for tensor '{name}' of shape {tuple(shape)}")


def values_at(name, shape, seed, indices):
    """Generator values of tensor `name` (of `shape`) at the flat indices `indices`, float32."""
    kind = kind_of(name, shape)
    u = uniform(name, seed, indices)
    one, two = np.float32(1.0), np.float32(2.0)
    if kind == "conv_weight":
        k, _, r, s = shape
        scale = np.float32(math.sqrt(6.0 / float(k * r * s)))
        return (two * u - one) * scale
    if kind in ("bn_weight", "running_var"):
        return np.float32(0.5) + u
    if kind == "bn_bias":
        return np.float32(0.2) * (two * u - one)
    if kind == "running_mean":
        return np.float32(0.1) * (two * u - one)
    return two * (two * u - one)  # input


def fixture_values(name, shape, seed):
    """The whole tensor, float32, of the given shape."""
    shape = tuple(int(d) for d in shape)
    numel = int(np.prod(shape, dtype=np.int64))
    return values_at(name, shape, seed, np.arange(numel, dtype=np.uint64)).reshape(shape)
