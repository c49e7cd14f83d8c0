#include "model/teacher_cache.h"

#include <algorithm>

namespace stfpm {

size_t TeacherCache::bytes(const ResNet18Trunk& teacher, int count, int batch, int height, int width) {
  size_t per_image = 0;
  for (const Dims& d : teacher.feature_dims(1, height, width)) per_image += d.count();
  return per_image * size_t(count + batch) * sizeof(float);
}

TeacherCache::TeacherCache(StfpmModel& model, const float* images, int count, int batch, int height, int width)
    : backend_(model.backend()), image_dims_(model.teacher().feature_dims(1, height, width)) {
  memory_ = Buffer(backend_, bytes(model.teacher(), count, batch, height, width) / sizeof(float));
  float* p = memory_.data();
  for (size_t l = 0; l < 3; ++l) {
    cached_[l] = p;
    p += image_dims_[l].count() * size_t(count);
    batch_[l] = p;
    p += image_dims_[l].count() * size_t(batch);
  }
  const size_t image = 3 * size_t(height) * size_t(width);
  for (int first = 0; first < count; first += batch) {
    const int n = std::min(batch, count - first);
    const Features f = model.teacher().forward(images + size_t(first) * image, n, false);
    for (size_t l = 0; l < 3; ++l)
      backend_.copy(cached_[l] + size_t(first) * image_dims_[l].count(), f.data[l], size_t(n) * image_dims_[l].count());
  }
}

const Features& TeacherCache::gather(const size_t* indices, int n) {
  for (size_t l = 0; l < 3; ++l) {
    const size_t per_image = image_dims_[l].count();
    for (int j = 0; j < n; ++j)
      backend_.copy(batch_[l] + size_t(j) * per_image, cached_[l] + indices[j] * per_image, per_image);
    gathered_.data[l] = batch_[l];
    gathered_.dims[l] = image_dims_[l];
    gathered_.dims[l].n = n;
  }
  return gathered_;
}

}  // namespace stfpm
