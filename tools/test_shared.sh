#!/usr/bin/env bash
# The shared-library build (-DBUILD_SHARED_LIBS=ON, CPU only to keep CI short) in build-shared/: the library tests
# and the consumer project against its installed prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-shared -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DSTFPM_CUDA=OFF > /dev/null
cmake --build build-shared -j"$(nproc)" --target stfpm stfpm_tests
cd build-shared
ctest --output-on-failure -j"$(nproc)" -R '^(api|recipe|consumer_project|cli)' "$@"
