#!/usr/bin/env bash
# The installed package, as a user meets it: `cmake --install` the build into a fresh prefix, build the consumer
# project (tests/consumer) against it with find_package(stfpm), then, from a folder outside the source tree and
# without $STFPM_TEACHER, train a tiny model with the installed `stfpm` (which must find the installed teacher)
# and judge an image with the consumer (teacher: the model folder's teacher.h5); its output must equal
# `stfpm predict`'s line for the same image.
#   consumer_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
# Exits 77 (skipped) after the build when no teacher was installed (none in weights/ or ../shared/weights/).
set -euo pipefail
build=$1 source=$2 work=$3
# The README shows tests/consumer/main.cpp as its example: keep them the same.
python3 - "$source/README.md" "$source/tests/consumer/main.cpp" <<'PY' || exit 1
import sys
readme, example = open(sys.argv[1]).read(), open(sys.argv[2]).read()
if "```cpp\n" + example + "```" not in readme:
    sys.exit("README.md does not show tests/consumer/main.cpp as its C++ example")
PY
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
test -f "$prefix/include/stfpm/stfpm.h" || { echo "no header in the installed prefix"; exit 1; }
cmake -S "$source/tests/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/consumer" > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
if [ ! -f "$prefix/share/stfpm/resnet18_imagenet.h5" ]; then
  echo "consumer built; no teacher was installed, so it is not run"
  exit 77
fi

cd "$work"   # no weights/ or ../shared/ here: the installed teacher must be found
unset STFPM_TEACHER
stfpm=$prefix/bin/stfpm
"$stfpm" synth --data_dir data --size 64 > /dev/null
# A small dataset: 6 training images are enough to exercise the path.
find data/synthetic/train/good -name '*.png' | sort | tail -n +7 | xargs rm -f
"$stfpm" train --data_dir data --category synthetic --size 64 --epochs 1 --device cpu --no_images \
  > train.log 2>&1 || { cat train.log; exit 1; }
grep -q "teacher: $prefix/[a-z]*/../share/stfpm/resnet18_imagenet.h5" train.log \
  || { echo "the installed program did not use the installed teacher:"; grep teacher: train.log; exit 1; }
# The consumer program lives outside the prefix: it finds the teacher in the model folder (a self-contained model
# folder is how a model is deployed).
ln -s "$prefix/share/stfpm/resnet18_imagenet.h5" models/synthetic/teacher.h5
image=data/synthetic/test/hole/000.png
"$work/consumer/consumer" models/synthetic "$image" > consumer.out
if "$work/consumer/consumer" models/missing "$image" 2> error.out; then echo "a missing model folder passed"; exit 1; fi
grep -q "models/missing/student.h5" error.out || { echo "unclear error: $(cat error.out)"; exit 1; }
"$stfpm" predict --category synthetic --images "$image" --no_images > predict.out 2> predict.log
echo "consumer: $(cat consumer.out)"
echo "predict:  $(cat predict.out)"
# Same image, model, threshold and (default) device: the same line.
cmp -s consumer.out predict.out || { echo "the consumer and stfpm predict disagree"; exit 1; }
echo "consumer test passed"
