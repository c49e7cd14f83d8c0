// GPU vs CPU for the STFPM kernels: the pyramid loss (value and gradient) and the anomaly map (product and
// per-level maps), through the backend and through every numbered kernel version. Skipped without a GPU.
// Tolerances as in test_gpu_ops.cpp: 1e-10 normalized error for values summed in another order; the loss, one
// float from a double sum, within 1e-5 relative.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "api/backends.h"
#include "core/backend.h"
#include "test_gpu_util.h"
#include "test_util.h"
#ifdef STFPM_WITH_CUDA
#include "cuda_backend_impl.h"
#include "kernels.h"
#endif

using namespace stfpm;
using test::BackendPair;
using test::Twin;

#ifdef STFPM_WITH_CUDA

namespace {

std::string dims_name(const Dims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w);
}

// Teacher and student features of one level on both backends. The student is the teacher plus noise (as after
// some training: small distances, where precision matters). With zero_first_pixel, pixel 0 of image 0 is all zeros
// in both, so the normalization's eps clamp is exercised (distance 0, gradient 0, no NaN).
struct LevelTwin {
  LevelTwin(BackendPair& b, const Dims& d, uint64_t seed, bool zero_first_pixel = true)
      : dims(d), t(b, values(d, seed, false, zero_first_pixel)), s(b, values(d, seed, true, zero_first_pixel)) {}
  static std::vector<float> values(const Dims& d, uint64_t seed, bool student, bool zero_first_pixel) {
    std::vector<float> v = test::random_vector(d.count(), seed);
    if (student) {
      const std::vector<float> noise = test::random_vector(d.count(), seed + 1000, -0.3f, 0.3f);
      for (size_t i = 0; i < v.size(); ++i) v[i] += noise[i];
    }
    if (zero_first_pixel)
      for (int c = 0; c < d.c; ++c) v[size_t(c) * d.plane()] = 0.0f;
    return v;
  }
  FeaturePair cpu_pair() const { return {t.cpu.data(), s.cpu.data(), dims}; }
  FeaturePair gpu_pair() const { return {t.gpu.data(), s.gpu.data(), dims}; }
  Dims dims;
  Twin t, s;
};

bool loss_close(const std::string& name, float gpu, float cpu) {
  const double err = std::fabs(double(gpu) - double(cpu)), tol = 1e-5 * std::fabs(double(cpu)) + 1e-7;
  std::printf("  %-48s gpu %.9g cpu %.9g%s\n", name.c_str(), gpu, cpu, err <= tol ? "" : "  FAILED");
  return err <= tol;
}

const std::vector<Dims> kLevelShapes = {
    {2, 3, 7, 9},     // odd sizes
    {1, 5, 1, 1},     // 1x1 spatial (pixel 0 only: the clamp)
    {32, 16, 4, 4},   // batch 32, small spatial
    {2, 64, 16, 16},  // layer1-like
    {2, 256, 8, 8},   // layer3-like: 64 KiB of shared memory per block in version 2
    {1, 1000, 3, 3},  // too many channels for shared memory: version 2 falls back to version 1
};

}  // namespace

TEST_CASE("gpu: pyramid loss value and student gradient, all kernel versions", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  gpu::CudaBackend& cuda = static_cast<gpu::CudaBackend&>(*b.gpu);
  const size_t optin = cuda.context().properties().sharedMemPerBlockOptin;
  uint64_t seed = 1;
  for (const Dims& d : kLevelShapes) {
    LevelTwin f(b, d, seed++);
    const float alpha = 0.7f;
    Twin loss(b, std::vector<float>{1.5f}), grad(b, d.count());  // the loss accumulates onto 1.5
    b.cpu->pyramid_loss(loss.cpu.data(), grad.cpu.data(), f.cpu_pair(), alpha);
    b.gpu->pyramid_loss(loss.gpu.data(), grad.gpu.data(), f.gpu_pair(), alpha);
    const std::string tag = " " + dims_name(d);
    CHECK(loss_close("pyramid_loss value" + tag, loss.gpu.download()[0], loss.cpu.download()[0]));
    CHECK(grad.close("pyramid_loss grad_s" + tag, 1e-10));
    // Without a gradient buffer only the loss is computed.
    Twin loss_only(b, 1);
    b.cpu->pyramid_loss(loss_only.cpu.data(), nullptr, f.cpu_pair(), alpha);
    b.gpu->pyramid_loss(loss_only.gpu.data(), nullptr, f.gpu_pair(), alpha);
    CHECK(loss_close("pyramid_loss without gradient" + tag, loss_only.gpu.download()[0], loss_only.cpu.download()[0]));
    // Every kernel version against the same CPU result.
    for (int version = 1; version <= gpu::kPyramidVersions; ++version) {
      Buffer v_loss(*b.gpu, 1), v_grad(*b.gpu, d.count());
      Buffer scratch(*b.gpu, gpu::pyramid_loss_scratch_bytes(version, d, optin) / sizeof(float) + 2);
      gpu::launch_pyramid_loss(version, v_loss.data(), v_grad.data(), f.gpu_pair(), alpha, scratch.data(), optin,
                               cuda.context().stream());
      const std::string vtag = tag + " v" + std::to_string(gpu::pyramid_effective_version(version, d.c, optin));
      CHECK(loss_close("pyramid kernel loss" + vtag, v_loss.download()[0], loss_only.cpu.download()[0]));
      CHECK(test::nmse_close("pyramid kernel grad_s" + vtag, v_grad.download(), grad.cpu.download(), 1e-10));
    }
  }
}

TEST_CASE("gpu: a NaN feature makes the pyramid loss NaN on both backends, in every kernel version", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  gpu::CudaBackend& cuda = static_cast<gpu::CudaBackend&>(*b.gpu);
  const size_t optin = cuda.context().properties().sharedMemPerBlockOptin;
  const Dims d{2, 16, 5, 5};
  std::vector<float> t = LevelTwin::values(d, 7, false, false), s = LevelTwin::values(d, 7, true, false);
  s[3 * d.plane() + 4] = NAN;  // one channel of one pixel: its norm is NaN, which max(norm, eps) must keep
  Twin tt(b, t), ts(b, s), loss(b, 1), grad(b, d.count());
  const FeaturePair cpu_pair{tt.cpu.data(), ts.cpu.data(), d}, gpu_pair{tt.gpu.data(), ts.gpu.data(), d};
  b.cpu->pyramid_loss(loss.cpu.data(), grad.cpu.data(), cpu_pair, 1.0f);
  b.gpu->pyramid_loss(loss.gpu.data(), grad.gpu.data(), gpu_pair, 1.0f);
  CHECK(std::isnan(loss.cpu.download()[0]));
  CHECK(std::isnan(loss.gpu.download()[0]));
  for (int version = 1; version <= gpu::kPyramidVersions; ++version) {
    Buffer v_loss(*b.gpu, 1), v_grad(*b.gpu, d.count());
    Buffer scratch(*b.gpu, gpu::pyramid_loss_scratch_bytes(version, d, optin) / sizeof(float) + 2);
    gpu::launch_pyramid_loss(version, v_loss.data(), v_grad.data(), gpu_pair, 1.0f, scratch.data(), optin,
                             cuda.context().stream());
    INFO("kernel version " << version);
    CHECK(std::isnan(v_loss.download()[0]));
  }
}

TEST_CASE("gpu: anomaly map and per-level maps, all kernel versions", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  gpu::CudaBackend& cuda = static_cast<gpu::CudaBackend&>(*b.gpu);
  const size_t optin = cuda.context().properties().sharedMemPerBlockOptin;
  struct Case {
    std::vector<Dims> levels;
    int out_h, out_w;
  };
  const std::vector<Case> cases = {
      {{{2, 64, 16, 16}, {2, 128, 8, 8}, {2, 256, 4, 4}}, 64, 64},  // the STFPM pyramid at 64x64
      {{{1, 3, 7, 9}, {1, 5, 4, 5}}, 13, 17},                      // odd sizes, non-integer scales
      {{{3, 4, 9, 9}}, 4, 4},                                      // downsampling
      {{{1, 2, 1, 1}, {1, 2, 2, 2}, {1, 2, 3, 3}, {1, 2, 4, 4}, {1, 2, 5, 5}}, 6, 5},  // five levels: two passes
  };
  uint64_t seed = 50;
  for (const Case& k : cases) {
    std::vector<std::unique_ptr<LevelTwin>> levels;
    std::vector<FeaturePair> cpu_levels, gpu_levels;
    for (const Dims& d : k.levels) {
      levels.push_back(std::make_unique<LevelTwin>(b, d, seed++, d.plane() > 1));  // 1x1: keep a nonzero map
      cpu_levels.push_back(levels.back()->cpu_pair());
      gpu_levels.push_back(levels.back()->gpu_pair());
    }
    const int n = k.levels[0].n;
    const size_t plane = size_t(k.out_h) * k.out_w;
    std::string tag = " " + std::to_string(k.levels.size()) + " levels, " + dims_name(k.levels[0]) + " -> " +
                      std::to_string(k.out_h) + "x" + std::to_string(k.out_w);
    Twin map(b, size_t(n) * plane), level_maps(b, k.levels.size() * n * plane);
    b.cpu->anomaly_map(map.cpu.data(), level_maps.cpu.data(), cpu_levels, k.out_h, k.out_w);
    b.gpu->anomaly_map(map.gpu.data(), level_maps.gpu.data(), gpu_levels, k.out_h, k.out_w);
    CHECK(map.close("anomaly_map" + tag, 1e-10));
    CHECK(level_maps.close("anomaly_map level maps" + tag, 1e-10));
    Twin map_only(b, size_t(n) * plane);
    b.gpu->anomaly_map(map_only.gpu.data(), nullptr, gpu_levels, k.out_h, k.out_w);
    CHECK(test::nmse_close("anomaly_map without level maps" + tag, map_only.gpu.download(), map.cpu.download(), 1e-10));
    for (int version = 1; version <= gpu::kPyramidVersions; ++version) {
      Buffer v_map(*b.gpu, size_t(n) * plane);
      Buffer scratch(*b.gpu, gpu::anomaly_map_scratch_bytes(gpu_levels) / sizeof(float) + 1);
      gpu::launch_anomaly_map(version, v_map.data(), nullptr, gpu_levels, k.out_h, k.out_w, scratch.data(), optin,
                              cuda.context().stream());
      CHECK(test::nmse_close("anomaly map kernel v" + std::to_string(version) + tag, v_map.download(),
                             map.cpu.download(), 1e-10));
    }
  }
  const Dims a{2, 4, 4, 4}, c{3, 4, 2, 2};
  LevelTwin la(b, a, 1), lc(b, c, 2);
  Buffer out(*b.gpu, 2 * 16);
  CHECK_THROWS_AS(b.gpu->anomaly_map(out.data(), nullptr, {la.gpu_pair(), lc.gpu_pair()}, 4, 4), std::invalid_argument);
}

#endif  // STFPM_WITH_CUDA
