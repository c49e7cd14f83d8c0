// stfpm::Detector: a trained model folder loaded once, then anomaly maps of images from files or from a caller's
// buffers. Images go through the same decoding, PIL-exact resize and normalization as `stfpm test`, so a score
// here equals the score test and predict report for the same file.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <mutex>

#include <stfpm/stfpm.h>

#include "api/errors.h"
#include "api/reports.h"
#include "api/runtime.h"
#include "data/image_io.h"
#include "data/resize.h"
#include "io/tiff_io.h"
#include "model/checkpoint.h"

namespace stfpm {

struct Detector::Impl {
  std::mutex mutex;  // serializes predict calls: the model's activations and buffers are shared
  std::string teacher;
  CheckpointInfo info;
  double image_threshold = NAN, pixel_threshold = NAN;
  std::string threshold_source;
  double image_score_min = NAN, image_score_max = NAN;  // the test run's (or validation's), for normalized scores
  std::unique_ptr<Backend> backend;
  std::unique_ptr<StfpmModel> model;
  Preprocess preprocess;
  int max_batch = 1;
  Buffer x, map, levels;  // (max_batch, 3, S, S), (max_batch, S, S), (L, max_batch, S, S)

  // Predictions of RGB images (any size), in batches of max_batch.
  std::vector<Prediction> run(const std::vector<Image8>& originals, const PredictOptions& options);
  // Images 0..count) from image(i), decoded a batch at a time (outside the lock), so memory stays bounded.
  std::vector<Prediction> run_chunked(size_t count, const PredictOptions& options,
                                      const std::function<Image8(size_t)>& image);
};

namespace {

// The caller's pixels as an RGB Image8 (gray replicated, as the file path's conversion does).
Image8 from_view(const Image& image, size_t index) {
  const std::string what = "image " + std::to_string(index) + ": ";
  if (!image.pixels) throw Error(what + "no pixels (null pointer)");
  if (image.width <= 0 || image.height <= 0)
    throw Error(what + "empty size " + std::to_string(image.width) + "x" + std::to_string(image.height));
  if (image.channels != 1 && image.channels != 3)
    throw Error(what + std::to_string(image.channels) + " channels (expected 1 gray or 3 RGB)");
  const size_t row = size_t(image.width) * size_t(image.channels);
  const size_t stride = image.row_stride ? image.row_stride : row;
  if (stride < row)
    throw Error(what + "row stride " + std::to_string(stride) + " is shorter than a row of " + std::to_string(row) +
                " bytes");
  Image8 copy(image.width, image.height, image.channels);
  for (int y = 0; y < image.height; ++y)
    std::copy_n(image.pixels + size_t(y) * stride, row, copy.row(y));
  return image.channels == 3 ? copy : to_rgb(copy);
}

}  // namespace

std::vector<Prediction> Detector::Impl::run(const std::vector<Image8>& originals, const PredictOptions& options) {
  const int s = preprocess.size;
  const size_t plane = size_t(s) * size_t(s);
  const int n_levels = int(info.recipe.layers.size());
  const double threshold = std::isnan(options.threshold) ? image_threshold : options.threshold;
  std::vector<Prediction> out(originals.size());
  std::vector<float> pixels(size_t(max_batch) * 3 * plane), host_map(size_t(max_batch) * plane);
  std::vector<float> host_levels(size_t(n_levels) * max_batch * plane);
  for (size_t first = 0; first < originals.size(); first += size_t(max_batch)) {
    const int n = int(std::min(originals.size() - first, size_t(max_batch)));
    for (int j = 0; j < n; ++j) {
      const Image8 resized = resize_bilinear(originals[first + size_t(j)], s, s);
      normalize_image(resized.data.data(), s, preprocess, pixels.data() + size_t(j) * 3 * plane);
    }
    backend->upload(x.data(), pixels.data(), size_t(n) * 3 * plane);
    model->anomaly_maps(map.data(), levels.data(), x.data(), n, s, s);
    backend->download(host_map.data(), map.data(), size_t(n) * plane);
    if (options.level_maps) backend->download(host_levels.data(), levels.data(), size_t(n_levels) * n * plane);
    for (int j = 0; j < n; ++j) {
      const Image8& original = originals[first + size_t(j)];
      Prediction& p = out[first + size_t(j)];
      const float* m = host_map.data() + size_t(j) * plane;
      p.map_size = s;
      p.map.assign(m, m + plane);
      p.score = *std::max_element(m, m + plane);
      p.threshold = threshold;
      p.anomalous = double(p.score) >= threshold;
      p.normalized_score = float(normalized_score(p.score, threshold, image_score_min, image_score_max));
      p.width = original.width;
      p.height = original.height;
      // The batch's level maps are (levels, n, S, S).
      if (options.level_maps)
        for (int l = 0; l < n_levels; ++l) {
          const float* lm = host_levels.data() + (size_t(l) * size_t(n) + size_t(j)) * plane;
          p.level_maps.emplace_back(lm, lm + plane);
        }
      if (options.full_size_map) p.full_map = resize_map_bilinear(m, s, s, original.width, original.height);
    }
  }
  return out;
}

std::vector<Prediction> Detector::Impl::run_chunked(size_t count, const PredictOptions& options,
                                                   const std::function<Image8(size_t)>& image) {
  std::vector<Prediction> out;
  out.reserve(count);
  for (size_t first = 0; first < count; first += size_t(max_batch)) {
    std::vector<Image8> originals;
    for (size_t i = first; i < std::min(count, first + size_t(max_batch)); ++i) originals.push_back(image(i));
    const std::lock_guard<std::mutex> lock(mutex);
    for (Prediction& p : run(originals, options)) out.push_back(std::move(p));
  }
  return out;
}

Detector::Detector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;
Detector::~Detector() = default;

Detector Detector::load(const std::string& model_folder, const Runtime& runtime, int max_batch) try {
  if (max_batch < 1) throw Error("Detector::load: max_batch must be at least 1, got " + std::to_string(max_batch));
  auto impl = std::make_unique<Impl>();
  const std::string checkpoint = model_folder + "/student.h5";
  impl->info = read_checkpoint_info(checkpoint);
  const Recipe& recipe = impl->info.recipe;
  const Calibration cal = load_model_calibration(model_folder, int(recipe.layers.size()), impl->info.steps, false);
  impl->image_threshold = cal.image_threshold;
  impl->pixel_threshold = cal.pixel_threshold;
  impl->threshold_source = cal.source;
  impl->image_score_min = cal.image_score_min;
  impl->image_score_max = cal.image_score_max;
  impl->teacher = find_teacher(runtime.teacher, model_folder);
  impl->preprocess = preprocess_of(recipe);
  const Reporter silent(nullptr);
  impl->backend = make_backend(runtime, silent);
  impl->model = std::make_unique<StfpmModel>(*impl->backend, recipe);
  load_teacher(*impl->model, impl->teacher, silent);
  load_checkpoint(checkpoint, *impl->model, false);
  impl->max_batch = max_batch;
  const int s = recipe.size;
  const size_t plane = size_t(s) * size_t(s);
  impl->model->plan_inference(max_batch, s, s);
  impl->x = Buffer(*impl->backend, size_t(max_batch) * 3 * plane);
  impl->map = Buffer(*impl->backend, size_t(max_batch) * plane);
  impl->levels = Buffer(*impl->backend, recipe.layers.size() * size_t(max_batch) * plane);
  return Detector(std::move(impl));
} catch (...) {
  rethrow_as_error();
}

Prediction Detector::predict(const std::string& image_path, const PredictOptions& options) {
  return predict_files({image_path}, options).front();
}

Prediction Detector::predict(const Image& image, const PredictOptions& options) {
  return predict(std::vector<Image>{image}, options).front();
}

std::vector<Prediction> Detector::predict(const std::vector<Image>& images, const PredictOptions& options) try {
  return impl_->run_chunked(images.size(), options, [&](size_t i) { return from_view(images[i], i); });
} catch (...) {
  rethrow_as_error();
}

std::vector<Prediction> Detector::predict_files(const std::vector<std::string>& paths,
                                                const PredictOptions& options) try {
  return impl_->run_chunked(paths.size(), options, [&](size_t i) { return read_image_rgb(paths[i]); });
} catch (...) {
  rethrow_as_error();
}

const Recipe& Detector::recipe() const { return impl_->info.recipe; }
int Detector::epochs_trained() const { return impl_->info.epoch; }
double Detector::image_threshold() const { return impl_->image_threshold; }
double Detector::pixel_threshold() const { return impl_->pixel_threshold; }
std::string Detector::threshold_source() const { return impl_->threshold_source; }
std::string Detector::device() const { return impl_->backend->describe(); }
std::string Detector::teacher() const { return impl_->teacher; }

}  // namespace stfpm
