// `stfpm train`: the reference recipe (DESIGN.md section 2). The training images are decoded once and kept in
// backend memory; every epoch reshuffles them (seeded), steps through batches of --batch_size (the last partial
// batch kept), and ends with an atomic checkpoint, so an interrupted run loses at most one epoch and --resume
// continues exactly as an uninterrupted run would.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>

#include <stfpm/stfpm.h>

#include "api/errors.h"
#include "api/runtime.h"
#include "api/validation.h"
#include "core/files.h"
#include "eval/metrics.h"
#include "io/file_lock.h"
#include "model/checkpoint.h"
#include "model/recipe.h"
#include "model/teacher_cache.h"

namespace stfpm {
namespace {

// The epoch's image order: a Fisher-Yates shuffle from a generator seeded by (seed, epoch), so resuming at any
// epoch reproduces the order of an uninterrupted run. (std::uniform_int_distribution is avoided: its output
// differs between standard libraries.)
std::vector<size_t> epoch_order(size_t n, unsigned long long seed, int epoch) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + uint64_t(epoch) + 1);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  return order;
}

// The teacher's features of all training images, when --no_teacher_cache is not given and they take at most half
// of the backend's free memory (or 4 GiB when the backend cannot tell).
std::unique_ptr<TeacherCache> make_teacher_cache(const TrainConfig& config, StfpmModel& model, const float* images,
                                                 int n, int batch, int size, const Reporter& report) {
  if (!config.teacher_cache) return nullptr;
  const size_t need = TeacherCache::bytes(model.teacher(), n, batch, size, size);
  const size_t free = model.backend().free_memory();
  if (free ? need > free / 2 : need > (size_t(4) << 30)) {
    report.message("teacher features not cached: " + std::to_string(need >> 20) + " MiB needed, " +
                   std::to_string(free >> 20) + " MiB free");
    return nullptr;
  }
  report.update("caching teacher features", 0, size_t(n));
  auto cache = std::make_unique<TeacherCache>(model, images, n, batch, size, size);
  report.finished("caching teacher features", size_t(n), "(" + std::to_string(need >> 20) + " MiB)");
  return cache;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Removes what `test` and an earlier validation left beside the checkpoint: thresholds of the weights about to
// change, which predict would otherwise apply to the new ones.
void remove_stale_thresholds(const std::string& model_folder, const Reporter& report) {
  for (const char* name : {"/thresholds.h5", "/validation.h5"}) {
    const std::string path = model_folder + name;
    if (std::remove(path.c_str()) == 0) report.message("removed " + path + " (thresholds of the previous weights)");
  }
}

void check_validation_options(const TrainConfig& config) {
  if (!(config.val_split >= 0 && config.val_split < 1))
    throw Error("--val_split must be in [0, 1), got " + format_number(config.val_split));
  if (!(config.val_quantile >= 0 && config.val_quantile <= 1))
    throw Error("--val_quantile must be in [0, 1], got " + format_number(config.val_quantile));
  if (!std::isnan(config.max_fpr) && !(config.max_fpr >= 0 && config.max_fpr < 1))
    throw Error("--max_fpr must be in [0, 1), got " + format_number(config.max_fpr));
  if (!std::isnan(config.max_fpr) && config.val_split == 0)
    throw Error("--max_fpr chooses the threshold on the --val_split images: add --val_split F");
}

// The epochs themselves, on the training images: fills `summary`, leaves the checkpoint.
void run_training(const TrainConfig& config, const std::vector<ImageRecord>& records, Backend& backend,
                  const std::string& teacher, TrainSummary& summary, const Reporter& report) {
  const Recipe& recipe = config.recipe;
  const std::string model_folder = config.model_dir + "/" + config.category;
  const std::string& checkpoint = summary.checkpoint;
  const ImageSet images = load_with_progress("train images", records, preprocess_of(recipe), false, report);
  StfpmModel model(backend, recipe);
  load_teacher(model, teacher, report);

  int start_epoch = 0;
  long saved_steps = 0;
  if (config.resume) {
    if (!file_exists(checkpoint)) throw Error(checkpoint + ": no checkpoint to resume from");
    const CheckpointInfo saved = read_checkpoint_info(checkpoint);
    if (saved.category != config.category)
      throw Error(checkpoint + ": checkpoint from another configuration: category is " + config.category +
                  " here but " + saved.category + " in the checkpoint");
    require_same(checkpoint, recipe, saved.recipe, resume_fields());
    if (saved.test_split != held_out_fraction(config.folders))
      throw Error(checkpoint + ": checkpoint from another configuration: --test_split is " +
                  std::to_string(held_out_fraction(config.folders)) + " here but " + std::to_string(saved.test_split) +
                  " in the checkpoint");
    if (saved.val_split != config.val_split)
      throw Error(checkpoint + ": checkpoint from another configuration: --val_split is " +
                  format_number(config.val_split) + " here but " + format_number(saved.val_split) +
                  " in the checkpoint (its training held out other images)");
    load_checkpoint(checkpoint, model, true);
    start_epoch = saved.epoch;
    saved_steps = saved.steps;
  } else {
    model.student().init_student(recipe.seed);
  }
  const size_t n = images.count(), image = 3 * images.plane();
  const int batch = int(std::min<size_t>(size_t(recipe.batch_size), n));
  // A checkpoint saved when a run was stopped mid-epoch records the steps taken: the first `skip` batches of the
  // next epoch are done (the epoch's order is a function of the seed and the epoch, so they are known).
  const long batches = long((n + size_t(batch) - 1) / size_t(batch));
  const long skip = saved_steps - long(start_epoch) * batches;
  if (config.resume) {
    if (skip < 0 || skip >= batches)
      throw Error(checkpoint + ": " + std::to_string(saved_steps) + " SGD steps after " +
                  std::to_string(start_epoch) + " epochs do not fit " + std::to_string(batches) +
                  " steps per epoch (was the training set changed?)");
    report.message("resuming from " + checkpoint + " after epoch " + std::to_string(start_epoch) +
                   (skip ? " and " + std::to_string(skip) + " steps of the next" : std::string()));
  }
  if (start_epoch >= recipe.epochs) {
    report.message(checkpoint + " is already trained for " + std::to_string(start_epoch) + " epochs (--epochs " +
                   std::to_string(recipe.epochs) + "): nothing to train");
    return;
  }
  remove_stale_thresholds(model_folder, report);

  model.plan_training(batch, images.size, images.size);
  Buffer data(backend, n * image), x(backend, size_t(batch) * image);
  data.upload(images.pixels);
  std::unique_ptr<TeacherCache> cache =
      make_teacher_cache(config, model, data.data(), int(n), batch, images.size, report);
  report.message("training " + config.category + ": " + std::to_string(n) + " images, batch " +
                 std::to_string(batch) + ", " + std::to_string(recipe.epochs - start_epoch) + " epochs (lr " +
                 format_number(recipe.lr) + ", momentum " + format_number(recipe.momentum) + ", wd " +
                 format_number(recipe.weight_decay) + ", seed " + std::to_string(recipe.seed) + ")");

  const auto start = std::chrono::steady_clock::now();
  const size_t epochs_to_run = size_t(recipe.epochs - start_epoch);
  int last_saved = start_epoch;
  auto save = [&](int epochs_done) {
    CheckpointInfo info;
    info.recipe = recipe;
    info.epoch = epochs_done;
    info.steps = model.steps();
    info.category = config.category;
    info.teacher = teacher;
    info.test_split = held_out_fraction(config.folders);
    info.val_split = config.val_split;
    save_checkpoint(checkpoint, model, info);
    last_saved = epochs_done;
  };
  report.update("training", 0, epochs_to_run, "", "epochs");
  for (int epoch = start_epoch; epoch < recipe.epochs; ++epoch) {
    const std::vector<size_t> order = epoch_order(n, recipe.seed, epoch);
    const std::string task = "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(recipe.epochs);
    const size_t begin = epoch == start_epoch ? size_t(skip) * size_t(batch) : 0;
    double loss_sum = 0;
    report.update(task, begin, n);
    for (size_t first = begin; first < n; first += size_t(batch)) {
      const int count = int(std::min(size_t(batch), n - first));
      for (int j = 0; j < count; ++j)
        backend.copy(x.data() + size_t(j) * image, data.data() + order[first + size_t(j)] * image, image);
      try {
        const Features* teacher_features = cache ? &cache->gather(order.data() + first, count) : nullptr;
        loss_sum += model.train_step(x.data(), count, teacher_features);
      } catch (const NonFiniteLoss& e) {
        throw Error(std::string(e.what()) + " in epoch " + std::to_string(epoch + 1) + ": training stopped; " +
                    (last_saved > 0 ? "the last good checkpoint (epoch " + std::to_string(last_saved) + ") is " +
                                          checkpoint
                                    : std::string("no checkpoint was written")));
      }
      char status[64];
      std::snprintf(status, sizeof status, "loss/img %.4f", loss_sum / double(first + size_t(count) - begin));
      report.update(task, first + size_t(count), n, status);
      // A stop asked for between steps: keep this step in a checkpoint (the epoch's end saves one anyway).
      if (first + size_t(count) < n && config.stop_requested && config.stop_requested()) {
        save(epoch);
        summary.stopped = true;
        report.message("stopped after " + std::to_string(model.steps()) + " steps (epoch " +
                       std::to_string(epoch + 1) + ", step " + std::to_string((first + size_t(count)) / size_t(batch)) +
                       " of " + std::to_string(batches) + "); checkpoint: " + checkpoint);
        break;
      }
    }
    if (summary.stopped) break;
    summary.final_loss = loss_sum / double(n - begin);
    char status[64];
    std::snprintf(status, sizeof status, "loss/img %.4f", summary.final_loss);
    report.finished(task, n, status);
    const bool stop = config.stop_requested && config.stop_requested();
    if ((epoch + 1) % config.checkpoint_every == 0 || epoch + 1 == recipe.epochs || stop) save(epoch + 1);
    ++summary.epochs_run;
    report.update("training", size_t(summary.epochs_run), epochs_to_run, "", "epochs");
    if (stop && epoch + 1 < recipe.epochs) {
      summary.stopped = true;
      report.message("stopped after epoch " + std::to_string(epoch + 1) + "; checkpoint: " + checkpoint);
      break;
    }
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  summary.seconds_per_epoch = summary.seconds / std::max(1, summary.epochs_run);
  summary.trained = !summary.stopped;
  if (summary.stopped) return;
  report.finished("training", epochs_to_run, "", "epochs");
  report.message("checkpoint: " + checkpoint);
}

}  // namespace

TrainSummary train(const TrainConfig& config, const ProgressCallback& progress) try {
  const Reporter report(progress);
  check_dataset("train", config.data_dir, config.category, config.folders);
  if (config.checkpoint_every < 1) throw Error("--checkpoint_every must be at least 1");
  check_validation_options(config);
  const Recipe& recipe = config.recipe;
  validate(recipe);
  TrainSummary summary;
  summary.epochs_total = recipe.epochs;
  const std::string model_folder = config.model_dir + "/" + config.category;
  summary.checkpoint = model_folder + "/student.h5";
  // Everything that can fail before training is checked first, so no error waits for hours of training: the
  // output folders, the teacher, the validation split, and the test split that `train` is followed by.
  ensure_writable_dir(model_folder);
  const FolderLock lock(model_folder, "stfpm train");  // one training run per model folder at a time
  ensure_writable_dir(config.results_dir + "/" + config.category);
  scan_dataset("train", config.data_dir, config.category, config.folders, recipe.seed, Split::test);
  const std::string teacher = find_teacher(config.runtime.teacher, model_folder);
  const ValidationSplit split = split_validation(
      scan_dataset("train", config.data_dir, config.category, config.folders, recipe.seed, Split::train),
      config.val_split, recipe.seed);

  std::unique_ptr<Backend> backend = make_backend(config.runtime, report);
  run_training(config, split.train, *backend, teacher, summary, report);
  if (summary.stopped || split.validation.empty()) return summary;
  // The training images' memory is released by now; the held-out ones are loaded for their scores.
  const ValidationCalibration v = fit_validation_threshold(config, split.validation, *backend, teacher, report);
  summary.validation_threshold = v.threshold;
  summary.validation_rule = v.describe();
  return summary;
} catch (...) {
  rethrow_as_error();
}

}  // namespace stfpm
