// Per-kernel GPU benchmarks (SGEMM_CUDA style): for each of our kernels, version 0 is a cudaMemcpy moving the
// same number of bytes (the bandwidth ceiling), 1 the straightforward kernel, 2.. the improvements. Every version
// is checked against the CPU backend first; a wrong result makes the exit status 1.
//
//   bench_gpu_kernels [all|pyramid_loss|anomaly_map|sgd]...
#include <cstdio>
#include <cstring>
#include <exception>

#include "bench_util.h"

namespace stfpm::bench {
void bench_pyramid_loss(GpuBench& b);
void bench_anomaly_map(GpuBench& b);
void bench_sgd(GpuBench& b);
}  // namespace stfpm::bench

int main(int argc, char** argv) {
  using namespace stfpm::bench;
  try {
    if (!stfpm::cuda_available()) {
      std::fprintf(stderr, "bench_gpu_kernels: no CUDA device\n");
      return 2;
    }
    GpuBench b;
    auto wanted = [&](const char* name) {
      if (argc < 2) return true;
      for (int i = 1; i < argc; ++i)
        if (!std::strcmp(argv[i], name) || !std::strcmp(argv[i], "all")) return true;
      return false;
    };
    if (wanted("pyramid_loss")) bench_pyramid_loss(b);
    if (wanted("anomaly_map")) bench_anomaly_map(b);
    if (wanted("sgd")) bench_sgd(b);
    b.summary();
    return b.failures() ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu_kernels: %s\n", e.what());
    return 2;
  }
}
