// The anomaly maps of a set of loaded images, computed in batches on the model's backend and brought back to the
// host: what test and predict report on.
#pragma once

#include <vector>

#include "api/runtime.h"
#include "data/dataset.h"
#include "model/stfpm_model.h"

namespace stfpm {

struct AnomalyMaps {
  int count = 0, size = 0, levels = 0;
  std::vector<float> combined;    // (count, size, size)
  std::vector<float> level_maps;  // (levels, count, size, size)
  std::vector<float> scores;      // (count): the maximum of each combined map
  double seconds = 0;             // time spent in the model (upload, forward, download)
  const float* map(size_t i) const { return combined.data() + i * size_t(size) * size; }
  const float* level(int l, size_t i) const {
    return level_maps.data() + (size_t(l) * count + i) * size_t(size) * size;
  }
};

// The model must be planned for inference at batches of min(batch_size, images) or more.
AnomalyMaps compute_anomaly_maps(StfpmModel& model, const ImageSet& images, int batch_size, const Reporter& report);

}  // namespace stfpm
