// Student checkpoints in HDF5: the student's tensors under their torchvision names at the root (so a checkpoint
// is also a valid trunk file), the SGD momentum under optimizer/momentum/<name>, and the training configuration
// and progress as root attributes. Written to a temporary file and renamed (H5Writer), so a crash never leaves a
// half-written checkpoint.
#pragma once

#include <string>

#include "cli/config.h"
#include "model/stfpm_model.h"

namespace stfpm {

struct CheckpointInfo {
  int epoch = 0;        // epochs completed
  long steps = 0;       // SGD steps taken
  int epochs = 0;       // epochs the run was configured for
  int batch_size = 0, size = 0;
  unsigned long long seed = 0;
  std::string layers, alphas, mean, std;  // as "1,2,3"-style text
  float lr = 0, momentum = 0, weight_decay = 0;
  std::string category, teacher;
};

// The configuration of `config` as it is recorded in a checkpoint (list fields as text).
CheckpointInfo checkpoint_info(const RunConfig& config, int epoch, long steps, const std::string& teacher);

void save_checkpoint(const std::string& path, StfpmModel& model, const CheckpointInfo& info);

// Reads the header of a checkpoint (throws naming the file when it is not a stfpm checkpoint).
CheckpointInfo read_checkpoint_info(const std::string& path);

// Loads the student's tensors (and, with_optimizer, the momentum buffers and the step count) into the model.
void load_checkpoint(const std::string& path, StfpmModel& model, bool with_optimizer);

// Throws "<path>: checkpoint from another configuration: <field> is X here but Y in the checkpoint" for the first
// field that would make resuming differ from an uninterrupted run (everything but the epoch count, which may grow).
void check_resumable(const std::string& path, const CheckpointInfo& saved, const CheckpointInfo& wanted);

std::string join_list(const std::vector<int>& v);
std::string join_list(const std::vector<float>& v);
std::string join_list(const float (&v)[3]);

}  // namespace stfpm
