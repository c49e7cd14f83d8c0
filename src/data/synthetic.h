// The project's own small MVTec-layout dataset, for tests and for a quick start without real data: a woven
// textured surface (RGB) whose thread period, phase, angle, colour and shading vary from image to image, with
// painted defects of three types an ImageNet teacher sees as foreign texture:
//   scratch  a thin bright or dark random curve
//   spot     an irregular blob of another colour with its own mottled texture
//   hole     a dark irregular region
// Defects cover from several pixels to a few percent of the image; their masks are 255 exactly on the painted
// pixels and 0 elsewhere. Everything is deterministic from the seed (each image has its own generator, so changing
// a count does not change the other images).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/image_io.h"

namespace stfpm {

struct SyntheticOptions {
  std::string category = "synthetic";
  int size = 128;             // width = height, 64..256
  int train_count = 40;       // train/good
  int test_good_count = 8;    // test/good
  int per_defect_count = 8;   // test/<defect_type> for each defect type
  std::vector<std::string> defect_types = {"hole", "scratch", "spot"};  // a non-empty subset of these three
  uint64_t seed = 1;
};

// The defect types write_synthetic_dataset knows.
const std::vector<std::string>& synthetic_defect_types();

// Throws std::invalid_argument naming the bad option.
void validate(const SyntheticOptions& options);

// One image: the defect-free surface, the same surface with its defect painted (equal to `clean` for "good"),
// and the mask (1 channel, 255 on painted pixels).
struct SyntheticSample {
  Image8 clean, image, mask;
};

// Image `index` of `split` and `defect_type` ("good" or one of the defect types; train is always "good"): exactly
// what write_synthetic_dataset writes to <category>/<split>/<defect_type>/<index as 3 digits>.png.
SyntheticSample synthetic_sample(const SyntheticOptions& options, Split split, const std::string& defect_type,
                                 int index);

// Writes <data_dir>/<category>/train/good/000.png ..., test/good/..., test/<defect>/..., and
// ground_truth/<defect>/<stem>_mask.png, plus synthetic.txt recording the options. An existing category folder is
// replaced only when it holds that synthetic.txt (so real data is never overwritten); otherwise it is an error.
// Throws std::runtime_error naming the path when something cannot be written.
void write_synthetic_dataset(const std::string& data_dir, const SyntheticOptions& options);

}  // namespace stfpm
