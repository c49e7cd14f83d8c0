// Level 1 for the STFPM ops on the CPU: the pyramid loss against its definition in double and finite
// differences; the anomaly map against a direct implementation of normalize / distance / bilinear / product.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_backend.h"
#include "gradcheck.h"
#include "test_util.h"

using namespace stfpm;
using test::random_vector;

namespace {

// 0.5 * ||t^ - s^||^2 at every (n, h, w), in double.
std::vector<double> reference_distance(const std::vector<float>& t, const std::vector<float>& s, const Dims& d) {
  std::vector<double> out(size_t(d.n) * d.plane());
  for (int n = 0; n < d.n; ++n)
    for (size_t p = 0; p < d.plane(); ++p) {
      double nt = 0, ns = 0;
      for (int c = 0; c < d.c; ++c) {
        const size_t i = (size_t(n) * d.c + c) * d.plane() + p;
        nt += double(t[i]) * t[i];
        ns += double(s[i]) * s[i];
      }
      nt = std::max(std::sqrt(nt), 1e-12);
      ns = std::max(std::sqrt(ns), 1e-12);
      double acc = 0;
      for (int c = 0; c < d.c; ++c) {
        const size_t i = (size_t(n) * d.c + c) * d.plane() + p;
        const double diff = t[i] / nt - s[i] / ns;
        acc += diff * diff;
      }
      out[size_t(n) * d.plane() + p] = 0.5 * acc;
    }
  return out;
}

// F.interpolate(mode='bilinear', align_corners=False) of one (h, w) plane to (oh, ow), in double.
std::vector<double> reference_upsample(const double* in, int h, int w, int oh, int ow) {
  auto source = [](int o, int in_size, int out_size) {
    double src = (o + 0.5) * double(in_size) / double(out_size) - 0.5;
    return std::max(src, 0.0);
  };
  std::vector<double> out(size_t(oh) * ow);
  for (int i = 0; i < oh; ++i) {
    const double sy = source(i, h, oh);
    const int y0 = std::min(int(sy), h - 1), y1 = std::min(y0 + 1, h - 1);
    const double ly = sy - y0;
    for (int j = 0; j < ow; ++j) {
      const double sx = source(j, w, ow);
      const int x0 = std::min(int(sx), w - 1), x1 = std::min(x0 + 1, w - 1);
      const double lx = sx - x0;
      out[size_t(i) * ow + j] = (1 - ly) * ((1 - lx) * in[y0 * w + x0] + lx * in[y0 * w + x1]) +
                                ly * ((1 - lx) * in[y1 * w + x0] + lx * in[y1 * w + x1]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("cpu pyramid loss: value and gradient", "[cpu][stfpm]") {
  CpuBackend cpu;
  for (const Dims& d : {Dims{2, 5, 3, 4}, Dims{1, 16, 2, 2}, Dims{3, 1, 2, 3}}) {
    INFO("dims " << d.n << "x" << d.c << "x" << d.h << "x" << d.w);
    const std::vector<float> t = random_vector(d.count(), 51);
    std::vector<float> s = random_vector(d.count(), 52);
    const float alpha = 0.7f;
    float loss = 0.25f;  // accumulated onto
    std::vector<float> grad(d.count(), 5.0f);
    cpu.pyramid_loss(&loss, grad.data(), FeaturePair{t.data(), s.data(), d}, alpha);

    double expected = 0;
    for (double v : reference_distance(t, s, d)) expected += v;
    expected *= alpha / double(d.plane());  // alpha * sum ||.||^2 / (2 h w)
    CHECK(loss - 0.25f == Approx(expected).epsilon(1e-5));

    auto objective = [&] {
      double total = 0;
      for (double v : reference_distance(t, s, d)) total += v;
      return total * alpha / double(d.plane());
    };
    test::GradCheck opts;
    opts.step = 1e-3f;
    CHECK(test::check_gradient("grad_s", s, grad, objective, opts));
  }
}

TEST_CASE("cpu pyramid loss: a zero student vector is clamped, not NaN", "[cpu][stfpm]") {
  CpuBackend cpu;
  const Dims d{1, 3, 1, 1};
  const std::vector<float> t = {3.0f, 0.0f, 4.0f}, s = {0.0f, 0.0f, 0.0f};
  float loss = 0;
  std::vector<float> grad(3);
  cpu.pyramid_loss(&loss, grad.data(), FeaturePair{t.data(), s.data(), d}, 1.0f);
  CHECK(loss == Approx(0.5));  // ||t^ - 0||^2 / 2
  // s^ = s / eps, so dL/ds = (s^ - t^) / eps = -t^ / eps (PyTorch's F.normalize gives the same).
  CHECK(grad[0] == Approx(-0.6 / 1e-12).epsilon(1e-5));
  CHECK(grad[1] == 0.0f);
  CHECK(grad[2] == Approx(-0.8 / 1e-12).epsilon(1e-5));
}

TEST_CASE("cpu anomaly map: per-level distance, bilinear upsampling, product", "[cpu][stfpm]") {
  CpuBackend cpu;
  const int n = 2, out_h = 13, out_w = 16;
  const std::vector<Dims> dims = {Dims{n, 4, 8, 8}, Dims{n, 6, 4, 5}, Dims{n, 8, 2, 3}};
  std::vector<std::vector<float>> t, s;
  std::vector<FeaturePair> levels;
  for (size_t l = 0; l < dims.size(); ++l) {
    t.push_back(random_vector(dims[l].count(), 60 + l));
    s.push_back(random_vector(dims[l].count(), 70 + l));
  }
  for (size_t l = 0; l < dims.size(); ++l) levels.push_back(FeaturePair{t[l].data(), s[l].data(), dims[l]});
  const size_t plane = size_t(out_h) * out_w;
  std::vector<float> map(n * plane), level_maps(dims.size() * n * plane);
  cpu.anomaly_map(map.data(), level_maps.data(), levels, out_h, out_w);

  std::vector<double> product(n * plane, 1.0);
  for (size_t l = 0; l < dims.size(); ++l) {
    const std::vector<double> dist = reference_distance(t[l], s[l], dims[l]);
    for (int i = 0; i < n; ++i) {
      const std::vector<double> up =
          reference_upsample(dist.data() + i * dims[l].plane(), dims[l].h, dims[l].w, out_h, out_w);
      for (size_t p = 0; p < plane; ++p) {
        CHECK(level_maps[(l * n + i) * plane + p] == Approx(up[p]).epsilon(1e-5).margin(1e-7));
        product[i * plane + p] *= up[p];
      }
    }
  }
  for (size_t p = 0; p < map.size(); ++p) CHECK(map[p] == Approx(product[p]).epsilon(1e-5).margin(1e-9));

  std::vector<float> map_only(n * plane);
  cpu.anomaly_map(map_only.data(), nullptr, levels, out_h, out_w);
  CHECK(map_only == map);
}
