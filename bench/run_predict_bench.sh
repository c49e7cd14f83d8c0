#!/usr/bin/env bash
# `stfpm predict` beside PyTorch doing the same work (tools/torch_predict_peer.py), in one invocation: images/s
# and peak resident memory at each batch size.
#   bench/run_predict_bench.sh MODEL_DIR CATEGORY LIST [batches...]      (default batches: 1 8 32)
# MODEL_DIR/CATEGORY holds a trained student (any: neither speed nor memory depends on the weights); LIST is a
# text file of image paths. REPEAT runs of each (default 3); the table gives the median images/s and the largest
# peak RSS. Ours is timed over the whole `stfpm predict --no_images` process (start-up and loading included);
# PyTorch from its first decode to its last score (its import and model construction left out). Both favour
# PyTorch.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
model_dir=$1 category=$2 list=$3
shift 3
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(1 8 32)
repeat=${REPEAT:-3}
source "$(dirname "$0")/process_bench_common.sh"
images=$(grep -c . "$list")

echo "machine: $cpu_name, $threads threads; $images images" >&2
printf '%-6s %12s %14s %8s %12s %14s\n' batch "stfpm img/s" "pytorch img/s" speedup "stfpm MB" "pytorch MB" > "$tmp/table"
for b in "${batches[@]}"; do
  for r in $(seq "$repeat"); do
    /usr/bin/time -f '%e %M' -o "$tmp/ours.time" "$build/stfpm" predict --category "$category" \
      --model_dir "$model_dir" --teacher "$teacher" --images "$list" --no_images --batch_size "$b" \
      --threads "$threads" --device cpu --results_dir "$tmp/results" > /dev/null 2>&1
    read -r seconds kb < "$tmp/ours.time"
    echo "$images $seconds" | awk '{print $1 / $2}' >> "$tmp/ours.ips.$b"
    echo "$kb" >> "$tmp/ours.kb.$b"
    /usr/bin/time -f '%M' -o "$tmp/peer.time" "$python" "$here/tools/torch_predict_peer.py" --images "$list" \
      --batch "$b" --threads "$threads" --teacher "$teacher" > "$tmp/peer.json"
    "$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['images_per_s'])" "$tmp/peer.json" \
      >> "$tmp/peer.ips.$b"
    cat "$tmp/peer.time" >> "$tmp/peer.kb.$b"
  done
  ours=$(median < "$tmp/ours.ips.$b") peer=$(median < "$tmp/peer.ips.$b")
  ours_mb=$(sort -n "$tmp/ours.kb.$b" | tail -1) peer_mb=$(sort -n "$tmp/peer.kb.$b" | tail -1)
  echo "$b $ours $peer $ours_mb $peer_mb" | awk '{printf "%-6s %12.2f %14.2f %7.2fx %12d %14d\n", $1, $2, $3, $2 / $3, $4 / 1024, $5 / 1024}' \
    >> "$tmp/table"
done
cat "$tmp/table"
