// STFPM on one backend: the frozen teacher, the trained student, the pyramid loss, the SGD step and the
// anomaly maps. The training and evaluation loops (api/) and the benchmarks drive this class.
#pragma once

#include <array>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <stfpm/stfpm.h>

#include "core/backend.h"
#include "model/resnet18.h"

namespace stfpm {

// Thrown by train_step when the loss is NaN or infinite; the parameters are left as they were before the step.
struct NonFiniteLoss : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class StfpmModel {
 public:
  // Uses the recipe's layers, alphas and SGD settings (validated here; throws Error).
  StfpmModel(Backend& backend, const Recipe& recipe);

  Backend& backend() { return backend_; }
  const Recipe& recipe() const { return recipe_; }
  ResNet18Trunk& teacher() { return teacher_; }
  ResNet18Trunk& student() { return student_; }
  float* momentum() { return momentum_.data(); }  // SGD buffers, parallel to student().params()
  long steps() const { return steps_; }           // SGD steps taken (0: the next step starts the momentum)
  void set_steps(long steps) { steps_ = steps; }

  // Plans memory for batches of up to max_batch images of (3, height, width). A plan that cannot fit says which
  // batch size would.
  void plan_training(int max_batch, int height, int width);
  void plan_inference(int max_batch, int height, int width);

  // One SGD step on x (n, 3, H, W) in backend memory; returns the batch loss (before the update). `teacher`, when
  // given, holds the teacher's features of x (from a TeacherCache), which saves the teacher's forward pass.
  float train_step(const float* x, int n, const Features* teacher = nullptr);
  // Anomaly maps of x with the student in eval mode: map (n, out_h, out_w) and, when not null, the per-level maps
  // (levels used, n, out_h, out_w), both in backend memory.
  void anomaly_maps(float* map, float* level_maps, const float* x, int n, int out_h, int out_w);
  // The features of the last train_step or anomaly_maps call (backend memory, valid until the next call).
  const Features& teacher_features() const { return teacher_out_; }
  const Features& student_features() const { return student_out_; }

 private:
  void plan(int max_batch, int height, int width, bool train);
  std::vector<FeaturePair> used_levels(const Features& t, const Features& s) const;

  Backend& backend_;
  Recipe recipe_;
  ResNet18Trunk teacher_, student_;
  Buffer momentum_, loss_, feature_grads_;
  std::array<float*, 3> level_grads_{};
  Features teacher_out_, student_out_;
  long steps_ = 0;
};

}  // namespace stfpm
