// What every API entry point shares: reporting progress to the caller's callback, creating the backend from a
// Runtime, finding and loading the teacher, loading images with progress, and the recipe of a checkpoint.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <stfpm/stfpm.h>

#include "api/backends.h"
#include "core/backend.h"
#include "data/dataset.h"
#include "model/stfpm_model.h"

namespace stfpm {

// A thin wrapper over the caller's ProgressCallback (which may be empty: then nothing is reported).
class Reporter {
 public:
  explicit Reporter(ProgressCallback callback) : callback_(std::move(callback)) {}
  void message(const std::string& text) const;
  void update(const std::string& task, size_t done, size_t total, const std::string& status = "",
              const std::string& unit = "img") const;
  void finished(const std::string& task, size_t total, const std::string& status = "",
                const std::string& unit = "img") const;

 private:
  ProgressCallback callback_;
};

// The backend the runtime asks for; reports the device it runs on.
std::unique_ptr<Backend> make_backend(const Runtime& runtime, const Reporter& report);
// The preprocessing the recipe fixes (size, mean, std).
Preprocess preprocess_of(const Recipe& recipe);
// Loads the teacher from `path` into the model and reports it.
void load_teacher(StfpmModel& model, const std::string& path, const Reporter& report);
// Loads the images of `records` once, reporting progress as task "loading <what>".
ImageSet load_with_progress(const std::string& what, const std::vector<ImageRecord>& records,
                            const Preprocess& preprocess, bool with_masks, const Reporter& report);

// The recipe of the checkpoint at `path`, after checking that the fields `require` names agree with it.
// Refuses a run's dataset flags that do not go together: no --category, neither or both of --data_dir and
// --normal_dir, folder flags without --normal_dir, --normal_test_dir with --test_split.
void check_dataset(const std::string& what, const std::string& data_dir, const std::string& category,
                   const FolderDataset& folders);
// The fraction of normal_dir a folder dataset holds out for testing (0 for MVTec or --normal_test_dir).
double held_out_fraction(const FolderDataset& folders);

// The images of a run: the folder dataset when `folders.normal_dir` is set, else the MVTec layout under
// <data_dir>/<category>. `what` names the command for the message when neither is given.
std::vector<ImageRecord> scan_dataset(const std::string& what, const std::string& data_dir,
                                      const std::string& category, const FolderDataset& folders, uint64_t seed,
                                      Split split);

Recipe checkpoint_recipe(const std::string& path, const RecipeRequirement& require);

}  // namespace stfpm
