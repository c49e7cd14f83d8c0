#!/usr/bin/env bash
# Installs what stfpm needs from Debian's packages (Debian 12): the build (CMake, HDF5, stb, Catch2, nlohmann-json,
# OpenBLAS with OpenMP, libtiff), clang with libFuzzer and OpenMP for tools/fuzz.sh, headless Chromium (with a
# font) for the report.html test, and the Python tools the tests
# and fixtures use (numpy, h5py, PyTorch, torchvision, scikit-learn, SciPy, Pillow, for /usr/bin/python3). The CUDA
# toolkit with cuDNN is not installed here: the build uses it when it is present in /usr/local/cuda.
#   tools/setup.sh            install (as root, or through sudo)
#   tools/setup.sh --print    only print the package list
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libhdf5-dev libstb-dev catch2 libopenblas-openmp-dev libtiff-dev nlohmann-json3-dev
  clang libclang-rt-14-dev libomp-dev
  chromium fonts-dejavu-core
  python3-numpy python3-h5py python3-torch python3-torchvision python3-sklearn python3-scipy python3-pil
)
if [ "${1:-}" = "--print" ]; then
  echo "${packages[@]}"
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages are installed"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
