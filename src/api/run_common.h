// Pieces the subcommands share: building the backend and the model from the configuration, and computing the
// anomaly maps of a set of images in batches.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "cli/config.h"
#include "data/dataset.h"
#include "model/stfpm_model.h"

namespace stfpm {

Preprocess preprocess_of(const RunConfig& config);
StfpmOptions model_options_of(const RunConfig& config);
std::unique_ptr<Backend> backend_of(const RunConfig& config);  // logs the device it runs on
// Loads the teacher (path from teacher_path()) into the model; returns the path.
std::string load_teacher(StfpmModel& model, const RunConfig& config);
// Loads the images of `records` once, with a progress line.
ImageSet load_with_progress(const std::string& what, const std::vector<ImageRecord>& records,
                            const Preprocess& preprocess, bool with_masks);
// Creates `dir` if needed and checks a file can be written there; throws naming the folder otherwise.
void ensure_writable_dir(const std::string& dir);

// For a test or predict run: the recipe fields a checkpoint fixes (size, layers, mean, std) are taken from it
// unless given on the command line, in which case they must agree. Returns the updated configuration.
RunConfig adopt_checkpoint_config(const RunConfig& config);

struct AnomalyMaps {
  int count = 0, size = 0, levels = 0;
  std::vector<float> combined;     // (count, size, size)
  std::vector<float> level_maps;   // (levels, count, size, size)
  std::vector<float> scores;       // (count): the maximum of each combined map
  double seconds = 0;              // time spent in the model (upload, forward, download)
  const float* map(size_t i) const { return combined.data() + i * size_t(size) * size; }
  const float* level(int l, size_t i) const {
    return level_maps.data() + (size_t(l) * count + i) * size_t(size) * size;
  }
};
AnomalyMaps compute_anomaly_maps(StfpmModel& model, const ImageSet& images, int batch_size);

}  // namespace stfpm
