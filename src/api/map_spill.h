// What `test` keeps of each test image between computing its maps and writing its reports, on a scratch file in
// the results folder instead of in memory: the 8-bit image, the gray mask, the combined map and the level maps.
// That is 4 * (levels + 1) + 4 bytes a pixel (1.3 MB an image at 256 x 256 with three levels) of disk, and
// nothing of memory, so a test set of any size runs in bounded memory; the file has no name and goes when the
// run ends, crash or not.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "api/anomaly_maps.h"
#include "core/scratch_file.h"
#include "data/dataset.h"

namespace stfpm {

class MapSpill {
 public:
  // `records` are every image that will be appended, in order; the spill refers to them (they must outlive it)
  // rather than copying them a chunk at a time: small allocations that live on between a chunk's large ones keep
  // the heap from giving the freed memory back (glibc), and memory grew by 0.8 MB an image that way.
  MapSpill(const std::string& folder, const std::vector<ImageRecord>& records, int size, int levels,
           bool with_masks);

  // Appends the images of a chunk (rgb, masks) with their maps: the next images of `records`.
  void append(const ImageSet& images, const AnomalyMaps& maps);
  size_t count() const { return scores_.size(); }  // images appended so far
  // The first count() records.
  std::vector<ImageRecord> records() const { return {records_->begin(), records_->begin() + long(count())}; }
  const std::vector<float>& scores() const { return scores_; }  // the maximum of each combined map
  int size() const { return size_; }
  int levels() const { return levels_; }

  // Images [first, first + n) as they were appended: records, rgb and masks (no normalized pixels) and their
  // maps and scores (seconds 0).
  void read(size_t first, size_t n, ImageSet& images, AnomalyMaps& maps) const;
  // Every image's map of one level, or with level -1 its combined map, in order.
  void for_each_map(int level, const std::function<void(const float* map, size_t n)>& visit) const;

 private:
  size_t plane() const { return size_t(size_) * size_t(size_); }
  size_t record_bytes() const;
  ScratchFile file_;
  int size_, levels_;
  bool with_masks_;
  const std::vector<ImageRecord>* records_;
  std::vector<float> scores_;
};

}  // namespace stfpm
