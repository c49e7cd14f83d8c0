// The anomaly map at the STFPM shapes (batch 32, three levels, 256x256 output), every kernel version. Minimum
// traffic: read t and s of every level, write the map (and the level maps when asked for).
#include <string>

#include "bench_util.h"
#include "kernels.h"

namespace stfpm::bench {

void bench_anomaly_map(GpuBench& b) {
  b.header("anomaly map: 3 levels -> 32x256x256");
  const Dims dims[] = {{32, 64, 64, 64}, {32, 128, 32, 32}, {32, 256, 16, 16}};
  const int n = 32, out = 256;
  const size_t plane = size_t(out) * out, map_count = size_t(n) * plane;
  std::vector<Buffer> keep;
  std::vector<FeaturePair> cpu_levels, gpu_levels;
  double feature_bytes = 0.0;
  uint64_t seed = 100;
  for (const Dims& d : dims) {
    std::vector<float> t = random_values(d.count(), seed++), s = random_values(d.count(), seed++, -0.3f, 0.3f);
    for (size_t i = 0; i < s.size(); ++i) s[i] += t[i];
    for (Backend* be : {&b.cpu(), &b.gpu()}) {
      keep.emplace_back(*be, d.count());
      keep.back().upload(t);
      const float* tp = keep.back().data();
      keep.emplace_back(*be, d.count());
      keep.back().upload(s);
      (be == &b.cpu() ? cpu_levels : gpu_levels).push_back(FeaturePair{tp, keep.back().data(), d});
    }
    feature_bytes += 8.0 * double(d.count());
  }
  Buffer cpu_map(b.cpu(), map_count), gpu_map(b.gpu(), map_count), gpu_levels_out(b.gpu(), 3 * map_count);
  b.cpu().anomaly_map(cpu_map.data(), nullptr, cpu_levels, out, out);
  const std::vector<float> want = cpu_map.download();
  Buffer scratch(b.gpu(), gpu::anomaly_map_scratch_bytes(gpu_levels) / sizeof(float) + 1);
  const double bytes = feature_bytes + 4.0 * double(map_count);
  const std::string shape = "3 levels, 32x256x256";
  b.row("anomaly_map", "0: cudaMemcpy, same bytes", shape, b.copy_ms(size_t(bytes / 2)), bytes);
  for (int version = 1; version <= gpu::kPyramidVersions; ++version) {
    auto launch = [&](float* level_maps) {
      gpu::launch_anomaly_map(version, gpu_map.data(), level_maps, gpu_levels, out, out, scratch.data(),
                              b.shared_mem_optin(), b.stream());
    };
    launch(nullptr);
    const double err = normalized_error(gpu_map.download(), want);
    b.check("anomaly_map v" + std::to_string(version) + ": nmse " + std::to_string(err), err <= 1e-10);
    const std::string name = std::to_string(version) + (version == 1 ? ": distances per pixel + upsample"
                                                                     : ": smem distances + upsample");
    const double ms = b.time_ms([&] { launch(nullptr); });
    b.row("anomaly_map", name, shape, ms, bytes);
    if (version == gpu::kPyramidDefault) {
      b.target("anomaly_map default", ms, bytes, 0.7);
      const double with_levels = bytes + 12.0 * double(map_count);
      b.row("  +level maps", name, shape, b.time_ms([&] { launch(gpu_levels_out.data()); }), with_levels);
    }
  }
}

}  // namespace stfpm::bench
