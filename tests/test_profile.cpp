// `stfpm profile` (stfpm::profile): every op of a step is a row, the layers are named, the calls per step are the
// model's, and the rows add up to the step's time. Times themselves are not asserted (speed belongs to bench/).
#include <catch2/catch.hpp>

#include <stfpm/stfpm.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "api/backends.h"
#include "core/profiling_backend.h"
#include "cpu/cpu_backend.h"
#include "data/image_io.h"
#include "model/resnet18.h"
#include "test_util.h"

using namespace stfpm;

namespace {

ProfileConfig small_profile(const std::string& pass, const test::TempDir& tmp) {
  ProfileConfig c;
  c.pass = pass;
  c.batch_size = 2;
  c.size = 64;
  c.warmup = 1;
  c.steps = 3;
  c.runtime.device = Device::cpu;
  if (test::path_exists(test::teacher_file())) c.runtime.teacher = test::teacher_file();
  c.csv = (tmp.path / "profile.csv").string();
  c.json = (tmp.path / "profile.json").string();
  return c;
}

// calls per step of each "op|layer"
std::map<std::string, double> calls_of(const ProfileReport& r) {
  std::map<std::string, double> out;
  for (const ProfileRow& row : r.rows) out[row.op + "|" + row.layer] += row.calls_per_step;
  return out;
}

// The names of the trunk's convolutions and BatchNorms, as the profile names them.
std::vector<std::string> layers(TensorRole role) {
  std::unique_ptr<Backend> backend = make_backend(DeviceKind::cpu, BackendOptions{});
  ResNet18Trunk trunk(*backend);
  std::vector<std::string> out;
  for (const TensorEntry& e : trunk.tensors())
    if (e.role == role) out.push_back(e.name.substr(0, e.name.rfind(".weight")));
  return out;
}

void check_sums(const ProfileReport& r) {
  double sum = 0;
  for (const ProfileRow& row : r.rows) sum += row.ms_per_step;
  CHECK(sum == Approx(r.step_ms).epsilon(1e-9));
  const ProfileRow& rest = r.rows.back();
  CHECK(rest.op == "outside backend ops");
  // Ops never overlap on the CPU, so the timed calls cannot exceed the step; the model's own host work between
  // calls (pointer arithmetic, loops over the tensor table) is a small part of it.
  CHECK(rest.ms_per_step >= 0);
  CHECK(rest.share < 0.25);
  for (size_t i = 1; i + 1 < r.rows.size(); ++i) CHECK(r.rows[i - 1].ms_per_step >= r.rows[i].ms_per_step);
  CHECK(r.ceiling_gflops > 0);
  CHECK(r.ceiling_gbps > 0);
  CHECK(r.images_per_second == Approx(r.batch_size * 1000.0 / r.step_ms).epsilon(1e-9));
  CHECK(r.unprofiled_step_ms > 0);  // the same steps again, untimed ops (the CPU's trunks side by side)
  CHECK(r.unprofiled_images_per_second == Approx(r.batch_size * 1000.0 / r.unprofiled_step_ms).epsilon(1e-9));
}

}  // namespace

TEST_CASE("profile: a CPU train step has a row per op and layer with the model's calls, adding up to the step",
          "[profile]") {
  const test::TempDir tmp("profile_train");
  const ProfileReport r = profile(small_profile("train", tmp));
  check_sums(r);
  const std::map<std::string, double> calls = calls_of(r);
  auto at = [&](const std::string& key) {
    const auto it = calls.find(key);
    return it == calls.end() ? 0.0 : it->second;
  };
  const std::vector<std::string> convs = layers(TensorRole::conv_weight), norms = layers(TensorRole::bn_weight);
  REQUIRE(convs.size() == 15);  // conv1, 4 per layer and a downsample in layer2 and layer3
  // The teacher runs in eval mode: each convolution with its BatchNorm (and ReLU after the stem and every conv1)
  // as one op. Its eval-only plan runs the stem a few images at a time, here one by one: at 64x64 its output is
  // four times a block's per image, and the shared working buffer holds one block at batch 2.
  auto teacher_calls = [](const std::string& layer) { return layer == "conv1" ? 2 : 1; };
  auto with_relu = [](const std::string& layer) {
    return layer == "conv1" || layer.find(".conv1") != std::string::npos;
  };
  for (const std::string& conv : convs) {
    INFO(conv);
    CHECK(at(std::string(with_relu(conv) ? "conv+batchnorm+relu (eval)" : "conv+batchnorm (eval)") + "|teacher." +
             conv) == teacher_calls(conv));
    CHECK(at("conv forward|teacher." + conv) == 0);
    CHECK(at("conv forward|student." + conv) == 1);
    CHECK(at("conv backward-filter|student." + conv) == 1);
    CHECK(at("conv backward-filter|teacher." + conv) == 0);  // the teacher is frozen
  }
  for (const std::string& bn : norms) {
    INFO(bn);
    CHECK(at("batchnorm forward (eval)|teacher." + bn) == 0);  // fused
    CHECK(at("batchnorm forward (train)|student." + bn) == 1);
    CHECK(at("batchnorm backward|student." + bn) == 1);
  }
  CHECK(at("pyramid loss|") == 3);
  CHECK(at("sgd step|") == 1);
  CHECK(at("copy host to device|") >= 1);
  CHECK(at("anomaly map|") == 0);
  // A convolution row reports its FLOPs: student.conv1 at 64x64, batch 2 is 2 * 2*64*32*32 * 3*7*7 per step.
  for (const ProfileRow& row : r.rows)
    if (row.op == "conv forward" && row.layer == "student.conv1")
      CHECK(row.gflops * row.ms_per_step * 1e6 == Approx(2.0 * 2 * 64 * 32 * 32 * 3 * 7 * 7).epsilon(1e-6));

  const std::string csv = test::read_text((tmp.path / "profile.csv").string());
  CHECK(std::count(csv.begin(), csv.end(), '\n') == long(r.rows.size()) + 1);
  CHECK(test::read_text((tmp.path / "profile.json").string()).find("\"outside backend ops\"") != std::string::npos);

  // --by_op: one row per op with the calls of all its layers.
  ProfileConfig summary = small_profile("train", tmp);
  summary.by_op = true;
  const ProfileReport merged = profile(summary);
  check_sums(merged);
  const std::map<std::string, double> ops = calls_of(merged);
  CHECK(ops.at("conv forward|") == 15);  // the student's
  CHECK(ops.at("conv+batchnorm+relu (eval)|") + ops.at("conv+batchnorm (eval)|") == 16);  // the teacher's, stem twice
  CHECK(ops.at("conv backward-filter|") == 15);
  CHECK(ops.at("batchnorm backward|") == double(norms.size()));
  for (const auto& [key, n] : ops) CHECK(key.back() == '|');  // no layer names
}

TEST_CASE("profile: a CPU inference step, with real images decoded every step", "[profile]") {
  const test::TempDir tmp("profile_infer");
  Image8 image(40, 30, 3);
  for (size_t i = 0; i < image.data.size(); ++i) image.data[i] = uint8_t(i * 7);
  write_png((tmp.path / "a.png").string(), image);
  write_png((tmp.path / "b.png").string(), image);
  ProfileConfig c = small_profile("infer", tmp);
  c.images = tmp.path.string();
  const ProfileReport r = profile(c);
  check_sums(r);
  const std::map<std::string, double> calls = calls_of(r);
  CHECK(calls.at("anomaly map|") == 2);  // one per half of the batch (StfpmModel::anomaly_maps)
  CHECK(calls.at("copy device to host|") == 1);
  CHECK(calls.at("image decode|") == 2);  // the batch of 2, every step
  CHECK(calls.at("resize + normalize|") == 2);
  for (const auto& [key, n] : calls) CHECK(key.find("backward") == std::string::npos);

  c.pass = "backward";
  CHECK_THROWS_WITH(profile(c), Catch::Contains("--pass must be train or infer"));
}

namespace {

// A device timer that reports a fixed time and records the order of its calls.
struct FakeTimer final : DeviceTimer {
  std::string* log;
  explicit FakeTimer(std::string* l) : log(l) {}
  void start() override { *log += "start "; }
  void stop() override { *log += "stop "; }
  double seconds() override {
    *log += "seconds ";
    return 0.125;
  }
};

// The CPU backend, seen through a pass-through decorator that offers a device timer (as CUDA does) and logs the
// op's own call between the timer's marks.
struct TimedCpu final : ProfilingBackend {
  std::string log;
  explicit TimedCpu(Backend& cpu) : ProfilingBackend(cpu) {}
  std::unique_ptr<DeviceTimer> make_timer() override { return std::make_unique<FakeTimer>(&log); }
  void relu_forward(float* y, const float* x, size_t count) override {
    log += "relu ";
    ProfilingBackend::relu_forward(y, x, count);
  }
};

}  // namespace

TEST_CASE("profile: a backend's device timer (CUDA events) times each op when it has one", "[profile]") {
  CpuBackend cpu;
  TimedCpu device(cpu);  // records nothing itself: recording is off
  ProfilingBackend prof(static_cast<Backend&>(device));  // (not a copy of the decorator)
  prof.set_recording(true);
  std::vector<float> x = {-1.0f, 2.0f}, y(2);
  prof.relu_forward(y.data(), x.data(), 2);
  prof.relu_forward(y.data(), x.data(), 2);
  CHECK(device.log == "start relu stop seconds start relu stop seconds ");
  REQUIRE(prof.records().size() == 1);
  CHECK(prof.records()[0].seconds == std::vector<double>{0.125, 0.125});  // the timer's, not the host clock's
  CHECK(y == std::vector<float>{0.0f, 2.0f});

  ProfilingBackend host_clock(cpu);  // the CPU has no device timer
  CHECK(cpu.make_timer() == nullptr);
  host_clock.set_recording(true);
  host_clock.relu_forward(y.data(), x.data(), 2);
  CHECK(host_clock.records()[0].seconds.at(0) < 0.125);
}
