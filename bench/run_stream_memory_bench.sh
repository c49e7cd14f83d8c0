#!/usr/bin/env bash
# Bounded memory: peak RSS of `stfpm predict` and `stfpm test` (both --no_images) on a category's test images and
# on the same images repeated COPIES times (default 8; a category of symlinks, names prefixed by the copy), at one
# batch size. Streamed, the peaks should not grow with the number of images.
#   bench/run_stream_memory_bench.sh DATA_DIR CATEGORY MODEL_DIR [batch (default 8)]
# MODEL_DIR/CATEGORY holds a trained student (any; `test` runs first and leaves the thresholds `predict` needs).
# The table gives images, seconds and peak RSS of each process.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
data_dir=$(cd "$1" && pwd) category=$2 model_dir=$(cd "$3" && pwd) batch=${4:-8}
copies=${COPIES:-8}
source "$(dirname "$0")/process_bench_common.sh"

# The repeated category: test/<defect>/<copy><stem>.png and its masks, and a model folder of its own (test writes
# thresholds.h5 there).
src=$data_dir/$category
big=$tmp/data/${category}_x$copies
for defect_dir in "$src"/test/*/; do
  defect=$(basename "$defect_dir")
  mkdir -p "$big/test/$defect"
  [ -d "$src/ground_truth/$defect" ] && mkdir -p "$big/ground_truth/$defect"
  for copy in $(seq 0 $((copies - 1))); do
    for image in "$defect_dir"*.png; do
      stem=$(basename "$image" .png)
      ln -s "$image" "$big/test/$defect/$copy$stem.png"
      [ -d "$src/ground_truth/$defect" ] && ln -s "$src/ground_truth/$defect/${stem}_mask.png" \
        "$big/ground_truth/$defect/$copy${stem}_mask.png"
    done
  done
done
mkdir -p "$tmp/models/${category}_x$copies"
cp "$model_dir/$category/student.h5" "$tmp/models/${category}_x$copies/"
cp -r "$model_dir/$category" "$tmp/models/$category"

# One timed stfpm process (seconds and kb set); a failing run shows its output.
run() {
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$build/stfpm" "$@" --teacher "$teacher" --no_images \
    --batch_size "$batch" --threads "$threads" --device cpu --results_dir "$tmp/results" > "$tmp/log" 2>&1 ||
    { cat "$tmp/log" >&2; exit 1; }
  read -r seconds kb < "$tmp/time"
}

echo "machine: $cpu_name, $threads threads; $src/test, batch $batch" >&2
printf '%-8s %-16s %8s %10s %10s\n' command category images seconds "peak MB" > "$tmp/table"
for name in "$category" "${category}_x$copies"; do
  dir=$data_dir
  [ "$name" = "$category" ] || dir=$tmp/data
  find "$dir/$name/test" -name '*.png' | sort > "$tmp/list.txt"
  images=$(wc -l < "$tmp/list.txt")
  run test --data_dir "$dir" --category "$name" --model_dir "$tmp/models"  # first: it leaves predict's thresholds
  echo "test $name $images $seconds $kb" >> "$tmp/rows"
  run predict --category "$category" --model_dir "$tmp/models" --images "$tmp/list.txt"
  echo "predict $name $images $seconds $kb" >> "$tmp/rows"
done
sort -s -k1,1 "$tmp/rows" | awk '{printf "%-8s %-16s %8d %10.2f %10d\n", $1, $2, $3, $4, $5 / 1024}' >> "$tmp/table"
cat "$tmp/table"
