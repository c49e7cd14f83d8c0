#include "api/run_common.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "model/checkpoint.h"
#include "io/hdf5_io.h"
#include "io/json_writer.h"
#include "cli/progress.h"

namespace stfpm {

Preprocess preprocess_of(const RunConfig& config) {
  Preprocess p;
  p.size = config.size;
  for (int c = 0; c < 3; ++c) {
    if (!(config.std[c] > 0)) throw std::invalid_argument("--std values must be positive");
    p.mean[c] = config.mean[c];
    p.std[c] = config.std[c];
  }
  return p;
}

StfpmOptions model_options_of(const RunConfig& config) {
  StfpmOptions o;
  o.layers = config.layers;
  o.alphas = config.alphas;
  // --layers without --alphas: weight 1 each, as the reference's default alphas.
  if (!config.was_given("alphas") && o.alphas.size() != o.layers.size()) o.alphas.assign(o.layers.size(), 1.0f);
  o.lr = config.lr;
  o.momentum = config.momentum;
  o.weight_decay = config.weight_decay;
  o.validate();
  return o;
}

std::unique_ptr<Backend> backend_of(const RunConfig& config) {
  BackendOptions options;
  options.threads = config.threads;
  options.allow_tf32 = config.tf32;
  const DeviceKind kind = config.device.empty() ? default_device() : parse_device(config.device);
  std::unique_ptr<Backend> backend = make_backend(kind, options);
  std::fprintf(stderr, "device: %s\n", backend->describe().c_str());
  return backend;
}

std::string load_teacher(StfpmModel& model, const RunConfig& config) {
  const std::string path = teacher_path(config);
  const H5Reader in(path);
  model.teacher().load(in);
  std::fprintf(stderr, "teacher: %s\n", path.c_str());
  return path;
}

ImageSet load_with_progress(const std::string& what, const std::vector<ImageRecord>& records,
                            const Preprocess& preprocess, bool with_masks) {
  Progress progress("loading " + what, records.size());
  ImageSet set = load_images(records, preprocess, with_masks, [&](size_t done, size_t) { progress.update(done); });
  progress.finish();
  return set;
}

void ensure_writable_dir(const std::string& dir) {
  const std::string probe = dir + "/.stfpm_write_test";
  create_parent_dirs(probe);
  std::ofstream out(probe);
  if (!out) throw std::runtime_error(dir + ": folder is not writable");
  out.close();
  std::remove(probe.c_str());
}

RunConfig adopt_checkpoint_config(const RunConfig& config) {
  const std::string path = config.checkpoint_path();
  const CheckpointInfo info = read_checkpoint_info(path);
  RunConfig c = config;
  auto adopt = [&](const char* flag, const std::string& ours, const std::string& theirs, auto assign) {
    if (ours == theirs) return;
    if (config.was_given(flag))
      throw std::runtime_error(path + ": checkpoint from another configuration: --" + std::string(flag) + " is " +
                               ours + " here but " + theirs + " in the checkpoint");
    assign();
  };
  adopt("size", std::to_string(c.size), std::to_string(info.size), [&] { c.size = info.size; });
  adopt("layers", join_list(c.layers), info.layers, [&] {
    c.layers.clear();
    for (char ch : info.layers)
      if (ch >= '1' && ch <= '3') c.layers.push_back(ch - '0');
  });
  adopt("mean", join_list(c.mean), info.mean, [&] { std::sscanf(info.mean.c_str(), "%f,%f,%f", &c.mean[0], &c.mean[1], &c.mean[2]); });
  adopt("std", join_list(c.std), info.std, [&] { std::sscanf(info.std.c_str(), "%f,%f,%f", &c.std[0], &c.std[1], &c.std[2]); });
  if (!config.was_given("alphas")) c.alphas.assign(c.layers.size(), 1.0f);  // unused outside training
  return c;
}

AnomalyMaps compute_anomaly_maps(StfpmModel& model, const ImageSet& images, int batch_size) {
  Backend& backend = model.backend();
  AnomalyMaps out;
  out.count = int(images.count());
  out.size = images.size;
  out.levels = int(model.options().layers.size());
  const size_t plane = images.plane(), image = 3 * plane;
  const int batch = std::max(1, std::min(batch_size, out.count));
  out.combined.resize(size_t(out.count) * plane);
  out.level_maps.resize(size_t(out.levels) * out.count * plane);
  out.scores.resize(size_t(out.count));

  Buffer x(backend, size_t(batch) * image), map(backend, size_t(batch) * plane);
  Buffer levels(backend, size_t(out.levels) * batch * plane);
  std::vector<float> host_levels(levels.size());
  Progress progress("anomaly maps", images.count());
  const auto start = std::chrono::steady_clock::now();
  for (int first = 0; first < out.count; first += batch) {
    const int n = std::min(batch, out.count - first);
    backend.upload(x.data(), images.image(size_t(first)), size_t(n) * image);
    model.anomaly_maps(map.data(), levels.data(), x.data(), n, images.size, images.size);
    backend.download(out.combined.data() + size_t(first) * plane, map.data(), size_t(n) * plane);
    backend.download(host_levels.data(), levels.data(), size_t(out.levels) * n * plane);
    // The batch's level maps are (levels, n, S, S); the set's are (levels, count, S, S).
    for (int l = 0; l < out.levels; ++l)
      std::copy_n(host_levels.data() + size_t(l) * n * plane, size_t(n) * plane,
                  out.level_maps.data() + (size_t(l) * out.count + first) * plane);
    progress.update(size_t(first + n));
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.finish();
  for (int i = 0; i < out.count; ++i) {
    const float* m = out.map(size_t(i));
    out.scores[size_t(i)] = *std::max_element(m, m + plane);
  }
  return out;
}

}  // namespace stfpm
