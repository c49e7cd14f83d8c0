// The host-side parts of the CUDA backend, tested where they run without a GPU (tag [cuda-host], so CI runs them):
// device discovery and its errors, the error macros, the convolution algorithm choice, the reduction planning,
// and the comparison helper the [gpu] tests rely on.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "api/backends.h"
#include "core/backend.h"
#include "test_gpu_util.h"
#include "test_util.h"
#ifdef STFPM_WITH_CUDA
#include "check.h"
#include "context.h"
#include "conv_plans.h"
#include "cuda_backend.h"
#include "kernels.h"
#endif

using namespace stfpm;
using Catch::Matchers::Contains;

TEST_CASE("cuda: without a usable GPU the cuda device is refused with a clear message", "[cuda-host]") {
  if (cuda_available()) {
    CHECK(default_device() == DeviceKind::cuda);
    CHECK_NOTHROW(make_backend(DeviceKind::cuda));
    return;
  }
#ifdef STFPM_WITH_CUDA
  CHECK(cuda_device_count() == 0);  // and it did not throw
#endif
  CHECK(default_device() == DeviceKind::cpu);
  CHECK_THROWS_WITH(make_backend(DeviceKind::cuda), Contains("--device cuda"));
}

TEST_CASE("test helper: the normalized error detects wrong values and NaN", "[cuda-host]") {
  const std::vector<float> want = {1.0f, -2.0f, 2.0f};
  CHECK(test::normalized_error(want, want) == 0.0);
  CHECK(test::normalized_error({1.0f, -2.0f, 3.0f}, want) == Approx(1.0 / 9.0));
  CHECK(std::isinf(test::normalized_error({1.0f, NAN, 2.0f}, want)));
  CHECK(test::normalized_error({NAN, 0.0f}, {NAN, 0.0f}) == 0.0);  // NaN where the oracle has NaN is a match
  CHECK(test::normalized_error({0.5f}, {0.0f}) == 0.25);         // all-zero oracle: absolute sum of squares
  CHECK_FALSE(test::nmse_close("deliberately wrong, must report FAILED", {1.0f, -2.0f, 3.0f}, want, 1e-3));
  CHECK_FALSE(test::nmse_close("deliberately NaN, must report FAILED", {NAN, -2.0f, 2.0f}, want, 1e-3));
}

#ifdef STFPM_WITH_CUDA

namespace {
cudaError_t failing_cuda_call() { return cudaErrorInvalidValue; }
}  // namespace

TEST_CASE("cuda: the check macros name the statement, the file and line and the library's message",
          "[cuda-host]") {
  CHECK_NOTHROW(CUDA_CHECK(cudaSuccess));
  CHECK_NOTHROW(CUDNN_CHECK(CUDNN_STATUS_SUCCESS));
  CHECK_NOTHROW(CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
  CHECK_THROWS_AS(CUDA_CHECK(failing_cuda_call()), std::runtime_error);
  CHECK_THROWS_WITH(CUDA_CHECK(failing_cuda_call()),
                    Contains("cudaErrorInvalidValue") && Contains("invalid argument") &&
                        Contains("`failing_cuda_call()`") && Contains("test_gpu_host.cpp:"));
  CHECK_THROWS_WITH(CUDNN_CHECK(CUDNN_STATUS_BAD_PARAM),
                    Contains("cuDNN error CUDNN_STATUS_BAD_PARAM") && Contains("test_gpu_host.cpp:"));
  CHECK_THROWS_WITH(CUBLAS_CHECK(CUBLAS_STATUS_NOT_INITIALIZED),
                    Contains("CUBLAS_STATUS_NOT_INITIALIZED") && Contains("`CUBLAS_STATUS_NOT_INITIALIZED`"));
}

TEST_CASE("cuda: out-of-memory messages give the sizes and the batch-size hint, versions read as x.y.z",
          "[cuda-host]") {
  const std::string m = gpu::out_of_memory_message(size_t(3) << 30, size_t(512) << 20, size_t(80) << 30, "cuda:0 X");
  CHECK_THAT(m, Contains("requested 3072 MiB") && Contains("512 MiB free of 81920 MiB") &&
                    Contains("try a smaller --batch_size") && Contains("cuda:0 X"));
  CHECK(gpu::format_cudnn_version(91900) == "9.19.0");
  CHECK(gpu::format_cudnn_version(90102) == "9.1.2");
  CHECK(gpu::format_cublas_version(130100) == "13.1.0");
  CHECK(gpu::format_cuda_version(13000) == "13.0");
  CHECK(gpu::format_cuda_version(12080) == "12.8");
}

TEST_CASE("cuda: the convolution algorithm choice", "[cuda-host]") {
  using gpu::AlgoCandidate;
  const size_t MiB = size_t(1) << 20;
  auto algo = [](bool det, bool fma, bool tensor, size_t ws) {
    AlgoCandidate c;
    c.available = true;
    c.deterministic = det;
    c.fma_math = fma;
    c.tensor_ops = tensor;
    c.workspace = ws;
    return c;
  };
  // Heuristic order: fastest first.
  const std::vector<AlgoCandidate> list = {
      algo(true, false, true, 0),        // 0: TF32 tensor cores
      algo(false, true, false, 0),       // 1: FMA, non-deterministic
      algo(true, true, false, 2048 * MiB),  // 2: FMA, deterministic, huge workspace
      algo(true, true, false, 1 * MiB),  // 3: FMA, deterministic
  };
  CHECK(gpu::choose_algorithm(list, 100 * MiB, true) == 3);       // strict: no TF32, deterministic, fits
  CHECK(gpu::choose_algorithm(list, 4096 * MiB, true) == 2);      // a larger limit admits the faster one
  CHECK(gpu::choose_algorithm(list, 100 * MiB, false) == 0);      // TF32 allowed: the fastest deterministic
  CHECK(gpu::choose_algorithm(list, 0, true) == 1);               // nothing deterministic fits: take what fits
  CHECK(gpu::choose_algorithm({list[0]}, 100 * MiB, true) == -1);  // only TF32 on offer in strict mode
  CHECK(gpu::choose_algorithm({}, 100 * MiB, false) == -1);
  std::vector<AlgoCandidate> unavailable = list;
  for (AlgoCandidate& c : unavailable) c.available = false;
  CHECK(gpu::choose_algorithm(unavailable, 4096 * MiB, false) == -1);
  // Strict mode falls back to an algorithm labelled neither FMA nor tensor-op (default math) only when no FMA one fits.
  const std::vector<AlgoCandidate> default_math = {algo(true, false, false, 0), algo(false, true, false, 8 * MiB)};
  CHECK(gpu::choose_algorithm(default_math, 100 * MiB, true) == 1);
  CHECK(gpu::choose_algorithm(default_math, 1 * MiB, true) == 0);
  CHECK_THAT(gpu::describe_geometry(ConvGeometry{32, 3, 256, 256, 64, 7, 7, 2, 3}),
             Contains("x (32, 3, 256, 256) * w (64, 3, 7, 7), stride 2, pad 3"));
}

TEST_CASE("cuda: reduction and kernel-version planning", "[cuda-host]") {
  const int sms = 132;
  for (const Dims& d : {Dims{32, 64, 128, 128}, Dims{32, 256, 16, 16}, Dims{1, 3, 7, 9}, Dims{2, 512, 1, 1}}) {
    const int splits = gpu::bn_splits(d, sms);
    const long long m = (long long)d.n * d.h * d.w;
    INFO("dims " << d.n << "x" << d.c << "x" << d.h << "x" << d.w << " splits " << splits);
    CHECK(splits >= 1);
    CHECK((splits == 1 || m / splits >= 2048));           // blocks are not slivers
    CHECK((splits * d.c >= 4 * sms || m / splits < 4096));  // enough blocks, unless the layer is small
    CHECK(gpu::bn_scratch_bytes(d, splits) >= (2 * size_t(d.c) * splits + d.c) * 8 + 3 * size_t(d.c) * 4);
  }
  const size_t h200_optin = 227 * 1024;
  CHECK(gpu::pyramid_effective_version(2, 256, h200_optin) == 2);   // layer3: 64 KiB staged
  CHECK(gpu::pyramid_effective_version(2, 2048, h200_optin) == 1);  // does not fit: the global-memory kernel
  CHECK(gpu::pyramid_effective_version(1, 64, h200_optin) == 1);
  const Dims layer1{32, 64, 64, 64};
  CHECK(gpu::pyramid_loss_scratch_bytes(2, layer1, h200_optin) == 32 * 64 * 64 / 32 * sizeof(double));
  CHECK(gpu::anomaly_map_scratch_bytes({FeaturePair{nullptr, nullptr, Dims{2, 64, 16, 16}},
                                        FeaturePair{nullptr, nullptr, Dims{2, 128, 8, 8}}}) ==
        (2 * 256 + 2 * 64) * sizeof(float));
  // Every default version is one that exists.
  CHECK(gpu::kPyramidDefault >= 1);
  CHECK(gpu::kPyramidDefault <= gpu::kPyramidVersions);
  CHECK(gpu::kSgdDefault <= gpu::kSgdVersions);
}

#endif  // STFPM_WITH_CUDA
