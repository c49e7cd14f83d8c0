// End-to-end throughput of the STFPM training step: teacher forward (eval) + student forward and backward
// (train) + pyramid loss + SGD, on random inputs, at the given batch size and image size. With --pass infer, the
// inference step instead: upload, teacher and student forward (eval), anomaly map, download of the map.
//
//   bench_train_step [--pass train|infer] [--device cpu|cuda] [--batch 32] [--size 256] [--iters 5] [--warmup 1]
//                    [--threads N]
//
// Prints one JSON line: {"impl": "stfpm", "device": ..., "batch": ..., "median_s": ..., "images_per_s": ...}.
// The median over --iters timed steps is reported; bench/run_train_step_bench.sh runs it beside PyTorch.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/backends.h"
#include "core/backend.h"
#include "model/stfpm_model.h"

namespace {

int int_arg(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
  return fallback;
}

std::string str_arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stfpm;
  try {
    const DeviceKind device = parse_device(str_arg(argc, argv, "--device", device_name(default_device())));
    const int batch = int_arg(argc, argv, "--batch", 32), size = int_arg(argc, argv, "--size", 256);
    const int iters = int_arg(argc, argv, "--iters", 5), warmup = int_arg(argc, argv, "--warmup", 1);
    const std::string pass = str_arg(argc, argv, "--pass", "train");
    if (pass != "train" && pass != "infer") throw std::invalid_argument("--pass must be train or infer");
    const bool train = pass == "train";
    BackendOptions options;
    options.threads = int_arg(argc, argv, "--threads", 0);
    options.allow_tf32 = int_arg(argc, argv, "--tf32", 0) != 0;
    std::unique_ptr<Backend> backend = make_backend(device, options);
    std::fprintf(stderr, "bench_train_step: %s pass, %s, batch %d, %dx%d\n", pass.c_str(), backend->describe().c_str(),
                 batch, size, size);

    StfpmModel model(*backend, Recipe{});
    model.student().init_student(0);
    if (train)
      model.plan_training(batch, size, size);
    else
      model.plan_inference(batch, size, size);
    std::vector<float> host(size_t(batch) * 3 * size * size);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : host) v = normal(rng);
    Buffer x(*backend, host.size()), map(*backend, size_t(batch) * size * size);
    std::vector<float> host_map(map.size());
    x.upload(host);

    std::vector<double> seconds;
    for (int i = 0; i < warmup + iters; ++i) {
      backend->synchronize();
      const auto start = std::chrono::steady_clock::now();
      if (train) {
        model.train_step(x.data(), batch);
      } else {  // what predict does per batch
        backend->upload(x.data(), host.data(), host.size());
        model.anomaly_maps(map.data(), nullptr, x.data(), batch, size, size);
        backend->download(host_map.data(), map.data(), host_map.size());
      }
      backend->synchronize();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (i >= warmup) seconds.push_back(s);
      std::fprintf(stderr, "  step %d: %.3f s\n", i, s);
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    std::printf(
        "{\"impl\": \"stfpm\", \"pass\": \"%s\", \"device\": \"%s\", \"batch\": %d, \"size\": %d, \"iters\": %d, \"median_s\": %.5f, "
        "\"images_per_s\": %.2f}\n",
        pass.c_str(), device_name(device), batch, size, iters, median, batch / median);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step: %s\n", e.what());
    return 1;
  }
}
