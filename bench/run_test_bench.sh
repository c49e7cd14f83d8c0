#!/usr/bin/env bash
# `stfpm test` beside the PyTorch reference's test phase (tools/torch_test_peer.py), in one invocation: seconds and
# peak resident memory at each batch size.
#   bench/run_test_bench.sh DATA_DIR CATEGORY MODEL_DIR [batches...]      (default batches: 1 8 32)
# MODEL_DIR/CATEGORY holds a trained student (any: neither speed nor memory depends on the weights). REPEAT runs of
# each (default 1); the table gives the median seconds and the largest peak RSS. Ours is the whole `stfpm test
# --no_images` process (start-up, loading, metrics, reports); PyTorch from its first decode to its metrics (its
# import and model construction left out), which favours PyTorch.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,8p' "$0" >&2; exit 2; }
data_dir=$1 category=$2 model_dir=$3
shift 3
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(1 8 32)
repeat=${REPEAT:-1}
source "$(dirname "$0")/process_bench_common.sh"

echo "machine: $cpu_name, $threads threads; $data_dir/$category/test" >&2
printf '%-6s %10s %12s %8s %12s %14s\n' batch "stfpm s" "pytorch s" speedup "stfpm MB" "pytorch MB" > "$tmp/table"
for b in "${batches[@]}"; do
  for r in $(seq "$repeat"); do
    /usr/bin/time -f '%e %M' -o "$tmp/ours.time" "$build/stfpm" test --data_dir "$data_dir" --category "$category" \
      --model_dir "$model_dir" --teacher "$teacher" --no_images --batch_size "$b" --threads "$threads" \
      --device cpu --results_dir "$tmp/results" > "$tmp/ours.out" 2>&1
    read -r seconds kb < "$tmp/ours.time"
    echo "$seconds" >> "$tmp/ours.s.$b"
    echo "$kb" >> "$tmp/ours.kb.$b"
    /usr/bin/time -f '%M' -o "$tmp/peer.time" "$python" "$here/tools/torch_test_peer.py" --data_dir "$data_dir" \
      --category "$category" --batch "$b" --threads "$threads" --teacher "$teacher" > "$tmp/peer.json"
    "$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['seconds'])" "$tmp/peer.json" >> "$tmp/peer.s.$b"
    cat "$tmp/peer.time" >> "$tmp/peer.kb.$b"
  done
  ours=$(median < "$tmp/ours.s.$b") peer=$(median < "$tmp/peer.s.$b")
  ours_mb=$(sort -n "$tmp/ours.kb.$b" | tail -1) peer_mb=$(sort -n "$tmp/peer.kb.$b" | tail -1)
  echo "$b $ours $peer $ours_mb $peer_mb" | awk '{printf "%-6s %10.2f %12.2f %7.2fx %12d %14d\n", $1, $2, $3, $3 / $2, $4 / 1024, $5 / 1024}' \
    >> "$tmp/table"
done
cat "$tmp/table"
