#!/usr/bin/env bash
# The GPU check, run on the GPU machine from the repository root, with .device/gpu_bundle.tar.xz carried along
# (bench/prepare_gpu_bundle.sh makes it on a machine without a GPU). It unpacks the bundle, finds cuDNN and cuBLAS
# (the CUDA toolkit's folders and the nvidia/*/lib folders of the Python site-packages), prints the GPU and the
# library versions, then runs, each under a timeout and within an overall budget:
#   the [cuda-host] and [gpu] tests, the per-kernel GPU benchmarks, and where present bench_train_step/bench_trunk
#   on cuda, a short training run on bottle, `stfpm profile` of both passes (CUDA events), and the PyTorch peer
#   (tools/bench_torch_step.py)
# and ends with a summary. Missing pieces are reported, not fatal. Rebuilding on the GPU machine is not attempted:
# it lacks the -dev packages (HDF5, OpenBLAS, libtiff headers) the build needs.
#
# Each [gpu] test case runs in its own process with CUDA_LAUNCH_BLOCKING=1 (a kernel fault is sticky for the rest
# of a process, and without blocking launches it surfaces at a later op); a failing case is run again under
# compute-sanitizer memcheck, which names the kernel and the access, and the first failure heads the summary.
#
#   bench/gpu_check.sh          (STFPM_GPU_CHECK_BUDGET=seconds, default 330; with $OUT set, the log goes to
#                                $OUT/gpu_check.log and the summary to $OUT/gpu_summary.txt)
set -u -o pipefail

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
BUNDLE=${STFPM_BUNDLE:-$REPO/.device/gpu_bundle.tar.xz}
WORK=${STFPM_GPU_WORK:-/tmp/stfpm_gpu}
BUDGET=${STFPM_GPU_CHECK_BUDGET:-330}
START=$SECONDS
# With $OUT, the script runs itself once more with its output piped through tee, and waits for it: the log is
# complete when this command returns (an `exec > >(tee ...)` would not wait for tee).
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && [ -z "${STFPM_GPU_CHECK_TEED:-}" ]; then
  STFPM_GPU_CHECK_TEED=1 "$SELF" "$@" 2>&1 | tee "$OUT/gpu_check.log"
  exit "${PIPESTATUS[0]}"
fi

SUMMARY=()
note() { SUMMARY+=("$1"); }

# step NAME LIMIT CMD...: runs CMD under `timeout`, capped by what is left of the budget; its output is shown and
# kept in $WORK/logs/NAME.log. Returns CMD's status (124 on timeout, 125 when the budget is spent).
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -lt 15 ]; then
    echo "=== $name: skipped, the ${BUDGET}s budget is spent"
    note "$name: NOT RUN (budget spent)"
    return 125
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo
  echo "=== $name (timeout ${limit}s)"
  local t0=$SECONDS
  timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$WORK/logs/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit status $rc after $((SECONDS - t0))s"
  case $rc in 124 | 137) note "$name: TIMED OUT after ${limit}s" ;; esac
  return "$rc"
}

echo "=== gpu_check: $(date -u +%Y-%m-%dT%H:%M:%SZ), repository $REPO"
if [ ! -f "$BUNDLE" ]; then
  echo "gpu_check: no bundle at $BUNDLE: run bench/prepare_gpu_bundle.sh first and carry .device" >&2
  exit 1
fi
rm -rf "$WORK"
mkdir -p "$WORK/logs"
# Python's lzma stands in where the machine has no xz.
if ! tar -C "$WORK" -xJf "$BUNDLE" 2>/dev/null; then
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$BUNDLE" "$WORK" ||
    { echo "gpu_check: cannot unpack $BUNDLE" >&2; exit 1; }
fi
BIN=$WORK/bundle/bin
SHARED_DATA=$WORK/bundle/shared
cat "$WORK/bundle/MANIFEST.txt"

# ---- where cuDNN, cuBLAS and the driver are -------------------------------------------------------------------
LIBDIRS=()
add_dir() { [ -d "$1" ] && LIBDIRS+=("$1"); }
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib \
         /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  add_dir "$d"
done
for site in $(timeout 30 python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
  for d in "$site"/nvidia/*/lib "$site"/nvidia/*/lib64; do add_dir "$d"; done
done
find_lib() {  # prints the first folder of LIBDIRS holding $1
  local d
  for d in "${LIBDIRS[@]}"; do [ -e "$d/$1" ] && { echo "$d"; return 0; }; done
  return 1
}
# Libraries not in those folders: one bounded search of the usual roots (never the whole file system, which can
# take minutes of the budget on a machine with large mounted data).
missing=()
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do find_lib "$lib" >/dev/null || missing+=("$lib"); done
if [ ${#missing[@]} -gt 0 ]; then
  pattern=()
  for lib in "${missing[@]}"; do pattern+=(-o -name "$lib"); done
  while read -r found; do add_dir "$(dirname "$found")"; done < <(timeout 15 find /usr/lib /usr/local /opt \
    -maxdepth 6 \( -false "${pattern[@]}" \) 2>/dev/null | sort -u)
  for lib in "${missing[@]}"; do find_lib "$lib" >/dev/null || note "$lib: NOT FOUND on this machine"; done
fi
# Only our binaries see the bundle's libraries: python3 and nvidia-smi keep their own. No empty entries (an empty
# entry in LD_LIBRARY_PATH means the current folder).
OUR_PATH=$(IFS=:; echo "$WORK/bundle/lib${LIBDIRS[*]:+:${LIBDIRS[*]}}")

echo
echo "=== GPU and libraries"
timeout 20 nvidia-smi || note "nvidia-smi: failed"
command -v nvcc >/dev/null && nvcc --version | tail -n 2
for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13 libcuda.so.1; do
  dir=$(find_lib "$lib") && echo "$lib -> $(readlink -f "$dir/$lib")"
done
echo "LD_LIBRARY_PATH for our binaries: $OUR_PATH"
# A bundle built against a newer libstdc++ than this machine has: fall back to the bundled one.
if LD_LIBRARY_PATH=$OUR_PATH "$BIN/stfpm_tests" --list-tags 2>&1 >/dev/null | grep -q "GLIBCXX\|CXXABI"; then
  echo "the system libstdc++ is too old for the bundle: using the bundled copy"
  OUR_PATH="$WORK/bundle/compat:$OUR_PATH"
fi
unresolved=$(LD_LIBRARY_PATH=$OUR_PATH ldd "$BIN/stfpm_tests" | grep "not found")
[ -n "$unresolved" ] && { echo "unresolved libraries:"; echo "$unresolved"; note "libraries NOT FOUND: $(echo $unresolved)"; }
# The tests locate their fixtures through the source path compiled in; make it resolve here when it does not.
src=$(grep -a -o -m 1 '/[[:alnum:]_./-]*/tests/data' "$BIN/stfpm_tests" | head -n 1 | sed 's|/tests/data$||')
if [ -n "$src" ] && [ ! -e "$src" ]; then mkdir -p "$(dirname "$src")" && ln -s "$REPO" "$src" && echo "linked $src -> $REPO"; fi

OURS=(env LD_LIBRARY_PATH="$OUR_PATH" STFPM_SHARED="$SHARED_DATA")  # prefix of every command running our binaries
catch_result() {  # the Catch2 totals line of a log
  grep -E "^(All tests passed|test cases:)" "$WORK/logs/$1.log" | tail -n 1
}

# ---- tests ----------------------------------------------------------------------------------------------------
step cuda_host_tests 60 "${OURS[@]}" "$BIN/stfpm_tests" "[cuda-host]"
rc=$?
note "[cuda-host] tests: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (status $rc)") - $(catch_result cuda_host_tests)"
# Each case in its own process; STFPM_TEST_SKIP_CODE makes a case that finds no GPU end with 77 instead of passing
# silently. Catch2 reads commas, brackets, '*' and quotes in a test spec as syntax, so the names are escaped.
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -n 1)
mapfile -t GPU_CASES < <("${OURS[@]}" "$BIN/stfpm_tests" --list-test-names-only "[gpu]" 2>/dev/null | grep -v '^ *$')
passed=0 failed=0 skipped=0 not_run=0 first_failure=""
for i in "${!GPU_CASES[@]}"; do
  name=${GPU_CASES[$i]}
  spec=$(printf '%s' "$name" | sed 's/[][,*"\\]/\\&/g')
  step "gpu_case_$i" 60 "${OURS[@]}" CUDA_LAUNCH_BLOCKING=1 STFPM_TEST_SKIP_CODE=77 "$BIN/stfpm_tests" "$spec" \
    --durations yes
  rc=$?
  [ "$rc" -ne 125 ] && grep -q "^No tests ran" "$WORK/logs/gpu_case_$i.log" && rc=3  # matched nothing: no pass
  case $rc in
    0) passed=$((passed + 1)) ;;
    77) skipped=$((skipped + 1)) ;;
    125) not_run=$((not_run + 1)) ;;
    *) failed=$((failed + 1))
       why=$(grep -m 1 -E "FAILED|error|CUDA|cuDNN|cuBLAS" "$WORK/logs/gpu_case_$i.log")
       [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why="timed out"
       note "  FAIL (status $rc): $name: $why"
       # memcheck names the kernel and the access of the first real failure (a timeout would only time out again,
       # and one rerun is what the budget allows).
       if [ -z "$first_failure" ] && [ -n "$SANITIZER" ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ]; then
         step "gpu_case_${i}_memcheck" 120 "${OURS[@]}" "$SANITIZER" --tool memcheck --error-exitcode 99 \
           --print-limit 5 "$BIN/stfpm_tests" "$spec"
         while read -r l; do note "    memcheck: $l"; done < <(grep -E "^========= (Invalid|Program hit|Error|  at)" \
           "$WORK/logs/gpu_case_${i}_memcheck.log" | head -n 6)
       fi
       [ -z "$first_failure" ] && first_failure="$name (status $rc): $why" ;;
  esac
done
note "[gpu] tests: ${#GPU_CASES[@]} cases, $passed passed, $failed failed, $skipped skipped, $not_run not run (budget)"
[ ${#GPU_CASES[@]} -eq 0 ] && note "[gpu] tests: NONE LISTED (the test binary did not start?)"
[ "$skipped" -gt 0 ] && note "[gpu] tests: skipped cases saw no usable GPU (see their logs)"

# ---- kernel benchmarks -----------------------------------------------------------------------------------------
step gpu_kernels 150 "${OURS[@]}" "$BIN/bench_gpu_kernels" all
rc=$?
note "kernel benchmarks: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (status $rc)")"
while read -r l; do note "    $l"; done < <(grep -E "^copy ceiling|^  target|^summary" "$WORK/logs/gpu_kernels.log")

# ---- end to end, where the pieces exist ----------------------------------------------------------------------
for bench in bench_train_step bench_trunk; do
  if [ -x "$BIN/$bench" ]; then
    step "$bench" 150 "${OURS[@]}" "$BIN/$bench" --device cuda --batch 32 --size 256
    rc=$?
    note "$bench --device cuda: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (status $rc)") $(grep -m 1 '^{' "$WORK/logs/$bench.log")"
  else
    note "$bench: not in the bundle"
  fi
done
if [ -x "$BIN/stfpm" ]; then
  step train_bottle 200 "${OURS[@]}" "$BIN/stfpm" train --device cuda --data_dir "$SHARED_DATA/data/mvtec_ad_256" \
    --category bottle --epochs 10 --teacher "$SHARED_DATA/weights/resnet18_imagenet.h5" \
    --model_dir "$WORK/models" --results_dir "$WORK/results" --no_images
  rc=$?
  metrics=$(find "$WORK/results" -name metrics.json 2>/dev/null | head -n 1)
  note "stfpm train bottle (10 epochs, cuda): $([ $rc -eq 0 ] && echo PASS || echo "FAIL (status $rc)")"
  if [ -n "$metrics" ]; then
    echo "--- $metrics"
    cat "$metrics"
    [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$metrics" "$OUT/bottle_metrics.json"
    note "    $(tr -d ' \n' <"$metrics" | cut -c 1-300)"
  fi
  # The profile's CUDA event timing has never run on a GPU: one short run of each pass, its table kept.
  for pass in infer train; do
    step "profile_$pass" 60 "${OURS[@]}" "$BIN/stfpm" profile --device cuda --pass "$pass" --batch_size 32 \
      --steps 3 --warmup 1 --by_op --teacher "$SHARED_DATA/weights/resnet18_imagenet.h5"
    rc=$?
    note "stfpm profile --pass $pass --device cuda: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (status $rc)") $(grep -m 1 '^step' "$WORK/logs/profile_$pass.log")"
    [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$WORK/logs/profile_$pass.log" "$OUT/profile_$pass.txt"
  done
else
  note "stfpm: not in the bundle"
fi
if [ -f tools/bench_torch_step.py ]; then
  step torch_peer 150 python3 tools/bench_torch_step.py --device cuda --batch 32 --size 256
  rc=$?
  note "PyTorch peer: $([ $rc -eq 0 ] && echo PASS || echo "FAIL (status $rc)") $(grep -m 1 '^{' "$WORK/logs/torch_peer.log")"
else
  note "tools/bench_torch_step.py: not in the repository"
fi

echo
echo "=== summary ($((SECONDS - START))s)"
{
  [ -n "$first_failure" ] && echo "FIRST FAILURE: $first_failure"
  printf '%s\n' "${SUMMARY[@]}"
} | if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then tee "$OUT/gpu_summary.txt"; else cat; fi
