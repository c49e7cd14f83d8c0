#include "api/anomaly_maps.h"

#include <algorithm>
#include <chrono>

namespace stfpm {

AnomalyMaps compute_anomaly_maps(StfpmModel& model, const ImageSet& images, int batch_size, const Reporter& report) {
  Backend& backend = model.backend();
  AnomalyMaps out;
  out.count = int(images.count());
  out.size = images.size;
  out.levels = int(model.recipe().layers.size());
  const size_t plane = images.plane(), image = 3 * plane;
  const int batch = std::max(1, std::min(batch_size, out.count));
  out.combined.resize(size_t(out.count) * plane);
  out.level_maps.resize(size_t(out.levels) * out.count * plane);
  out.scores.resize(size_t(out.count));

  Buffer x(backend, size_t(batch) * image), map(backend, size_t(batch) * plane);
  Buffer levels(backend, size_t(out.levels) * batch * plane);
  std::vector<float> host_levels(levels.size());
  const auto start = std::chrono::steady_clock::now();
  report.update("anomaly maps", 0, images.count());
  for (int first = 0; first < out.count; first += batch) {
    const int n = std::min(batch, out.count - first);
    backend.upload(x.data(), images.image(size_t(first)), size_t(n) * image);
    model.anomaly_maps(map.data(), levels.data(), x.data(), n, images.size, images.size);
    backend.download(out.combined.data() + size_t(first) * plane, map.data(), size_t(n) * plane);
    backend.download(host_levels.data(), levels.data(), size_t(out.levels) * n * plane);
    // The batch's level maps are (levels, n, S, S); the set's are (levels, count, S, S).
    for (int l = 0; l < out.levels; ++l)
      std::copy_n(host_levels.data() + size_t(l) * n * plane, size_t(n) * plane,
                  out.level_maps.data() + (size_t(l) * out.count + first) * plane);
    report.update("anomaly maps", size_t(first + n), images.count());
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.finished("anomaly maps", images.count());
  for (int i = 0; i < out.count; ++i) {
    const float* m = out.map(size_t(i));
    out.scores[size_t(i)] = *std::max_element(m, m + plane);
  }
  return out;
}

}  // namespace stfpm
