// GPU vs CPU, op by op: every op of the CUDA backend against the CPU backend (the oracle) on the same random
// inputs, over several shapes (odd sizes, 1x1 spatial, batch 1 and 32, the ResNet-18 convolutions), forward and
// backward, compared by the normalized error sum((gpu - cpu)^2) / sum(cpu^2). Skipped without a GPU.
//
// Tolerances (a wrong result gives an error of order 1; float rounding alone gives about 1e-14 per value):
//   0       selections and single roundings computed the same way: ReLU, add, fill, copy, max-pool forward
//   1e-12   the max-pool backward (same summation order) and SGD (FMA contraction may differ by an ulp)
//   1e-10   BatchNorm, the pyramid loss gradient and the anomaly maps: sums in another order (double on the GPU,
//           float partial sums on the CPU), an error of about 1e-7 relative per value
//   1e-8    convolutions in strict FP32: cuDNN may pick FFT or Winograd algorithms, whose rounding errors reach
//           about 1e-5 relative (still 100x below TF32's)
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "api/backends.h"
#include "core/backend.h"
#include "test_gpu_util.h"
#include "test_util.h"

using namespace stfpm;
using test::BackendPair;
using test::Twin;

namespace {

std::string dims_name(const Dims& d) {
  return std::to_string(d.n) + "x" + std::to_string(d.c) + "x" + std::to_string(d.h) + "x" + std::to_string(d.w);
}

// Values on a coarse grid, so that maxima tie and ReLU meets exact zeros.
std::vector<float> coarse_values(size_t n, uint64_t seed) {
  std::vector<float> v = test::random_vector(n, seed, -2.0f, 2.0f);
  for (float& x : v) x = std::round(x * 2.0f) / 2.0f;
  return v;
}

}  // namespace

TEST_CASE("gpu: elementwise ops, fill and copy match the CPU exactly", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  for (size_t n : {size_t(1), size_t(63), size_t(1000003)}) {
    const std::string tag = " n=" + std::to_string(n);
    Twin x(b, coarse_values(n, 1)), dy(b, test::random_vector(n, 2)), other(b, test::random_vector(n, 3));
    Twin y(b, n), dx(b, n), sum(b, n);
    b.cpu->relu_forward(y.cpu.data(), x.cpu.data(), n);
    b.gpu->relu_forward(y.gpu.data(), x.gpu.data(), n);
    CHECK(y.close("relu_forward" + tag, 0.0));
    b.cpu->relu_backward(dx.cpu.data(), dy.cpu.data(), y.cpu.data(), n);
    b.gpu->relu_backward(dx.gpu.data(), dy.gpu.data(), y.gpu.data(), n);
    CHECK(dx.close("relu_backward" + tag, 0.0));
    b.cpu->add(sum.cpu.data(), x.cpu.data(), other.cpu.data(), n);
    b.gpu->add(sum.gpu.data(), x.gpu.data(), other.gpu.data(), n);
    CHECK(sum.close("add" + tag, 0.0));
    // In place, as the trunk uses them: ReLU on its input, add into one operand, ReLU backward on dy.
    b.cpu->relu_forward(other.cpu.data(), other.cpu.data(), n);
    b.gpu->relu_forward(other.gpu.data(), other.gpu.data(), n);
    b.cpu->add(x.cpu.data(), x.cpu.data(), other.cpu.data(), n);
    b.gpu->add(x.gpu.data(), x.gpu.data(), other.gpu.data(), n);
    b.cpu->relu_backward(dy.cpu.data(), dy.cpu.data(), x.cpu.data(), n);
    b.gpu->relu_backward(dy.gpu.data(), dy.gpu.data(), x.gpu.data(), n);
    CHECK(dy.close("relu+add+relu_backward in place" + tag, 0.0));
    b.cpu->fill(y.cpu.data(), -3.25f, n);
    b.gpu->fill(y.gpu.data(), -3.25f, n);
    CHECK(y.close("fill" + tag, 0.0));
    b.cpu->copy(y.cpu.data(), dy.cpu.data(), n);
    b.gpu->copy(y.gpu.data(), dy.gpu.data(), n);
    CHECK(y.close("copy" + tag, 0.0));
  }
}

TEST_CASE("gpu: max pooling forward and backward, ties routed to the first maximum", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  const std::vector<PoolGeometry> shapes = {
      {2, 3, 7, 9, 3, 2, 1},      // odd sizes, the ResNet stem's pooling
      {1, 1, 1, 1, 3, 2, 1},      // 1x1 spatial
      {32, 4, 5, 5, 3, 2, 1},     // batch 32, small spatial
      {2, 64, 112, 112, 3, 2, 1},  // ResNet-18 at 224
      {1, 2, 8, 6, 2, 2, 0},      // non-overlapping windows
      {1, 2, 6, 7, 3, 1, 1},      // stride 1: every input in up to 9 windows
  };
  uint64_t seed = 10;
  for (const PoolGeometry& g : shapes) {
    const std::string tag = " " + dims_name(Dims{g.n, g.c, g.h, g.w}) + " k" + std::to_string(g.kernel) + "s" +
                            std::to_string(g.stride) + "p" + std::to_string(g.pad);
    const Dims out = Dims{g.n, g.c, g.out_h(), g.out_w()};
    Twin x(b, coarse_values(size_t(g.n) * g.c * g.h * g.w, seed++)), y(b, out.count());
    Twin dy(b, test::random_vector(out.count(), seed++)), dx(b, test::random_vector(x.cpu.size(), seed++));
    b.cpu->maxpool_forward(y.cpu.data(), x.cpu.data(), g);
    b.gpu->maxpool_forward(y.gpu.data(), x.gpu.data(), g);
    CHECK(y.close("maxpool_forward" + tag, 0.0));
    b.cpu->maxpool_backward(dx.cpu.data(), dy.cpu.data(), y.cpu.data(), x.cpu.data(), g);
    b.gpu->maxpool_backward(dx.gpu.data(), dy.gpu.data(), y.gpu.data(), x.gpu.data(), g);
    CHECK(dx.close("maxpool_backward (overwrites)" + tag, 1e-12));
  }
  CHECK_THROWS_AS(b.gpu->maxpool_forward(nullptr, nullptr, PoolGeometry{1, 1, 4, 4, 2, 1, 2}), std::invalid_argument);
}

TEST_CASE("gpu: BatchNorm train/eval forward and backward, running statistics", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  // {32, 4, 1, 1}: 1x1 spatial. One value per channel (batch 1 at 1x1) is left out: PyTorch refuses it in train
  // mode, and its output is pure rounding noise (x - mean = 0).
  const std::vector<Dims> shapes = {{2, 3, 7, 9}, {32, 4, 1, 1}, {32, 8, 3, 3}, {4, 64, 28, 28}, {2, 256, 14, 14}};
  uint64_t seed = 100;
  for (const Dims& d : shapes) {
    const std::string tag = " " + dims_name(d);
    const size_t n = d.count(), c = size_t(d.c);
    // An offset and scale far from (0, 1): the two-pass variance matters.
    std::vector<float> xv = test::random_vector(n, seed++, 1.0f, 5.0f);
    Twin x(b, xv), y(b, n), gamma(b, test::random_vector(c, seed++, 0.5f, 1.5f));
    Twin beta(b, test::random_vector(c, seed++)), mean(b, c), invstd(b, c);
    Twin rmean(b, test::random_vector(c, seed++)), rvar(b, test::random_vector(c, seed++, 0.5f, 2.0f));
    for (int step = 0; step < 2; ++step) {
      b.cpu->batchnorm_forward_train(y.cpu.data(), mean.cpu.data(), invstd.cpu.data(), rmean.cpu.data(),
                                     rvar.cpu.data(), x.cpu.data(), gamma.cpu.data(), beta.cpu.data(), d, 0.1f, 1e-5f);
      b.gpu->batchnorm_forward_train(y.gpu.data(), mean.gpu.data(), invstd.gpu.data(), rmean.gpu.data(),
                                     rvar.gpu.data(), x.gpu.data(), gamma.gpu.data(), beta.gpu.data(), d, 0.1f, 1e-5f);
    }
    CHECK(y.close("batchnorm_forward_train y" + tag, 1e-10));
    CHECK(mean.close("batchnorm_forward_train save_mean" + tag, 1e-10));
    CHECK(invstd.close("batchnorm_forward_train save_invstd" + tag, 1e-10));
    CHECK(rmean.close("batchnorm running_mean after 2 steps" + tag, 1e-10));
    CHECK(rvar.close("batchnorm running_var after 2 steps (unbiased)" + tag, 1e-10));

    Twin dy(b, test::random_vector(n, seed++)), dx(b, n);
    Twin dgamma(b, test::random_vector(c, seed++)), dbeta(b, test::random_vector(c, seed++));
    b.cpu->batchnorm_backward(dx.cpu.data(), dgamma.cpu.data(), dbeta.cpu.data(), dy.cpu.data(), x.cpu.data(),
                              mean.cpu.data(), invstd.cpu.data(), gamma.cpu.data(), d);
    b.gpu->batchnorm_backward(dx.gpu.data(), dgamma.gpu.data(), dbeta.gpu.data(), dy.gpu.data(), x.gpu.data(),
                              mean.gpu.data(), invstd.gpu.data(), gamma.gpu.data(), d);
    CHECK(dx.close("batchnorm_backward dx" + tag, 1e-10));
    CHECK(dgamma.close("batchnorm_backward dgamma (accumulated)" + tag, 1e-10));
    CHECK(dbeta.close("batchnorm_backward dbeta (accumulated)" + tag, 1e-10));

    // Eval mode, in place on the GPU (y aliases x) against out of place on the CPU.
    b.cpu->batchnorm_forward_eval(y.cpu.data(), x.cpu.data(), gamma.cpu.data(), beta.cpu.data(), rmean.cpu.data(),
                                  rvar.cpu.data(), d, 1e-5f);
    b.gpu->batchnorm_forward_eval(x.gpu.data(), x.gpu.data(), gamma.gpu.data(), beta.gpu.data(), rmean.gpu.data(),
                                  rvar.gpu.data(), d, 1e-5f);
    CHECK(test::nmse_close("batchnorm_forward_eval in place" + tag, x.gpu.download(), y.cpu.download(), 1e-12));
  }
}

TEST_CASE("gpu: convolution forward, backward-data (overwrites) and backward-filter (accumulates)", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  const std::vector<ConvGeometry> shapes = {
      {2, 3, 37, 29, 8, 7, 7, 2, 3},     // the stem: 7x7/2 pad 3, odd sizes
      {2, 16, 7, 9, 8, 3, 3, 1, 1},      // 3x3/1 pad 1
      {3, 8, 9, 7, 16, 3, 3, 2, 1},      // 3x3/2 pad 1
      {2, 16, 9, 9, 32, 1, 1, 2, 0},     // the downsample: 1x1/2
      {1, 8, 1, 1, 4, 3, 3, 1, 1},       // 1x1 spatial
      {32, 16, 4, 4, 16, 3, 3, 1, 1},    // batch 32, small spatial
      {2, 64, 56, 56, 64, 3, 3, 1, 1},   // layer1 of ResNet-18 at 224
      {2, 128, 28, 28, 256, 3, 3, 2, 1},  // layer3's first conv
  };
  uint64_t seed = 200;
  for (const ConvGeometry& g : shapes) {
    const std::string tag = " " + dims_name(g.in_dims()) + " k" + std::to_string(g.k) + " " + std::to_string(g.r) +
                            "x" + std::to_string(g.s) + "/" + std::to_string(g.stride) + " p" + std::to_string(g.pad);
    b.cpu->prepare_conv(g);
    b.gpu->prepare_conv(g);
    const size_t xn = g.in_dims().count(), yn = g.out_dims().count();
    Twin x(b, test::random_vector(xn, seed++)), w(b, test::random_vector(g.weight_count(), seed++, -0.2f, 0.2f));
    Twin y(b, test::random_vector(yn, seed++)), dy(b, test::random_vector(yn, seed++));
    Twin dx(b, test::random_vector(xn, seed++)), dw(b, test::random_vector(g.weight_count(), seed++));
    b.cpu->conv_forward(y.cpu.data(), x.cpu.data(), w.cpu.data(), g);
    b.gpu->conv_forward(y.gpu.data(), x.gpu.data(), w.gpu.data(), g);
    CHECK(y.close("conv_forward" + tag, 1e-8));
    b.cpu->conv_backward_data(dx.cpu.data(), dy.cpu.data(), w.cpu.data(), g);
    b.gpu->conv_backward_data(dx.gpu.data(), dy.gpu.data(), w.gpu.data(), g);
    CHECK(dx.close("conv_backward_data" + tag, 1e-8));
    b.cpu->conv_backward_filter(dw.cpu.data(), dy.cpu.data(), x.cpu.data(), g);
    b.gpu->conv_backward_filter(dw.gpu.data(), dy.gpu.data(), x.gpu.data(), g);
    CHECK(dw.close("conv_backward_filter" + tag, 1e-8));
  }
  // A geometry that was never prepared (a smaller last batch) is planned within the existing workspace.
  ConvGeometry g = shapes[6];
  g.n = 1;
  Twin x(b, test::random_vector(g.in_dims().count(), 7)), w(b, test::random_vector(g.weight_count(), 8));
  Twin y(b, g.out_dims().count());
  b.cpu->conv_forward(y.cpu.data(), x.cpu.data(), w.cpu.data(), g);
  b.gpu->conv_forward(y.gpu.data(), x.gpu.data(), w.gpu.data(), g);
  CHECK(y.close("conv_forward, unprepared batch 1", 1e-8));
}

TEST_CASE("gpu: convolutions with TF32 allowed stay within TF32 accuracy", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  BackendOptions tf32;
  tf32.allow_tf32 = true;
  std::unique_ptr<Backend> gpu = make_backend(DeviceKind::cuda, tf32);
  CHECK_THAT(gpu->describe(), Catch::Matchers::Contains("TF32 allowed"));
  const ConvGeometry g{4, 64, 28, 28, 128, 3, 3, 1, 1};
  b.cpu->prepare_conv(g);
  gpu->prepare_conv(g);
  const std::vector<float> xv = test::random_vector(g.in_dims().count(), 1);
  const std::vector<float> wv = test::random_vector(g.weight_count(), 2, -0.2f, 0.2f);
  Buffer xc(*b.cpu, xv.size()), wc(*b.cpu, wv.size()), yc(*b.cpu, g.out_dims().count());
  Buffer xg(*gpu, xv.size()), wg(*gpu, wv.size()), yg(*gpu, g.out_dims().count());
  xc.upload(xv);
  wc.upload(wv);
  xg.upload(xv);
  wg.upload(wv);
  b.cpu->conv_forward(yc.data(), xc.data(), wc.data(), g);
  gpu->conv_forward(yg.data(), xg.data(), wg.data(), g);
  // TF32 keeps 10 mantissa bits: about 1e-3 relative per product, so 1e-4 here, while 1e-8 holds in strict mode.
  CHECK(test::nmse_close("conv_forward with TF32", yg.download(), yc.download(), 1e-4));
}

TEST_CASE("gpu: SGD with momentum and weight decay, first and later steps", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  BackendPair b;
  for (size_t n : {size_t(1), size_t(7), size_t(2778027)}) {
    // offset 1: a buffer that is not 16-byte aligned takes the scalar path of the vectorized kernel
    for (size_t offset : {size_t(0), size_t(1)}) {
      const std::string tag = " n=" + std::to_string(n) + " offset " + std::to_string(offset);
      Twin p(b, test::random_vector(n + offset, 1)), buf(b, test::random_vector(n + offset, 2)), g(b, n + offset);
      for (int step = 0; step < 3; ++step) {
        const std::vector<float> grads = test::random_vector(n + offset, 10 + uint64_t(step));
        g.cpu.upload(grads);
        g.gpu.upload(grads);
        b.cpu->sgd_step(p.cpu.data() + offset, buf.cpu.data() + offset, g.cpu.data() + offset, n, 0.4f, 0.9f, 1e-4f,
                        step == 0);
        b.gpu->sgd_step(p.gpu.data() + offset, buf.gpu.data() + offset, g.gpu.data() + offset, n, 0.4f, 0.9f, 1e-4f,
                        step == 0);
      }
      CHECK(p.close("sgd params after 3 steps" + tag, 1e-12));
      CHECK(buf.close("sgd momentum after 3 steps" + tag, 1e-12));
    }
  }
}

TEST_CASE("gpu: allocation failure says how much was requested and suggests a smaller batch", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  std::unique_ptr<Backend> gpu = make_backend(DeviceKind::cuda);
  INFO(gpu->describe());
  CHECK_THAT(gpu->describe(), Catch::Matchers::Contains("cuDNN 9."));
  CHECK_THROWS_WITH(gpu->allocate(size_t(1) << 42),
                    Catch::Matchers::Contains("out of memory") && Catch::Matchers::Contains("--batch_size"));
  // The backend still works afterwards.
  Buffer ok(*gpu, 16);
  CHECK(ok.download() == std::vector<float>(16, 0.0f));
}
