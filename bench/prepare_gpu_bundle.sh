#!/usr/bin/env bash
# Prepares what a GPU session needs, on this machine (no GPU required): builds the CUDA binaries for sm_90 in
# build-gpu/, then packs into .device/gpu_bundle.tar.xz (git-ignored):
#   bin/     stfpm_tests, bench_gpu_kernels, and bench_train_step, bench_trunk, stfpm where those targets exist,
#            and libstfpm_cuda.so, the CUDA backend stfpm loads from beside itself
#   lib/     the shared libraries `ldd` lists that the GPU machine may lack (hdf5, openblas, tiff, gomp and their
#            dependencies); not the driver, CUDA runtime, cuBLAS, cuDNN or the C/C++ runtime, which come from there
#   compat/  this machine's libstdc++ and libgcc_s, used there only if the binaries need a newer libstdc++
#   shared/  the teacher weights and the 256x256 bottle category (as ../shared lays them out)
# and checks that the packed binaries start from the unpacked bundle ([cuda-host] tests). bench/gpu_check.sh
# unpacks and runs it on the GPU machine; name .device in the device tool's `carry`.
#
#   bench/prepare_gpu_bundle.sh            (JOBS=N for the build's parallelism, STFPM_SHARED for ../shared)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${STFPM_SHARED:-$REPO/../shared}
BUILD=$REPO/build-gpu
DEST=$REPO/.device
BUNDLE=$DEST/gpu_bundle.tar.xz
LIMIT_MIB=58   # the whole carried tree (repository + bundle) must stay under 64 MiB
JOBS=${JOBS:-2}

for f in "$SHARED/weights/resnet18_imagenet.h5" "$SHARED/data/mvtec_ad_256/bottle"; do
  [ -e "$f" ] || { echo "prepare_gpu_bundle: $f is missing (set STFPM_SHARED)" >&2; exit 1; }
done

echo "== configure and build in $BUILD (CUDA on, sm_90)"
cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTFPM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
available=$(cmake --build "$BUILD" --target help | awk '{print $2}')
targets=()
for t in stfpm_tests bench_gpu_kernels bench_train_step bench_trunk stfpm; do
  if grep -qx "$t" <<<"$available"; then targets+=("$t"); else echo "   (no target $t yet: left out)"; fi
done
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
B=$STAGE/bundle
mkdir -p "$B/bin" "$B/lib" "$B/compat" "$B/shared/weights" "$B/shared/data/mvtec_ad_256"

echo "== binaries"
for t in "${targets[@]}"; do
  path=$(find "$BUILD" -path "$BUILD/CMakeFiles" -prune -o -type f -name "$t" -perm -u+x -print | head -n 1)
  [ -n "$path" ] || { echo "prepare_gpu_bundle: built $t but cannot find it under $BUILD" >&2; exit 1; }
  cp "$path" "$B/bin/$t"
  strip --strip-unneeded "$B/bin/$t"
  echo "   $t ($(du -h "$B/bin/$t" | cut -f1))"
done

# The CUDA backend itself: stfpm loads it from beside the program (src/api/backends.cpp).
cp "$BUILD/libstfpm_cuda.so" "$B/bin/"
strip --strip-unneeded "$B/bin/libstfpm_cuda.so"
echo "   libstfpm_cuda.so ($(du -h "$B/bin/libstfpm_cuda.so" | cut -f1))"

echo "== shared libraries"
# Left out: the C runtime and loader, libstdc++/libgcc_s (compat/ keeps a copy), and everything CUDA: the GPU
# machine's driver, runtime, cuBLAS and cuDNN must match its hardware and driver.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libstdc\+\+\.so|libgcc_s\.so|libcuda\.so|libcudart|libcublas|libcudnn|libnvidia|libnvrtc|libnvJitLink)'
for bin in "$B"/bin/*; do ldd "$bin"; done | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r name path; do
    if [[ $name =~ $skip ]]; then continue; fi
    cp -L "$path" "$B/lib/$name"
  done
for name in libstdc++.so.6 libgcc_s.so.1; do
  cp -L "$(ldd "$B/bin/stfpm_tests" | awk -v n="$name" '$1 == n {print $3}')" "$B/compat/$name"
done
echo "   $(ls "$B/lib" | wc -l) libraries, $(du -sh "$B/lib" | cut -f1) uncompressed"

echo "== data"
cp "$SHARED/weights/resnet18_imagenet.h5" "$B/shared/weights/"
cp -r "$SHARED/data/mvtec_ad_256/bottle" "$B/shared/data/mvtec_ad_256/"

{
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
       "(plus uncommitted changes: $(git -C "$REPO" status --porcelain 2>/dev/null | wc -l) paths)"
  echo "nvcc: $(/usr/local/cuda/bin/nvcc --version | tail -n 1)"
  echo "cuDNN headers: $(awk '/define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{printf "%s ", $3}' /usr/local/cuda/include/cudnn_version.h)"
  echo "targets: ${targets[*]}"
} >"$B/MANIFEST.txt"

echo "== packing"
mkdir -p "$DEST"
tar -C "$STAGE" -cf - bundle | xz -T0 -6 >"$BUNDLE.tmp"
mv "$BUNDLE.tmp" "$BUNDLE"
size=$(stat -c %s "$BUNDLE")
echo "   $BUNDLE: $((size / 1048576)) MiB ($size bytes)"
if [ "$size" -gt $((LIMIT_MIB * 1048576)) ]; then
  echo "prepare_gpu_bundle: the bundle is over $LIMIT_MIB MiB; the device tool carries 64 MiB in all" >&2
  exit 1
fi

echo "== checking the packed binaries start from the unpacked bundle"
CHECK=$(mktemp -d)
tar -C "$CHECK" -xJf "$BUNDLE"
missing=$(LD_LIBRARY_PATH="$CHECK/bundle/lib" ldd "$CHECK/bundle/bin/stfpm_tests" | grep "not found" || true)
[ -z "$missing" ] || { echo "prepare_gpu_bundle: unresolved libraries: $missing" >&2; exit 1; }
LD_LIBRARY_PATH="$CHECK/bundle/lib" "$CHECK/bundle/bin/stfpm_tests" "[cuda-host]"
rm -rf "$CHECK"
echo "ready: carry .device to the GPU machine and run bench/gpu_check.sh there"
