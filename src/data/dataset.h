// The MVTec AD dataset: scanning the folder layout, and loading images once into a cache the training and
// evaluation loops reuse (decoded, PIL-exact resized, normalized).
//
// Layout (DESIGN.md section 2):
//   <data_dir>/<category>/train/good/*                                  training images (all normal)
//   <data_dir>/<category>/test/<defect_type>/*                          test images; "good" is normal
//   <data_dir>/<category>/ground_truth/<defect_type>/<stem>_mask.png    masks of the defective test images
// Images are the files with extension .png, .jpg, .jpeg, .bmp, .tga, .tif or .tiff (any case); other files
// (license.txt, hidden files) are ignored. A mask may have any of these extensions, and may also be named
// <stem>.<ext> (some public defect datasets ship <stem>_mask.bmp or <stem>.png); <stem>_mask.png is tried first. Order is deterministic: defect types sorted by name, files sorted by name within a
// folder (byte order, as Python's sorted()).
//
// Bad input throws std::runtime_error with one line naming the path: missing data_dir, category or split folders,
// train/good or a test folder without images, a defect image without its mask, a mask whose size differs from its
// image, unreadable or truncated files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <stfpm/stfpm.h>

#include "data/image_io.h"

namespace stfpm {

// The reference preprocessing: PIL bilinear resize to size x size, v / 255, then (v - mean[c]) / std[c].
struct Preprocess {
  int size = 256;
  float mean[3] = {0.485f, 0.456f, 0.406f};
  float std[3] = {0.229f, 0.224f, 0.225f};
};

enum class Split { train, test };

struct ImageRecord {
  std::string path;         // the image file
  std::string defect_type;  // "good" for normal images (train and test/good); empty for scan_images()
  std::string stem;         // file name without extension ("000")
  std::string mask_path;    // ground_truth/<defect_type>/<stem>_mask.png (or as above); empty for normal images
  bool anomalous = false;   // a test image outside test/good
  int width = 0, height = 0;  // of the original file (from its header)
};

// Scans one split of a category. Train: train/good. Test: every folder under test/, in name order; the masks of
// defective images are checked to exist and to have their image's size (headers only, nothing is decoded).
std::vector<ImageRecord> scan_split(const std::string& data_dir, const std::string& category, Split split);

// A folder dataset (stfpm::FolderDataset): train is normal_dir's images (recursive) minus those test_split holds
// out; test is the held-out or normal_test_dir images (normal, defect_type "good") and the abnormal folders' images
// (anomalous), each with its mask when mask_dir is given (a missing mask is then an error). The held-out images are
// the round(test_split * n) with the smallest hash of (their path under normal_dir, seed), so adding images moves
// few of them. Stems of nested normal images include their subfolders ("sub/a.png" -> "sub_a"), so output names
// stay apart (not "sub_a.png" beside "sub/a.png", nor "a.png" beside "a.jpg": those share a result image). A mask
// that is its image (--mask_dir the same folder as an --abnormal_dir) is refused; hidden files and folders are
// skipped; symbolic links to folders inside normal_dir are not followed. Bad input throws naming the folder: missing or empty folders, a split that leaves no training or no
// normal test image, a test set without normal or without defective images.
std::vector<ImageRecord> scan_folders(const FolderDataset& dataset, uint64_t seed, Split split);

// The round(fraction * n) keys (at least one when fraction > 0) with the smallest hash of (key, seed): a seeded
// split that moves few members when keys are added. chosen[i] is true for the held-out keys[i].
std::vector<bool> hash_split(const std::vector<std::string>& keys, double fraction, uint64_t seed);

// Training images with a seeded fraction held out for validation (--val_split): the thresholds that need no
// defect labels are chosen on them. fraction 0 holds out none; a fraction in (0, 1) holds out at least one and
// must leave one to train on (else std::invalid_argument).
struct ValidationSplit {
  std::vector<ImageRecord> train, validation;
};
ValidationSplit split_validation(std::vector<ImageRecord> records, double fraction, uint64_t seed);

// Predict mode: `source` is a folder (its images, searched recursively as for --normal_dir, nested ones named
// "sub_name"; an MVTec test folder works as it is), a single image file, or a text
// file listing image paths, one per line (blank lines and lines starting with '#' skipped; relative paths are
// relative to the list file's folder). Records are normal, with no mask.
std::vector<ImageRecord> scan_images(const std::string& source);

// Images decoded, resized and normalized once. Image i occupies
//   pixels[i * 3 * S * S ...]  (3, S, S) float, normalized, ready for the model (NCHW)
//   rgb   [i * S * S * 3 ...]  (S, S, 3) the resized 8-bit RGB image, for result overlays
//   masks [i * S * S ...]      (S, S)    the resized 8-bit mask, 0 for normal images; empty unless masks loaded
// Masks are resized with the same PIL bilinear filter and stay 8-bit: binarization (== 255 or >= 128) is the
// metrics code's choice.
struct ImageSet {
  std::vector<ImageRecord> records;
  int size = 0;
  std::vector<float> pixels;
  std::vector<uint8_t> rgb;
  std::vector<uint8_t> masks;

  size_t count() const { return records.size(); }
  size_t plane() const { return size_t(size) * size_t(size); }
  bool has_masks() const { return !masks.empty(); }
  const float* image(size_t i) const { return pixels.data() + i * 3 * plane(); }
  const uint8_t* rgb_image(size_t i) const { return rgb.data() + i * 3 * plane(); }
  const uint8_t* mask(size_t i) const { return masks.data() + i * plane(); }
};

// Called after each image with (images done, total); calls never overlap (they may come from worker threads).
using ProgressFn = std::function<void(size_t done, size_t total)>;

// Decodes, resizes and normalizes every record, in parallel (OpenMP). With `with_masks`, also loads the masks of
// anomalous records (normal records get zeros). On a bad file throws the error of the first bad record in order.
ImageSet load_images(const std::vector<ImageRecord>& records, const Preprocess& preprocess, bool with_masks,
                     const ProgressFn& progress = nullptr);

// The mask of an image of width x height, decoded as 8-bit gray and resized to size x size (PIL bilinear, like the
// image). Throws std::runtime_error naming the mask when it is unreadable or its size is not its image's.
Image8 load_mask(const std::string& mask_path, const std::string& image_path, int width, int height, int size);

// The normalization of one 8-bit RGB image (S, S, 3) into (3, S, S): (v / 255 - mean[c]) / std[c] in float,
// the same float operations as torchvision's ToTensor + Normalize.
void normalize_image(const uint8_t* rgb, int size, const Preprocess& preprocess, float* out);

}  // namespace stfpm
