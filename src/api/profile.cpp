// `stfpm profile`: where the time of a step goes. The model runs on a ProfilingBackend around the real backend, so
// every op is timed without the layers knowing; the layers are told apart by their weight pointers, named from the
// trunks' tensor tables. Image decoding and resizing (with --images) are timed here, on the host.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include <stfpm/stfpm.h>

#include "api/errors.h"
#include "api/runtime.h"
#include "core/files.h"
#include "core/profiling_backend.h"
#include "data/resize.h"
#include "io/json.h"
#include "io/report.h"

namespace stfpm {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Names every convolution (by its weight and weight gradient) and BatchNorm (by its gamma) of a trunk.
void name_layers(ProfilingBackend& prof, ResNet18Trunk& trunk, const std::string& prefix, bool with_grads) {
  for (const TensorEntry& e : trunk.tensors()) {
    if (e.role != TensorRole::conv_weight && e.role != TensorRole::bn_weight) continue;
    const std::string layer = prefix + "." + e.name.substr(0, e.name.rfind(".weight"));
    prof.name(trunk.params() + e.offset, layer);
    if (with_grads && e.role == TensorRole::conv_weight) prof.name(trunk.grads() + e.offset, layer);
  }
}

// The best of five runs of `work`, in seconds: by the backend's device timer where it has one (CUDA events), else
// by the host clock around the work and a synchronize.
template <typename Work>
double best_of_five(Backend& backend, Work&& work) {
  const std::unique_ptr<DeviceTimer> timer = backend.make_timer();
  double best = INFINITY;
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    if (timer) timer->start();
    work();
    if (timer) timer->stop();
    backend.synchronize();
    best = std::min(best, timer ? timer->seconds() : seconds_since(start));
  }
  return best;
}

// The ceilings the rows are compared with, measured on this backend now.
void measure_ceilings(Backend& backend, ProfileReport& out) {
  ConvGeometry g;
  g.n = 1, g.c = 1024, g.h = 32, g.w = 32, g.k = 1024, g.r = 1, g.s = 1;
  backend.prepare_conv(g);
  Buffer x(backend, g.in_dims().count()), w(backend, g.weight_count()), y(backend, g.out_dims().count());
  backend.fill(x.data(), 0.5f, x.size());
  backend.fill(w.data(), 0.25f, w.size());
  const double conv = best_of_five(backend, [&] { backend.conv_forward(y.data(), x.data(), w.data(), g); });
  out.ceiling_gflops = 2.0 * g.k * g.c * g.h * g.w / conv / 1e9;
  const size_t count = size_t(32) << 20;  // 128 MiB of floats
  Buffer a(backend, count), b(backend, count);
  backend.fill(a.data(), 1.0f, count);
  const double copy = best_of_five(backend, [&] { backend.copy(b.data(), a.data(), count); });
  out.ceiling_gbps = 2.0 * sizeof(float) * double(count) / copy / 1e9;
}

// The host part of a step with real images: decode, then resize and normalize, each timed.
struct HostTimes {
  std::vector<double> decode, resize;
};

void load_batch(const std::vector<ImageRecord>& records, size_t first, int n, const Preprocess& pre,
                std::vector<float>& pixels, HostTimes* times) {
  const size_t plane = size_t(pre.size) * size_t(pre.size);
  for (int j = 0; j < n; ++j) {
    const ImageRecord& r = records[(first + size_t(j)) % records.size()];
    auto start = Clock::now();
    const Image8 image = read_image_rgb(r.path);
    if (times) times->decode.push_back(seconds_since(start));
    start = Clock::now();
    const Image8 resized = resize_bilinear(image, pre.size, pre.size);
    normalize_image(resized.data.data(), pre.size, pre, pixels.data() + size_t(j) * 3 * plane);
    if (times) times->resize.push_back(seconds_since(start));
  }
}

// One record per op: the calls and the work of all its layers together, in order of first call.
std::vector<ProfilingBackend::Record> merge_layers(const std::vector<ProfilingBackend::Record>& records) {
  std::vector<ProfilingBackend::Record> out;
  for (const ProfilingBackend::Record& r : records) {
    auto same = std::find_if(out.begin(), out.end(), [&](const ProfilingBackend::Record& m) { return m.op == r.op; });
    if (same == out.end()) {
      out.push_back(r);
      out.back().layer.clear();
      continue;
    }
    same->seconds.insert(same->seconds.end(), r.seconds.begin(), r.seconds.end());
    same->flops += r.flops;
    same->bytes += r.bytes;
  }
  return out;
}

Json report_json(const ProfileReport& r) {
  Json rows = Json::array();
  for (const ProfileRow& row : r.rows)
    rows.push_back({{"op", row.op},
                    {"layer", row.layer},
                    {"calls_per_step", row.calls_per_step},
                    {"median_ms", row.median_ms},
                    {"ms_per_step", row.ms_per_step},
                    {"share", row.share},
                    {"gflops", row.gflops},
                    {"gbps", row.gbps},
                    {"ceiling_fraction", row.ceiling_fraction}});
  return Json{{"pass", r.pass},
              {"device", r.device},
              {"batch_size", r.batch_size},
              {"size", r.size},
              {"steps", r.steps},
              {"step_ms", r.step_ms},
              {"images_per_second", r.images_per_second},
              {"unprofiled_step_ms", r.unprofiled_step_ms},
              {"unprofiled_images_per_second", r.unprofiled_images_per_second},
              {"ceiling_gflops", r.ceiling_gflops},
              {"ceiling_gbps", r.ceiling_gbps},
              {"rows", rows}};
}

std::string number(double v) {
  if (std::isnan(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void write_report_csv(const std::string& path, const ProfileReport& r) {
  std::vector<std::vector<std::string>> rows;
  for (const ProfileRow& row : r.rows)
    rows.push_back({row.op, row.layer, number(row.calls_per_step), number(row.median_ms), number(row.ms_per_step),
                    number(row.share), number(row.gflops), number(row.gbps), number(row.ceiling_fraction)});
  write_csv(path,
            {"op", "layer", "calls_per_step", "median_ms", "ms_per_step", "share", "gflops", "gbps",
             "ceiling_fraction"},
            rows);
}

}  // namespace

ProfileReport profile(const ProfileConfig& config, const ProgressCallback& progress) try {
  const Reporter report(progress);
  if (config.pass != "train" && config.pass != "infer")
    throw Error("--pass must be train or infer, got '" + config.pass + "'");
  if (config.batch_size < 1) throw Error("--batch_size must be at least 1");
  if (config.steps < 1) throw Error("--steps must be at least 1");
  if (config.warmup < 0) throw Error("--warmup must be 0 or more");
  Recipe recipe;
  recipe.size = config.size;
  recipe.batch_size = config.batch_size;
  validate(recipe);
  const bool train = config.pass == "train";
  const Preprocess pre = preprocess_of(recipe);
  const std::vector<ImageRecord> records = config.images.empty() ? std::vector<ImageRecord>{}
                                                                 : scan_images(config.images);
  for (const std::string& path : {config.csv, config.json})
    if (!path.empty()) create_parent_dirs(path);

  std::unique_ptr<Backend> backend = make_backend(config.runtime, report);
  ProfilingBackend prof(*backend);
  StfpmModel model(prof, recipe);
  std::string teacher;
  try {
    teacher = find_teacher(config.runtime.teacher);
  } catch (const Error&) {
    if (!config.runtime.teacher.empty()) throw;
  }
  if (teacher.empty()) {
    report.message("teacher: random weights (no teacher file found; the times are the same)");
    model.teacher().init_student(1);
  } else {
    load_teacher(model, teacher, report);
  }
  model.student().init_student(recipe.seed);
  const int n = config.batch_size, s = config.size;
  if (train)
    model.plan_training(n, s, s);
  else
    model.plan_inference(n, s, s);
  name_layers(prof, model.teacher(), "teacher", false);
  name_layers(prof, model.student(), "student", train);

  const size_t plane = size_t(s) * size_t(s);
  std::vector<float> pixels(size_t(n) * 3 * plane), host_map(size_t(n) * plane);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : pixels) v = normal(rng);
  Buffer x(prof, pixels.size()), map(prof, host_map.size());

  HostTimes host;
  std::vector<double> step_seconds, unprofiled_seconds;
  // Four phases: warm-up with every op timed (the profiled steps' schedule, the trunks one after the other; its
  // records are dropped), the profiled steps, warm-up without the profiler (the run's schedule, side by side on
  // the CPU: its halves keep their own caches and scratch), the unprofiled steps.
  const int total_steps = 2 * (config.warmup + config.steps);
  report.update("profiling " + config.pass, 0, size_t(total_steps), "", "steps");
  for (int step = 0; step < total_steps; ++step) {
    const bool profiled_phase = step < config.warmup + config.steps;
    const bool timed = profiled_phase && step >= config.warmup;
    if (step == config.warmup) prof.clear();
    prof.set_recording(profiled_phase);
    backend->synchronize();
    const auto start = Clock::now();
    if (!records.empty()) load_batch(records, size_t(step) * size_t(n), n, pre, pixels, timed ? &host : nullptr);
    prof.upload(x.data(), pixels.data(), pixels.size());
    if (train) {
      model.train_step(x.data(), n);
    } else {
      model.anomaly_maps(map.data(), nullptr, x.data(), n, s, s);
      prof.download(host_map.data(), map.data(), host_map.size());
    }
    backend->synchronize();
    if (timed) step_seconds.push_back(seconds_since(start));
    if (step >= 2 * config.warmup + config.steps) unprofiled_seconds.push_back(seconds_since(start));
    report.update("profiling " + config.pass, size_t(step + 1), size_t(total_steps), "", "steps");
  }
  prof.set_recording(false);
  report.finished("profiling " + config.pass, size_t(total_steps), "", "steps");
  report.message("measuring the ceilings (sgemm, copy)");

  ProfileReport out;
  out.pass = config.pass;
  out.device = backend->describe();
  out.batch_size = n;
  out.size = s;
  out.steps = config.steps;
  double total = 0;
  for (double t : step_seconds) total += t;
  out.step_ms = 1000 * total / config.steps;
  out.images_per_second = n * config.steps / total;
  double unprofiled = 0;
  for (double t : unprofiled_seconds) unprofiled += t;
  out.unprofiled_step_ms = 1000 * unprofiled / config.steps;
  out.unprofiled_images_per_second = n * config.steps / unprofiled;
  measure_ceilings(*backend, out);

  std::vector<ProfilingBackend::Record> records_timed = prof.records();
  if (!host.decode.empty()) {
    records_timed.push_back({"image decode", "", host.decode, 0, 0});
    records_timed.push_back({"resize + normalize", "", host.resize, 0, 0});
  }
  if (config.by_op) records_timed = merge_layers(records_timed);
  double accounted = 0;
  for (const ProfilingBackend::Record& r : records_timed) {
    ProfileRow row;
    row.op = r.op;
    row.layer = r.layer;
    row.calls_per_step = double(r.seconds.size()) / config.steps;
    row.median_ms = 1000 * median(r.seconds);
    double sum = 0;
    for (double t : r.seconds) sum += t;
    row.ms_per_step = 1000 * sum / config.steps;
    row.share = row.ms_per_step / out.step_ms;
    if (r.flops > 0) {
      row.gflops = r.flops / sum / 1e9;
      row.ceiling_fraction = row.gflops / out.ceiling_gflops;
    }
    if (r.bytes > 0) {
      row.gbps = r.bytes / sum / 1e9;
      if (r.flops == 0) row.ceiling_fraction = row.gbps / out.ceiling_gbps;
    }
    accounted += row.ms_per_step;
    out.rows.push_back(row);
  }
  std::stable_sort(out.rows.begin(), out.rows.end(),
                   [](const ProfileRow& a, const ProfileRow& b) { return a.ms_per_step > b.ms_per_step; });
  ProfileRow rest;
  rest.op = "outside backend ops";
  rest.calls_per_step = 1;
  rest.ms_per_step = rest.median_ms = out.step_ms - accounted;
  rest.share = rest.ms_per_step / out.step_ms;
  out.rows.push_back(rest);

  if (!config.csv.empty()) write_report_csv(config.csv, out);
  if (!config.json.empty()) write_json_file(config.json, report_json(out));
  return out;
} catch (...) {
  rethrow_as_error();
}

}  // namespace stfpm
