#!/bin/bash
# Pooled pixel ROC-AUC and AUPRO on 6 million scores (92 maps of 256x256 with blob-shaped defects): the C++
# evaluator beside scikit-learn's roc_auc_score and the numpy/scipy AUPRO oracle, on the same data in one run.
# The peer script writes the data and its own timings to a temporary HDF5 file; bench_metrics reads both, times
# ours (median of REPEAT runs), checks the values agree and prints the speedups.
# Usage: bench/run_metrics_bench.sh [BUILD_DIR]   (default: build; env REPEAT=7, PEER_REPEAT=3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bench="$build/bench/bench_metrics"
if [ ! -x "$bench" ]; then
  echo "run_metrics_bench.sh: $bench is missing; build it: cmake --build $build --target bench_metrics" >&2
  exit 1
fi
data=$(mktemp /tmp/stfpm_metrics_bench.XXXXXX.h5)
trap 'rm -f "$data"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 "$root/tools/bench_metrics_peer.py" "$data" --repeat "${PEER_REPEAT:-3}"
"$bench" "$data" "${REPEAT:-7}"
