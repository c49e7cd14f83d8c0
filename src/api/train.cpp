// `stfpm train`: the reference recipe (DESIGN.md section 2). The training images are decoded once and kept in
// backend memory; every epoch reshuffles them (seeded), steps through batches of --batch_size (the last partial
// batch kept), and ends with an atomic checkpoint, so an interrupted run loses at most one epoch and --resume
// continues exactly as an uninterrupted run would.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>

#include "model/checkpoint.h"
#include "eval/metrics.h"
#include "cli/progress.h"
#include "api/run_common.h"
#include "api/stfpm.h"
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
std::unique_ptr<TeacherCache> make_teacher_cache(const RunConfig& config, StfpmModel& model, const float* images,
                                                 int n, int batch, int size) {
  if (!config.teacher_cache) return nullptr;
  const size_t need = TeacherCache::bytes(model.teacher(), n, batch, size, size);
  const size_t free = model.backend().free_memory();
  if (free ? need > free / 2 : need > (size_t(4) << 30)) {
    std::fprintf(stderr, "teacher features not cached: %zu MiB needed, %zu MiB free\n", need >> 20, free >> 20);
    return nullptr;
  }
  Progress progress("caching teacher features", size_t(n));
  auto cache = std::make_unique<TeacherCache>(model, images, n, batch, size, size);
  progress.finish("(" + std::to_string(need >> 20) + " MiB)");
  return cache;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

TrainSummary run_train(const RunConfig& config) {
  if (config.data_dir.empty() || config.category.empty())
    throw std::invalid_argument("train needs --data_dir and --category");
  TrainSummary summary;
  summary.epochs_total = config.epochs;
  const std::string checkpoint = config.checkpoint_path();
  // Everything that can fail before training is checked first, so no error waits for hours of training: the
  // output folders, the mask rule, and the test split that `train` evaluates at the end.
  ensure_writable_dir(config.category_model_dir());
  ensure_writable_dir(config.category_results_dir());
  parse_mask_rule(config.mask_rule);
  scan_split(config.data_dir, config.category, Split::test);

  const Preprocess preprocess = preprocess_of(config);
  const StfpmOptions options = model_options_of(config);
  const std::vector<ImageRecord> records = scan_split(config.data_dir, config.category, Split::train);
  const ImageSet images = load_with_progress("train images", records, preprocess, false);

  std::unique_ptr<Backend> backend = backend_of(config);
  StfpmModel model(*backend, options);
  const std::string teacher = load_teacher(model, config);

  int start_epoch = 0;
  if (config.resume) {
    if (!file_exists(checkpoint)) throw std::runtime_error(checkpoint + ": no checkpoint to resume from");
    const CheckpointInfo saved = read_checkpoint_info(checkpoint);
    check_resumable(checkpoint, saved, checkpoint_info(config, 0, 0, teacher));
    load_checkpoint(checkpoint, model, true);
    start_epoch = saved.epoch;
    std::fprintf(stderr, "resuming from %s after epoch %d\n", checkpoint.c_str(), start_epoch);
  } else {
    model.student().init_student(config.seed);
  }
  if (start_epoch >= config.epochs) {
    std::fprintf(stderr, "%s is already trained for %d epochs (--epochs %d): nothing to train\n", checkpoint.c_str(),
                 start_epoch, config.epochs);
    return summary;
  }

  const size_t n = images.count(), image = 3 * images.plane();
  const int batch = int(std::min<size_t>(size_t(config.batch_size), n));
  model.plan_training(batch, images.size, images.size);
  Buffer data(*backend, n * image), x(*backend, size_t(batch) * image);
  data.upload(images.pixels);
  std::unique_ptr<TeacherCache> cache = make_teacher_cache(config, model, data.data(), int(n), batch, images.size);
  std::fprintf(stderr, "training %s: %zu images, batch %d, %d epochs (lr %g, momentum %g, wd %g, seed %llu)\n",
               config.category.c_str(), n, batch, config.epochs - start_epoch, double(config.lr),
               double(config.momentum), double(config.weight_decay), config.seed);

  int last_saved = start_epoch;
  Progress overall("training", size_t(config.epochs - start_epoch), "epochs");
  for (int epoch = start_epoch; epoch < config.epochs; ++epoch) {
    const std::vector<size_t> order = epoch_order(n, config.seed, epoch);
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config.epochs), n);
    double loss_sum = 0;
    for (size_t first = 0; first < n; first += size_t(batch)) {
      const int count = int(std::min(size_t(batch), n - first));
      for (int j = 0; j < count; ++j)
        backend->copy(x.data() + size_t(j) * image, data.data() + order[first + size_t(j)] * image, image);
      try {
        const Features* teacher = cache ? &cache->gather(order.data() + first, count) : nullptr;
        loss_sum += model.train_step(x.data(), count, teacher);
      } catch (const NonFiniteLoss& e) {
        throw std::runtime_error(std::string(e.what()) + " in epoch " + std::to_string(epoch + 1) +
                                 ": training stopped; " +
                                 (last_saved > 0 ? "the last good checkpoint (epoch " + std::to_string(last_saved) +
                                                       ") is " + checkpoint
                                                 : std::string("no checkpoint was written")));
      }
      char status[64];
      std::snprintf(status, sizeof status, "loss/img %.4f", loss_sum / double(first + size_t(count)));
      progress.update(first + size_t(count), status);
    }
    summary.final_loss = loss_sum / double(n);
    char status[64];
    std::snprintf(status, sizeof status, "loss/img %.4f", summary.final_loss);
    progress.finish(status);
    if ((epoch + 1) % config.checkpoint_every == 0 || epoch + 1 == config.epochs) {
      save_checkpoint(checkpoint, model, checkpoint_info(config, epoch + 1, model.steps(), teacher));
      last_saved = epoch + 1;
    }
    ++summary.epochs_run;
  }
  summary.seconds = overall.elapsed_seconds();
  summary.seconds_per_epoch = summary.seconds / std::max(1, summary.epochs_run);
  summary.trained = true;
  overall.finish();
  std::fprintf(stderr, "checkpoint: %s\n", checkpoint.c_str());
  return summary;
}

}  // namespace stfpm
