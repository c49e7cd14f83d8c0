#!/usr/bin/env bash
# The libFuzzer targets (fuzz/): builds them with clang, AddressSanitizer and UBSan in build-fuzz/, replays the
# inputs that once crashed them (tests/data/fuzz_regressions/<target>/), then fuzzes each target for SECONDS
# (default 20, the CI smoke run) starting from its seed corpus (fuzz/corpus/<target>/) and the inputs found by
# earlier runs here (build-fuzz/corpus/<target>/). A crash, sanitizer report, leak, timeout (10 s) or memory blow-up
# (2 GiB used) stops that target, keeps the input in build-fuzz/artifacts/<target>/ and fails the script.
#   tools/fuzz.sh [SECONDS] [TARGET ...]     targets: image mask tiff hdf5 cli (default: all)
#   FUZZ_KEEP_GOING=1 tools/fuzz.sh 600 ...  long runs: libFuzzer's fork mode goes on after a crash and keeps every
#                                            crashing input (triage them by hand; the script then fails)
# The hdf5 target's smoke run only replays its seeds: mutation reaches crashes inside Debian's libhdf5 1.10.8
# within seconds (fuzz/libhdf5_crashes/), which are not ours to fix and would fail CI at random. Its long runs
# mutate like the others.
# Reproduce a finding: build-fuzz/fuzz/fuzz_<target> <input file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS must be a number, got '$seconds' (tools/fuzz.sh [SECONDS] [TARGET ...])" >&2; exit 2; }
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image mask tiff hdf5 cli)
command -v clang++ > /dev/null || { echo "fuzz: clang++ not found (tools/setup.sh installs clang)" >&2; exit 1; }

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then  # set when several runs share one build
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSTFPM_FUZZ=ON -DSTFPM_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    > /dev/null
  cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
fi

export OMP_NUM_THREADS=1
# A huge malloc returns NULL, as it does outside the sanitizer: libhdf5 allocates sizes read from the file and
# handles the NULL as an error. Our code allocates with operator new, which still reports.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tools/lsan_suppressions.txt:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
declare -A max_len=([image]=16384 [mask]=16384 [tiff]=16384 [hdf5]=131072 [cli]=1024)
status=0
for t in "${targets[@]}"; do
  binary=build-fuzz/fuzz/fuzz_$t
  corpus=build-fuzz/corpus/$t
  artifacts=build-fuzz/artifacts/$t/
  rm -rf "$artifacts"  # the findings of this target's last run here
  mkdir -p "$corpus" "$artifacts"
  regressions=(tests/data/fuzz_regressions/"$t"/*)
  if [ -e "${regressions[0]}" ]; then
    echo "fuzz $t: replaying ${#regressions[@]} regression input(s)"
    "$binary" -artifact_prefix="$artifacts" "${regressions[@]}" > "build-fuzz/fuzz_$t.replay.log" 2>&1 || {
      tail -40 "build-fuzz/fuzz_$t.replay.log"; status=1; continue; }
  fi
  # -malloc_limit_mb: single allocations are left to the sanitizer (above); the RSS limit catches memory used.
  options=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1048576 -max_len="${max_len[$t]}" -print_final_stats=1
           -artifact_prefix="$artifacts")
  if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    options+=(-max_total_time="$seconds" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
    echo "fuzz $t: ${seconds} s, going on after crashes (log: build-fuzz/fuzz_$t.log)"
  elif [ "$t" = hdf5 ]; then
    options+=(-runs=0)
    echo "fuzz $t: replaying the seed corpus only (see above; log: build-fuzz/fuzz_$t.log)"
  else
    # A fixed seed: the same build runs the same inputs, so a smoke run does not pass or fail by chance.
    options+=(-max_total_time="$seconds" -seed="${FUZZ_SEED:-1}")
    echo "fuzz $t: ${seconds} s, seed ${FUZZ_SEED:-1} (log: build-fuzz/fuzz_$t.log)"
  fi
  if "$binary" "${options[@]}" "$corpus" "fuzz/corpus/$t" > "build-fuzz/fuzz_$t.log" 2>&1 &&
     [ -z "$(ls -A "$artifacts" | grep -v '^slow-unit-')" ]; then  # a slow input is kept, not a failure
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov:" "build-fuzz/fuzz_$t.log" | tail -3
  else
    echo "fuzz $t: FAILED, input kept in $artifacts" >&2
    grep -A40 -E "==ERROR|runtime error|Sanitizer|deadly signal|timeout|out-of-memory" "build-fuzz/fuzz_$t.log" | head -60 >&2 || true
    status=1
  fi
done
exit $status
