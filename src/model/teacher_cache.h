// The frozen teacher's features of a fixed image set (the training images), computed once so that every epoch runs
// only the student: a quarter of the training step's work. The teacher is in eval mode, so an image's features do
// not depend on the batch it is in, and a cached step computes what an uncached one does.
#pragma once

#include <array>
#include <cstddef>

#include "model/stfpm_model.h"

namespace stfpm {

class TeacherCache {
 public:
  // The features of `count` images (count, 3, height, width) in backend memory, computed in batches of `batch`
  // (the model must be planned for at least that batch).
  TeacherCache(StfpmModel& model, const float* images, int count, int batch, int height, int width);
  // The features of images indices[0..n) gathered into one batch (backend memory, valid until the next call).
  const Features& gather(const size_t* indices, int n);
  // Backend bytes the cache of `count` images takes.
  static size_t bytes(const ResNet18Trunk& teacher, int count, int batch, int height, int width);

 private:
  Backend& backend_;
  std::array<Dims, 3> image_dims_;  // one image's (1, C, H, W) per level
  std::array<float*, 3> cached_{}, batch_{};
  Buffer memory_;
  Features gathered_;
};

}  // namespace stfpm
