#!/usr/bin/env bash
# The STFPM training step, ours beside PyTorch's, in one invocation: batch 8 and 32 at 256x256 by default.
#   bench/run_train_step_bench.sh [build-dir] [device] [batches...]
# PASS=infer times the inference step instead (upload, both forwards in eval mode, anomaly map, download).
# Each line of output is one JSON result; the table at the end gives images/s and our speed-up over PyTorch.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
device=${2:-cpu}
shift $(( $# > 2 ? 2 : $# )) || true
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(8 32)
threads=$(nproc)
python=${PYTHON:-/usr/bin/python3}
iters=${ITERS:-5}
pass=${PASS:-train}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $threads threads; device $device; $pass pass" >&2
printf '%-6s %14s %14s %9s\n' batch "stfpm img/s" "pytorch img/s" speedup > /tmp/stfpm_bench_table.$$
for b in "${batches[@]}"; do
  ours=$("$build/bench/bench_train_step" --pass "$pass" --device "$device" --batch "$b" --iters "$iters" \
         --threads "$threads")
  echo "$ours"
  peer=$("$python" "$here/tools/bench_torch_step.py" --pass "$pass" --device "$device" --batch "$b" --iters "$iters" \
         --threads "$threads")
  echo "$peer"
  "$python" - "$ours" "$peer" >> /tmp/stfpm_bench_table.$$ <<'PY'
import json, sys
o, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{o['batch']:<6} {o['images_per_s']:14.2f} {p['images_per_s']:14.2f} {o['images_per_s'] / p['images_per_s']:8.2f}x")
PY
done
cat /tmp/stfpm_bench_table.$$
rm -f /tmp/stfpm_bench_table.$$
