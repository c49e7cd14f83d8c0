#include "api/runtime.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "api/errors.h"
#include "core/files.h"
#include "io/hdf5_io.h"
#include "model/checkpoint.h"
#include "model/recipe.h"

namespace stfpm {
namespace {

bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// <prefix>/share/stfpm for the prefix this code runs from: relative to the shared library or program that holds
// this function, and to the running program (so an installed tree can be moved), then the prefix configured at
// build time.
std::vector<std::string> installed_data_folders() {
  std::vector<std::string> out;
  auto add = [&out](const std::string& folder) {
    for (const std::string& f : out)
      if (f == folder) return;
    out.push_back(folder);
  };
  for (const std::string& folder : binary_folders()) {
    add(folder + "/" + STFPM_LIB_TO_DATA);
    add(folder + "/" + STFPM_BIN_TO_DATA);
  }
  add(STFPM_INSTALL_DATADIR);
  return out;
}

}  // namespace

void Reporter::message(const std::string& text) const {
  if (!callback_) return;
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::message;
  e.text = text;
  callback_(e);
}

void Reporter::update(const std::string& task, size_t done, size_t total, const std::string& status,
                      const std::string& unit) const {
  if (!callback_) return;
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::update;
  e.task = task;
  e.text = status;
  e.done = done;
  e.total = total;
  e.unit = unit;
  callback_(e);
}

void Reporter::finished(const std::string& task, size_t total, const std::string& status,
                        const std::string& unit) const {
  if (!callback_) return;
  ProgressEvent e;
  e.kind = ProgressEvent::Kind::finished;
  e.task = task;
  e.text = status;
  e.done = e.total = total;
  e.unit = unit;
  callback_(e);
}

Device device_from_name(const std::string& name) {
  if (name == "auto" || name.empty()) return Device::automatic;
  if (name == "cpu") return Device::cpu;
  if (name == "cuda" || name == "gpu") return Device::cuda;
  throw Error("unknown device '" + name + "' (expected cpu or cuda)");
}

std::string find_teacher(const std::string& explicit_path, const std::string& model_folder) {
  if (!explicit_path.empty()) {
    if (!is_file(explicit_path)) throw Error(explicit_path + ": teacher file not found (--teacher)");
    return explicit_path;
  }
  if (const char* env = std::getenv("STFPM_TEACHER")) {
    if (!is_file(env)) throw Error(std::string(env) + ": teacher file not found ($STFPM_TEACHER)");
    return env;
  }
  const std::string name = "resnet18_imagenet.h5";
  std::vector<std::string> places;
  if (!model_folder.empty()) places.push_back(model_folder + "/teacher.h5");
  for (const std::string& folder : installed_data_folders()) places.push_back(folder + "/" + name);
  places.push_back("weights/" + name);
  places.push_back("../shared/weights/" + name);
  std::string tried;
  for (const std::string& p : places) {
    if (is_file(p)) return p;
    tried += (tried.empty() ? "" : ", ") + p;
  }
  throw Error("no teacher weights found (tried $STFPM_TEACHER, " + tried +
              "); pass --teacher FILE or convert torchvision's resnet18-f37072fd.pth with "
              "tools/convert_weights.py (see weights/README.md)");
}

std::unique_ptr<Backend> make_backend(const Runtime& runtime, const Reporter& report) {
  BackendOptions options;
  options.threads = runtime.threads;
  options.allow_tf32 = runtime.tf32;
  const DeviceKind kind = runtime.device == Device::automatic ? default_device()
                          : runtime.device == Device::cuda    ? DeviceKind::cuda
                                                              : DeviceKind::cpu;
  std::unique_ptr<Backend> backend = make_backend(kind, options);
  if (runtime.device == Device::automatic && kind == DeviceKind::cpu) {
    const std::string why = cuda_unavailable_reason();
    if (!why.empty()) report.message("cuda: " + why + "; running on the CPU");
  }
  report.message("device: " + backend->describe());
  return backend;
}

Preprocess preprocess_of(const Recipe& recipe) {
  validate(recipe);
  Preprocess p;
  p.size = recipe.size;
  for (int c = 0; c < 3; ++c) {
    p.mean[c] = recipe.mean[size_t(c)];
    p.std[c] = recipe.std[size_t(c)];
  }
  return p;
}

void load_teacher(StfpmModel& model, const std::string& path, const Reporter& report) {
  const H5Reader in(path);
  model.teacher().load(in);
  report.message("teacher: " + path);
}

ImageSet load_with_progress(const std::string& what, const std::vector<ImageRecord>& records,
                            const Preprocess& preprocess, bool with_masks, const Reporter& report) {
  const std::string task = "loading " + what;
  report.update(task, 0, records.size());
  ImageSet set = load_images(records, preprocess, with_masks,
                             [&](size_t done, size_t total) { report.update(task, done, total); });
  report.finished(task, records.size());
  return set;
}

Recipe checkpoint_recipe(const std::string& path, const RecipeRequirement& require) {
  const Recipe saved = read_checkpoint_info(path).recipe;
  require_same(path, require.recipe, saved, require.fields);
  return saved;
}

void check_dataset(const std::string& what, const std::string& data_dir, const std::string& category,
                   const FolderDataset& folders) {
  if (category.empty()) throw Error(what + " needs --category (the model's name)");
  if (folders.normal_dir.empty()) {
    if (data_dir.empty())
      throw Error(what + " needs --data_dir (MVTec layout) or --normal_dir (your own folders)");
    if (!folders.abnormal_dirs.empty() || !folders.mask_dir.empty() || !folders.normal_test_dir.empty() ||
        folders.test_split > 0)
      throw Error("--abnormal_dir, --mask_dir, --normal_test_dir and --test_split go with --normal_dir");
    return;
  }
  if (!data_dir.empty()) throw Error("give --data_dir (MVTec layout) or --normal_dir (your own folders), not both");
  if (folders.test_split > 0 && !folders.normal_test_dir.empty())
    throw Error("give --normal_test_dir or --test_split, not both");
}

double held_out_fraction(const FolderDataset& folders) {
  return folders.normal_dir.empty() || !folders.normal_test_dir.empty() ? 0.0 : folders.test_split;
}

std::vector<ImageRecord> scan_dataset(const std::string& what, const std::string& data_dir,
                                      const std::string& category, const FolderDataset& folders, uint64_t seed,
                                      Split split) {
  check_dataset(what, data_dir, category, folders);
  if (!folders.normal_dir.empty()) return scan_folders(folders, seed, split);
  return scan_split(data_dir, category, split);
}

}  // namespace stfpm
