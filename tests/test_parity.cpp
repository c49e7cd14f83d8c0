// Level 2: the CPU trunk against PyTorch (tests/data/resnet18_reference.h5, made by tools/make_reference.py).
// Parameters are regenerated from the fixture's seeds (tests/fixture_params.h) instead of being stored.
//
// Tolerances, relative to each tensor's largest magnitude, with the errors measured on the CPU backend (its 3x3
// stride-1 convolutions by Winograd, cpu/winograd.h):
//   features, losses, running statistics  1e-4   (measured <= 1e-5)
//   gradients after one step              TensorEntry::grad_tolerance = 1e-4 (measured <= 2.4e-5)
//   change after two SGD steps            TensorEntry::update_tolerance: 5e-4 for layer2/3 (measured <= 7.7e-5),
//                                         1e-2 for the stem and layer1 (measured <= 2.4e-3; PyTorch float32 vs
//                                         float64 differ by up to 4.3e-3 there: the second step is ill-conditioned)
//   anomaly maps                          1e-3   (products of three levels of small distances)
// Run with STFPM_TEST_VERBOSE=1 to print every tensor's error.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu/cpu_backend.h"
#include "fixture_params.h"
#include "io/hdf5_io.h"
#include "model/stfpm_model.h"
#include "test_util.h"

using namespace stfpm;

namespace {

constexpr double kFeatureTolerance = 1e-4;

void load_fixture_parameters(StfpmModel& model) {
  for (const TensorEntry& e : model.teacher().tensors()) {
    HostTensor t(e.shape);
    t.data = test::fixture_values(e.name, e.shape, 1);
    model.teacher().set(e.name, t);
    HostTensor s(e.shape);
    if (e.role == TensorRole::bn_running_mean || e.role == TensorRole::bn_running_var) {
      std::fill(s.data.begin(), s.data.end(), e.role == TensorRole::bn_running_var ? 1.0f : 0.0f);
    } else {
      s.data = test::fixture_values(e.name, e.shape, 2);
    }
    model.student().set(e.name, s);
  }
}

std::vector<float> download(Backend& backend, const float* p, size_t count) {
  std::vector<float> host(count);
  backend.download(host.data(), p, count);
  return host;
}

// Compares `ours` (a whole tensor) with the fixture's dataset `key`, which holds either the whole tensor or the
// values at sample/<name>; for sampled tensors also the full L2 norm in `norm_key`.
bool matches(const H5Reader& ref, const std::string& key, const std::string& name, const std::string& norm_key,
             const std::vector<float>& ours, double tolerance) {
  const std::vector<float> expected = ref.read_floats(key);
  std::vector<float> picked = ours;
  bool ok = true;
  if (ref.has("sample/" + name)) {
    picked.clear();
    for (int64_t i : ref.read_ints("sample/" + name)) picked.push_back(ours.at(size_t(i)));
    double norm = 0.0;
    for (float v : ours) norm += double(v) * v;
    const double expected_norm = ref.read_doubles(norm_key).at(0);
    if (!(std::fabs(std::sqrt(norm) - expected_norm) <= tolerance * expected_norm)) {
      UNSCOPED_INFO(norm_key << ": " << std::sqrt(norm) << " vs " << expected_norm);
      ok = false;
    }
  }
  return test::all_close(key, picked, expected, tolerance * test::max_abs(expected), 0.0) && ok;
}

}  // namespace

TEST_CASE("parity with PyTorch: generator, features, loss, gradients, two SGD steps, anomaly maps", "[parity]") {
  const H5Reader ref(test::fixture_path("resnet18_reference.h5"));
  const int n = int(ref.attr_int("batch")), h = int(ref.attr_int("height")), w = int(ref.attr_int("width"));
  CpuBackend cpu;
  Recipe options;
  options.lr = float(ref.attr_double("lr"));
  options.momentum = float(ref.attr_double("momentum"));
  options.weight_decay = float(ref.attr_double("weight_decay"));
  const std::vector<float> alphas = ref.read_floats("alphas");
  options.alphas = alphas;
  StfpmModel model(cpu, options);
  load_fixture_parameters(model);
  model.plan_training(n, h, w);

  const std::vector<float> input = ref.read_floats("input", Shape{n, 3, h, w});
  CHECK(input == test::fixture_values("input", Shape{n, 3, h, w}, 3));
  Buffer x(cpu, input.size());
  x.upload(input);

  // ---- step 1: features, loss, every parameter gradient ----
  const float loss1 = model.train_step(x.data(), n);
  CHECK(loss1 == Approx(ref.read_floats("step1/loss").at(0)).epsilon(kFeatureTolerance));
  const char* levels[3] = {"layer1", "layer2", "layer3"};
  for (int l = 0; l < 3; ++l) {
    const Features& t = model.teacher_features();
    const Features& s = model.student_features();
    const size_t count = t.dims[size_t(l)].count();
    for (auto [who, f] : {std::make_pair("teacher", &t), std::make_pair("student", &s)}) {
      const std::string key = std::string("step1/") + who + "/" + levels[l];
      const std::vector<float> expected = ref.read_floats(key, t.dims[size_t(l)].shape());
      CHECK(test::all_close(key, download(cpu, f->data[size_t(l)], count), expected,
                            kFeatureTolerance * test::max_abs(expected), 0.0));
    }
  }
  const std::vector<float> grads = download(cpu, model.student().grads(), model.student().parameter_count());
  int compared = 0;
  for (const TensorEntry& e : model.student().tensors()) {
    if (!e.trainable()) continue;
    const std::vector<float> g(grads.begin() + long(e.offset), grads.begin() + long(e.offset + e.shape.numel()));
    CHECK(matches(ref, "step1/grad/" + e.name, e.name, "step1/grad_norm/" + e.name, g, e.grad_tolerance));
    ++compared;
  }
  CHECK(compared == 45);  // 15 conv weights, 15 BatchNorm weights and 15 biases

  // ---- step 2: the loss after one update, then parameters and running statistics after the second ----
  const float loss2 = model.train_step(x.data(), n);
  CHECK(loss2 == Approx(ref.read_floats("step2/loss").at(0)).epsilon(kFeatureTolerance));
  for (const TensorEntry& e : model.student().tensors()) {
    const std::vector<float> now = model.student().get(e.name).data;
    if (e.trainable()) {
      // Compare the change made by the two updates, not the parameters themselves (which barely move).
      const std::vector<float> start = test::fixture_values(e.name, e.shape, 2);
      std::vector<float> delta(now.size()), expected_delta;
      for (size_t i = 0; i < now.size(); ++i) delta[i] = now[i] - start[i];
      std::vector<float> expected = ref.read_floats("step2/param/" + e.name);
      const bool sampled = ref.has("sample/" + e.name);
      const std::vector<int64_t> index = sampled ? ref.read_ints("sample/" + e.name) : std::vector<int64_t>{};
      std::vector<float> ours;
      for (size_t k = 0; k < expected.size(); ++k) {
        const size_t i = sampled ? size_t(index[k]) : k;
        ours.push_back(delta[i]);
        expected_delta.push_back(expected[k] - start[i]);
      }
      CHECK(test::all_close("step2 update " + e.name, ours, expected_delta,
                            e.update_tolerance * test::max_abs(expected_delta), 0.0));
    } else {
      const std::vector<float> expected = ref.read_floats("step2/buffer/" + e.name, e.shape);
      CHECK(test::all_close("step2 " + e.name, now, expected, kFeatureTolerance * test::max_abs(expected), 0.0));
    }
  }

  // ---- anomaly maps with the updated student in eval mode ----
  Buffer map(cpu, size_t(n) * h * w), level_maps(cpu, 3 * size_t(n) * h * w);
  model.anomaly_maps(map.data(), level_maps.data(), x.data(), n, h, w);
  const std::vector<float> expected_map = ref.read_floats("anomaly/map", Shape{n, h, w});
  const std::vector<float> expected_levels = ref.read_floats("anomaly/level_maps", Shape{3, n, h, w});
  CHECK(test::all_close("anomaly map", map.download(), expected_map, 1e-3 * test::max_abs(expected_map), 0.0));
  CHECK(test::all_close("level maps", level_maps.download(), expected_levels,
                        1e-3 * test::max_abs(expected_levels), 0.0));
}

TEST_CASE("trunk: an eval-only plan (shared activation buffers) gives a training plan's features, bit for bit",
          "[model]") {
  CpuBackend cpu;
  ResNet18Trunk eval_only(cpu), training(cpu);
  eval_only.init_student(7);
  training.init_student(7);
  // At 64x64 the stem's output is four blocks' per image, so at batch 9 the eval plan runs it two images at a
  // time (the last call has one).
  eval_only.plan(9, 64, 64, false);
  training.plan(9, 64, 64, true);
  const std::vector<float> x = test::random_vector(size_t(9) * 3 * 64 * 64, 11);
  for (const int n : {9, 4, 1}) {  // the planned batch and smaller ones
    INFO(n << " images");
    const Features a = eval_only.forward(x.data(), n, false), b = training.forward(x.data(), n, false);
    for (size_t level = 0; level < 3; ++level) {
      INFO("level " << level);
      REQUIRE(a.dims[level].count() == b.dims[level].count());
      CHECK(download(cpu, a.data[level], a.dims[level].count()) == download(cpu, b.data[level], b.dims[level].count()));
    }
  }
  // The shared buffers hold less than a third of what a training plan keeps per image.
  CHECK(eval_only.bytes_per_image(64, 64, false) * 3 < training.bytes_per_image(64, 64, true));
}

TEST_CASE("model: teacher and student side by side on two halves of the threads give the sequential numbers",
          "[model]") {
  const int batch = 3, size = 64;
  const std::vector<float> input = test::random_vector(size_t(batch) * 3 * size * size, 21, -2.0f, 2.0f);
  struct Run {
    std::vector<float> losses, params, maps;
  };
  // Two training steps (unless !train), then the anomaly maps of the batch and of its first image alone.
  auto run = [&](int threads, bool side_by_side, bool train) {
    BackendOptions options;
    options.threads = threads;
    CpuBackend cpu(options);
    cpu.set_side_by_side(side_by_side);
    StfpmModel model(cpu, Recipe{});
    model.teacher().init_student(11);  // random trunks: the check is about the schedules agreeing
    model.student().init_student(12);
    if (train) model.plan_training(batch, size, size);
    else model.plan_inference(batch, size, size);
    Buffer x(cpu, input.size());
    x.upload(input);
    Run r;
    if (train) {
      for (int step = 0; step < 2; ++step) r.losses.push_back(model.train_step(x.data(), batch));
      r.params = download(cpu, model.student().params(), model.student().parameter_count());
    }
    Buffer map(cpu, size_t(batch) * size * size), level_maps(cpu, 3 * size_t(batch) * size * size);
    for (const int n : {batch, 1}) {
      for (const bool levels : {false, true}) {
        model.anomaly_maps(map.data(), levels ? level_maps.data() : nullptr, x.data(), n, size, size);
        std::vector<float> m = download(cpu, map.data(), size_t(n) * size * size);
        CHECK(std::all_of(m.begin(), m.end(), [](float v) { return std::isfinite(v) && v > 0.0f; }));
        if (levels) {
          const std::vector<float> l = download(cpu, level_maps.data(), 3 * size_t(n) * size * size);
          m.insert(m.end(), l.begin(), l.end());
        }
        r.maps.insert(r.maps.end(), m.begin(), m.end());
      }
    }
    // Each image's map is the one it gets alone: the last image of the batch, run by itself.
    const size_t plane = size_t(size) * size;
    model.anomaly_maps(map.data(), nullptr, x.data(), batch, size, size);
    const std::vector<float> in_batch = download(cpu, map.data() + (batch - 1) * plane, plane);
    model.anomaly_maps(map.data(), nullptr, x.data() + (batch - 1) * 3 * plane, 1, size, size);
    CHECK(download(cpu, map.data(), plane) == in_batch);
    return r;
  };
  const Run sequential = run(2, false, true), side = run(2, true, true);
  CHECK(side.losses == sequential.losses);
  CHECK(side.params == sequential.params);
  CHECK(side.maps == sequential.maps);
  // Inference does not depend on the thread count at all (a training step's sums over threads do).
  CHECK(run(1, false, false).maps == run(2, true, false).maps);
  CHECK(run(3, true, false).maps == run(2, true, false).maps);
}
