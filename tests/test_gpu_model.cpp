// The whole STFPM training step, GPU against CPU: two SGD steps of the same student (same initialization, same
// random teacher, same input) on both backends; the losses, every parameter gradient after the first step, every
// parameter's change and the BatchNorm running statistics after the second must agree. Per-tensor tolerances come
// from the trunk's table (grad_tolerance: max abs error relative to the largest value), the same ones the CPU
// trunk meets against PyTorch. Skipped without a GPU.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "api/backends.h"
#include "core/backend.h"
#include "model/resnet18.h"
#include "model/stfpm_model.h"
#include "test_gpu_util.h"
#include "test_util.h"

using namespace stfpm;

namespace {

std::vector<float> slice(const std::vector<float>& all, const TensorEntry& e) {
  return std::vector<float>(all.begin() + long(e.offset), all.begin() + long(e.offset + size_t(e.shape.numel())));
}

std::vector<float> download(Backend& backend, const float* p, size_t count) {
  std::vector<float> host(count);
  backend.download(host.data(), p, count);
  return host;
}

}  // namespace

TEST_CASE("gpu: two STFPM training steps match the CPU backend (loss, gradients, updates, running stats)", "[gpu]") {
  STFPM_SKIP_UNLESS(cuda_available(), "no CUDA device");
  test::BackendPair b;
  const int batch = 2, size = 64;
  const std::vector<float> input = test::random_vector(size_t(batch) * 3 * size * size, 5, -2.0f, 2.0f);
  struct Run {
    std::vector<float> losses, initial, grads_after_first, params, stats;
  };
  auto run = [&](Backend& backend) {
    StfpmModel model(backend, Recipe{});
    model.teacher().init_student(11);  // a random teacher: the check is about the backends agreeing
    model.student().init_student(12);
    model.plan_training(batch, size, size);
    Buffer x(backend, input.size());
    x.upload(input);
    ResNet18Trunk& s = model.student();
    Run r;
    r.initial = download(backend, s.params(), s.parameter_count());
    r.losses.push_back(model.train_step(x.data(), batch));
    r.grads_after_first = download(backend, s.grads(), s.parameter_count());
    r.losses.push_back(model.train_step(x.data(), batch));
    r.params = download(backend, s.params(), s.parameter_count());
    size_t stats = 0;
    for (const TensorEntry& e : s.tensors())
      if (!e.trainable()) stats = std::max(stats, e.offset + size_t(e.shape.numel()));
    r.stats = download(backend, s.running_stats(), stats);
    return std::make_pair(std::move(r), s.tensors());
  };
  const auto [cpu, table] = run(*b.cpu);
  const Run gpu = run(*b.gpu).first;

  for (size_t i = 0; i < 2; ++i) {
    INFO("step " << i + 1 << ": gpu loss " << gpu.losses[i] << ", cpu loss " << cpu.losses[i]);
    CHECK(std::fabs(gpu.losses[i] - cpu.losses[i]) <= 1e-5 * std::fabs(cpu.losses[i]));
  }
  CHECK(gpu.initial == cpu.initial);  // the same initialization on both
  for (const TensorEntry& e : table) {
    if (!e.trainable()) {
      const std::vector<float> want = slice(cpu.stats, e);
      CHECK(test::all_close(e.name, slice(gpu.stats, e), want, 1e-5 * test::max_abs(want), 1e-5));
      continue;
    }
    const std::vector<float> want_grad = slice(cpu.grads_after_first, e), got_grad = slice(gpu.grads_after_first, e);
    test::nmse_close("grad " + e.name, got_grad, want_grad, 1.0);  // prints the figure; the check is below
    CHECK(test::all_close("grad " + e.name, got_grad, want_grad, e.grad_tolerance * test::max_abs(want_grad), 0));
    // The change over two steps (the parameters themselves hide it: the update is small next to them).
    std::vector<float> want_delta = slice(cpu.params, e), got_delta = slice(gpu.params, e);
    const std::vector<float> start = slice(cpu.initial, e);
    for (size_t k = 0; k < start.size(); ++k) want_delta[k] -= start[k], got_delta[k] -= start[k];
    CHECK(test::all_close("update " + e.name, got_delta, want_delta, e.grad_tolerance * test::max_abs(want_delta), 0));
  }
}
