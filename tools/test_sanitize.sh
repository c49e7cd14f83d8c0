#!/usr/bin/env bash
# The CPU build under AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer (-fno-sanitize-recover:
# the first report fails the test) in build-asan/, running the whole CPU test suite. Left out: CUDA (nothing runs it
# here), the weight converter's Python test and its C++ twin (no code of ours under the sanitizers that the other
# teacher tests do not run), and consumer_project (it links the instrumented static library into a program built
# without the sanitizer runtime; the normal and shared builds run it).
#   tools/test_sanitize.sh [ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTFPM_CUDA=OFF \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build build-asan -j"$(nproc)" --target stfpm stfpm_tests
cd build-asan
# A huge malloc inside libhdf5 (sizes read from a corrupt file, tests/data/fuzz_regressions/hdf5/) returns NULL as
# it does outside the sanitizer, and libhdf5 reports the error; our own code allocates with new, which still reports.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/../tools/lsan_suppressions.txt:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ctest --output-on-failure -j"$(nproc)" -E '^(gpu:|convert_weights_py|converted_teacher_cpp|consumer_project)' "$@"
