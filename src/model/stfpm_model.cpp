#include "model/stfpm_model.h"

#include <cmath>
#include <string>

namespace stfpm {

StfpmModel::StfpmModel(Backend& backend, const Recipe& recipe)
    : backend_(backend), recipe_(recipe), teacher_(backend), student_(backend) {
  validate(recipe_);
  momentum_ = Buffer(backend_, student_.parameter_count());
  loss_ = Buffer(backend_, 1);
}

void StfpmModel::plan_training(int max_batch, int height, int width) { plan(max_batch, height, width, true); }
void StfpmModel::plan_inference(int max_batch, int height, int width) { plan(max_batch, height, width, false); }

void StfpmModel::plan(int max_batch, int height, int width, bool train) {
  const std::array<Dims, 3> levels = student_.feature_dims(1, height, width);
  size_t grad_floats = 0;
  for (const Dims& d : levels) grad_floats += d.count();
  const size_t per_image = teacher_.bytes_per_image(height, width, false) +
                           student_.bytes_per_image(height, width, train) + (train ? grad_floats * 4 : 0);
  const size_t free = backend_.free_memory();
  auto hint = [&] {
    std::string s = "STFPM needs about " + std::to_string(per_image >> 20) + " MiB per image at " +
                    std::to_string(height) + "x" + std::to_string(width) + " (" +
                    std::to_string((per_image * size_t(max_batch)) >> 20) + " MiB for a batch of " +
                    std::to_string(max_batch) + ")";
    if (free && free / per_image >= 1)
      s += "; about " + std::to_string(free / per_image) + " images fit in the " + std::to_string(free >> 20) +
           " MiB free: try a smaller --batch_size";
    else if (free)
      s += "; not one image fits in the " + std::to_string(free >> 20) + " MiB free: use a smaller --size";
    return s;
  };
  if (free && per_image * size_t(max_batch) > free) throw std::runtime_error("not enough memory: " + hint());
  try {
    teacher_.plan(max_batch, height, width, false);
    student_.plan(max_batch, height, width, train);
    if (train) {
      // Levels left out of the loss keep a zero gradient, so backward can add all three.
      feature_grads_ = Buffer(backend_, grad_floats * size_t(max_batch));
      float* p = feature_grads_.data();
      for (size_t l = 0; l < levels.size(); ++l) {
        level_grads_[l] = p;
        p += levels[l].count() * size_t(max_batch);
      }
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(e.what()) + "; " + hint());
  }
}

std::vector<FeaturePair> StfpmModel::used_levels(const Features& t, const Features& s) const {
  std::vector<FeaturePair> pairs;
  for (int layer : recipe_.layers) pairs.push_back(t.pair(s, layer - 1));
  return pairs;
}

float StfpmModel::train_step(const float* x, int n, const Features* teacher) {
  if (teacher) {
    teacher_out_ = *teacher;
    student_out_ = student_.forward(x, n, true);
  } else {  // independent until the loss: a backend may run them side by side
    backend_.run_side_by_side([&](Backend& on) { teacher_out_ = teacher_.forward(x, n, false, on); },
                              [&](Backend& on) { student_out_ = student_.forward(x, n, true, on); });
  }
  const Features& t = teacher_out_;
  const Features& s = student_out_;
  backend_.fill(loss_.data(), 0.0f, 1);
  const std::vector<FeaturePair> pairs = used_levels(t, s);
  for (size_t i = 0; i < pairs.size(); ++i)
    backend_.pyramid_loss(loss_.data(), level_grads_[size_t(recipe_.layers[i] - 1)], pairs[i], recipe_.alphas[i]);
  student_.zero_grad();
  student_.backward({level_grads_[0], level_grads_[1], level_grads_[2]});
  // Read the loss after the backward pass is queued (no GPU stall in between) but before the update, so a
  // non-finite loss leaves the parameters untouched.
  float loss = 0.0f;
  backend_.download(&loss, loss_.data(), 1);
  if (!std::isfinite(loss)) throw NonFiniteLoss("the loss is " + std::to_string(loss) + " at step " + std::to_string(steps_ + 1));
  backend_.sgd_step(student_.params(), momentum_.data(), student_.grads(), student_.parameter_count(), recipe_.lr,
                    recipe_.momentum, recipe_.weight_decay, steps_ == 0);
  ++steps_;
  return loss;
}

void StfpmModel::anomaly_maps(float* map, float* level_maps, const float* x, int n, int out_h, int out_w) {
  // The two trunks are independent until the map: a backend may run them side by side.
  backend_.run_side_by_side([&](Backend& on) { teacher_out_ = teacher_.forward(x, n, false, on); },
                            [&](Backend& on) { student_out_ = student_.forward(x, n, false, on); });
  const std::vector<FeaturePair> levels = used_levels(teacher_out_, student_out_);
  if (n > 1 && level_maps) return backend_.anomaly_map(map, level_maps, levels, out_h, out_w);
  // On the halves too: the images' maps are independent, so each half takes some (a single image's on the first
  // half alone), and the whole backend's threads stay out of the step (CpuBackend: an idle team between the
  // halves' jobs would spin against them). level_maps is (L, N, H, W): only a whole batch writes it at once.
  const int first_count = (n + 1) / 2;
  auto range = [&](Backend& on, int first, int count) {
    if (count == 0) return;
    std::vector<FeaturePair> part = levels;
    for (FeaturePair& f : part) {
      const size_t offset = size_t(first) * f.dims.c * f.dims.plane();
      f.teacher += offset;
      f.student += offset;
      f.dims.n = count;
    }
    on.anomaly_map(map + size_t(first) * out_h * out_w, n == 1 ? level_maps : nullptr, part, out_h, out_w);
  };
  backend_.run_side_by_side([&](Backend& on) { range(on, 0, first_count); },
                            [&](Backend& on) { range(on, first_count, n - first_count); });
}

}  // namespace stfpm
