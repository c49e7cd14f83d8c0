#!/usr/bin/env bash
# Builds and runs every test (ctest): unit and gradient checks, PyTorch parity, the weight converter, data and
# reports, the command line, end to end on synthetic data, and the [gpu] tests (skipped without a GPU). Tests that
# need ../shared (the teacher, MVTec bottle) are reported as skipped when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
