# Sourced by the benchmarks that time whole processes beside a PyTorch peer (run_predict_bench.sh,
# run_test_bench.sh): where the program, the Python and the teacher are ($BUILD, $PYTHON, $TEACHER override them),
# the thread count, a temporary folder removed on exit, the CPU's name and a median of numbers on stdin.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$here/build}
python=${PYTHON:-/usr/bin/python3}
teacher=${TEACHER:-$here/../shared/weights/resnet18_imagenet.h5}
threads=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpu_name=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
