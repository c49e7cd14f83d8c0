// The anomaly map: per level, 0.5 * ||t^ - s^||^2 at feature resolution (the pyramid kernel, no gradient), then
// one pass over the output that upsamples every level bilinearly (align_corners = false) and multiplies them.
//
// Source coordinates follow PyTorch's float arithmetic, src = scale * (o + 0.5) - 0.5 clamped at 0, with
// scale = in / out computed in float; the __fmul_rn/__fadd_rn intrinsics keep nvcc from contracting it into an
// FMA, which could move a coordinate that lands on an integer to the neighbouring tap.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "check.h"
#include "device_utils.cuh"
#include "kernels.h"

namespace stfpm::gpu {
namespace {

constexpr int kMaxLevelsPerPass = 4;  // more levels run as several passes, each multiplying into the map

struct UpLevel {
  const float* dist;  // (N, h, w)
  int h, w;
  float scale_h, scale_w;
};

struct UpLevels {
  UpLevel level[kMaxLevelsPerPass];
  int count;
  int first;  // index of level[0] among all levels, for level_maps
};

struct Tap {
  int i0, i1;
  float w0, w1;
};

__device__ __forceinline__ Tap tap(int o, int in_size, float scale) {
  float src = __fadd_rn(__fmul_rn(scale, __fadd_rn(float(o), 0.5f)), -0.5f);
  if (src < 0.0f) src = 0.0f;
  Tap t;
  t.i0 = min(int(src), in_size - 1);
  t.w1 = src - float(t.i0);
  t.w0 = 1.0f - t.w1;
  t.i1 = t.i0 < in_size - 1 ? t.i0 + 1 : t.i0;
  return t;
}

// map (N, out_h, out_w) = [map *] product over the pass's levels of the upsampled distance; level_maps, when not
// null, receives each level's upsampled map at (first + l, n).
__global__ void upsample_product(float* map, float* level_maps, UpLevels lv, int n_images, int out_h, int out_w,
                                 bool multiply_into_map) {
  const size_t plane = size_t(out_h) * out_w, count = size_t(n_images) * plane;
  for (size_t idx = blockIdx.x * size_t(blockDim.x) + threadIdx.x; idx < count;
       idx += size_t(gridDim.x) * blockDim.x) {
    const size_t n = index_div(idx, unsigned(plane));
    const int o = int(idx - n * plane), i = o / out_w, j = o - i * out_w;
    float product = multiply_into_map ? map[idx] : 1.0f;
#pragma unroll
    for (int l = 0; l < kMaxLevelsPerPass; ++l) {  // unrolled, so lv.level[l] stays in the parameter space
      if (l >= lv.count) break;
      const UpLevel& L = lv.level[l];
      const Tap r = tap(i, L.h, L.scale_h), c = tap(j, L.w, L.scale_w);
      const float* d = L.dist + n * size_t(L.h) * L.w;
      const float* top = d + size_t(r.i0) * L.w;
      const float* bottom = d + size_t(r.i1) * L.w;
      const float v = r.w0 * (c.w0 * top[c.i0] + c.w1 * top[c.i1]) + r.w1 * (c.w0 * bottom[c.i0] + c.w1 * bottom[c.i1]);
      product *= v;
      if (level_maps) level_maps[(size_t(lv.first + l) * n_images + n) * plane + o] = v;
    }
    map[idx] = product;
  }
}

}  // namespace

size_t anomaly_map_scratch_bytes(const std::vector<FeaturePair>& levels) {
  size_t floats = 0;
  for (const FeaturePair& f : levels) floats += size_t(f.dims.n) * f.dims.plane();
  return floats * sizeof(float);
}

void launch_anomaly_map(int version, float* map, float* level_maps, const std::vector<FeaturePair>& levels,
                        int out_h, int out_w, void* scratch, size_t shared_mem_optin, cudaStream_t stream) {
  if (levels.empty() || out_h <= 0 || out_w <= 0) return;
  const int n_images = levels[0].dims.n;
  for (size_t l = 0; l < levels.size(); ++l)
    if (levels[l].dims.n != n_images)
      throw std::invalid_argument("anomaly_map: level " + std::to_string(l) + " has batch " +
                                  std::to_string(levels[l].dims.n) + ", level 0 has " + std::to_string(n_images));
  if (n_images == 0) return;
  float* dist = static_cast<float*>(scratch);
  std::vector<UpLevel> up;
  for (const FeaturePair& f : levels) {
    launch_pixel_distances(version, dist, nullptr, nullptr, f.teacher, f.student, f.dims, 0.0f, shared_mem_optin,
                           stream);
    up.push_back({dist, f.dims.h, f.dims.w, float(f.dims.h) / float(out_h), float(f.dims.w) / float(out_w)});
    dist += size_t(n_images) * f.dims.plane();
  }
  const size_t count = size_t(n_images) * out_h * out_w;
  for (size_t first = 0; first < up.size(); first += kMaxLevelsPerPass) {
    UpLevels pass{};
    pass.first = int(first);
    pass.count = int(std::min(up.size() - first, size_t(kMaxLevelsPerPass)));
    for (int l = 0; l < pass.count; ++l) pass.level[l] = up[first + size_t(l)];
    upsample_product<<<blocks_for(count), kThreads, 0, stream>>>(map, level_maps, pass, n_images, out_h, out_w,
                                                                 first > 0);
    CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace stfpm::gpu
