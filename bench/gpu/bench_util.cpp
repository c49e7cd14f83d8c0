#include "bench_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>

#include "check.h"

namespace stfpm::bench {

GpuBench::GpuBench() : cpu_(make_backend(DeviceKind::cpu)), gpu_(make_backend(DeviceKind::cuda)) {
  cuda_ = dynamic_cast<gpu::CudaBackend*>(gpu_.get());
  CUDA_CHECK(cudaEventCreate(&start_));
  CUDA_CHECK(cudaEventCreate(&stop_));
  std::printf("device: %s\ncpu oracle: %s\n", gpu_->describe().c_str(), cpu_->describe().c_str());
  const size_t bytes = size_t(1) << 30;
  copy_gbps_ = 2.0 * double(bytes) / (copy_ms(bytes) * 1e-3) / 1e9;
  std::printf("copy ceiling: cudaMemcpy device-to-device of 1 GiB moves %.0f GB/s (read + write)\n", copy_gbps_);
}

GpuBench::~GpuBench() {
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
}

double GpuBench::time_ms(const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    CUDA_CHECK(cudaEventRecord(start_, stream()));
    fn();
    CUDA_CHECK(cudaEventRecord(stop_, stream()));
    CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

double GpuBench::copy_ms(size_t bytes) {
  Buffer a(*gpu_, (bytes + 3) / 4), b(*gpu_, (bytes + 3) / 4);
  return time_ms([&] {
    CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, stream()));
  });
}

void GpuBench::header(const std::string& title) {
  std::printf("\n== %s\n%-14s %-34s %-30s %10s %9s %8s\n", title.c_str(), "kernel", "version", "shape", "time_us",
              "GB/s", "of_copy");
}

void GpuBench::row(const std::string& kernel, const std::string& version, const std::string& shape, double ms,
                   double bytes) {
  const double gbps = bytes / (ms * 1e-3) / 1e9;
  std::printf("%-14s %-34s %-30s %10.1f %9.0f %7.0f%%\n", kernel.c_str(), version.c_str(), shape.c_str(), ms * 1e3,
              gbps, 100.0 * gbps / copy_gbps_);
  std::fflush(stdout);
}

void GpuBench::check(const std::string& what, bool ok) {
  ++checks_;
  if (!ok) ++failures_;
  std::printf("  check %-70s %s\n", what.c_str(), ok ? "ok" : "WRONG RESULT");
}

void GpuBench::target(const std::string& what, double ms, double bytes, double fraction) {
  const double share = bytes / (ms * 1e-3) / 1e9 / copy_gbps_;
  ++targets_;
  if (share >= fraction) ++targets_met_;
  std::printf("  target %-69s %.0f%% of copy (target %.0f%%): %s\n", what.c_str(), 100.0 * share, 100.0 * fraction,
              share >= fraction ? "met" : "NOT met");
}

void GpuBench::summary() const {
  std::printf("\nsummary: %d of %d correctness checks passed, %d of %d bandwidth targets met\n",
              checks_ - failures_, checks_, targets_met_, targets_);
}

std::string dims_str(const Dims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w);
}

std::vector<float> random_values(size_t n, uint64_t seed, float lo, float hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

double normalized_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  if (actual.size() != expected.size()) return std::numeric_limits<double>::infinity();
  double diff = 0.0, norm = 0.0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], b = expected[i];
    if (!std::isfinite(a) || !std::isfinite(b)) return std::numeric_limits<double>::infinity();
    diff += (a - b) * (a - b);
    norm += b * b;
  }
  return norm > 0.0 ? diff / norm : diff;
}

}  // namespace stfpm::bench
