#include "api/map_spill.h"

#include <stdexcept>

namespace stfpm {

// A record: rgb (3 bytes a pixel), the mask (1, with masks), the combined map, then each level's (4 each).
MapSpill::MapSpill(const std::string& folder, const std::vector<ImageRecord>& records, int size, int levels,
                   bool with_masks)
    : file_(folder), size_(size), levels_(levels), with_masks_(with_masks), records_(&records) {
  scores_.reserve(records.size());
}

size_t MapSpill::record_bytes() const {
  return plane() * (3 + (with_masks_ ? 1 : 0) + sizeof(float) * size_t(1 + levels_));
}

void MapSpill::append(const ImageSet& images, const AnomalyMaps& maps) {
  if (images.size != size_ || maps.size != size_ || maps.levels != levels_ || int(images.count()) != maps.count ||
      images.has_masks() != with_masks_ || count() + images.count() > records_->size())
    throw std::logic_error("MapSpill::append: images or maps of another shape, or more than the records");
  const size_t p = plane();
  for (size_t i = 0; i < images.count(); ++i) {
    file_.append(images.rgb_image(i), 3 * p);
    if (with_masks_) file_.append(images.mask(i), p);
    file_.append(maps.map(i), p * sizeof(float));
    for (int l = 0; l < levels_; ++l) file_.append(maps.level(l, i), p * sizeof(float));
    scores_.push_back(maps.scores[i]);
  }
}

void MapSpill::read(size_t first, size_t n, ImageSet& images, AnomalyMaps& maps) const {
  if (first > count() || n > count() - first) throw std::logic_error("MapSpill::read past the end");
  const size_t p = plane();
  images = ImageSet{};
  images.size = size_;
  images.records.assign(records_->begin() + long(first), records_->begin() + long(first + n));
  images.rgb.resize(n * 3 * p);
  if (with_masks_) images.masks.resize(n * p);
  maps = AnomalyMaps{};
  maps.count = int(n);
  maps.size = size_;
  maps.levels = levels_;
  maps.combined.resize(n * p);
  maps.level_maps.resize(size_t(levels_) * n * p);
  maps.scores.assign(scores_.begin() + long(first), scores_.begin() + long(first + n));
  for (size_t i = 0; i < n; ++i) {
    uint64_t at = (first + i) * record_bytes();
    auto take = [&](void* out, size_t bytes) {
      file_.read(at, out, bytes);
      at += bytes;
    };
    take(images.rgb.data() + i * 3 * p, 3 * p);
    if (with_masks_) take(images.masks.data() + i * p, p);
    take(maps.combined.data() + i * p, p * sizeof(float));
    for (int l = 0; l < levels_; ++l) take(maps.level_maps.data() + (size_t(l) * n + i) * p, p * sizeof(float));
  }
}

void MapSpill::for_each_map(int level, const std::function<void(const float*, size_t)>& visit) const {
  if (level < -1 || level >= levels_) throw std::logic_error("MapSpill::for_each_map: no such level");
  const size_t p = plane();
  const uint64_t offset = p * (3 + (with_masks_ ? 1 : 0)) + p * sizeof(float) * size_t(level + 1);
  std::vector<float> map(p);
  for (size_t i = 0; i < count(); ++i) {
    file_.read(i * record_bytes() + offset, map.data(), p * sizeof(float));
    visit(map.data(), p);
  }
}

}  // namespace stfpm
