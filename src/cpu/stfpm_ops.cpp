// CPU backend: the STFPM ops, the pyramid loss (forward and gradient) and the anomaly map.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_backend.h"
#include "cpu/vector_clones.h"

namespace stfpm {
namespace {

constexpr float kNormEps = 1e-12f;  // F.normalize's eps: t^ = t / max(||t||, eps)

// inv[p] = 1 / max(||x[:, p]||_2, eps) for each pixel p of one image x (C, P).
STFPM_VECTOR_CLONES void inverse_norms(float* inv, const float* x, int channels, size_t pixels) {
  std::fill(inv, inv + pixels, 0.0f);
  for (int c = 0; c < channels; ++c) {
    const float* row = x + size_t(c) * pixels;
    for (size_t p = 0; p < pixels; ++p) inv[p] += row[p] * row[p];
  }
  for (size_t p = 0; p < pixels; ++p) inv[p] = 1.0f / std::max(std::sqrt(inv[p]), kNormEps);
}

// dist[p] = 0.5 * ||t^[:, p] - s^[:, p]||^2 for one image; returns the image's sum of dist (in double).
STFPM_VECTOR_CLONES double half_squared_distance(float* dist, const float* t, const float* s, const float* inv_t,
                                                 const float* inv_s, int channels, size_t pixels) {
  std::fill(dist, dist + pixels, 0.0f);
  for (int c = 0; c < channels; ++c) {
    const float* tr = t + size_t(c) * pixels;
    const float* sr = s + size_t(c) * pixels;
    for (size_t p = 0; p < pixels; ++p) {
      const float diff = tr[p] * inv_t[p] - sr[p] * inv_s[p];
      dist[p] += diff * diff;
    }
  }
  double total = 0.0;
  for (size_t p = 0; p < pixels; ++p) {
    dist[p] *= 0.5f;
    total += dist[p];
  }
  return total;
}

// PyTorch's source coordinate for bilinear resampling with align_corners=False (computed in float, as it does).
struct Tap {
  int i0, i1;
  float w0, w1;
};
std::vector<Tap> bilinear_taps(int in_size, int out_size) {
  std::vector<Tap> taps(static_cast<size_t>(out_size));
  const float scale = float(in_size) / float(out_size);
  for (int o = 0; o < out_size; ++o) {
    float src = scale * (float(o) + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    const int i0 = std::min(int(src), in_size - 1);
    const float w1 = src - float(i0);
    taps[size_t(o)] = {i0, i0 < in_size - 1 ? i0 + 1 : i0, 1.0f - w1, w1};
  }
  return taps;
}

}  // namespace

// With u = s^, d = u - t^ and k = alpha / (H*W), the level loss is k/2 * sum ||d||^2 and per pixel
//   dL/ds = k / ||s|| * (d - u * (u . d))   when ||s|| > eps (the normalization's Jacobian projects out u),
//   dL/ds = k / eps * d                     when the norm is clamped to eps.
void CpuBackend::pyramid_loss(float* loss, float* grad_s, const FeaturePair& f, float alpha) {
  const TeamSize team(threads_);
  const Dims& d = f.dims;
  const size_t pixels = d.plane(), image = size_t(d.c) * pixels;
  const float k = alpha / float(pixels);
  double total = 0.0;
#pragma omp parallel reduction(+ : total)
  {
    std::vector<float> inv_t(pixels), inv_s(pixels), dist(pixels), dot(pixels);
#pragma omp for schedule(static)
    for (int n = 0; n < d.n; ++n) {
      const float* t = f.teacher + n * image;
      const float* s = f.student + n * image;
      inverse_norms(inv_t.data(), t, d.c, pixels);
      inverse_norms(inv_s.data(), s, d.c, pixels);
      total += half_squared_distance(dist.data(), t, s, inv_t.data(), inv_s.data(), d.c, pixels);
      if (!grad_s) continue;
      std::fill(dot.begin(), dot.end(), 0.0f);
      for (int c = 0; c < d.c; ++c) {
        const float* tr = t + size_t(c) * pixels;
        const float* sr = s + size_t(c) * pixels;
        for (size_t p = 0; p < pixels; ++p) {
          const float u = sr[p] * inv_s[p];
          dot[p] += u * (u - tr[p] * inv_t[p]);
        }
      }
      float* g = grad_s + n * image;
      for (int c = 0; c < d.c; ++c) {
        const float* tr = t + size_t(c) * pixels;
        const float* sr = s + size_t(c) * pixels;
        float* gr = g + size_t(c) * pixels;
        for (size_t p = 0; p < pixels; ++p) {
          const float u = sr[p] * inv_s[p];
          const float diff = u - tr[p] * inv_t[p];
          const bool clamped = inv_s[p] >= 1.0f / kNormEps;  // the norm was below eps
          gr[p] = clamped ? k * inv_s[p] * diff : k * inv_s[p] * (diff - u * dot[p]);
        }
      }
    }
  }
  // Each level map sums 0.5*||d||^2, so the level loss alpha/(2HW) * sum ||d||^2 is k * total.
  *loss += float(double(k) * total);
}

void CpuBackend::anomaly_map(float* map, float* level_maps, const std::vector<FeaturePair>& levels, int out_h,
                             int out_w) {
  const TeamSize team(threads_);
  if (levels.empty()) return;
  const int n_images = levels[0].dims.n;
  const size_t out_plane = size_t(out_h) * out_w;
  for (size_t l = 0; l < levels.size(); ++l) {
    const FeaturePair& f = levels[l];
    const Dims& d = f.dims;
    const size_t pixels = d.plane(), image = size_t(d.c) * pixels;
    const std::vector<Tap> rows = bilinear_taps(d.h, out_h), cols = bilinear_taps(d.w, out_w);
#pragma omp parallel
    {
      std::vector<float> inv_t(pixels), inv_s(pixels), dist(pixels);
#pragma omp for schedule(static)
      for (int n = 0; n < n_images; ++n) {
        const float* t = f.teacher + n * image;
        const float* s = f.student + n * image;
        inverse_norms(inv_t.data(), t, d.c, pixels);
        inverse_norms(inv_s.data(), s, d.c, pixels);
        half_squared_distance(dist.data(), t, s, inv_t.data(), inv_s.data(), d.c, pixels);
        float* out = map + n * out_plane;
        float* level_out = level_maps ? level_maps + (l * n_images + n) * out_plane : nullptr;
        for (int i = 0; i < out_h; ++i) {
          const Tap& r = rows[size_t(i)];
          const float* top = dist.data() + size_t(r.i0) * d.w;
          const float* bottom = dist.data() + size_t(r.i1) * d.w;
          for (int j = 0; j < out_w; ++j) {
            const Tap& c = cols[size_t(j)];
            const float v = r.w0 * (c.w0 * top[c.i0] + c.w1 * top[c.i1]) +
                            r.w1 * (c.w0 * bottom[c.i0] + c.w1 * bottom[c.i1]);
            const size_t o = size_t(i) * out_w + j;
            out[o] = l == 0 ? v : out[o] * v;
            if (level_out) level_out[o] = v;
          }
        }
      }
    }
  }
}

}  // namespace stfpm
