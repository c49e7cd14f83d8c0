#!/usr/bin/env bash
# Configures (once) and builds stfpm in ./build (Release; the CUDA backend when nvcc and cuDNN are found).
# Extra arguments go to the CMake configure step, e.g. tools/build.sh -DSTFPM_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/CMakeCache.txt ] || [ $# -gt 0 ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build build -j"$(nproc)"
