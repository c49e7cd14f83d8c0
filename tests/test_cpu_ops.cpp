// Level 1: every CPU op against a direct implementation of its definition (forward) and against central finite
// differences of a random weighted sum of its output (backward).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/gemm.h"
#include "cpu/winograd.h"
#include "gradcheck.h"
#include "test_util.h"

using namespace stfpm;
using test::check_gradient;
using test::random_vector;
using test::weighted_sum;

namespace {

// y[n,k,i,j] = sum_{c,r,s} x[n,c,i*stride-pad+r, j*stride-pad+s] * w[k,c,r,s], in double.
std::vector<float> direct_conv(const std::vector<float>& x, const std::vector<float>& w, const ConvGeometry& g) {
  const int oh = g.out_h(), ow = g.out_w();
  std::vector<float> y(g.out_dims().count());
  for (int n = 0; n < g.n; ++n)
    for (int k = 0; k < g.k; ++k)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          double acc = 0.0;
          for (int c = 0; c < g.c; ++c)
            for (int r = 0; r < g.r; ++r)
              for (int s = 0; s < g.s; ++s) {
                const int h = i * g.stride - g.pad + r, v = j * g.stride - g.pad + s;
                if (h < 0 || h >= g.h || v < 0 || v >= g.w) continue;
                acc += double(x[((size_t(n) * g.c + c) * g.h + h) * g.w + v]) *
                       double(w[((size_t(k) * g.c + c) * g.r + r) * g.s + s]);
              }
          y[((size_t(n) * g.k + k) * oh + i) * ow + j] = float(acc);
        }
  return y;
}

ConvGeometry conv(int n, int c, int h, int w, int k, int kernel, int stride, int pad) {
  return ConvGeometry{n, c, h, w, k, kernel, kernel, stride, pad};
}

}  // namespace

TEST_CASE("cpu conv: forward equals the direct sum, backward equals finite differences", "[cpu][conv]") {
  // 1 thread: every batch runs one image per thread; 2 and 3 threads: batches smaller than that split each image
  // across the threads (by output rows forward, by input channels backward), unevenly where sizes do not divide.
  for (const int threads : {1, 2, 3}) {
    INFO(threads << " threads");
    BackendOptions options;
    options.threads = threads;
    CpuBackend cpu(options);
    const std::vector<ConvGeometry> shapes = {
        conv(1, 5, 9, 8, 4, 3, 1, 1),    // 3x3/1, batch 1, 5 channels and 9 output rows over 2 or 3 threads
        conv(1, 5, 4, 6, 3, 1, 1, 0),    // pointwise, batch 1
        conv(1, 2, 5, 5, 3, 7, 2, 3),    // the stem at batch 1: 3 output rows, 2 channels (a thread gets none)
        conv(2, 3, 9, 7, 4, 3, 1, 1),    // 3x3/1, odd sizes
        conv(3, 2, 11, 10, 5, 7, 2, 3),  // the stem: 7x7/2 pad 3
        conv(2, 4, 8, 9, 3, 1, 2, 0),    // downsample: 1x1/2
        conv(1, 3, 7, 7, 2, 3, 2, 1),    // 3x3/2, batch 1
        conv(2, 5, 4, 6, 3, 1, 1, 0),    // pointwise (no lowering)
        conv(3, 2, 1, 1, 2, 3, 1, 1),    // 1x1 spatial, all padding
    };
    uint64_t seed = 1;
    for (const ConvGeometry& g : shapes) {
      INFO("conv " << g.n << "x" << g.c << "x" << g.h << "x" << g.w << " k" << g.k << " " << g.r << "x" << g.s
                   << "/" << g.stride << " pad " << g.pad);
      std::vector<float> x = random_vector(g.in_dims().count(), seed++);
      std::vector<float> w = random_vector(g.weight_count(), seed++);
      const std::vector<float> r = random_vector(g.out_dims().count(), seed++);
      std::vector<float> y(g.out_dims().count());
      cpu.conv_forward(y.data(), x.data(), w.data(), g);
      CHECK(test::all_close("y", y, direct_conv(x, w, g), 1e-5, 1e-5));

      auto objective = [&] {
        cpu.conv_forward(y.data(), x.data(), w.data(), g);
        return weighted_sum(y, r);
      };
      // The objective is linear in x and w, so central differences are exact up to float rounding of the
      // outputs (~1e-6 here): a 1e-3 tolerance is tight.
      test::GradCheck opts;
      opts.tolerance = 1e-3;
      std::vector<float> dx(x.size(), 7.0f);  // overwritten, whatever it held
      cpu.conv_backward_data(dx.data(), r.data(), w.data(), g);
      CHECK(check_gradient("dx", x, dx, objective, opts));

      std::vector<float> dw(w.size(), 0.5f);  // accumulated onto 0.5
      cpu.conv_backward_filter(dw.data(), r.data(), x.data(), g);
      for (float& v : dw) v -= 0.5f;
      CHECK(check_gradient("dw", w, dw, objective, opts));
    }
  }
}

TEST_CASE("cpu conv 3x3/1 by Winograd F(4x4,3x3) and F(3x3,4x4): the direct sum, im2col, finite differences",
          "[cpu][conv][winograd]") {
  STFPM_SKIP_UNLESS(gemm_kernel() != GemmKernel::blas, "Winograd needs our sgemm (AVX2 + FMA)");
  const std::vector<ConvGeometry> shapes = {
      conv(1, 16, 9, 7, 20, 3, 1, 1),   // batch 1, tiles cut off at the bottom and right
      conv(2, 24, 8, 8, 16, 3, 1, 1),   // whole tiles only
      conv(3, 16, 5, 13, 33, 3, 1, 1),  // output channels not a multiple of the 6-row strips
      conv(1, 260, 5, 6, 17, 3, 1, 1),  // more input channels than one 256-deep sgemm block
      conv(4, 64, 32, 32, 64, 3, 1, 1), // 256 tiles: two chunks
      conv(2, 16, 11, 22, 17, 3, 1, 1), // rows of 6 tiles: the one from tile 30 crosses V's 32-tile strips
  };
  CHECK_FALSE(use_winograd(conv(8, 128, 32, 32, 128, 3, 2, 1)));  // stride 2
  CHECK_FALSE(use_winograd(conv(8, 8, 32, 32, 128, 3, 1, 1)));    // too few channels
  uint64_t seed = 100;
  for (const int threads : {1, 2, 3}) {
    INFO(threads << " threads");
    BackendOptions options;
    options.threads = threads;
    CpuBackend cpu(options);
    for (const ConvGeometry& g : shapes) {
      INFO("conv " << g.n << "x" << g.c << "x" << g.h << "x" << g.w << " k" << g.k);
      REQUIRE(use_winograd(g));
      std::vector<float> x = random_vector(g.in_dims().count(), seed++);
      std::vector<float> w = random_vector(g.weight_count(), seed++);
      const std::vector<float> r = random_vector(g.out_dims().count(), seed++);
      std::vector<float> y(g.out_dims().count()), y_direct(y.size()), dx(x.size(), 7.0f), dx_direct(x.size());
      std::vector<float> dw(w.size(), 0.5f), dw_direct(w.size(), 0.5f);  // accumulated onto 0.5
      cpu.conv_forward(y.data(), x.data(), w.data(), g);
      cpu.conv_backward_data(dx.data(), r.data(), w.data(), g);
      cpu.conv_backward_filter(dw.data(), r.data(), x.data(), g);
      set_conv_algorithm(ConvAlgorithm::direct);
      cpu.conv_forward(y_direct.data(), x.data(), w.data(), g);
      cpu.conv_backward_data(dx_direct.data(), r.data(), w.data(), g);
      cpu.conv_backward_filter(dw_direct.data(), r.data(), x.data(), g);
      set_conv_algorithm(ConvAlgorithm::automatic);
      for (float& v : dw) v -= 0.5f;
      for (float& v : dw_direct) v -= 0.5f;
      // The transforms' rounding, relative to the tensor's largest magnitude: measured at most 6.7e-6 here (y
      // against a double-precision sum, dx and dw against im2col), where im2col + sgemm stays within 5.4e-7.
      const std::vector<float> exact = direct_conv(x, w, g);
      const double scale = test::max_abs(exact);
      CHECK(test::all_close("y", y, exact, 2e-5 * scale, 0.0));
      CHECK(test::all_close("y vs im2col", y, y_direct, 2e-5 * scale, 0.0));
      CHECK(test::all_close("dx vs im2col", dx, dx_direct, 2e-5 * test::max_abs(dx_direct), 0.0));
      CHECK(test::all_close("dw vs im2col", dw, dw_direct, 2e-5 * test::max_abs(dw_direct), 0.0));
      CHECK(y != y_direct);  // the Winograd path ran: its rounding differs from im2col's
      CHECK(dw != dw_direct);
      // An image's outputs do not depend on the batch around it (nor on the chunks the batch is cut into).
      if (g.n > 1) {
        ConvGeometry one = g;
        one.n = 1;
        const size_t in = one.in_dims().count(), out = one.out_dims().count();
        for (int n = 0; n < g.n; ++n) {
          std::vector<float> alone(out), dx_alone(in);
          cpu.conv_forward(alone.data(), x.data() + n * in, w.data(), one);
          cpu.conv_backward_data(dx_alone.data(), r.data() + n * out, w.data(), one);
          CHECK(alone == std::vector<float>(y.begin() + long(n * out), y.begin() + long((n + 1) * out)));
          CHECK(dx_alone == std::vector<float>(dx.begin() + long(n * in), dx.begin() + long((n + 1) * in)));
        }
      }
      if (g.n * g.c * g.h * g.w > 20000) continue;  // finite differences on the small shapes
      // The objective runs the im2col forward: the Winograd forward's rounding (10x im2col's) would not cancel
      // in the differences. The gradient is that of the same function either way.
      auto objective = [&] {
        set_conv_algorithm(ConvAlgorithm::direct);
        cpu.conv_forward(y.data(), x.data(), w.data(), g);
        set_conv_algorithm(ConvAlgorithm::automatic);
        return weighted_sum(y, r);
      };
      test::GradCheck opts;
      opts.tolerance = 1e-3;  // as for the im2col path: the objective is linear
      CHECK(check_gradient("dx", x, dx, objective, opts));
      CHECK(check_gradient("dw", w, dw, objective, opts));
    }
  }
}

TEST_CASE("cpu conv 3x3/1: transformed filters are kept while the weights stay the same, judged by content",
          "[cpu][conv][winograd]") {
  STFPM_SKIP_UNLESS(gemm_kernel() != GemmKernel::blas, "Winograd needs our sgemm (AVX2 + FMA)");
  const ConvGeometry g = conv(2, 32, 8, 8, 24, 3, 1, 1);
  REQUIRE(use_winograd(g));
  std::vector<float> xv = random_vector(g.in_dims().count(), 300), wv = random_vector(g.weight_count(), 301);
  const std::vector<float> dyv = random_vector(g.out_dims().count(), 302);
  // What a backend that has kept nothing computes.
  auto fresh = [&](bool backward) {
    CpuBackend cold;
    std::vector<float> out(backward ? xv.size() : dyv.size());
    if (backward) cold.conv_backward_data(out.data(), dyv.data(), wv.data(), g);
    else cold.conv_forward(out.data(), xv.data(), wv.data(), g);
    return out;
  };
  CpuBackend cpu;
  float* x = cpu.allocate(xv.size());
  float* w = cpu.allocate(wv.size());
  float* dy = cpu.allocate(dyv.size());
  cpu.upload(x, xv.data(), xv.size());
  cpu.upload(w, wv.data(), wv.size());
  cpu.upload(dy, dyv.data(), dyv.size());
  std::vector<float> y(dyv.size()), dx(xv.size());
  auto forward = [&] {
    cpu.conv_forward(y.data(), x, w, g);
    return y;
  };
  auto backward = [&] {
    cpu.conv_backward_data(dx.data(), dy, w, g);
    return dx;
  };

  // Stored on the second call that finds the weights unchanged, then used: the same numbers every time.
  const std::vector<float> y_fresh = fresh(false), dx_fresh = fresh(true);
  CHECK(forward() == y_fresh);
  CHECK(cpu.cached_filter_bytes() == 0);
  CHECK(forward() == y_fresh);
  const size_t forward_bytes = cpu.cached_filter_bytes();
  CHECK(forward_bytes == 36 * 24 * 32 * sizeof(float));  // 24 output channels: four whole 6-row strips
  CHECK(forward() == y_fresh);
  CHECK(backward() == dx_fresh);
  CHECK(backward() == dx_fresh);
  CHECK(cpu.cached_filter_bytes() > forward_bytes);  // the backward data pass's rotated filters too
  CHECK(backward() == dx_fresh);

  // One weight written in place, through no backend op: seen, and both directions' transforms dropped.
  w[7] += 0.25f;
  wv[7] += 0.25f;
  CHECK(forward() == fresh(false));
  CHECK(cpu.cached_filter_bytes() == 0);
  CHECK(backward() == fresh(true));

  // Weights that change before every call, as the student's in training: never stored.
  for (int step = 0; step < 3; ++step) {
    w[step] -= 0.125f;
    wv[step] -= 0.125f;
    CHECK(forward() == fresh(false));
    CHECK(backward() == fresh(true));
    CHECK(cpu.cached_filter_bytes() == 0);
  }

  // The same floats read as filters of another shape (32 x 24 instead of 24 x 32): not the stored U.
  forward();
  forward();
  CHECK(cpu.cached_filter_bytes() == forward_bytes);
  ConvGeometry other = g;
  other.c = 24;
  other.k = 32;
  REQUIRE(other.weight_count() == g.weight_count());
  const std::vector<float> x_other = random_vector(other.in_dims().count(), 303);
  std::vector<float> y_other(other.out_dims().count()), y_other_fresh(y_other.size());
  CpuBackend().conv_forward(y_other_fresh.data(), x_other.data(), wv.data(), other);
  cpu.conv_forward(y_other.data(), x_other.data(), w, other);
  CHECK(y_other == y_other_fresh);
  CHECK(forward() == fresh(false));  // and back: transformed again, not served the other shape's U

  // Released weights take their transforms with them.
  forward();
  forward();
  CHECK(cpu.cached_filter_bytes() == forward_bytes);
  cpu.release(w);
  CHECK(cpu.cached_filter_bytes() == 0);
  cpu.release(x);
  cpu.release(dy);
}

TEST_CASE("cpu conv + eval BatchNorm (+ ReLU) fused: the separate ops' numbers exactly", "[cpu][conv][batchnorm]") {
  BackendOptions options;
  options.threads = 2;
  CpuBackend cpu(options);
  const std::vector<ConvGeometry> shapes = {
      conv(2, 16, 9, 7, 20, 3, 1, 1),  // Winograd
      conv(1, 3, 11, 10, 5, 7, 2, 3),  // the stem (im2col), batch 1 split by rows
      conv(3, 4, 8, 9, 6, 1, 2, 0),    // downsample (im2col)
      conv(2, 5, 4, 6, 3, 1, 1, 0),    // pointwise
  };
  uint64_t seed = 300;
  for (const ConvGeometry& g : shapes)
    for (const bool relu : {false, true}) {
      INFO("conv " << g.n << "x" << g.c << "x" << g.h << "x" << g.w << " k" << g.k << " " << g.r << "x" << g.s
                   << (relu ? " + relu" : ""));
      std::vector<float> x = random_vector(g.in_dims().count(), seed++);
      const std::vector<float> w = random_vector(g.weight_count(), seed++);
      const std::vector<float> gamma = random_vector(size_t(g.k), seed++, 0.5f, 2.0f);
      const std::vector<float> beta = random_vector(size_t(g.k), seed++);
      const std::vector<float> mean = random_vector(size_t(g.k), seed++);
      const std::vector<float> var = random_vector(size_t(g.k), seed++, 0.1f, 3.0f);
      x[0] = NAN;  // read by every shape; passes the ReLU, as in the separate op
      const BatchNormEval bn{gamma.data(), beta.data(), mean.data(), var.data(), 1e-5f};
      std::vector<float> separate(g.out_dims().count()), fused(separate.size()), by_default(separate.size());
      cpu.conv_forward(separate.data(), x.data(), w.data(), g);
      cpu.batchnorm_forward_eval(separate.data(), separate.data(), bn.gamma, bn.beta, bn.running_mean, bn.running_var,
                                 g.out_dims(), bn.eps);
      if (relu) cpu.relu_forward(separate.data(), separate.data(), separate.size());
      cpu.conv_bn_forward_eval(fused.data(), x.data(), w.data(), g, bn, relu);
      cpu.Backend::conv_bn_forward_eval(by_default.data(), x.data(), w.data(), g, bn, relu);  // what CUDA runs
      size_t nan = 0, zero = 0;
      bool same = true;
      for (size_t i = 0; i < separate.size(); ++i) {
        const bool both_nan = std::isnan(separate[i]) && std::isnan(fused[i]) && std::isnan(by_default[i]);
        same = same && (both_nan || (fused[i] == separate[i] && by_default[i] == separate[i]));
        nan += std::isnan(fused[i]);
        zero += fused[i] == 0.0f;
      }
      CHECK(same);
      CHECK(nan > 0);
      CHECK((zero > 0) == relu);
    }
}

TEST_CASE("cpu batchnorm: train forward, running statistics, backward", "[cpu][batchnorm]") {
  CpuBackend cpu;
  const Dims d{2, 3, 4, 5};
  const size_t m = size_t(d.n) * d.plane();
  std::vector<float> x = random_vector(d.count(), 11, -2.0f, 3.0f);
  std::vector<float> gamma = random_vector(3, 12, 0.5f, 1.5f), beta = random_vector(3, 13);
  std::vector<float> y(d.count()), mean(3), invstd(3);
  std::vector<float> running_mean = {0.1f, -0.2f, 0.3f}, running_var = {1.0f, 2.0f, 0.5f};
  const std::vector<float> rm0 = running_mean, rv0 = running_var;
  cpu.batchnorm_forward_train(y.data(), mean.data(), invstd.data(), running_mean.data(), running_var.data(),
                              x.data(), gamma.data(), beta.data(), d, 0.1f, 1e-5f);
  for (int c = 0; c < d.c; ++c) {
    double s = 0.0, sq = 0.0;
    for (int n = 0; n < d.n; ++n)
      for (size_t p = 0; p < d.plane(); ++p) s += x[(size_t(n) * d.c + c) * d.plane() + p];
    const double mu = s / double(m);
    for (int n = 0; n < d.n; ++n)
      for (size_t p = 0; p < d.plane(); ++p) {
        const double v = x[(size_t(n) * d.c + c) * d.plane() + p] - mu;
        sq += v * v;
      }
    const double var = sq / double(m);
    CHECK(mean[size_t(c)] == Approx(mu).epsilon(1e-6));
    CHECK(invstd[size_t(c)] == Approx(1.0 / std::sqrt(var + 1e-5)).epsilon(1e-6));
    CHECK(running_mean[size_t(c)] == Approx(0.9 * rm0[size_t(c)] + 0.1 * mu).epsilon(1e-6));
    CHECK(running_var[size_t(c)] == Approx(0.9 * rv0[size_t(c)] + 0.1 * var * double(m) / double(m - 1)).epsilon(1e-6));
    for (int n = 0; n < d.n; ++n)
      for (size_t p = 0; p < d.plane(); ++p) {
        const size_t i = (size_t(n) * d.c + c) * d.plane() + p;
        CHECK(y[i] == Approx((x[i] - mu) / std::sqrt(var + 1e-5) * gamma[size_t(c)] + beta[size_t(c)]).margin(1e-5));
      }
  }

  const std::vector<float> r = random_vector(d.count(), 14);
  auto objective = [&] {
    std::vector<float> rm(3), rv(3), sm(3), si(3);
    cpu.batchnorm_forward_train(y.data(), sm.data(), si.data(), rm.data(), rv.data(), x.data(), gamma.data(),
                                beta.data(), d, 0.1f, 1e-5f);
    return weighted_sum(y, r);
  };
  objective();  // refresh the saved statistics for x
  cpu.batchnorm_forward_train(y.data(), mean.data(), invstd.data(), running_mean.data(), running_var.data(),
                              x.data(), gamma.data(), beta.data(), d, 0.1f, 1e-5f);
  std::vector<float> dx(d.count(), 3.0f), dgamma(3, 0.25f), dbeta(3, -0.5f);
  cpu.batchnorm_backward(dx.data(), dgamma.data(), dbeta.data(), r.data(), x.data(), mean.data(), invstd.data(),
                         gamma.data(), d);
  for (float& v : dgamma) v -= 0.25f;
  for (float& v : dbeta) v += 0.5f;
  test::GradCheck opts;
  opts.step = 1e-3f;
  CHECK(check_gradient("dx", x, dx, objective, opts));
  CHECK(check_gradient("dgamma", gamma, dgamma, objective, opts));
  CHECK(check_gradient("dbeta", beta, dbeta, objective, opts));
}

TEST_CASE("cpu batchnorm: eval forward uses the running statistics", "[cpu][batchnorm]") {
  CpuBackend cpu;
  const Dims d{2, 2, 3, 3};
  const std::vector<float> x = random_vector(d.count(), 21);
  const std::vector<float> gamma = {1.5f, -0.5f}, beta = {0.1f, 0.2f}, mean = {0.3f, -0.1f}, var = {2.0f, 0.25f};
  std::vector<float> y(d.count());
  cpu.batchnorm_forward_eval(y.data(), x.data(), gamma.data(), beta.data(), mean.data(), var.data(), d, 1e-5f);
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t c = (i / d.plane()) % 2;
    CHECK(y[i] == Approx((x[i] - mean[c]) / std::sqrt(var[c] + 1e-5) * gamma[c] + beta[c]).margin(1e-6));
  }
}

TEST_CASE("cpu relu and add: values and gradients", "[cpu][elementwise]") {
  CpuBackend cpu;
  std::vector<float> x = random_vector(200, 31);
  const std::vector<float> r = random_vector(200, 32);
  std::vector<float> y(200);
  cpu.relu_forward(y.data(), x.data(), y.size());
  for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == (x[i] > 0 ? x[i] : 0.0f));
  auto objective = [&] {
    cpu.relu_forward(y.data(), x.data(), y.size());
    return weighted_sum(y, r);
  };
  objective();
  std::vector<float> dx(200);
  cpu.relu_backward(dx.data(), r.data(), y.data(), dx.size());
  const test::GradCheck opts;
  CHECK(check_gradient("relu dx", x, dx, objective, opts,
                       [&](size_t i) { return std::fabs(x[i]) < 2 * opts.step; }));  // the kink

  const std::vector<float> special = {NAN, -0.0f, -1.0f, 2.0f}, ones(4, 1.0f);
  std::vector<float> ys(4), dxs(4);
  cpu.relu_forward(ys.data(), special.data(), 4);
  cpu.relu_backward(dxs.data(), ones.data(), ys.data(), 4);
  CHECK(std::isnan(ys[0]));  // NaN propagates, as torch.relu does
  CHECK(std::isnan(dxs[0]) == false);
  CHECK(dxs[0] == 1.0f);     // threshold_backward passes the gradient where y is NaN
  CHECK(ys[2] == 0.0f);
  CHECK(dxs[2] == 0.0f);
  CHECK(ys[3] == 2.0f);
  CHECK(dxs[3] == 1.0f);

  std::vector<float> a = random_vector(50, 33), b = random_vector(50, 34), sum(50);
  cpu.add(sum.data(), a.data(), b.data(), 50);
  for (size_t i = 0; i < 50; ++i) CHECK(sum[i] == a[i] + b[i]);
  cpu.add(a.data(), a.data(), b.data(), 50);  // in place
  CHECK(a == sum);
}

TEST_CASE("cpu maxpool 3x3/2: forward and backward", "[cpu][pool]") {
  CpuBackend cpu;
  // Small planes (every window at a border), a wider one whose inner windows take the unchecked path, and planes
  // narrower than the window without padding (no window is whole).
  for (const PoolGeometry& g : {PoolGeometry{2, 3, 9, 8, 3, 2, 1}, PoolGeometry{1, 2, 4, 4, 3, 2, 1},
                                PoolGeometry{1, 1, 1, 1, 3, 2, 1}, PoolGeometry{1, 2, 21, 40, 3, 2, 1},
                                PoolGeometry{1, 2, 5, 2, 3, 2, 0}}) {
    // Distinct values 0.05 apart: a +-0.01 perturbation never reorders a window, so no kink is crossed.
    std::vector<float> x(g.in_dims().count());
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.05f * float((i * 7919) % x.size()) - 1.0f;
    std::vector<float> y(g.out_dims().count());
    cpu.maxpool_forward(y.data(), x.data(), g);
    for (int nc = 0; nc < g.n * g.c; ++nc)
      for (int i = 0; i < g.out_h(); ++i)
        for (int j = 0; j < g.out_w(); ++j) {
          float best = -INFINITY;
          for (int h = i * g.stride - g.pad; h < i * g.stride - g.pad + g.kernel; ++h)
            for (int w = j * g.stride - g.pad; w < j * g.stride - g.pad + g.kernel; ++w)
              if (h >= 0 && h < g.h && w >= 0 && w < g.w) best = std::max(best, x[(size_t(nc) * g.h + h) * g.w + w]);
          CHECK(y[(size_t(nc) * g.out_h() + i) * g.out_w() + j] == best);
        }
    const std::vector<float> r = random_vector(y.size(), 41);
    auto objective = [&] {
      cpu.maxpool_forward(y.data(), x.data(), g);
      return weighted_sum(y, r);
    };
    objective();
    std::vector<float> dx(x.size(), 9.0f);
    cpu.maxpool_backward(dx.data(), r.data(), y.data(), x.data(), g);
    CHECK(check_gradient("maxpool dx", x, dx, objective));
  }
}

TEST_CASE("cpu maxpool: ties route the gradient to the first maximum", "[cpu][pool]") {
  CpuBackend cpu;
  const PoolGeometry g{1, 1, 2, 2, 3, 2, 1};  // one window covering the whole 2x2 input
  const std::vector<float> x = {0.0f, 1.0f, 1.0f, 0.5f}, dy = {2.0f};
  std::vector<float> y(1), dx(4);
  cpu.maxpool_forward(y.data(), x.data(), g);
  cpu.maxpool_backward(dx.data(), dy.data(), y.data(), x.data(), g);
  CHECK(y[0] == 1.0f);
  CHECK(dx == std::vector<float>{0.0f, 2.0f, 0.0f, 0.0f});
}

TEST_CASE("cpu maxpool: on a flat plane every window's gradient goes to its first position", "[cpu][pool]") {
  CpuBackend cpu;
  const PoolGeometry g{1, 1, 7, 12, 3, 2, 1};  // inner windows (the vectorized search) and clipped ones
  const std::vector<float> x(7 * 12, 3.0f);
  std::vector<float> y(g.out_dims().count()), dy(y.size()), dx(x.size());
  for (size_t i = 0; i < dy.size(); ++i) dy[i] = float(i + 1);
  cpu.maxpool_forward(y.data(), x.data(), g);
  cpu.maxpool_backward(dx.data(), dy.data(), y.data(), x.data(), g);
  std::vector<float> expected(x.size(), 0.0f);
  for (int i = 0; i < g.out_h(); ++i)
    for (int j = 0; j < g.out_w(); ++j)
      expected[size_t(std::max(2 * i - 1, 0)) * 12 + size_t(std::max(2 * j - 1, 0))] += dy[size_t(i) * g.out_w() + j];
  CHECK(dx == expected);
}

TEST_CASE("cpu maxpool: a NaN makes exactly the windows that hold it NaN", "[cpu][pool]") {
  CpuBackend cpu;
  const PoolGeometry g{1, 1, 7, 12, 3, 2, 1};
  std::vector<float> x(7 * 12);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 5);
  x[3 * 12 + 5] = NAN;  // inside: windows of output rows 1-2, columns 2-3
  x[0] = NAN;           // the corner: output (0, 0) only
  std::vector<float> y(g.out_dims().count());
  cpu.maxpool_forward(y.data(), x.data(), g);
  for (int i = 0; i < g.out_h(); ++i)
    for (int j = 0; j < g.out_w(); ++j) {
      INFO("output " << i << ", " << j);
      const bool holds = (i == 0 && j == 0) || ((i == 1 || i == 2) && (j == 2 || j == 3));
      CHECK(std::isnan(y[size_t(i) * g.out_w() + j]) == holds);
    }
}

TEST_CASE("cpu sgd: PyTorch's momentum and weight decay", "[cpu][sgd]") {
  CpuBackend cpu;
  std::vector<float> p = {1.0f, -2.0f}, buf = {5.0f, 5.0f};
  const std::vector<float> g = {0.5f, 0.25f};
  cpu.sgd_step(p.data(), buf.data(), g.data(), 2, 0.4f, 0.9f, 1e-4f, true);  // buf = g + wd*p
  const double b0 = 0.5 + 1e-4 * 1.0, b1 = 0.25 + 1e-4 * -2.0;
  CHECK(buf[0] == Approx(b0));
  CHECK(buf[1] == Approx(b1));
  CHECK(p[0] == Approx(1.0 - 0.4 * b0));
  CHECK(p[1] == Approx(-2.0 - 0.4 * b1));
  const double p0 = p[0];
  cpu.sgd_step(p.data(), buf.data(), g.data(), 2, 0.4f, 0.9f, 1e-4f, false);
  const double nb0 = 0.9 * b0 + 0.5 + 1e-4 * p0;
  CHECK(buf[0] == Approx(nb0));
  CHECK(p[0] == Approx(p0 - 0.4 * nb0));
}

TEST_CASE("cpu gemm: every kernel against a double-precision product, AVX-512 and AVX2 bit for bit",
          "[cpu][gemm]") {
  struct Case {
    int m, n, k;
  };
  // Edges of every blocking level: MR 6 (12 in AVX-512's kernel for at most 16 columns), NR 16/32, KC 256,
  // MC 120, NC 2048.
  const std::vector<Case> cases = {{1, 1, 1},     {6, 32, 256},   {7, 33, 257}, {5, 15, 3},  {121, 40, 300},
                                   {13, 2050, 9}, {64, 100, 576}, {3, 5, 0},    {12, 16, 256}, {19, 16, 300},
                                   {121, 9, 40},  {256, 16, 257}, {7, 2100, 33}};
  std::vector<GemmKernel> kernels;
  for (GemmKernel k : {GemmKernel::avx512, GemmKernel::avx2, GemmKernel::blas})
    if (gemm_kernel_supported(k)) kernels.push_back(k);
  const GemmKernel before = gemm_kernel();
  uint64_t seed = 40;
  for (const Case& t : cases)
    for (const bool ta : {false, true})
      for (const bool tb : {false, true})
        for (const bool accumulate : {false, true}) {
          INFO(t.m << "x" << t.n << "x" << t.k << (ta ? " A^T" : "") << (tb ? " B^T" : "")
                   << (accumulate ? " +=" : ""));
          const std::vector<float> a = random_vector(size_t(std::max(1, t.m * t.k)), seed++);
          const std::vector<float> b = random_vector(size_t(std::max(1, t.k * t.n)), seed++);
          const std::vector<float> c0 = random_vector(size_t(t.m) * (t.n + 3), seed++);
          const long ldc = t.n + 3;  // a leading dimension wider than the row
          // A stored as m x k (or k x m when transposed), B as k x n (or n x k).
          const MatrixView av = ta ? MatrixView{a.data(), 1, t.m} : MatrixView{a.data(), t.k, 1};
          const MatrixView bv = tb ? MatrixView{b.data(), 1, t.k} : MatrixView{b.data(), t.n, 1};
          // The exact product, and the tolerance of each value: float rounding in a sum of k products grows like
          // sqrt(k) u sum |a b| for any order of summation, and the libraries' orders differ from ours (OpenBLAS's
          // Haswell kernel misses 1e-5 at k 576 on AMD Zen 5). 2 sqrt(k) u sum |a b| is 30 times what it shows
          // there, and a dropped term or a half-precision sum still fails by far.
          std::vector<float> expected = c0;
          std::vector<double> tolerance(c0.size(), 1e-5);
          for (int i = 0; i < t.m; ++i)
            for (int j = 0; j < t.n; ++j) {
              double sum = accumulate ? double(c0[size_t(i * ldc + j)]) : 0.0;
              double magnitude = std::fabs(sum);
              for (int p = 0; p < t.k; ++p) {
                const double term = double(av.data[i * av.row_stride + p * av.col_stride]) *
                                    double(bv.data[p * bv.row_stride + j * bv.col_stride]);
                sum += term;
                magnitude += std::fabs(term);
              }
              const size_t at = size_t(i * ldc + j);
              expected[at] = float(sum);
              tolerance[at] += 1e-5 * std::fabs(sum) + 2.0 * std::sqrt(double(t.k)) * 0x1p-24 * magnitude;
            }
          auto within_tolerance = [&](const std::vector<float>& c) {
            size_t bad = 0;
            for (size_t v = 0; v < c.size(); ++v) {
              const double err = std::fabs(double(c[v]) - double(expected[v]));
              if (!(err <= tolerance[v]) && bad++ < 3)
                WARN("c[" << v << "]: got " << c[v] << " expected " << expected[v] << " (tolerance " << tolerance[v]
                          << ")");
            }
            return bad == 0;  // the padding columns are untouched too (their tolerance is 1e-5)
          };
          std::vector<std::vector<float>> results;
          for (GemmKernel kernel : kernels) {
            INFO(gemm_kernel_name(kernel));
            set_gemm_kernel(kernel);
            std::vector<float> c = c0;
            gemm(t.m, t.n, t.k, av, bv, c.data(), ldc, accumulate);
            CHECK(within_tolerance(c));
            PackedMatrix packed;  // packed once, as a convolution's weights are: the same numbers
            packed.pack(t.m, t.k, av);
            std::vector<float> c_packed = c0;
            gemm(packed, t.n, bv, c_packed.data(), ldc, accumulate);
            CHECK(c_packed == c);
            if (kernel != GemmKernel::blas && t.k > 0) {  // B in the packed form a producer writes: the same numbers
              const int width = packed_b_width(t.n);
              const int strips = (t.n + width - 1) / width;
              std::vector<float> b_packed(size_t(strips) * t.k * width, -1e30f);  // past column n: not read into C
              for (int p = 0; p < t.k; ++p)
                for (int j = 0; j < t.n; ++j)
                  b_packed[(size_t(j / width) * t.k + p) * width + j % width] =
                      bv.data[p * bv.row_stride + j * bv.col_stride];
              std::vector<float> c_prepacked = c0;
              gemm_packed_b(packed, t.n, b_packed.data(), c_prepacked.data(), ldc, accumulate);
              CHECK(c_prepacked == c);
            }
            results.push_back(c);
          }
          if (kernels.size() >= 2 && kernels[0] == GemmKernel::avx512 && kernels[1] == GemmKernel::avx2)
            CHECK(results[0] == results[1]);
        }
  set_gemm_kernel(before);
}
