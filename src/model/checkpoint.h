// Student checkpoints in HDF5: the student's tensors under their torchvision names at the root (so a checkpoint
// is also a valid trunk file), the SGD momentum under optimizer/momentum/<name>, and as root attributes the recipe
// (typed, model/recipe.h) and the training progress. Written to a temporary file and renamed (H5Writer), so a
// crash never leaves a half-written checkpoint.
//
// Versions: 2 (this one) stores the recipe as typed attributes; 1 stored lists and the seed as text and is still
// read.
#pragma once

#include <string>

#include <stfpm/stfpm.h>

#include "model/stfpm_model.h"

namespace stfpm {

struct CheckpointInfo {
  Recipe recipe;
  int epoch = 0;   // epochs completed
  long steps = 0;  // SGD steps taken
  std::string category, teacher;
  double test_split = 0;  // a folder dataset's --test_split (0: none), so `test` holds out the same images
  double val_split = 0;   // --val_split (0: none): the training images held out for the validation threshold
  int version = 2;
};

void save_checkpoint(const std::string& path, StfpmModel& model, const CheckpointInfo& info);

// Reads the header of a checkpoint (throws naming the file when it is not a stfpm checkpoint or of an unknown
// version).
CheckpointInfo read_checkpoint_info(const std::string& path);

// Loads the student's tensors (and, with_optimizer, the momentum buffers and the step count) into the model.
void load_checkpoint(const std::string& path, StfpmModel& model, bool with_optimizer);

}  // namespace stfpm
